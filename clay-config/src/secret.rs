//! `ApiKey`, `Secret` and `WebhookSecret`: values that never reach a log.
//!
//! Each wraps a [`secrecy::SecretString`] (zeroized on drop). `Debug` shows the variable the
//! value came from and a [`Fingerprint`], never the value.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use clay_policy::ScopeSet;

/// Key of the fingerprint HMAC. Public on purpose: the fingerprint only has to be stable and
/// unrelated to the key's text; its 32 bits say nothing useful about a 24+ character key.
const FINGERPRINT_KEY: &[u8] = b"clay-config/fingerprint/v1";

/// A short, stable identifier of a secret: the first 4 bytes of HMAC-SHA256 keyed with a
/// fixed domain key, shown as 8 hex digits. Not a prefix of the secret, and two different
/// secrets almost surely differ.
///
/// ```
/// use clay_config::Fingerprint;
///
/// let fp = Fingerprint::of("sk_test_0123456789abcdefghijklmn");
/// assert_eq!(fp.to_string().len(), 8);
/// assert!(!"sk_test_0123456789abcdefghijklmn".contains(&fp.to_string()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 4]);

impl Fingerprint {
    /// The fingerprint of `secret`.
    pub fn of(secret: &str) -> Fingerprint {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(FINGERPRINT_KEY)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(secret.as_bytes());
        let digest = mac.finalize().into_bytes();
        Fingerprint([digest[0], digest[1], digest[2], digest[3]])
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The part every secret type shares: the value, where it came from, its fingerprint.
#[derive(Clone)]
struct SecretValue {
    value: SecretString,
    /// Borrowed from the manifest for loaded secrets, so a `ScopeDenied` names the key
    /// without allocating.
    var: Option<Cow<'static, str>>,
    fingerprint: Fingerprint,
}

impl SecretValue {
    fn new(var: Option<Cow<'static, str>>, value: String) -> Self {
        let fingerprint = Fingerprint::of(&value);
        SecretValue {
            value: SecretString::from(value),
            var,
            fingerprint,
        }
    }

    fn debug(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        f.debug_struct(name)
            .field("var", &self.var.as_deref().unwrap_or("(set in code)"))
            .field("fingerprint", &format_args!("{}", self.fingerprint))
            .finish_non_exhaustive()
    }
}

/// `Secret` and `WebhookSecret` differ only in name and meaning: one definition for both.
macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretValue);

        impl $name {
            /// Built by hand (tests, other sources).
            pub fn new(value: impl Into<String>) -> Self {
                $name(SecretValue::new(None, value.into()))
            }

            pub(crate) fn from_var(var: &'static str, value: String) -> Self {
                $name(SecretValue::new(Some(Cow::Borrowed(var)), value))
            }

            /// The value. Keep what you do with it out of logs.
            pub fn expose_secret(&self) -> &str {
                self.0.value.expose_secret()
            }

            /// The variable it was read from, if it was loaded.
            pub fn var(&self) -> Option<&str> {
                self.0.var.as_deref()
            }

            /// Its fingerprint.
            pub fn fingerprint(&self) -> Fingerprint {
                self.0.fingerprint
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.debug(f, stringify!($name))
            }
        }
    };
}

secret_type! {
    /// A non-key secret read from an environment variable (`#[clay(env = "…")] secret: Secret`).
    ///
    /// ```
    /// use clay_config::Secret;
    ///
    /// let secret = Secret::new("hunter2-hunter2");
    /// assert_eq!(secret.expose_secret(), "hunter2-hunter2");
    /// assert!(!format!("{secret:?}").contains("hunter2"));
    /// ```
    Secret
}

secret_type! {
    /// The secret webhook signatures are made with
    /// (`#[clay(env = "…")] webhook_secret: WebhookSecret`).
    ///
    /// ```
    /// use clay_config::WebhookSecret;
    ///
    /// let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    /// assert!(!format!("{secret:?}").contains("MfKQ9r8"));
    /// ```
    WebhookSecret
}

/// Receives every [`ApiKey::require`] decision; the audit log implements it to record which
/// scopes each key actually used.
pub trait ScopeUseRecorder: Send + Sync {
    /// Called once per `require`, after the decision. Must not fail the caller.
    fn record(&self, key: &ApiKey, scope: &str, granted: bool);
}

/// A Clay API key, handed out only for the scopes declared for the loaded environment.
///
/// ```
/// use clay_config::ApiKey;
/// use clay_config::policy::ScopeSet;
///
/// let key = ApiKey::new(
///     "CLAY_READ_KEY",
///     "sk_test_0123456789abcdefghijklmn",
///     "development",
///     ScopeSet::parse(["read:*"])?,
/// );
/// assert!(key.allows("read:tables"));
/// let denied = key.require("write:rows").unwrap_err();
/// assert_eq!(
///     denied.to_string(),
///     "`CLAY_READ_KEY` may not be used for `write:rows` in `development` (granted: read:*)"
/// );
/// assert!(!format!("{key:?}").contains("0123456789"));
/// # Ok::<(), clay_config::policy::ScopeError>(())
/// ```
#[derive(Clone)]
pub struct ApiKey {
    secret: SecretValue,
    scopes: ScopeSet,
    /// Who the key is, as a refusal names it: two `'static` pointers into the manifest for a
    /// loaded key, so a `ScopeDenied` costs no allocation and little copying.
    identity: KeyIdentity,
    recorder: Option<Arc<dyn ScopeUseRecorder>>,
}

