//! The replay guard: a verified delivery is accepted once, then refused as a replay until its
//! window ends. See the module documentation of [`webhook`](super) for what it promises per
//! scheme.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::Scheme;
use super::codec::{Tag, encode_hex};
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

/// A delivery's key in a [`ReplayStore`]. Its text (its [`Display`](fmt::Display), as a store
/// that keeps keys by name saves it) is `clay-config:webhook:<scheme>:<kind>:<value>`, where
/// `<kind>:<value>` is one of
///
/// - `id:<delivery id>`: the scheme's delivery id as sent, when it is at most 64 characters
///   of `A-Z a-z 0-9 _ - . ~ : + / =`;
/// - `id-sha256:<32 hex digits>`: the first 128 bits of the SHA-256 of any other delivery id;
/// - `sig:<32 hex digits>`: for a scheme without a delivery id, the first 128 bits of the
///   signature that the verifier's current secret makes for the delivery. Half a signature
///   proves nothing, and it is the same however the sender encoded or combined its signatures.
///
/// At most 128 characters, ASCII, no spaces. The key itself is kept compact (the scheme, the
/// kind, and at most 64 bytes), so building one allocates nothing and the in-memory store
/// never renders the text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    scheme: Scheme,
    kind: KeyKind,
    value: [u8; MAX_PLAIN_ID_LEN],
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KeyKind {
    /// `value` is a plain delivery id.
    Id,
    /// `value` is 128 bits of the SHA-256 of a delivery id.
    IdSha256,
    /// `value` is 128 bits of a signature.
    Signature,
}

impl ReplayKey {
    /// The key of a delivery id.
    pub(crate) fn delivery_id(scheme: Scheme, id: &[u8]) -> ReplayKey {
        let mut key = ReplayKey::empty(scheme, KeyKind::Id);
        match key.value.get_mut(..id.len()) {
            Some(slot) if id.iter().all(is_plain_id_byte) => {
                slot.copy_from_slice(id);
                key.len = id.len();
            }
            _ => {
                let digest = Sha256::digest(id);
                key.kind = KeyKind::IdSha256;
                key.set_value(digest.get(..KEY_DIGEST_LEN).unwrap_or_default());
            }
        }
        key
    }

    /// The key of a delivery identified by its signature (see the type's documentation).
    pub(crate) fn signature(scheme: Scheme, signature: &Tag) -> ReplayKey {
        let mut key = ReplayKey::empty(scheme, KeyKind::Signature);
        key.set_value(signature.get(..KEY_DIGEST_LEN).unwrap_or_default());
        key
    }

    fn empty(scheme: Scheme, kind: KeyKind) -> ReplayKey {
        ReplayKey {
            scheme,
            kind,
            value: [0; MAX_PLAIN_ID_LEN],
            len: 0,
        }
    }

    fn set_value(&mut self, bytes: &[u8]) {
        if let Some(slot) = self.value.get_mut(..bytes.len()) {
            slot.copy_from_slice(bytes);
            self.len = bytes.len();
        }
    }

    fn value(&self) -> &[u8] {
        self.value.get(..self.len).unwrap_or_default()
    }

    /// 128 bits that tell this key from any other, for the in-memory store. A signature's are
    /// its own (unforgeable, so no sender can aim them at each other), marked with the scheme;
    /// an id's are two keyed hashes of everything that makes the key.
    fn digest(&self, hashers: &[RandomState; 2]) -> u128 {
        match self.kind {
            KeyKind::Signature => {
                let mut bytes = [0u8; 16];
                if let Some(slot) = bytes.get_mut(..self.len) {
                    slot.copy_from_slice(self.value());
                }
                // The scheme's index in the top byte's place: equal signatures of two schemes
                // are two keys, as their text is.
                u128::from_le_bytes(bytes) ^ (u128::from(self.scheme as u8 + 1) << 120)
            }
            KeyKind::Id | KeyKind::IdSha256 => {
                let [first, second] = hashers;
                let hash = |hasher: &RandomState| {
                    hasher.hash_one((self.scheme as u8, self.kind as u8, self.value()))
                };
                (u128::from(hash(first)) << 64) | u128::from(hash(second))
            }
        }
    }
}

