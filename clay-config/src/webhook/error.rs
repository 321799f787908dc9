//! `WebhookError`: what was wrong with a webhook, never what the right signature was.

use std::fmt;
use std::time::Duration;

/// Why a webhook was refused.
///
/// Each variant says what was wrong and in which header. None carries the expected signature,
/// the secret, or the received header value (which the sender controls and a log should not
/// repeat): only header names, lengths and durations.
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::{Scheme, WebhookError, WebhookVerifier};
///
/// let verifier = WebhookVerifier::new(Scheme::GitHub, WebhookSecret::new("It's a Secret to Everybody"));
/// let err = verifier.verify(&http::HeaderMap::new(), b"Hello, World!").unwrap_err();
/// assert_eq!(err, WebhookError::MissingHeader { header: "x-hub-signature-256" });
/// assert_eq!(err.to_string(), "missing header `x-hub-signature-256`");
/// assert_eq!(err.code(), "missing_header");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// A header the scheme needs is absent.
    MissingHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A header the scheme needs appears more than once: which one was signed is ambiguous.
    DuplicateHeader {
        /// The header's name.
        header: &'static str,
    },
    /// The signature header is not in the scheme's format (wrong length, bad hex or base64,
    /// no `v1` signature, ...).
    MalformedSignature {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        problem: Malformed,
    },
    /// The timestamp is not Unix seconds (empty, not a number, negative, too large: milliseconds?).
    MalformedTimestamp {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        problem: Malformed,
    },
    /// The timestamp is older than the tolerance: a replay, or the sender's clock is behind.
    StaleTimestamp {
        /// How old the timestamp is.
        age: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },
    /// The timestamp is further in the future than the tolerance: the sender's clock is ahead,
    /// or someone is preparing a replay for later.
    FutureTimestamp {
        /// How far ahead of the receiver's clock the timestamp is.
        ahead: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },
    /// The signature is well formed but matches neither the body nor any configured secret.
    WrongSignature {
        /// The header that held the signature.
        header: &'static str,
    },
    /// A secret given to the verifier cannot be used (the receiver's configuration, not the
    /// request, is wrong).
    InvalidSecret {
        /// What is wrong with it.
        problem: Malformed,
    },
    /// The delivery verified, but the [`ReplayGuard`](super::ReplayGuard) already accepted one
    /// with the same key inside the replay window: a replay (or a sender resending a delivery
    /// that was already accepted).
    Replayed {
        /// The header the delivery's key came from: the delivery id (`webhook-id`,
        /// `x-github-delivery`) or, for schemes without one, the signature header.
        header: &'static str,
    },
    /// The [`ReplayGuard`](super::ReplayGuard) could not tell whether the delivery was seen
    /// before, and it fails closed: the delivery is refused unjudged, so that the sender
    /// retries it later. Not a verdict on the delivery (the axum extractor answers
    /// `503 Service Unavailable`, not `401`).
    ReplayStoreUnavailable {
        /// The store's name ([`ReplayStore::name`](super::ReplayStore::name)): `memory`,
        /// `redis`, ...
        store: &'static str,
        /// Why it could not answer.
        problem: StoreProblem,
    },
}

