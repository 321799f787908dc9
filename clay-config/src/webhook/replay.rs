//! The replay guard: a verified delivery is accepted once, then refused as a replay until its
//! window ends. See the module documentation of [`webhook`](super) for what it promises per
//! scheme.

use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::{BinaryHeap, HashMap};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::Scheme;
use super::codec::Tag;
use super::error::{StoreProblem, WebhookError};

/// Every key starts with this, so a shared Redis shows at a glance whose keys these are.
const KEY_PREFIX: &str = "clay-config:webhook:";

/// Delivery ids longer than this, or with other characters than [`is_plain_id_byte`] allows,
/// are hashed: a hostile id cannot make a huge key or an odd one.
const MAX_PLAIN_ID_LEN: usize = 64;

/// Bytes of a digest or a signature kept in a key: 128 bits, far beyond any collision within a
/// window, and never a whole signature.
const KEY_DIGEST_LEN: usize = 16;

/// The longest an entry is kept, whatever the tolerance says: ten years. Keeps a huge
/// tolerance from overflowing a clock or Redis's expiry.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// The shortest an entry is kept: Redis refuses an expiry of zero.
const MIN_TTL: Duration = Duration::from_millis(1);

/// A delivery's key in a [`ReplayStore`]: `clay-config:webhook:<scheme>:<kind>:<value>`, where
/// `<kind>:<value>` is one of
///
/// - `id:<delivery id>`: the scheme's delivery id as sent, when it is at most 64 characters
///   of `A-Z a-z 0-9 _ - . ~ : + / =`;
/// - `id-sha256:<32 hex digits>`: the first 128 bits of the SHA-256 of any other delivery id;
/// - `sig:<32 hex digits>`: for a scheme without a delivery id, the first 128 bits of the
///   signature that the verifier's current secret makes for the delivery. Half a signature
///   proves nothing, and it is the same however the sender encoded or combined its signatures.
///
/// At most 128 bytes, ASCII, no spaces; kept inline, so building one allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    text: [u8; MAX_KEY_LEN],
    len: usize,
}

/// The longest key: the prefix, the longest scheme name and a 64-character plain id fit.
const MAX_KEY_LEN: usize = 128;

impl ReplayKey {
    /// The key of a delivery id.
    pub(crate) fn delivery_id(scheme: Scheme, id: &[u8]) -> ReplayKey {
        let mut key = ReplayKey::start(scheme);
        if id.len() <= MAX_PLAIN_ID_LEN && id.iter().all(is_plain_id_byte) {
            key.push(b"id:");
            key.push(id);
        } else {
            let digest = Sha256::digest(id);
            key.push(b"id-sha256:");
            key.push_hex(digest.get(..KEY_DIGEST_LEN).unwrap_or_default());
        }
        key
    }

    /// The key of a delivery identified by its signature (see the type's documentation).
    pub(crate) fn signature(scheme: Scheme, signature: &Tag) -> ReplayKey {
        let mut key = ReplayKey::start(scheme);
        key.push(b"sig:");
        key.push_hex(signature.get(..KEY_DIGEST_LEN).unwrap_or_default());
        key
    }

    fn start(scheme: Scheme) -> ReplayKey {
        let mut key = ReplayKey {
            text: [0; MAX_KEY_LEN],
            len: 0,
        };
        key.push(KEY_PREFIX.as_bytes());
        key.push(scheme.name().as_bytes());
        key.push(b":");
        key
    }

    /// Appends `bytes`, which the constructors keep within [`MAX_KEY_LEN`] (anything beyond
    /// would be cut, never written out of bounds).
    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(MAX_KEY_LEN);
        if let (Some(slot), Some(bytes)) = (
            self.text.get_mut(self.len..end),
            bytes.get(..end - self.len),
        ) {
            slot.copy_from_slice(bytes);
            self.len = end;
        }
    }

    fn push_hex(&mut self, bytes: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for byte in bytes {
            self.push(&[
                DIGITS[usize::from(byte >> 4)],
                DIGITS[usize::from(byte & 0x0f)],
            ]);
        }
    }

    /// The key as text, as a store saves it.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed, so the text is always UTF-8.
        std::str::from_utf8(self.text.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl Default for ReplayKey {
    fn default() -> Self {
        ReplayKey {
            text: [0; MAX_KEY_LEN],
            len: 0,
        }
    }
}

impl fmt::Display for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({})", self.as_str())
    }
}

