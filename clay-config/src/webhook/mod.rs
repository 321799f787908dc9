//! Webhook signature verification: five schemes, secret rotation, a replay window, and (with the
//! `axum` feature) an extractor that refuses an unsigned request before the handler runs.
//!
//! The receiver picks the [`Scheme`]; nothing in a request can choose a weaker one. The signed
//! bytes are the raw body exactly as received: verify before parsing, never a re-serialised
//! value.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{Scheme, WebhookError, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("new-secret"))
//!     .with_previous(WebhookSecret::new("old-secret")) // rotation: both work for now
//!     .with_tolerance(Duration::from_secs(300));
//!
//! let body = br#"{"event":"row.created"}"#;
//! let headers = verifier.sign(body)?; // what a sender would attach
//! assert_eq!(verifier.verify(&headers, body), Ok(()));
//!
//! // A replay ten minutes later is refused.
//! let later = SystemTime::now() + Duration::from_secs(600);
//! assert!(matches!(
//!     verifier.verify_at(&headers, body, later),
//!     Err(WebhookError::StaleTimestamp { .. })
//! ));
//! // So is a changed body.
//! assert!(matches!(
//!     verifier.verify(&headers, br#"{"event":"row.deleted"}"#),
//!     Err(WebhookError::WrongSignature { .. })
//! ));
//! # Ok::<(), WebhookError>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};

use crate::{Fingerprint, WebhookSecret};

#[cfg(feature = "axum")]
pub mod axum;
pub mod clay_hex;
pub mod clay_timestamped;
mod codec;
mod error;
pub mod github;
mod key;
mod received;
pub mod standard_webhooks;
pub mod stripe;

pub use error::{Malformed, WebhookError};
/// The `http` crate whose `HeaderMap` [`WebhookVerifier::verify`] takes, re-exported so callers
/// need no dependency of their own to build one.
pub use http;

use key::Key;
use received::Received;

/// The replay window used unless [`WebhookVerifier::with_tolerance`] says otherwise: five
/// minutes, as Stripe and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How webhooks are signed: which headers, which message, which encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// The seed's scheme: `x-clay-signature` = lowercase hex HMAC-SHA256 of the raw body,
    /// optionally prefixed `sha256=`. No timestamp, so no replay protection. See [`clay_hex`].
    ClayHex,
    /// `x-clay-signature` = hex HMAC-SHA256 of `"{timestamp}.{body}"`, `x-clay-timestamp` in
    /// Unix seconds. See [`clay_timestamped`].
    ClayTimestamped,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated
    /// `v1,<base64>`); the secret is `whsec_` + base64. See [`standard_webhooks`].
    StandardWebhooks,
    /// GitHub: `x-hub-signature-256: sha256=<hex>`. No timestamp. See [`github`].
    GitHub,
    /// Stripe: `stripe-signature: t=…,v1=…[,v1=…]`; the secret is used as raw bytes.
    /// See [`stripe`].
    Stripe,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 5] = [
        Scheme::ClayHex,
        Scheme::ClayTimestamped,
        Scheme::StandardWebhooks,
        Scheme::GitHub,
        Scheme::Stripe,
    ];

    /// A short lowercase name: `clay-hex`, `clay-timestamped`, `standard-webhooks`, `github`,
    /// `stripe`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::ClayHex => "clay-hex",
            Scheme::ClayTimestamped => "clay-timestamped",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::GitHub => "github",
            Scheme::Stripe => "stripe",
        }
    }

    /// The scheme called `name` (as [`Scheme::name`] spells it, ASCII case ignored).
    ///
    /// ```
    /// use clay_config::webhook::Scheme;
    ///
    /// assert_eq!(Scheme::from_name("Stripe"), Some(Scheme::Stripe));
    /// assert_eq!(Scheme::from_name("md5"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.name().eq_ignore_ascii_case(name))
    }

    /// The headers the scheme reads, in the order it reads them (so a request without any
    /// is refused for the first).
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Scheme::ClayHex => &[clay_hex::SIGNATURE_HEADER],
            Scheme::ClayTimestamped => &[
                clay_timestamped::TIMESTAMP_HEADER,
                clay_timestamped::SIGNATURE_HEADER,
            ],
            Scheme::StandardWebhooks => &[
                standard_webhooks::ID_HEADER,
                standard_webhooks::TIMESTAMP_HEADER,
                standard_webhooks::SIGNATURE_HEADER,
            ],
            Scheme::GitHub => &[github::SIGNATURE_HEADER],
            Scheme::Stripe => &[stripe::SIGNATURE_HEADER],
        }
    }

    /// True when the scheme signs a timestamp, so the verifier can refuse replays.
    pub fn is_timestamped(self) -> bool {
        matches!(
            self,
            Scheme::ClayTimestamped | Scheme::StandardWebhooks | Scheme::Stripe
        )
    }
}