impl fmt::Display for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(KEY_PREFIX)?;
        f.write_str(self.scheme.name())?;
        match self.kind {
            KeyKind::Id => {
                f.write_str(":id:")?;
                // Only plain ASCII is ever kept as an id.
                f.write_str(std::str::from_utf8(self.value()).unwrap_or_default())
            }
            KeyKind::IdSha256 => {
                f.write_str(":id-sha256:")?;
                f.write_str(&encode_hex(self.value()))
            }
            KeyKind::Signature => {
                f.write_str(":sig:")?;
                f.write_str(&encode_hex(self.value()))
            }
        }
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({self})")
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
            keys: [key, ReplayKey::empty(Scheme::ClayHex, KeyKind::Signature)],
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
/// **When full.** Expired entries are dropped first (as deliveries arrive, and all of them at
/// once when the store is full). If the store still holds `capacity` entries that have not
/// expired, the new delivery is refused with [`StoreProblem::Full`] (a `503` from the axum extractor, so the
/// sender retries it later) rather than forgetting an entry whose replay would then be
/// accepted. Size it above the deliveries you expect per window: the default, 100 000, is 333
/// a second over five minutes, at about 60 bytes an entry (6 MB when full).
///
/// Entries are 128 bits per [`ReplayKey`]: a signature's own (which no one can choose without
/// the secret), or for a delivery id two keyed hashes (SipHash under two random keys drawn
/// when the store is made), so a sender cannot choose ids that collide. Two different keys are
/// mistaken for one with a chance of about 2<sup>-120</sup> per pair.
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
    /// Each recorded key's digest and when it expires. An entry may outlive its expiry for a
    /// while (see `purge`): it then counts as absent.
    expiry: HashMap<u128, Instant, BuildDigestHasher>,
    /// The digests in the order they were recorded, with the expiry each was recorded with.
    /// Expiries mostly grow along it (a time to live is mostly the same); where they do not
    /// (timestamped schemes, or verifiers of different tolerances sharing the store), an entry
    /// at the front that lives longer holds back expired ones behind it until `sweep`.
    recorded: VecDeque<(Instant, u128)>,
    /// Nothing expires before this (kept on every insertion once a sweep has set it): a full
    /// sweep before then would find nothing to drop.
    no_sweep_before: Option<Instant>,
}

impl Entries {
    /// True when `digest` is recorded and has not expired.
    fn holds(&self, digest: &u128, now: Instant) -> bool {
        self.expiry
            .get(digest)
            .is_some_and(|expires| *expires > now)
    }

    /// Drops the expired entries at the front of the record, in O(1) each.
    fn purge(&mut self, now: Instant) {
        while let Some(&(expires, digest)) = self.recorded.front() {
            if expires > now {
                break;
            }
            self.recorded.pop_front();
            // Unless it was recorded again since, with a later expiry.
            if self.expiry.get(&digest) == Some(&expires) {
                self.expiry.remove(&digest);
            }
        }
    }