impl WebhookError {
    /// A stable, machine-readable name for the variant (`missing_header`, `wrong_signature`, ...),
    /// for JSON error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader { .. } => "missing_header",
            WebhookError::DuplicateHeader { .. } => "duplicate_header",
            WebhookError::MalformedSignature { .. } => "malformed_signature",
            WebhookError::MalformedTimestamp { .. } => "malformed_timestamp",
            WebhookError::StaleTimestamp { .. } => "stale_timestamp",
            WebhookError::FutureTimestamp { .. } => "future_timestamp",
            WebhookError::WrongSignature { .. } => "wrong_signature",
            WebhookError::InvalidSecret { .. } => "invalid_secret",
            WebhookError::Replayed { .. } => "replayed",
            WebhookError::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
        }
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::MissingHeader { header } => write!(f, "missing header `{header}`"),
            WebhookError::DuplicateHeader { header } => {
                write!(f, "header `{header}` appears more than once")
            }
            WebhookError::MalformedSignature { header, problem } => {
                write!(f, "malformed signature in `{header}`: {problem}")
            }
            WebhookError::MalformedTimestamp { header, problem } => {
                write!(f, "malformed timestamp in `{header}`: {problem}")
            }
            WebhookError::StaleTimestamp { age, tolerance } => write!(
                f,
                "timestamp is {}s old, beyond the {}s tolerance (a replay, or the sender's clock is behind)",
                age.as_secs(),
                tolerance.as_secs()
            ),
            WebhookError::FutureTimestamp { ahead, tolerance } => write!(
                f,
                "timestamp is {}s in the future, beyond the {}s tolerance (the sender's clock is ahead)",
                ahead.as_secs(),
                tolerance.as_secs()
            ),
            WebhookError::WrongSignature { header } => {
                write!(f, "signature in `{header}` does not match the body")
            }
            WebhookError::InvalidSecret { problem } => {
                write!(f, "the webhook secret cannot be used: {problem}")
            }
            WebhookError::Replayed { header } => write!(
                f,
                "a replay: a delivery with the same `{header}` was already accepted within the replay window"
            ),
            WebhookError::ReplayStoreUnavailable { store, problem } => {
                write!(f, "the replay guard's `{store}` store {problem}")
            }
        }
    }
}

impl std::error::Error for WebhookError {}

/// Why a [`ReplayStore`](super::ReplayStore) could not say whether a delivery was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreProblem {
    /// The store did not answer in time or could not be reached (a Redis server down,
    /// restarting, or too slow). The details go to the log, never into the error.
    Unreachable,
    /// The store is full of deliveries still inside their window. Forgetting one of them
    /// would let its replay through, so the new delivery is refused instead, to be retried once
    /// entries expire. See [`MemoryStore`](super::MemoryStore).
    Full,
    /// The store answers only asynchronously (over the network) and the synchronous
    /// [`verify`](super::WebhookVerifier::verify) was called: use
    /// [`verify_async`](super::WebhookVerifier::verify_async). A mistake in the receiver, so it
    /// refuses even a guard that [fails open](super::ReplayGuard::fail_open).
    AsyncOnly,
}

impl fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreProblem::Unreachable => f.write_str(
                "did not answer, so the delivery was refused unjudged (the sender should retry it)",
            ),
            StoreProblem::Full => f.write_str(
                "is full of deliveries still inside their window, so the delivery was refused unjudged (the sender should retry it)",
            ),
            StoreProblem::AsyncOnly => f.write_str(
                "answers only asynchronously: call `verify_async`, not `verify`",
            ),
        }
    }
}

/// What is wrong with a header value or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The value, or the part that matters, is empty.
    Empty,
    /// The value has the wrong number of characters.
    WrongLength {
        /// How many characters the scheme's format has.
        expected: usize,
        /// How many were received.
        found: usize,
    },
    /// Not lowercase hexadecimal.
    NotLowercaseHex,
    /// Not standard, padded base64.
    NotBase64,
    /// The `sha256=` prefix the scheme requires is missing.
    MissingPrefix,
    /// No signature of a supported version (`v1`) in the header.
    NoSupportedSignature,
    /// The header has no `t=` entry.
    MissingTimestamp,
    /// The header has more than one `t=` entry.
    DuplicateTimestamp,
    /// Not a decimal number of seconds.
    NotANumber,
    /// A negative number of seconds.
    Negative,
    /// Too large for Unix seconds: most likely milliseconds.
    TooLarge,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Empty => f.write_str("empty"),
            Malformed::WrongLength { expected, found } => {
                write!(f, "expected {expected} characters, found {found}")
            }
            Malformed::NotLowercaseHex => f.write_str("not lowercase hex"),
            Malformed::NotBase64 => f.write_str("not valid base64"),
            Malformed::MissingPrefix => f.write_str("no `sha256=` prefix"),
            Malformed::NoSupportedSignature => f.write_str("no `v1` signature"),
            Malformed::MissingTimestamp => f.write_str("no `t=` entry"),
            Malformed::DuplicateTimestamp => f.write_str("more than one `t=` entry"),
            Malformed::NotANumber => f.write_str("not a decimal number of seconds"),
            Malformed::Negative => f.write_str("negative"),
            Malformed::TooLarge => f.write_str("too large for Unix seconds (milliseconds?)"),
        }
    }
}