fn is_plain_id_byte(byte: &u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_-.~:+/=".contains(byte)
}

/// What a delivery's keys were in a [`ReplayStore`] before it recorded them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// None of the keys was recorded (or all had expired): the delivery is new, and now
    /// recorded.
    New,
    /// At least one key was recorded and has not expired: the delivery is a replay.
    Seen,
}

/// Why a [`ReplayStore`] could not answer: a [`StoreProblem`] and, for the log, the cause.
///
/// The guard turns it into [`WebhookError::ReplayStoreUnavailable`], which carries only the
/// problem; the cause (a Redis error, say) is logged through `tracing` at `warn` level.
#[derive(Debug)]
pub struct StoreError {
    problem: StoreProblem,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl StoreError {
    /// The store could not be reached or did not answer in time; `source` says why.
    pub fn unreachable(source: impl Into<Box<dyn Error + Send + Sync>>) -> StoreError {
        StoreError {
            problem: StoreProblem::Unreachable,
            source: Some(source.into()),
        }
    }

    /// The store is full of entries that have not expired.
    pub fn full() -> StoreError {
        StoreError {
            problem: StoreProblem::Full,
            source: None,
        }
    }

    /// The store cannot answer without waiting (from [`ReplayStore::record_now`]).
    pub fn async_only() -> StoreError {
        StoreError {
            problem: StoreProblem::AsyncOnly,
            source: None,
        }
    }

    /// What went wrong.
    pub fn problem(&self) -> StoreProblem {
        self.problem
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

/// What [`ReplayStore::record`] returns: a boxed future, so the trait can sit behind `dyn`.
pub type StoreFuture<'a> = Pin<Box<dyn Future<Output = Result<Recorded, StoreError>> + Send + 'a>>;

/// Where a [`ReplayGuard`] records the deliveries it accepted: [`MemoryStore`] for one
/// instance, `RedisStore` (feature `redis`) for every instance of a service at once, or your
/// own.
///
/// A store must be atomic: of concurrent calls sharing a key, at most one answers
/// [`Recorded::New`], however many instances make them.
pub trait ReplayStore: Send + Sync + 'static {
    /// A short name for errors and logs: `memory`, `redis`.
    fn name(&self) -> &'static str;

    /// Records every one of `keys` for `ttl` unless one of them is already recorded and has
    /// not expired, in one atomic step. [`Recorded::Seen`] when one was (keys that were not
    /// may then be recorded or not); an error when the store cannot tell.
    fn record<'a>(&'a self, keys: &'a [ReplayKey], ttl: Duration) -> StoreFuture<'a>;

    /// The same answer without waiting, for a store that needs no I/O; `None` (the default)
    /// when it can only answer through [`record`](Self::record). The synchronous
    /// [`WebhookVerifier::verify`](super::WebhookVerifier::verify) uses it, and the
    /// asynchronous path tries it first so an in-memory store costs no boxed future.
    fn record_now(
        &self,
        keys: &[ReplayKey],
        ttl: Duration,
    ) -> Option<Result<Recorded, StoreError>> {
        let _ = (keys, ttl);
        None
    }
}

/// A verified delivery's keys and how long to keep them: what a [`ReplayGuard`] judges.
pub(crate) struct Delivery {
    /// One key, or two for GitHub (its delivery id is not signed, so the signature is kept
    /// too: a replay with a fresh `x-github-delivery` is still the same signature).
    keys: [ReplayKey; 2],
    len: usize,
    /// The header the first key came from, for [`WebhookError::Replayed`].
    pub(crate) header: &'static str,
    pub(crate) ttl: Duration,
}

impl Delivery {
    pub(crate) fn new(key: ReplayKey, header: &'static str, ttl: Duration) -> Delivery {
        Delivery {
            keys: [key, ReplayKey::default()],
            len: 1,
            header,
            ttl: ttl.clamp(MIN_TTL, MAX_TTL),
        }
    }

    /// Also records `key`: the delivery is a replay when either key was seen.
    pub(crate) fn and(mut self, key: ReplayKey) -> Delivery {
        if let Some(slot) = self.keys.get_mut(self.len) {
            *slot = key;
            self.len += 1;
        }
        self
    }

    pub(crate) fn keys(&self) -> &[ReplayKey] {
        self.keys.get(..self.len).unwrap_or_default()
    }
}

/// Accepts each verified delivery once: attach one to a verifier with
/// [`WebhookVerifier::with_replay_guard`](super::WebhookVerifier::with_replay_guard).
///
/// After a signature verifies, the delivery's key (see [`ReplayKey`]) is recorded in the
/// store until the delivery's window ends; the same key again is [`WebhookError::Replayed`].
/// A store that cannot answer refuses the delivery ([`WebhookError::ReplayStoreUnavailable`],
/// so the sender retries) unless the guard was told to [`fail_open`](Self::fail_open).
///
/// Cloning is cheap and clones share the store.
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::{ReplayGuard, Scheme, WebhookError, WebhookVerifier};
///
/// let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
///     .with_replay_guard(ReplayGuard::in_memory());
/// let body = br#"{"type":"invoice.paid"}"#;
/// let headers = verifier.sign(body)?;
/// assert_eq!(verifier.verify(&headers, body), Ok(()));
/// assert_eq!(
///     verifier.verify(&headers, body),
///     Err(WebhookError::Replayed { header: "webhook-id" })
/// );
/// # Ok::<(), WebhookError>(())
/// ```
#[derive(Clone)]
pub struct ReplayGuard {
    store: Arc<dyn ReplayStore>,
    fail_open: bool,
}

impl ReplayGuard {
    /// A guard over `store`, failing closed.
    pub fn new(store: impl ReplayStore) -> ReplayGuard {
        ReplayGuard {
            store: Arc::new(store),
            fail_open: false,
        }
    }

    /// A guard over a [`MemoryStore`] of the default capacity
    /// ([`MemoryStore::DEFAULT_CAPACITY`]): for one instance, and for tests.
    pub fn in_memory() -> ReplayGuard {
        ReplayGuard::new(MemoryStore::default())
    }

    /// A guard over a [`RedisStore`](super::RedisStore) on `connection`, shared by every
    /// instance that uses the same Redis.
    #[cfg(feature = "redis")]
    pub fn redis(connection: ::redis::aio::ConnectionManager) -> ReplayGuard {
        ReplayGuard::new(super::RedisStore::new(connection))
    }

    /// Accepts a delivery whose store cannot answer (unreachable, or full), unrecorded, instead
    /// of refusing it. This trades the guard for availability whenever the store is down: a
    /// replay sent then is accepted. Each such acceptance is logged at `warn` level.
    ///
    /// A synchronous [`verify`](super::WebhookVerifier::verify) over a store that only answers
    /// asynchronously is a mistake in the receiver, not an outage: it is refused all the same.
    #[must_use]
    pub fn fail_open(mut self) -> ReplayGuard {
        self.fail_open = true;
        self
    }

    /// True when the guard [fails open](Self::fail_open).
    pub fn fails_open(&self) -> bool {
        self.fail_open
    }

    /// The store the guard records in.
    pub fn store(&self) -> &dyn ReplayStore {
        &*self.store
    }

    /// Judges `delivery` without waiting: stores that need I/O refuse it.
    pub(crate) fn judge_now(&self, delivery: &Delivery) -> Result<(), WebhookError> {
        let answer = self
            .store
            .record_now(delivery.keys(), delivery.ttl)
            .unwrap_or_else(|| Err(StoreError::async_only()));
        self.verdict(delivery, answer)
    }

    /// Judges `delivery`, waiting for the store if it must.
    pub(crate) async fn judge(&self, delivery: &Delivery) -> Result<(), WebhookError> {
        let answer = match self.store.record_now(delivery.keys(), delivery.ttl) {
            Some(answer) => answer,
            None => self.store.record(delivery.keys(), delivery.ttl).await,
        };
        self.verdict(delivery, answer)
    }

    fn verdict(
        &self,
        delivery: &Delivery,
        answer: Result<Recorded, StoreError>,
    ) -> Result<(), WebhookError> {
        match answer {
            Ok(Recorded::New) => Ok(()),
            Ok(Recorded::Seen) => Err(WebhookError::Replayed {
                header: delivery.header,
            }),
            Err(error) => {
                let store = self.store.name();
                let problem = error.problem();
                if self.fail_open && problem != StoreProblem::AsyncOnly {
                    tracing::warn!(
                        store,
                        "webhook accepted without a replay check (the guard fails open): {error}"
                    );
                    Ok(())
                } else {
                    tracing::warn!(store, "webhook refused by the replay guard: {error}");
                    Err(WebhookError::ReplayStoreUnavailable { store, problem })
                }
            }
        }
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("store", &self.store.name())
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

/// A [`ReplayStore`] in this process's memory, bounded: for a service with one instance, and
/// for tests. Every clone of a [`ReplayGuard`] built on it shares it; another process does not.
///
/// **When full.** Expired entries are dropped first (soonest expiry first, as deliveries
/// arrive). If the store still holds `capacity` entries that have not expired, the new
/// delivery is refused with [`StoreProblem::Full`] (a `503` from the axum extractor, so the
/// sender retries it later) rather than forgetting an entry whose replay would then be
/// accepted. Size it above the deliveries you expect per window: the default, 100 000, is 333
/// a second over five minutes, at about 80 bytes an entry (8 MB when full).
///
/// Entries are 128-bit keyed hashes of the [`ReplayKey`]s (SipHash under two random keys
/// drawn when the store is made), so a sender cannot choose ids that collide, and two
/// different keys are mistaken for one with a chance of about 2<sup>-128</sup> per pair.
///
/// A restart forgets everything: a delivery accepted just before it can be replayed once
/// just after, within its window.
pub struct MemoryStore {
    capacity: usize,
    /// Two independently keyed hashers: one 128-bit digest per key.
    hashers: [RandomState; 2],
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Each recorded key's digest and when it expires.
    expiry: HashMap<u128, Instant, BuildDigestHasher>,
    /// The same entries, soonest expiry first, so expired ones leave in O(log n) each.
    by_expiry: BinaryHeap<Reverse<(Instant, u128)>>,
}

impl Entries {
    fn purge(&mut self, now: Instant) {
        while let Some(Reverse((expires, digest))) = self.by_expiry.peek().copied() {
            if expires > now {
                break;
            }
            self.by_expiry.pop();
            self.expiry.remove(&digest);
        }
    }
}

/// The map's keys are already keyed hashes: hashing them again would only cost time.
#[derive(Default, Clone, Copy)]
struct BuildDigestHasher;

impl BuildHasher for BuildDigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u128(&mut self, digest: u128) {
        // Truncation on purpose: both halves are uniform.
        let folded = (digest as u64) ^ ((digest >> 64) as u64);
        self.0 ^= folded;
    }
}

impl MemoryStore {
    /// The capacity of [`MemoryStore::default`] and [`ReplayGuard::in_memory`].
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store that holds at most `capacity` unexpired keys (at least one).
    pub fn with_capacity(capacity: usize) -> MemoryStore {
        MemoryStore {
            capacity: capacity.max(1),
            hashers: [RandomState::new(), RandomState::new()],
            entries: Mutex::new(Entries::default()),
        }
    }

    /// How many keys it can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many keys it holds now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// True when it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The entries stay consistent at every step, so a panic elsewhere while the lock was
        // held leaves nothing to repair.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn digest(&self, key: &ReplayKey) -> u128 {
        let [first, second] = &self.hashers;
        let text = key.as_str();
        (u128::from(first.hash_one(text)) << 64) | u128::from(second.hash_one(text))
    }

    fn record_in_memory(&self, keys: &[ReplayKey], ttl: Duration) -> Result<Recorded, StoreError> {
        // One or two keys (GitHub) without allocating; more only from other callers.
        let mut few = [0u128; 2];
        let many: Vec<u128>;
        let digests: &[u128] = match few.get_mut(..keys.len()) {
            Some(slots) => {
                for (slot, key) in slots.iter_mut().zip(keys) {
                    *slot = self.digest(key);
                }
                slots
            }
            None => {
                many = keys.iter().map(|key| self.digest(key)).collect();
                &many
            }
        };
        let now = Instant::now();
        // Never taken: the guard caps the time to live at ten years.
        let expires = now
            .checked_add(ttl.min(MAX_TTL))
            .ok_or_else(StoreError::full)?;
        let mut entries = self.lock();
        entries.purge(now);
        if digests
            .iter()
            .any(|digest| entries.expiry.contains_key(digest))
        {
            return Ok(Recorded::Seen);
        }
        if entries.expiry.len().saturating_add(keys.len()) > self.capacity {
            return Err(StoreError::full());
        }
        for digest in digests {
            entries.expiry.insert(*digest, expires);
            entries.by_expiry.push(Reverse((expires, *digest)));
        }
        Ok(Recorded::New)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_capacity(MemoryStore::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl ReplayStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn record<'a>(&'a self, keys: &'a [ReplayKey], ttl: Duration) -> StoreFuture<'a> {
        let answer = self.record_in_memory(keys, ttl);
        Box::pin(async move { answer })
    }

    fn record_now(
        &self,
        keys: &[ReplayKey],
        ttl: Duration,
    ) -> Option<Result<Recorded, StoreError>> {
        Some(self.record_in_memory(keys, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ReplayKey {
        ReplayKey::delivery_id(Scheme::StandardWebhooks, id.as_bytes())
    }

    #[test]
    fn keys_are_namespaced_plain_or_hashed() {
        assert_eq!(
            key("msg_p5jXN8AQM9LWM0D4loKWxJek").as_str(),
            "clay-config:webhook:standard-webhooks:id:msg_p5jXN8AQM9LWM0D4loKWxJek"
        );
        let guid = ReplayKey::delivery_id(Scheme::GitHub, b"72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(
            guid.as_str(),
            "clay-config:webhook:github:id:72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );
        // Long, spaced, binary or non-UTF-8 ids are hashed to the same short form.
        for hostile in [
            "a".repeat(65).into_bytes(),
            "a".repeat(1 << 20).into_bytes(),
            b"id with spaces".to_vec(),
            b"\0\xff\xfe".to_vec(),
            "\u{202e}evil".as_bytes().to_vec(),
        ] {
            let key = ReplayKey::delivery_id(Scheme::StandardWebhooks, &hostile);
            let text = key.as_str();
            assert!(
                text.starts_with("clay-config:webhook:standard-webhooks:id-sha256:"),
                "{text}"
            );
            assert_eq!(
                text.len(),
                "clay-config:webhook:standard-webhooks:id-sha256:".len() + 32
            );
        }
        // Different hashed ids, different keys; a plain id never looks like a hashed one.
        assert_ne!(
            ReplayKey::delivery_id(Scheme::GitHub, &[b'a'; 65]),
            ReplayKey::delivery_id(Scheme::GitHub, &[b'a'; 66])
        );
        let sneaky = ReplayKey::delivery_id(Scheme::GitHub, b"-sha256:0000");
        assert_eq!(
            sneaky.as_str(),
            "clay-config:webhook:github:id:-sha256:0000"
        );
        let signature = ReplayKey::signature(Scheme::ClayHex, &[0xab; 32]);
        assert_eq!(
            signature.as_str(),
            "clay-config:webhook:clay-hex:sig:abababababababababababababababab"
        );
        assert!(
            ReplayKey::delivery_id(Scheme::ClayHex, &[b'a'; 64])
                .as_str()
                .len()
                <= 128
        );
    }

    #[test]
    fn memory_store_records_once_then_reports_seen() {
        let store = MemoryStore::with_capacity(10);
        let ttl = Duration::from_secs(60);
        assert_eq!(
            store.record_now(&[key("a")], ttl).map(|r| r.ok()),
            Some(Some(Recorded::New))
        );
        assert_eq!(
            store.record_now(&[key("a")], ttl).map(|r| r.ok()),
            Some(Some(Recorded::Seen))
        );
        // Either of two keys seen is enough.
        assert_eq!(
            store.record_now(&[key("b"), key("a")], ttl).map(|r| r.ok()),
            Some(Some(Recorded::Seen))
        );
        assert_eq!(
            store.record_now(&[key("b"), key("c")], ttl).map(|r| r.ok()),
            Some(Some(Recorded::New))
        );
        assert_eq!(
            store.record_now(&[key("c")], ttl).map(|r| r.ok()),
            Some(Some(Recorded::Seen))
        );
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn a_full_memory_store_refuses_rather_than_forgets() {
        let store = MemoryStore::with_capacity(3);
        let long = Duration::from_secs(60);
        for id in ["a", "b", "c"] {
            assert!(matches!(
                store.record_now(&[key(id)], long),
                Some(Ok(Recorded::New))
            ));
        }
        let refused = store.record_now(&[key("d")], long);
        assert!(
            matches!(&refused, Some(Err(error)) if error.problem() == StoreProblem::Full),
            "{refused:?}"
        );
        // The recorded ones are still refused as replays, not forgotten.
        for id in ["a", "b", "c"] {
            assert!(matches!(
                store.record_now(&[key(id)], long),
                Some(Ok(Recorded::Seen))
            ));
        }
        // Two keys where one slot is left: refused whole, nothing half recorded.
        let store = MemoryStore::with_capacity(2);
        assert!(matches!(
            store.record_now(&[key("a")], long),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("b"), key("c")], long),
            Some(Err(error)) if error.problem() == StoreProblem::Full
        ));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn expired_entries_make_room_and_are_forgotten() {
        let store = MemoryStore::with_capacity(2);
        let short = Duration::from_millis(30);
        assert!(matches!(
            store.record_now(&[key("a")], short),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("b")], Duration::from_secs(60)),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("c")], short),
            Some(Err(error)) if error.problem() == StoreProblem::Full
        ));
        std::thread::sleep(Duration::from_millis(60));
        // `a` expired: its slot is free, and `a` itself is new again.
        assert!(matches!(
            store.record_now(&[key("c")], short),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("b")], short),
            Some(Ok(Recorded::Seen))
        ));
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(
            store.record_now(&[key("a")], short),
            Some(Ok(Recorded::New))
        ));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn a_huge_ttl_is_capped_not_overflowed() {
        let store = MemoryStore::with_capacity(2);
        assert!(matches!(
            store.record_now(&[key("a")], Duration::MAX),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("a")], Duration::MAX),
            Some(Ok(Recorded::Seen))
        ));
        let delivery = Delivery::new(key("x"), "h", Duration::MAX);
        assert_eq!(delivery.ttl, MAX_TTL);
        assert_eq!(Delivery::new(key("x"), "h", Duration::ZERO).ttl, MIN_TTL);
    }

