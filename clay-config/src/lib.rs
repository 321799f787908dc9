//! clay-config: least privilege for Clay API keys, checked by the compiler and enforced at run
//! time.
//!
//! A service declares, on its config struct, which scopes each key may be used for in each
//! environment. `#[derive(ClayConfig)]` checks those declarations against the least-privilege
//! table at build time; [`ClayConfig::load`] then reads exactly that config from environment
//! variables and hands each key out only for its declared scopes.
//!
//! ```
//! use clay_config::{ApiKey, ClayConfig};
//!
//! #[derive(ClayConfig, Debug)]
//! struct Clay {
//!     #[clay(env = "CLAY_READ_KEY",
//!            scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
//!     reader: ApiKey,
//!     #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
//!     base_url: String,
//! }
//!
//! let clay = Clay::load_from([
//!     ("CLAY_ENV", "production"),
//!     ("CLAY_READ_KEY", "sk_live_0123456789abcdefghijklmn"),
//! ])?;
//! assert!(clay.reader.allows("read:tables"));
//! assert!(clay.reader.require("read:people").is_err());
//! assert_eq!(clay.base_url, "https://api.clay.com");
//! # Ok::<(), clay_config::LoadError>(())
//! ```

extern crate self as clay_config;

#[cfg(feature = "audit")]
pub mod audit;
mod load;
mod manifest;
mod require;
mod secret;
mod settings;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use load::{
    CLAY_CONFIG, CLAY_ENV, CLAY_POLICY, FILE_SUFFIX, ISSUED_AT_SUFFIX, LoadError, LoadProblem,
    LoadWarning, Loaded,
};
pub use manifest::{EnvironmentScopes, FieldManifest, Manifest, PolicyManifest};
pub use secret::{ApiKey, Fingerprint, ScopeDenied, ScopeUseRecorder, Secret, WebhookSecret};

/// The least-privilege model (scopes, policies, the rules), re-exported whole: what a service
/// needs day to day is at the crate root; the model stays here.
pub use clay_policy as policy;

/// `#[derive(ClayConfig)]`: checks the declarations against the policy at build time and
/// implements [`ClayConfig`].
#[cfg(feature = "derive")]
pub use clay_config_macros::ClayConfig;

/// `require!(config.field, "action:resource")`: [`ApiKey::require`] with the scope checked at
/// build time against the field's declarations.
///
/// The same result as `config.field.require("action:resource")`, `Result<&ApiKey,
/// ScopeDenied>`; on an `Option<ApiKey>` field, `require` on the key when one is loaded and
/// [`ScopeDenied::key_absent`] when none is. The build fails when no environment's declaration
/// of `field` covers the scope (`[undeclared_scope]`, on the literal), or when the literal is
/// not a scope (`[malformed_scope]`): a refusal that would otherwise surface in production the
/// first time that path runs. Any environment counts, since the key may be loaded in any of
/// them; the run-time check still decides for the loaded one.
///
/// `config` is any expression of the config type or a reference to it; `field` a key field of a
/// struct with `#[derive(ClayConfig)]`. The check is made by the type checker, so `cargo check`
/// and rust-analyzer report it, and nothing of it runs: at run time this is exactly the
/// `require` call.
///
/// ```
/// use clay_config::{ApiKey, ClayConfig, ScopeDenied};
///
/// #[derive(ClayConfig)]
/// struct Clay {
///     #[clay(env = "CLAY_READ_KEY",
///            scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
///     reader: ApiKey,
///     #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
///     writer: Option<ApiKey>,
/// }
///
/// fn read_people(clay: &Clay) -> Result<&ApiKey, ScopeDenied> {
///     // `read:*` in development and staging covers it: declared, so this builds.
///     clay_config::require!(clay.reader, "read:people")
/// }
///
/// let production = Clay::load_from([
///     ("CLAY_ENV", "production"),
///     ("CLAY_READ_KEY", "sk_live_0123456789abcdefghijklmn"),
///     ("CLAY_WRITE_KEY", "sk_live_nmlkjihgfedcba9876543210"),
/// ])?;
/// assert!(clay_config::require!(production.reader, "read:tables").is_ok());
/// assert!(clay_config::require!(production.writer, "write:rows").is_ok());
/// // Declared for development and staging, not granted in production: refused at run time.
/// assert_eq!(read_people(&production).unwrap_err().environment(), "production");
///
/// // No writer key in development: refused, naming the variable.
/// let development = Clay::load_from([("CLAY_READ_KEY", "sk_test_0123456789abcdefghijklmn")])?;
/// let absent = clay_config::require!(development.writer, "write:rows").unwrap_err();
/// assert!(absent.is_key_absent());
/// assert_eq!(absent.var(), "CLAY_WRITE_KEY");
/// # Ok::<(), clay_config::LoadError>(())
/// ```
///
/// A scope no environment declares for the field does not build:
///
/// ```compile_fail
/// use clay_config::{ApiKey, ClayConfig};
///
/// #[derive(ClayConfig)]
/// struct Clay {
///     #[clay(env = "CLAY_READ_KEY",
///            scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
///     reader: ApiKey,
/// }
///
/// fn write_rows(clay: &Clay) {
///     let _ = clay_config::require!(clay.reader, "write:rows"); // [undeclared_scope]
/// }
/// ```
#[cfg(feature = "derive")]
pub use clay_config_macros::require;

