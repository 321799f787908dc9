//! Webhook signature verification: five schemes, secret rotation, a replay window, a replay guard
//! that accepts each delivery once (in memory, or in Redis for every instance of a service), and
//! (with the `axum` feature) an extractor that refuses an unsigned or replayed request before the
//! handler runs.
//!
//! A `timingSafeEqual` comparison of hex digests, as commonly written, *throws* when the received
//! signature has a different length from the expected one: a forged request becomes a 500 (or a
//! crash) instead of a clean refusal. Here every scheme is verified in constant time and every bad
//! input is an error, never a panic.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{ReplayGuard, Scheme, WebhookError, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("new-secret"))
//!     .with_previous(WebhookSecret::new("old-secret")) // rotation: both work for now
//!     .with_tolerance(Duration::from_secs(300))
//!     .with_replay_guard(ReplayGuard::in_memory()); // each delivery accepted once
//!
//! let body = br#"{"event":"row.created"}"#;
//! let headers = verifier.sign(body)?; // what a sender would attach
//! assert_eq!(verifier.verify(&headers, body), Ok(()));
//!
//! // The same delivery again is a replay.
//! assert!(matches!(
//!     verifier.verify(&headers, body),
//!     Err(WebhookError::Replayed { .. })
//! ));
//! // Ten minutes later it is refused by its timestamp.
//! let later = SystemTime::now() + Duration::from_secs(600);
//! assert!(matches!(
//!     verifier.verify_at(&headers, body, later),
//!     Err(WebhookError::StaleTimestamp { .. })
//! ));
//! // A changed body does not verify.
//! assert!(matches!(
//!     verifier.verify(&headers, br#"{"event":"row.deleted"}"#),
//!     Err(WebhookError::WrongSignature { .. })
//! ));
//! # Ok::<(), WebhookError>(())
//! ```
//!
//! Build the verifier once (at start-up, or from your `#[derive(ClayConfig)]` struct's
//! [`WebhookSecret`] field) and share it; [`WebhookVerifier::check_secrets`] fails fast on a
//! secret the scheme cannot use.
//!
//! # The raw-body rule
//!
//! The signature covers the bytes the sender sent. Verify **the raw body, before parsing it**: a
//! body parsed to JSON and serialised again differs in whitespace, key order or number formatting,
//! and no longer verifies (or, worse, you end up verifying something other than what you act on).
//! With axum, take the body as `VerifiedBody` (below), never as `Json<T>`, and parse the verified
//! bytes.
//!
//! # The schemes
//!
//! The receiver picks the [`Scheme`]; nothing in a request can choose a weaker one.
//!
//! | `Scheme` | headers | signed message | secret |
//! |---|---|---|---|
//! | `ClayHex` (Clay's practice) | `x-clay-signature: <hex>` (`sha256=` prefix optional) | the body | raw bytes |
//! | `ClayTimestamped` | `x-clay-timestamp: <unix seconds>`, `x-clay-signature: <hex>` | `{timestamp}.{body}` | raw bytes |
//! | `StandardWebhooks` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …` | `{id}.{timestamp}.{body}` | `whsec_` + base64 |
//! | `GitHub` | `x-hub-signature-256: sha256=<hex>` (and `x-github-delivery`, not signed) | the body | raw bytes |
//! | `Stripe` | `stripe-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` | `{t}.{body}` | raw bytes (`whsec_…` as is) |
//!
//! Hex is lowercase only and base64 is standard and padded: one encoding per signature, so no bit
//! of a header can change without the verification failing. Every scheme has a `sign` helper, so
//! you can test your own receiver with real signatures:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{Scheme, WebhookVerifier, clay_hex, clay_timestamped, github, standard_webhooks, stripe};
//!
//! let body = br#"{"event":"row.created"}"#;
//! let secret = WebhookSecret::new("s3cr3t-s3cr3t");
//!
//! // ClayHex: x-clay-signature = hex HMAC-SHA256 of the body.
//! let clay = clay_hex::sign(&secret, body)?;
//! assert_eq!(clay.len(), 64);
//!
//! // ClayTimestamped: x-clay-timestamp = 1700000000, x-clay-signature = hex HMAC of "1700000000.{body}".
//! let clay_timestamped = clay_timestamped::sign(&secret, 1_700_000_000, body)?;
//! assert_ne!(clay_timestamped, clay);
//!
//! // Standard Webhooks: the libraries' own test vector.
//! let signature = standard_webhooks::sign(
//!     &WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     1614265330,
//!     br#"{"test": 2432232314}"#,
//! )?;
//! assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//!
//! // GitHub: the documented example.
//! let signature = github::sign(&WebhookSecret::new("It's a Secret to Everybody"), b"Hello, World!")?;
//! assert_eq!(signature, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
//!
//! // Stripe: "t=1700000000,v1=<hex>".
//! let header = stripe::sign(&WebhookSecret::new("whsec_test"), 1_700_000_000, body)?;
//! assert!(header.starts_with("t=1700000000,v1="));
//!
//! // Or every header at once, as a sender of the verifier's scheme would attach them.
//! let verifier = WebhookVerifier::new(Scheme::Stripe, WebhookSecret::new("whsec_test"));
//! let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let headers = verifier.sign_at(body, at)?;
//! verifier.verify_at(&headers, body, at)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The replay window
//!
//! `ClayTimestamped`, `StandardWebhooks` and `Stripe` sign a timestamp. A delivery is refused when
//! its timestamp is more than the tolerance (default **300 seconds**, [`DEFAULT_TOLERANCE`]) away
//! from the receiver's clock **in either direction**: older is
//! [`StaleTimestamp`](WebhookError::StaleTimestamp) (a replay, or a sender clock running behind),
//! newer is [`FutureTimestamp`](WebhookError::FutureTimestamp). Some libraries check only the past,
//! which lets a request stamped for next week be replayed all week. A timestamp that is not a
//! decimal number of Unix seconds (non-numeric, negative, or millisecond-sized) is
//! [`MalformedTimestamp`](WebhookError::MalformedTimestamp), not a pass.
//!
//! ```
//! use std::time::Duration;
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{Scheme, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
//!     .with_tolerance(Duration::from_secs(60));
//! ```
//!
//! The window stops *old* replays, not fresh ones: a delivery captured in transit verifies again
//! for the whole window, on every instance of the service. That is what the replay guard is for.
//!
//! # The replay guard: each delivery accepted once
//!
//! [`WebhookVerifier::with_replay_guard`] attaches a [`ReplayGuard`]. After a signature verifies
//! (never before: a forgery records nothing), the guard records the delivery's key until the
//! delivery's window ends; the same key again is [`WebhookError::Replayed`], a `401` from the axum
//! extractor with `{"error":"replayed","message":"a replay: …"}`.
//!
//! | `Scheme` | the delivery's key | kept for | a replay after that |
//! |---|---|---|---|
//! | `StandardWebhooks` | `webhook-id` (signed) | until the timestamp leaves the window, plus 1 s | refused by its timestamp |
//! | `Stripe`, `ClayTimestamped` | the signature | until the timestamp leaves the window, plus 1 s | refused by its timestamp |
//! | `GitHub` | `x-github-delivery` **and** the signature | the tolerance | **accepted** |
//! | `ClayHex` | the signature | the tolerance | **accepted** |
//!
//! - **Timestamped schemes** are covered end to end: within the window the guard refuses a replay,
//!   after it the timestamp does. An entry lives until the timestamp is a tolerance old (a delivery
//!   stamped ahead of the receiver's clock lives longer than the tolerance from its arrival), plus
//!   one second for whole-second timestamps and clocks that differ a little between instances: keep
//!   the instances' clocks synchronised.
//! - **`ClayHex` has no timestamp**: nothing in a request says when it was sent, so the guard can
//!   only remember it for a while, and that while is the verifier's tolerance. A replay within the
//!   tolerance of the first delivery is refused; **a replay after it is accepted**, exactly as
//!   without a guard. Lengthen the tolerance to remember longer (a [`MemoryStore`] holds that many
//!   more entries), and prefer `ClayTimestamped` for senders you control.
//! - **GitHub** has no timestamp either (same promise as `ClayHex`), and its `x-github-delivery` id
//!   is not signed: a replayer could send a fresh one. So the guard records the signature too, and a
//!   delivery is a replay when either was seen. Two distinct GitHub events with byte-identical
//!   bodies inside the tolerance would be taken for one; GitHub's payloads carry ids and times that
//!   make that unlikely. A GitHub redelivery keeps its id and body, so it is a replay until the
//!   tolerance has passed.
//! - **The signature as a key** is the one the verifier's *current* secret makes for the delivery,
//!   whichever secret or signature entry matched: a delivery signed with both secrets during a
//!   rotation, or replayed with one of its `v1` entries removed, is still one delivery. Stores keep
//!   half of it (128 bits), never a whole signature. See [`ReplayKey`] for the exact keys. While a
//!   rotation's first deploy rolls out, instances whose current secrets differ key the same
//!   delivery differently and do not see each other's: one more reason to finish that deploy
//!   before the sender switches secrets.
//!
//! Two stores, behind the small [`ReplayStore`] trait (implement it for another):
//!
//! - [`MemoryStore`] ([`ReplayGuard::in_memory`]): this process only; bounded (100 000 entries by
//!   default). When full of entries still inside their window it **refuses** the new delivery rather
//!   than forget one whose replay would then pass. For one instance, and for tests.
//! - `RedisStore` (feature `redis`; `ReplayGuard::new(RedisStore::connect(url).await?)`):
//!   one `SET key 1 NX PX <ttl>` round trip per delivery, shared by every instance that uses the same
//!   Redis. Use [`WebhookVerifier::verify_async`] with it (the extractor does): the synchronous
//!   [`verify`](WebhookVerifier::verify) cannot wait for Redis and refuses every delivery. Read the
//!   store's documentation for what Redis must be (no early eviction; persistence, or the risk
//!   accepted).
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn receive(headers: &http::HeaderMap, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{RedisStore, ReplayGuard, Scheme, WebhookVerifier};
//!
//! // At start-up: fails when Redis cannot be reached.
//! let store = RedisStore::connect(&std::env::var("REDIS_URL")?).await?;
//! let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new(std::env::var("WEBHOOK_SECRET")?))
//!     .with_replay_guard(ReplayGuard::new(store));
//!
//! // Per delivery: Err(Replayed) when any instance already accepted it.
//! verifier.verify_async(headers, body).await?;
//! # Ok(())
//! # }
//! ```
//!
//! **When the store cannot answer** (Redis down or too slow past the store's timeout, one second by
//! default, or a memory store full), the guard **fails closed**: the delivery is refused with
//! [`WebhookError::ReplayStoreUnavailable`], which the axum extractor answers `503 Service
//! Unavailable` with `Retry-After: 5`, not `401`: the delivery was not judged, and a sender that
//! stops at client errors must retry it. [`ReplayGuard::fail_open`] is the explicit opt-in to accept
//! such deliveries unrecorded instead (availability over the guard; each one is logged). A timeout is
//! ambiguous: Redis may have recorded a delivery whose answer never arrived, and the sender's retry of
//! it is then refused as a replay until its window ends.
//!
//! The guard records a delivery before the handler runs. A handler that fails after that (and answers
//! `5xx`) will see the sender's retry refused as a replay while the entry lives; senders that
//! re-sign each attempt with a new timestamp (Stripe; Standard Webhooks senders keep the id) get
//! through, others after the window. Make handlers idempotent where losing a retry matters.
//!
//! # Rotating the secret
//!
//! [`with_previous`](WebhookVerifier::with_previous) keeps the old secret working during the grace
//! period; a signature by either passes. Standard Webhooks and Stripe may send several signatures in
//! one header (one per active secret): any valid `v1` passes, malformed entries beside it do not
//! break it, and other versions (Stripe's `v0`, unknown ones) are ignored.
//!
//! ```
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{Scheme, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("new-secret"))
//!     .with_previous(WebhookSecret::new("old-secret"));
//! ```
//!
//! 1. Add the new secret as current and the old one with `with_previous`, and deploy.
//! 2. Switch the sender to the new secret.
//! 3. Once no delivery signed with the old secret can still arrive (retries included), remove
//!    `with_previous` and deploy again.
//!
//! # Errors
//!
//! [`WebhookError`] names what was wrong and in which header (`MissingHeader`, `DuplicateHeader`,
//! `MalformedSignature` with the reason such as `expected 64 characters, found 63`,
//! `MalformedTimestamp`, `StaleTimestamp`, `FutureTimestamp`, `WrongSignature`, `InvalidSecret`,
//! `Replayed`, `ReplayStoreUnavailable`), with a stable [`code`](WebhookError::code) such as
//! `wrong_signature` or `replayed`. No error contains the expected signature, the secret, or the
//! received header value. A header sent twice is refused: which copy was signed would be ambiguous.
//!
//! # axum
//!
//! With the `axum` feature, `axum::VerifiedBody` is an extractor that reads the raw body,
//! verifies it (replay guard included) with the `Arc<WebhookVerifier>` in the router state, and only
//! then runs the handler. Anything else is answered `401 Unauthorized` with
//! `{"error":"<code>","message":"<what was wrong>"}` (or `503` when the replay guard's store cannot
//! answer).
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # fn router(verifier: clay_config::webhook::WebhookVerifier) {
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use clay_config::webhook::axum::VerifiedBody;
//!
//! async fn receive(VerifiedBody(body): VerifiedBody) -> &'static str {
//!     // `body` is exactly what was signed, verified and seen for the first time: parse it now.
//!     let _ = body;
//!     "ok"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/webhooks", post(receive))
//!     .with_state(Arc::new(verifier));
//! # }
//! ```
//!
//! A complete receiver is `clay-config/examples/webhook_server.rs` (a Redis guard when `REDIS_URL`
//! is set, in memory otherwise):
//!
//! ```sh
//! CLAY_WEBHOOK_SECRET=… CLAY_WEBHOOK_SCHEME=clay-timestamped \
//!     cargo run -p clay-config --features axum --example webhook_server
//! REDIS_URL=redis://127.0.0.1:6379/ CLAY_WEBHOOK_SECRET=… \
//!     cargo run -p clay-config --features axum,redis --example webhook_server
//! ```
//!
//! # Speed
//!
//! HMAC-SHA256 from RustCrypto (`hmac` + `sha2`, with SHA-NI where the CPU has it), keyed once per
//! secret (the inner and outer pads hashed once, the state cloned per delivery); headers read
//! without allocating; a hex signature compared with the expected one in hex, eight digits at a
//! time and in constant time (its characters are checked only when it does not match). The
//! in-memory guard adds a key kept on the stack, a clock read, a lock and a hash-map probe (and,
//! for a delivery id, two keyed hashes). `cargo bench -p clay-config --bench webhook`
//! compares a full `verify` with a bare `ring::hmac::verify`, and `verify` with the in-memory guard
//! with `verify` alone, in the same run; with the `redis` feature and `CLAY_TEST_REDIS_URL` set it
//! also measures deliveries per second through a Redis guard from 1 and 16 tasks. The figures are in
//! the repository's `bench/README.md`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

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
#[cfg(feature = "redis")]
mod redis_store;
mod replay;
pub mod standard_webhooks;
pub mod stripe;

pub use error::{Malformed, StoreProblem, WebhookError};
/// The `http` crate whose `HeaderMap` [`WebhookVerifier::verify`] takes, re-exported so callers
/// need no dependency of their own to build one.
pub use http;
/// The `redis` crate whose `ConnectionManager` [`RedisStore::new`] takes (feature `redis`).
#[cfg(feature = "redis")]
pub use redis;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use replay::{
    MemoryStore, Recorded, ReplayGuard, ReplayKey, ReplayStore, StoreError, StoreFuture,
};

use codec::{Tag, optional_single_header};
use key::Key;
use received::Received;
use replay::Delivery;

/// The replay window used unless [`WebhookVerifier::with_tolerance`] says otherwise: five
/// minutes, as Stripe and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How webhooks are signed: which headers, which message, which encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Clay's practice: `x-clay-signature` = lowercase hex HMAC-SHA256 of the raw body,
    /// optionally prefixed `sha256=`. No timestamp, so no replay window. See [`clay_hex`].
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
    /// The header holding the delivery id, for schemes that send one.
    fn delivery_id_header(self) -> Option<&'static HeaderName> {
        match self {
            Scheme::StandardWebhooks => Some(&standard_webhooks::ID),
            Scheme::GitHub => Some(&github::DELIVERY),
            Scheme::ClayHex | Scheme::ClayTimestamped | Scheme::Stripe => None,
        }
    }

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
    replay_guard: Option<ReplayGuard>,
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
            replay_guard: None,
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
    /// for the timestamped schemes. Untimestamped schemes do not check it, but a
    /// [`ReplayGuard`] remembers their deliveries for this long.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Accepts each verified delivery once: after the signature verifies, `guard` records the
    /// delivery's key until its window ends, and refuses the same key again as
    /// [`WebhookError::Replayed`]. See [`ReplayGuard`] and the [module documentation](self) for
    /// the keys and what the guard promises per scheme.
    ///
    /// With a store that answers only asynchronously (Redis), verify with
    /// [`verify_async`](Self::verify_async): the synchronous [`verify`](Self::verify) cannot
    /// wait for it and refuses every delivery
    /// ([`StoreProblem::AsyncOnly`]). The axum extractor always uses `verify_async`.
    #[must_use]
    pub fn with_replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.replay_guard = Some(guard);
        self
    }

    /// The replay guard, if there is one.
    pub fn replay_guard(&self) -> Option<&ReplayGuard> {
        self.replay_guard.as_ref()
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
    /// replay window; then, with a [replay guard](Self::with_replay_guard), records the
    /// delivery or refuses it as a replay.
    ///
    /// A guard whose store answers only asynchronously (Redis) cannot be consulted here: every
    /// delivery is then refused with [`StoreProblem::AsyncOnly`]. Use
    /// [`verify_async`](Self::verify_async) with it.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let verified = self.verify_signature(headers, body, SystemTime::now)?;
        match &self.replay_guard {
            None => Ok(()),
            Some(guard) => guard.judge_now(&self.delivery(headers, &verified)?),
        }
    }

    /// [`verify`](Self::verify) as if the time were `now`.
    ///
    /// The order of the checks: the secrets, the headers' presence and format, the timestamp
    /// (a stale request costs no HMAC), the signature, then the replay guard (a forged request
    /// is never recorded). Every check returns an error rather than panicking, whatever the
    /// input.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        let verified = self.verify_signature(headers, body, || now)?;
        match &self.replay_guard {
            None => Ok(()),
            Some(guard) => guard.judge_now(&self.delivery(headers, &verified)?),
        }
    }

    /// [`verify`](Self::verify), waiting for the replay guard's store when it must (Redis):
    /// what a receiver with a shared guard calls. Without a guard, or with an in-memory one, it
    /// never waits.
    ///
    /// ```
    /// use clay_config::WebhookSecret;
    /// use clay_config::webhook::{ReplayGuard, Scheme, WebhookError, WebhookVerifier};
    ///
    /// # async fn receive() -> Result<(), WebhookError> {
    /// let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("s3cr3t-s3cr3t"))
    ///     .with_replay_guard(ReplayGuard::in_memory());
    /// let headers = verifier.sign(b"{}")?;
    /// verifier.verify_async(&headers, b"{}").await?;
    /// assert!(matches!(
    ///     verifier.verify_async(&headers, b"{}").await,
    ///     Err(WebhookError::Replayed { .. })
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_async(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let verified = self.verify_signature(headers, body, SystemTime::now)?;
        match &self.replay_guard {
            None => Ok(()),
            Some(guard) => guard.judge(&self.delivery(headers, &verified)?).await,
        }
    }

    /// [`verify_async`](Self::verify_async) as if the time were `now`.
    pub async fn verify_async_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        let verified = self.verify_signature(headers, body, || now)?;
        match &self.replay_guard {
            None => Ok(()),
            Some(guard) => guard.judge(&self.delivery(headers, &verified)?).await,
        }
    }

    /// Everything but the replay guard. The clock is read only by timestamped schemes, and
    /// only once the headers are known to be well formed.
    fn verify_signature(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: impl FnOnce() -> SystemTime,
    ) -> Result<Verified, WebhookError> {
        self.check_secrets()?;
        let received = match self.scheme {
            Scheme::ClayHex => clay_hex::read(headers)?,
            Scheme::ClayTimestamped => clay_timestamped::read(headers)?,
            Scheme::StandardWebhooks => standard_webhooks::read(headers)?,
            Scheme::GitHub => github::read(headers)?,
            Scheme::Stripe => stripe::read(headers)?,
        };
        let Received {
            prefix,
            tags,
            signature_header,
            timestamp,
        } = &received;
        // A hex tag's characters are checked only when it is refused, but a malformed tag is
        // reported before anything else about the request, as if checked on reading.
        let malformed = || {
            tags.malformed()
                .map(|problem| WebhookError::MalformedSignature {
                    header: signature_header,
                    problem,
                })
        };
        let window = match *timestamp {
            Some((timestamp, header)) => {
                let now = now();
                if let Err(error) = check_window(timestamp, header, now, self.tolerance) {
                    return Err(malformed().unwrap_or(error));
                }
                Some((timestamp, now))
            }
            None => None,
        };
        // The current secret's signature is the delivery's replay key whichever secret
        // matched, so a delivery signed with both is one delivery.
        let mut current_signature = None;
        for secret in &self.secrets {
            let Ok(key) = &secret.key else {
                continue; // not reached: `check_secrets` refused the verifier
            };
            let expected = key.tag(prefix, body);
            let current = *current_signature.get_or_insert(expected);
            if tags.matches(&expected) {
                return Ok(Verified {
                    signature: current,
                    signature_header,
                    window,
                });
            }
        }
        Err(malformed().unwrap_or(WebhookError::WrongSignature {
            header: signature_header,
        }))
    }

    /// The keys under which the replay guard records a verified delivery, and for how long.
    fn delivery(&self, headers: &HeaderMap, verified: &Verified) -> Result<Delivery, WebhookError> {
        let ttl = match verified.window {
            // Until the timestamp leaves the window, plus a second for whole-second timestamps
            // and clocks that differ a little between instances.
            Some((timestamp, now)) => UNIX_EPOCH
                .checked_add(Duration::from_secs(timestamp))
                .and_then(|sent| sent.checked_add(self.tolerance))
                .and_then(|closes| closes.checked_add(CLOCK_ALLOWANCE))
                .map_or(Duration::MAX, |closes| {
                    closes.duration_since(now).unwrap_or_default()
                }),
            // Nothing in the delivery says when it was sent: remember it for the tolerance.
            None => self.tolerance,
        };
        let by_signature = || ReplayKey::signature(self.scheme, &verified.signature);
        let id = match self.scheme.delivery_id_header() {
            Some(header) => optional_single_header(headers, header)?
                .filter(|id| !id.is_empty())
                .map(|id| (ReplayKey::delivery_id(self.scheme, id), header.as_str())),
            None => None,
        };
        Ok(match id {
            // GitHub does not sign its delivery id: a replay with a fresh one must still meet
            // its signature.
            Some((key, header)) if self.scheme == Scheme::GitHub => {
                Delivery::new(key, header, ttl).and(by_signature())
            }
            Some((key, header)) => Delivery::new(key, header, ttl),
            None => Delivery::new(by_signature(), verified.signature_header, ttl),
        })
    }

    /// The headers a sender of this scheme would attach to `body` now, signed with the current
    /// secret: for testing a receiver end to end.
    pub fn sign(&self, body: &[u8]) -> Result<HeaderMap, WebhookError> {
        self.sign_at(body, SystemTime::now())
    }

    /// [`sign`](Self::sign) with the timestamp `at`. For Standard Webhooks, `webhook-id` is
    /// derived from the secret's fingerprint, the timestamp and the body: the same message
    /// signed twice is the same delivery (a replay to a [`ReplayGuard`]), and senders with
    /// different secrets send different deliveries.
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
        let (key, fingerprint) = match self.secrets.first() {
            Some(PreparedSecret {
                key: Ok(key),
                fingerprint,
            }) => (key, fingerprint),
            Some(PreparedSecret {
                key: Err(problem), ..
            }) => return Err(WebhookError::InvalidSecret { problem: *problem }),
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
            Scheme::StandardWebhooks => {
                standard_webhooks::sign_headers(key, fingerprint, timestamp()?, body)
            }
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
            .field("replay_guard", &self.replay_guard)
            .finish()
    }
}

/// What a verified signature tells the replay guard.
struct Verified {
    /// The signature the current secret makes for the delivery.
    signature: Tag,
    signature_header: &'static str,
    /// For timestamped schemes: the timestamp, and the time the window was checked against.
    window: Option<(u64, SystemTime)>,
}

/// Added to a timestamped delivery's window when recording it (see `WebhookVerifier::delivery`).
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(1);

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