    /// A store that cannot answer, to see both failure policies.
    struct Down;

    impl ReplayStore for Down {
        fn name(&self) -> &'static str {
            "down"
        }

        fn record<'a>(&'a self, _: &'a [ReplayKey], _: Duration) -> StoreFuture<'a> {
            Box::pin(async { Err(StoreError::unreachable("connection refused")) })
        }
    }

    #[test]
    fn an_unanswering_store_fails_closed_unless_told_otherwise() {
        let delivery = Delivery::new(key("a"), "webhook-id", Duration::from_secs(1));
        let closed = ReplayGuard::new(Down);
        // Synchronously, an asynchronous store is a mistake: refused, even failing open.
        let async_only = Err(WebhookError::ReplayStoreUnavailable {
            store: "down",
            problem: StoreProblem::AsyncOnly,
        });
        assert_eq!(closed.judge_now(&delivery), async_only);
        assert_eq!(closed.clone().fail_open().judge_now(&delivery), async_only);
        let unreachable = Err(WebhookError::ReplayStoreUnavailable {
            store: "down",
            problem: StoreProblem::Unreachable,
        });
        assert_eq!(block_on(closed.judge(&delivery)), unreachable);
        assert!(!closed.fails_open());
        let open = closed.fail_open();
        assert!(open.fails_open());
        assert_eq!(block_on(open.judge(&delivery)), Ok(()));
        assert_eq!(
            format!("{open:?}"),
            "ReplayGuard { store: \"down\", fail_open: true }"
        );
    }

    /// Polls a future that never waits (the stores above answer at once).
    fn block_on<F: Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }
}