/// The variable, environment and granted scopes of a key, for refusals.
#[derive(Clone)]
enum KeyIdentity {
    Declared {
        var: &'static str,
        declared: &'static crate::EnvironmentScopes,
    },
    Built(Arc<BuiltIdentity>),
    /// An `Option<ApiKey>` field that holds no key in the loaded environment.
    Absent {
        var: &'static str,
    },
}

/// [`KeyIdentity`] of a key built by hand.
struct BuiltIdentity {
    var: String,
    environment: String,
    scopes: ScopeSet,
}

impl KeyIdentity {
    fn var(&self) -> &str {
        match self {
            KeyIdentity::Declared { var, .. } => var,
            KeyIdentity::Built(built) => &built.var,
            KeyIdentity::Absent { var } => var,
        }
    }

    fn environment(&self) -> &str {
        match self {
            KeyIdentity::Declared { declared, .. } => declared.environment,
            KeyIdentity::Built(built) => &built.environment,
            // The config does not keep the environment it was loaded for; an absent key is
            // absent in whichever one that was.
            KeyIdentity::Absent { .. } => "",
        }
    }

    fn write_granted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyIdentity::Built(built) => fmt::Display::fmt(&built.scopes, f),
            KeyIdentity::Declared { declared, .. } if declared.scopes.is_empty() => {
                f.write_str("nothing")
            }
            KeyIdentity::Declared { declared, .. } => f.write_str(&declared.scopes.join(", ")),
            KeyIdentity::Absent { .. } => f.write_str("nothing"),
        }
    }
}

impl ApiKey {
    /// A key built by hand, for tests of code that takes an `&ApiKey`.
    pub fn new(
        var: impl Into<String>,
        value: impl Into<String>,
        environment: impl Into<String>,
        scopes: ScopeSet,
    ) -> Self {
        ApiKey {
            // The identity names the key; the value's own record needs no second copy.
            secret: SecretValue::new(None, value.into()),
            identity: KeyIdentity::Built(Arc::new(BuiltIdentity {
                var: var.into(),
                environment: environment.into(),
                scopes: scopes.clone(),
            })),
            scopes,
            recorder: None,
        }
    }

    /// A loaded key: names and declared scopes borrowed from the manifest.
    pub(crate) fn from_declaration(
        var: &'static str,
        value: String,
        declared: &'static crate::EnvironmentScopes,
        scopes: ScopeSet,
    ) -> Self {
        ApiKey {
            secret: SecretValue::new(None, value),
            identity: KeyIdentity::Declared { var, declared },
            scopes,
            recorder: None,
        }
    }

    /// The key. Keep what you do with it out of logs.
    pub fn expose_secret(&self) -> &str {
        self.secret.value.expose_secret()
    }

    /// The scopes granted in the loaded environment.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// True when the key may be used for `scope` (`action:resource`). Never allocates.
    #[inline]
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.allows_str(scope)
    }

    /// The key, if it may be used for `scope`; otherwise which key, scope and environment were
    /// refused. With an audit log attached, the decision is recorded. Neither outcome
    /// allocates (for scopes up to 30 bytes, which nearly every real scope is).
    #[inline]
    pub fn require(&self, scope: &str) -> Result<&ApiKey, ScopeDenied> {
        let granted = self.scopes.allows_str(scope);
        if let Some(recorder) = &self.recorder {
            recorder.record(self, scope, granted);
        }
        if granted {
            Ok(self)
        } else {
            Err(ScopeDenied {
                key: self.identity.clone(),
                scope: ScopeText::new(scope),
            })
        }
    }

    /// The variable the key was read from.
    pub fn var(&self) -> &str {
        self.identity.var()
    }

    /// The environment the key was loaded for.
    pub fn environment(&self) -> &str {
        self.identity.environment()
    }

    /// The key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.secret.fingerprint
    }

    /// Sends every later [`require`](Self::require) decision to `recorder`.
    pub fn set_recorder(&mut self, recorder: Arc<dyn ScopeUseRecorder>) {
        self.recorder = Some(recorder);
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("var", &self.var())
            .field("fingerprint", &format_args!("{}", self.secret.fingerprint))
            .field("environment", &self.environment())
            .field("scopes", &format_args!("{}", self.scopes))
            .finish_non_exhaustive()
    }
}

/// [`ApiKey::require`] refused: the key was not declared for that scope in this environment.
#[derive(Clone)]
pub struct ScopeDenied {
    key: KeyIdentity,
    scope: ScopeText,
}