    /// Drops every expired entry, wherever it is: O(n), so only when the store is full (and
    /// something may have expired) or the record has grown past twice the capacity.
    fn sweep(&mut self, now: Instant, capacity: usize) {
        let bloated = self.recorded.len() > capacity.saturating_mul(2);
        if !bloated && self.no_sweep_before.is_some_and(|until| now < until) {
            return;
        }
        self.expiry.retain(|_, expires| *expires > now);
        let expiry = &self.expiry;
        self.recorded
            .retain(|(expires, digest)| expiry.get(digest) == Some(expires));
        self.no_sweep_before = self.expiry.values().min().copied();
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

    /// A store of the default capacity ([`MemoryStore::DEFAULT_CAPACITY`]).
    pub fn new() -> MemoryStore {
        MemoryStore::with_capacity(MemoryStore::DEFAULT_CAPACITY)
    }

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
        key.digest(&self.hashers)
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
        if digests.iter().any(|digest| entries.holds(digest, now)) {
            return Ok(Recorded::Seen);
        }
        let full = |entries: &Entries| {
            entries.expiry.len().saturating_add(keys.len()) > self.capacity
                || entries.recorded.len() > self.capacity.saturating_mul(2)
        };
        if full(&entries) {
            entries.sweep(now, self.capacity);
            if full(&entries) {
                return Err(StoreError::full());
            }
        }
        for digest in digests {
            entries.expiry.insert(*digest, expires);
            entries.recorded.push_back((expires, *digest));
        }
        if let Some(until) = &mut entries.no_sweep_before {
            *until = (*until).min(expires);
        }
        Ok(Recorded::New)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
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
            key("msg_p5jXN8AQM9LWM0D4loKWxJek").to_string(),
            "clay-config:webhook:standard-webhooks:id:msg_p5jXN8AQM9LWM0D4loKWxJek"
        );
        let guid = ReplayKey::delivery_id(Scheme::GitHub, b"72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(
            guid.to_string(),
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
            let text = key.to_string();
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
            sneaky.to_string(),
            "clay-config:webhook:github:id:-sha256:0000"
        );
        let signature = ReplayKey::signature(Scheme::ClayHex, &[0xab; 32]);
        assert_eq!(
            signature.to_string(),
            "clay-config:webhook:clay-hex:sig:abababababababababababababababab"
        );
        assert!(
            ReplayKey::delivery_id(Scheme::ClayHex, &[b'a'; 64])
                .to_string()
                .len()
                <= 128
        );
    }

    #[test]
    fn digests_tell_schemes_and_kinds_apart() {
        let hashers = [RandomState::new(), RandomState::new()];
        let keys = [
            ReplayKey::signature(Scheme::ClayHex, &[1; 32]),
            ReplayKey::signature(Scheme::GitHub, &[1; 32]),
            ReplayKey::signature(Scheme::ClayHex, &[2; 32]),
            ReplayKey::delivery_id(Scheme::GitHub, &[1; 16]),
            ReplayKey::delivery_id(Scheme::StandardWebhooks, b"msg_1"),
            ReplayKey::delivery_id(Scheme::GitHub, b"msg_1"),
            ReplayKey::delivery_id(Scheme::GitHub, &[b'1'; 65]),
        ];
        let digests: Vec<u128> = keys.iter().map(|key| key.digest(&hashers)).collect();
        for (i, a) in digests.iter().enumerate() {
            assert_eq!(*a, keys[i].clone().digest(&hashers));
            for b in &digests[i + 1..] {
                assert_ne!(a, b, "{}", keys[i]);
            }
        }
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
    fn an_expired_entry_held_back_by_a_longer_one_counts_as_gone() {
        let store = MemoryStore::with_capacity(2);
        let long = Duration::from_secs(60);
        let short = Duration::from_millis(20);
        assert!(matches!(
            store.record_now(&[key("long")], long),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("short")], short),
            Some(Ok(Recorded::New))
        ));
        std::thread::sleep(Duration::from_millis(50));
        // `short` expired behind `long`: new again, not a replay.
        assert!(matches!(
            store.record_now(&[key("short")], short),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("short")], short),
            Some(Ok(Recorded::Seen))
        ));
        std::thread::sleep(Duration::from_millis(50));
        // Full by count, but one entry has expired: swept, and there is room.
        assert!(matches!(
            store.record_now(&[key("third")], long),
            Some(Ok(Recorded::New))
        ));
        assert!(matches!(
            store.record_now(&[key("long")], long),
            Some(Ok(Recorded::Seen))
        ));
        // Now full of live entries: refused, and again without sweeping the whole store.
        for _ in 0..3 {
            assert!(matches!(
                store.record_now(&[key("fourth")], long),
                Some(Err(error)) if error.problem() == StoreProblem::Full
            ));
        }
    }

    #[test]
    fn keys_recorded_again_and_again_do_not_grow_the_record_without_bound() {
        let store = MemoryStore::with_capacity(2);
        assert!(matches!(
            store.record_now(&[key("held")], Duration::from_secs(60)),
            Some(Ok(Recorded::New))
        ));
        for _ in 0..20 {
            assert!(matches!(
                store.record_now(&[key("again")], Duration::from_millis(1)),
                Some(Ok(Recorded::New))
            ));
            std::thread::sleep(Duration::from_millis(3));
        }
        let entries = store.lock();
        assert!(entries.recorded.len() <= 5, "{}", entries.recorded.len());
        assert!(entries.expiry.len() <= 2);
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
        assert_eq!(Delivery::new(key("x"), "h", Duration::MAX).ttl, MAX_TTL);
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