impl Scheme {
    /// The header holding the timestamp, for timestamped schemes.
    fn timestamp_header(self) -> Option<&'static str> {
        match self {
            Scheme::ClayTimestamped => Some(clay_timestamped::TIMESTAMP_HEADER),
            Scheme::StandardWebhooks => Some(standard_webhooks::TIMESTAMP_HEADER),
            Scheme::Stripe => Some(stripe::SIGNATURE_HEADER),
            Scheme::ClayHex | Scheme::GitHub => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Verifies webhook signatures of one [`Scheme`] against a secret and, during a rotation, the
/// secrets before it.
///
/// Building one never fails: a secret the scheme cannot use (empty, or a `whsec_` secret that is
/// not base64) makes every verification fail with [`WebhookError::InvalidSecret`], and
/// [`check_secrets`](Self::check_secrets) reports it at start-up. The keys are prepared once, so
/// keep the verifier (in an `Arc`, or clone it: it is cheap) rather than building one per request.
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::{Scheme, WebhookVerifier};
///
/// let verifier = WebhookVerifier::new(Scheme::GitHub, WebhookSecret::new("It's a Secret to Everybody"));
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "x-hub-signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse()?,
/// );
/// assert_eq!(verifier.verify(&headers, b"Hello, World!"), Ok(()));
/// assert!(verifier.verify(&headers, b"Hello, World?").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    scheme: Scheme,
    /// The current secret first, then the previous ones in the order they were added.
    secrets: Vec<PreparedSecret>,
    tolerance: Duration,
}

#[derive(Clone)]
struct PreparedSecret {
    key: Result<Key, Malformed>,
    fingerprint: Fingerprint,
}

impl PreparedSecret {
    fn new(scheme: Scheme, secret: &WebhookSecret) -> Self {
        PreparedSecret {
            key: Key::new(scheme, secret),
            fingerprint: secret.fingerprint(),
        }
    }
}

impl WebhookVerifier {
    /// A verifier of `scheme` signatures made with `secret`, with the default tolerance
    /// ([`DEFAULT_TOLERANCE`], five minutes).
    pub fn new(scheme: Scheme, secret: WebhookSecret) -> Self {
        WebhookVerifier {
            scheme,
            secrets: vec![PreparedSecret::new(scheme, &secret)],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also accepts signatures made with `secret`, the one being rotated out, until the
    /// verifier is rebuilt without it. May be called more than once.
    ///
    /// ```
    /// use clay_config::WebhookSecret;
    /// use clay_config::webhook::{Scheme, WebhookVerifier};
    ///
    /// let old = WebhookVerifier::new(Scheme::Stripe, WebhookSecret::new("whsec_old"));
    /// let rotating = WebhookVerifier::new(Scheme::Stripe, WebhookSecret::new("whsec_new"))
    ///     .with_previous(WebhookSecret::new("whsec_old"));
    /// let headers = old.sign(b"{}")?; // a sender still on the old secret
    /// assert_eq!(rotating.verify(&headers, b"{}"), Ok(()));
    /// # Ok::<(), clay_config::webhook::WebhookError>(())
    /// ```
    #[must_use]
    pub fn with_previous(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(PreparedSecret::new(self.scheme, &secret));
        self
    }

    /// How far a timestamp may be from the receiver's clock, in the past **or** the future,
    /// for the timestamped schemes. Untimestamped schemes ignore it.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The scheme this verifier reads.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The replay window.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// `Ok` when every secret can be used by the scheme; call it at start-up to fail fast on a
    /// misconfigured secret instead of refusing every webhook.
    ///
    /// ```
    /// use clay_config::WebhookSecret;
    /// use clay_config::webhook::{Scheme, WebhookVerifier};
    ///
    /// let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new("whsec_%%%"));
    /// assert_eq!(
    ///     verifier.check_secrets().unwrap_err().to_string(),
    ///     "the webhook secret cannot be used: not valid base64"
    /// );
    /// ```
    pub fn check_secrets(&self) -> Result<(), WebhookError> {
        for secret in &self.secrets {
            if let Err(problem) = &secret.key {
                return Err(WebhookError::InvalidSecret { problem: *problem });
            }
        }
        Ok(())
    }

    /// Verifies `body`, exactly as received, against `headers`, with the system clock for the
    /// replay window.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        self.verify_with_clock(headers, body, SystemTime::now)
    }

    /// [`verify`](Self::verify) as if the time were `now`.
    ///
    /// The order of the checks: the secrets, the headers' presence and format, the timestamp
    /// (a stale request costs no HMAC), then the signature. Every check returns an error
    /// rather than panicking, whatever the input.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        self.verify_with_clock(headers, body, || now)
    }