impl ScopeDenied {
    /// The refusal for an `Option<ApiKey>` field that holds no key in the loaded environment:
    /// no key, no scope. Used by `clay_config::require!`; allocates nothing for scopes up
    /// to 30 bytes.
    ///
    /// ```
    /// use clay_config::ScopeDenied;
    ///
    /// let denied = ScopeDenied::key_absent("CLAY_WRITE_KEY", "write:rows");
    /// assert!(denied.is_key_absent());
    /// assert_eq!(denied.environment(), "");
    /// assert_eq!(
    ///     denied.to_string(),
    ///     "`CLAY_WRITE_KEY` may not be used for `write:rows`: no key is set for it in this environment"
    /// );
    /// ```
    pub fn key_absent(var: &'static str, scope: &str) -> Self {
        ScopeDenied {
            key: KeyIdentity::Absent { var },
            scope: ScopeText::new(scope),
        }
    }

    /// True when the refusal is for a key that is not there at all ([`key_absent`](Self::key_absent)).
    pub fn is_key_absent(&self) -> bool {
        matches!(self.key, KeyIdentity::Absent { .. })
    }

    /// The key's variable.
    pub fn var(&self) -> &str {
        self.key.var()
    }
    /// The scope asked for.
    pub fn scope(&self) -> &str {
        self.scope.as_str()
    }
    /// The environment the key was loaded for; empty for an absent key, since the config does
    /// not record which environment it was loaded for.
    pub fn environment(&self) -> &str {
        self.key.environment()
    }
}

impl PartialEq for ScopeDenied {
    fn eq(&self, other: &Self) -> bool {
        self.var() == other.var()
            && self.scope() == other.scope()
            && self.environment() == other.environment()
            && self.to_string() == other.to_string()
    }
}

impl Eq for ScopeDenied {}

impl fmt::Display for ScopeDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_key_absent() {
            return write!(
                f,
                "`{}` may not be used for `{}`: no key is set for it in this environment",
                self.var(),
                self.scope()
            );
        }
        write!(
            f,
            "`{}` may not be used for `{}` in `{}` (granted: ",
            self.var(),
            self.scope(),
            self.environment()
        )?;
        self.key.write_granted(f)?;
        f.write_str(")")
    }
}

impl fmt::Debug for ScopeDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeDenied")
            .field("var", &self.var())
            .field("scope", &self.scope())
            .field("environment", &self.environment())
            .finish()
    }
}

/// Bytes a refused scope may have and still be kept inline.
const INLINE_SCOPE: usize = 30;

/// The refused scope, kept without allocating when it is short (as every real scope is).
#[derive(Clone)]
enum ScopeText {
    Inline { bytes: [u8; INLINE_SCOPE], len: u8 },
    Heap(Box<str>),
}

impl ScopeText {
    #[inline]
    fn new(scope: &str) -> Self {
        match u8::try_from(scope.len()) {
            Ok(len) if scope.len() <= INLINE_SCOPE => {
                let mut bytes = [0; INLINE_SCOPE];
                bytes[..scope.len()].copy_from_slice(scope.as_bytes());
                ScopeText::Inline { bytes, len }
            }
            _ => ScopeText::Heap(scope.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // The bytes were copied whole from a `&str`, so they are UTF-8.
            ScopeText::Inline { bytes, len } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            ScopeText::Heap(text) => text,
        }
    }
}

impl PartialEq for ScopeText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ScopeText {}

impl fmt::Debug for ScopeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::error::Error for ScopeDenied {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_not_a_prefix_and_differs() {
        let a = Fingerprint::of("sk_live_aaaaaaaaaaaaaaaaaaaaaaaa");
        let b = Fingerprint::of("sk_live_aaaaaaaaaaaaaaaaaaaaaaab");
        assert_ne!(a, b);
        assert_eq!(a, Fingerprint::of("sk_live_aaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(!a.to_string().starts_with("sk_"));
    }

    #[test]
    fn refusals_keep_the_scope_short_or_long() {
        let key = ApiKey::new(
            "K",
            "v",
            "production",
            ScopeSet::parse(["read:tables"]).expect("valid"),
        );
        let short = key.require("write:rows").expect_err("denied");
        assert_eq!(short.scope(), "write:rows");
        assert!(matches!(short.scope, ScopeText::Inline { .. }));
        let long_scope = format!("read:{}", "segment.".repeat(10) + "end");
        let long = key.require(&long_scope).expect_err("denied");
        assert_eq!(long.scope(), long_scope);
        assert!(matches!(long.scope, ScopeText::Heap(_)));
        let multibyte = "read:tablé";
        assert_eq!(
            key.require(multibyte).expect_err("denied").scope(),
            multibyte
        );
        assert!(
            short.to_string().ends_with("(granted: read:tables)"),
            "{short}"
        );
        assert_eq!(short, key.require("write:rows").expect_err("denied"));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let value = "sk_test_SECRETSECRETSECRET1234";
        let key = ApiKey::new("K", value, "development", ScopeSet::new());
        let secret = Secret::from_var("S", value.into());
        let hook = WebhookSecret::from_var("W", value.into());
        for shown in [
            format!("{key:?}"),
            format!("{secret:?}"),
            format!("{hook:?}"),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(
                shown.contains(&Fingerprint::of(value).to_string()),
                "{shown}"
            );
        }
        assert!(format!("{key:?}").contains("\"K\""));
    }
}
