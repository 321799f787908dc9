//! The least-privilege model of clay-config: scopes, environments, policy tables and the checks.
//!
//! Pure logic: no proc-macro, no I/O beyond parsing a string. The derive (`clay-config-macros`)
//! runs [`check`] at build time, the loader runs it again at start-up against `CLAY_POLICY`,
//! and `cargo clay` reports its findings: one implementation of every rule.
//!
//! ```
//! use clay_policy::{Policy, Scope};
//!
//! let policy = Policy::builtin();
//! let staging = policy.environment("stage").expect("staging always exists");
//! assert!(staging.allow().allows(&"write:limited".parse::<Scope>()?));
//! assert!(!staging.allow().allows(&"write:tables".parse::<Scope>()?));
//! # Ok::<(), clay_policy::ScopeError>(())
//! ```

mod check;
mod credential;
mod diagnostics;
mod discovery;
mod env;
mod policy;
mod raw;
mod rotation;
mod scope;
mod suggest;
pub use suggest::did_you_mean;

pub use check::{
    EnvScopes, FieldDecl, FieldKind, Finding, RESERVED_ENV_VARS, Rule, SECRET_VAR_SUFFIXES, Site,
    check, is_secret_var_name, is_valid_env_var_name,
};
pub use credential::{
    KeyDefinition, KeyKind, KeyMatch, KeyPlacement, MIN_KEY_BODY_LEN, WEBHOOK_SECRET_PREFIX,
    contains_high_entropy_token, contains_key, has_padding_or_control, is_high_entropy_token,
    key_placement, key_placement_with, looks_like_credential, shannon_entropy,
};
pub use diagnostics::{
    Diagnostic, Location, NOT_SHOWN, Problems, Severity, line_column, without_secrets,
};
pub use discovery::{
    FileReadError, MAX_POLICY_FILE_BYTES, MAX_SECRET_FILE_BYTES, MAX_SETTINGS_FILE_BYTES,
    POLICY_FILE_NAME, PolicyLoadError, PolicyLocation, PolicyOrigin, find_policy, read_bounded,
    workspace_root,
};
pub use env::{
    ALIASES, DEVELOPMENT, PRODUCTION, STAGING, STANDARD_ENVIRONMENTS, canonical_environment,
    is_valid_environment_name,
};
pub use policy::{
    BUILTIN_POLICY_TOML, Catalog, EnvironmentPolicy, KeyPrefixes, Policy, PolicyError,
    PolicyProblem, PolicySource, Rotation, ScanRule,
};
pub use rotation::{
    FUTURE_TOLERANCE_SECS, RotationVerdict, now_unix_seconds, rotation_verdict, unix_seconds_of,
    utc_date, utc_timestamp_millis,
};
pub use scope::{Scope, ScopeError, ScopeSet};