    /// The clock is read only by timestamped schemes, and only once the headers are known to
    /// be well formed.
    fn verify_with_clock(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: impl FnOnce() -> SystemTime,
    ) -> Result<(), WebhookError> {
        self.check_secrets()?;
        let received = match self.scheme {
            Scheme::ClayHex => clay_hex::read(headers)?,
            Scheme::ClayTimestamped => clay_timestamped::read(headers)?,
            Scheme::StandardWebhooks => standard_webhooks::read(headers)?,
            Scheme::GitHub => github::read(headers)?,
            Scheme::Stripe => stripe::read(headers)?,
        };
        if let Some((timestamp, header)) = received.timestamp {
            check_window(timestamp, header, now(), self.tolerance)?;
        }
        let Received {
            prefix,
            tags,
            signature_header,
            ..
        } = &received;
        let matched = self.secrets.iter().any(|secret| match &secret.key {
            Ok(key) => key.matches_any(prefix, body, tags.as_slice()),
            Err(_) => false,
        });
        if matched {
            Ok(())
        } else {
            Err(WebhookError::WrongSignature {
                header: signature_header,
            })
        }
    }

    /// The headers a sender of this scheme would attach to `body` now, signed with the current
    /// secret: for testing a receiver end to end.
    pub fn sign(&self, body: &[u8]) -> Result<HeaderMap, WebhookError> {
        self.sign_at(body, SystemTime::now())
    }