/// A config struct checked by `#[derive(ClayConfig)]`.
///
/// The derive implements [`manifest`](Self::manifest) and the field-by-field construction;
/// loading is provided.
pub trait ClayConfig: Sized {
    /// The declarations and the policy they were checked against.
    fn manifest() -> &'static Manifest;

    /// Builds the struct from a loader; generated by the derive.
    #[doc(hidden)]
    fn __build(loader: &mut load::Loader) -> Option<Self>;

    /// Calls `visit` with every `ApiKey` field that is present; generated by the derive.
    #[doc(hidden)]
    fn __visit_api_keys(&mut self, visit: &mut dyn FnMut(&mut ApiKey));

    /// Loads from the process environment (`CLAY_ENV` picks the environment). Warnings are
    /// emitted through `tracing`; use [`load_with_report`](Self::load_with_report) to get them.
    fn load() -> Result<Self, LoadError> {
        let loaded = Self::load_with_report()?;
        loaded.emit_warnings();
        Ok(loaded.config)
    }

    /// Loads from the given variables instead of the process environment.
    fn load_from<I, K, V>(vars: I) -> Result<Self, LoadError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let loaded = Self::load_from_with_report(vars)?;
        loaded.emit_warnings();
        Ok(loaded.config)
    }

    /// [`load`](Self::load), returning the warnings with the config.
    fn load_with_report() -> Result<Loaded<Self>, LoadError> {
        load::Loader::from_process_env(Self::manifest()).run::<Self>()
    }

    /// [`load_from`](Self::load_from), returning the warnings with the config.
    fn load_from_with_report<I, K, V>(vars: I) -> Result<Loaded<Self>, LoadError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        load::Loader::from_vars(Self::manifest(), vars).run::<Self>()
    }

    /// Sends every later [`ApiKey::require`] decision of every key to `recorder` (the audit
    /// log uses this to record which scopes each key actually used).
    fn attach_scope_recorder(&mut self, recorder: std::sync::Arc<dyn ScopeUseRecorder>) {
        self.__visit_api_keys(&mut |key| key.set_recorder(std::sync::Arc::clone(&recorder)));
    }
}

/// Used by generated code; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::load::Loader;
    pub use crate::require::{
        Chunk, Declares, End, FieldKey, KeyField, No, Or, Probe, ProbeDeclared, ProbeUndeclared,
        Yes, or,
    };
}

/// The reference of `#[derive(ClayConfig)]`: attributes, the policy in force, the policy file,
/// and every rule with the compiler's real output.
#[doc = include_str!("../docs/derive.md")]
pub mod _derive {}