    /// [`sign`](Self::sign) with the timestamp `at`. For Standard Webhooks, `webhook-id` is
    /// derived from the timestamp and body.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use clay_config::WebhookSecret;
    /// use clay_config::webhook::{Scheme, WebhookVerifier};
    ///
    /// let verifier = WebhookVerifier::new(Scheme::Stripe, WebhookSecret::new("whsec_test"));
    /// let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let headers = verifier.sign_at(b"{}", at)?;
    /// assert!(headers["stripe-signature"].to_str()?.starts_with("t=1700000000,v1="));
    /// assert_eq!(verifier.verify_at(&headers, b"{}", at), Ok(()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign_at(&self, body: &[u8], at: SystemTime) -> Result<HeaderMap, WebhookError> {
        let key = match self.secrets.first().map(|current| &current.key) {
            Some(Ok(key)) => key,
            Some(Err(problem)) => return Err(WebhookError::InvalidSecret { problem: *problem }),
            None => {
                return Err(WebhookError::InvalidSecret {
                    problem: Malformed::Empty,
                });
            }
        };
        let timestamp = || {
            at.duration_since(UNIX_EPOCH)
                .map(|since| since.as_secs())
                .map_err(|_| WebhookError::MalformedTimestamp {
                    header: self.scheme.timestamp_header().unwrap_or_default(),
                    problem: Malformed::Negative,
                })
        };
        match self.scheme {
            Scheme::ClayHex => clay_hex::sign_headers(key, body),
            Scheme::ClayTimestamped => clay_timestamped::sign_headers(key, timestamp()?, body),
            Scheme::StandardWebhooks => standard_webhooks::sign_headers(key, timestamp()?, body),
            Scheme::GitHub => github::sign_headers(key, body),
            Scheme::Stripe => stripe::sign_headers(key, timestamp()?, body),
        }
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fingerprints: Vec<String> = self
            .secrets
            .iter()
            .map(|secret| secret.fingerprint.to_string())
            .collect();
        f.debug_struct("WebhookVerifier")
            .field("scheme", &self.scheme)
            .field("secrets", &fingerprints)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Refuses a timestamp more than `tolerance` before **or after** `now`. Checking only the past
/// (as some libraries do) lets a request signed for next week be replayed all week.
fn check_window(
    timestamp: u64,
    header: &'static str,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let sent = UNIX_EPOCH
        .checked_add(Duration::from_secs(timestamp))
        .ok_or(WebhookError::MalformedTimestamp {
            header,
            problem: Malformed::TooLarge,
        })?;
    match now.duration_since(sent) {
        Ok(age) if age > tolerance => Err(WebhookError::StaleTimestamp { age, tolerance }),
        Ok(_) => Ok(()),
        Err(early) if early.duration() > tolerance => Err(WebhookError::FutureTimestamp {
            ahead: early.duration(),
            tolerance,
        }),
        Err(_) => Ok(()),
    }
}

/// A header value the crate itself produced: digits, hex, base64, `=`, `,` and `_`, always
/// valid, so the error arm is never taken.
fn header_value(value: String, header: &'static str) -> Result<HeaderValue, WebhookError> {
    HeaderValue::try_from(value).map_err(|_| WebhookError::MalformedSignature {
        header,
        problem: Malformed::NotLowercaseHex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn window_is_inclusive_at_the_tolerance_on_both_sides() {
        let tolerance = Duration::from_secs(300);
        let now = at(1_000_000);
        assert_eq!(check_window(1_000_000 - 300, "h", now, tolerance), Ok(()));
        assert_eq!(check_window(1_000_000 + 300, "h", now, tolerance), Ok(()));
        assert_eq!(
            check_window(1_000_000 - 301, "h", now, tolerance),
            Err(WebhookError::StaleTimestamp {
                age: Duration::from_secs(301),
                tolerance
            })
        );
        assert_eq!(
            check_window(1_000_000 + 301, "h", now, tolerance),
            Err(WebhookError::FutureTimestamp {
                ahead: Duration::from_secs(301),
                tolerance
            })
        );
    }

    #[test]
    fn debug_shows_fingerprints_not_secrets() {
        let verifier =
            WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new("current-secret-value"))
                .with_previous(WebhookSecret::new("previous-secret-value"));
        let shown = format!("{verifier:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(
            shown.contains(&Fingerprint::of("current-secret-value").to_string()),
            "{shown}"
        );
        assert!(
            shown.contains(&Fingerprint::of("previous-secret-value").to_string()),
            "{shown}"
        );
    }

    #[test]
    fn names_round_trip() {
        for scheme in Scheme::ALL {
            assert_eq!(Scheme::from_name(scheme.name()), Some(scheme));
            assert_eq!(scheme.to_string(), scheme.name());
        }
    }
}
