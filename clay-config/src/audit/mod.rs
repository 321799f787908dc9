//! A tamper-evident audit log: entries in the format of Clay's security practice, written to a
//! hash-chained file that loses nothing, optionally signed, rotated by size, and the scopes
//! each key actually used.
//!
//! Clay's security practice logs each API action as `[AUDIT] {json}` "for compliance". This
//! module keeps that format and adds what an auditor needs: a file that shows accidental
//! damage and casual edits ([the chain](#the-file-one-hash-chained-line-per-entry)), and,
//! with the `signing` feature, one that no one without a private key can rewrite
//! undetected ([signed checkpoints](#signed-checkpoints-feature-signing)); that several
//! threads and processes can append to at once; that loses nothing a crash didn't
//! interrupt; and that records which scopes each key used, so declarations can be cut down to
//! what is needed (the practice's "Excessive scopes | Audit logs | Reduce permissions").
//!
//! ```no_run
//! use clay_config::audit::{AuditEntry, AuditLog, AuditResult, Durability, FileSink};
//! # #[derive(clay_config::ClayConfig)]
//! # struct Clay {
//! #     #[clay(env = "CLAY_READ_KEY", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
//! #     reader: clay_config::ApiKey,
//! # }
//! # use clay_config::ClayConfig;
//!
//! let log = AuditLog::builder()
//!     .console()                                                    // [AUDIT] {json}
//!     .sink(FileSink::open("audit.log", Durability::EveryEntry)?)   // the hash-chained file
//!     .redact_key("customerId")                                     // on top of the defaults
//!     .build();
//!
//! log.record(
//!     AuditEntry::builder("clay.api.call")
//!         .user_id("u-1")
//!         .resource("/v1/resource")
//!         .result(AuditResult::Success)
//!         .metadata("rows", 12)
//!         .build(),
//! )?;
//!
//! // Record every ApiKey::require of a loaded config as a `clay.scope.use` entry.
//! let mut clay = Clay::load()?;
//! log.attach(&mut clay);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Entry format
//!
//! An [`AuditEntry`] serialises exactly as the practice's entries, on one line:
//!
//! ```text
//! {"timestamp":"2026-11-29T17:00:00.000Z","action":"clay.api.call","userId":"u-1","resource":"/v1/resource","result":"success","metadata":{"rows":12}}
//! ```
//!
//! - `timestamp`: RFC 3339, UTC, always three fractional digits, `Z`.
//! - keys in that order, camelCase; `result` is `"success"` or `"failure"`.
//! - `metadata` keeps insertion order and is left out when empty.
//!
//! Sinks: the console ([`ConsoleSink`]: `[AUDIT] ` and the JSON, one line, one write),
//! `tracing` ([`TracingSink`]: one event per entry on target `clay_config::audit`, INFO for
//! success and WARN for failure), memory ([`MemorySink`]), the [`FileSink`] below, and
//! [`FanOut`] to send each entry to several (every sink gets every entry even when one
//! fails). [`AuditLog`] is itself a fan-out of its sinks, redacts every entry first
//! ([`Redactor`]), and is cheap to clone across threads.
//!
//! # The file: one hash-chained line per entry
//!
//! The [`FileSink`] appends the entry's JSON with three more fields:
//!
//! ```text
//! {…entry…,"seq":1,"prev":"0000…0000","hash":"9f2c…"}
//! ```
//!
//! - `seq` counts lines from 1 (across rotated files).
//! - `prev` is the `hash` of the line before (64 zeros for the first line).
//! - `hash` is `hex(SHA-256(prev ‖ body))`, where `prev` is taken as its 64 hex characters and
//!   `body` is the line's exact bytes without the `,"hash":"…"` member (so it ends
//!   `"prev":"…"}`).
//!
//! Because the hash covers the exact bytes, any change to a line (one character, a space, key
//! order) breaks it, and because each line names the one before, removing, inserting or
//! reordering lines breaks the chain at that point: [`verify`] reports where.
//!
//! Several threads and several processes may append to the same file. Each line is written
//! whole by a single `write` on a file opened with `O_APPEND`, under an exclusive `flock` that
//! holds across processes. Under that lock the writer checks the file's length; if someone
//! else appended since its last write, it reads the new last line and continues from it.
//!
//! ## What a bare chain proves, and what it does not
//!
//! The chain is plain SHA-256: anyone can compute it. It therefore proves that the lines agree
//! with each other, which finds accidental damage (a torn write, a bad disk, a botched copy)
//! and an edit by someone who can change a line but not rewrite the rest of the file. It does
//! **not** stop someone who can write the file: after editing line 2, deleting line 4,
//! appending a forged line or cutting the tail at a line boundary, a short script recomputes
//! every `seq`, `prev` and `hash`, and the result verifies. Two things close that gap:
//!
//! - a head kept elsewhere ([`AuditLog::head`], [`verify_against`], `--head SEQ:HASH`): the
//!   line with that `seq` must still be there with that hash, so a log cut short or rewritten
//!   up to the head shows; lines after the head are only as safe as the chain;
//! - signed checkpoints: no one without the private key can make a rewritten file verify.
//!
//! # Signed checkpoints (feature `signing`)
//!
//! ```
//! # #[cfg(feature = "signing")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use clay_config::Secret;
//! use clay_config::audit::{AuditEntry, AuditLog, ConsoleSink, Durability, FileSink, SigningKey, verify_signed};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("audit.log");
//! # let text = SigningKey::generate()?.to_secret();
//! // The text `cargo clay audit-log keygen` wrote, loaded like any secret (for example a
//! // `Secret` field read from `CLAY_AUDIT_SIGNING_KEY` or `CLAY_AUDIT_SIGNING_KEY_FILE`).
//! let key = SigningKey::from_secret(&text)?;
//! let public = key.verifying_key(); // what `keygen` printed
//! let log = AuditLog::builder()
//!     .sink(
//!         FileSink::open(&path, Durability::EveryEntry)?
//!             .signed(key, 100)                         // a checkpoint every 100 lines and on close
//!             .checkpoints_to(ConsoleSink::stderr()),   // and each one outside the file too
//!     )
//!     .build();
//! log.record(AuditEntry::builder("clay.api.call").user_id("u-1").build())?;
//! drop(log); // closing writes the last checkpoint
//!
//! let report = verify_signed(&path, &public)?;
//! assert!(report.is_ok(), "{report}");
//! assert_eq!(report.unsigned_entries(), 0);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "signing"))]
//! # fn main() {}
//! ```
//!
//! A signing sink adds a checkpoint line to the chain after every `every_n_entries` lines
//! (counted from the latest checkpoint in the log, whichever writer wrote it), when a writer
//! finds one overdue (its predecessor died before writing it), and when it is dropped or
//! [closed](FileSink::close). A checkpoint is an ordinary chain line with the action
//! `clay.audit.checkpoint` (reserved: a [`FileSink`] refuses it from callers):
//!
//! ```text
//! {"timestamp":"…","action":"clay.audit.checkpoint","userId":"clay-config","resource":"audit.log","result":"success",
//!  "metadata":{"log":"<32 hex>","seq":100,"hash":"<hash of line 100>","prevSignature":"<128 hex>","every":100,
//!              "keyId":"<16 hex>","signature":"<128 hex>"},"seq":101,"prev":"…","hash":"…"}
//! ```
//!
//! The Ed25519 signature covers, one per line: the label `clay-config audit-log checkpoint v1`
//! (so a signature made for anything else cannot pass for one), the log's id (random, drawn by
//! its first checkpoint and repeated by every later one), the `seq` and `hash` of the line just
//! before the checkpoint, the previous checkpoint's signature (`none` for the first: the
//! checkpoints form a chain of their own, as CloudTrail's digest files do), the cadence, and
//! the time. [`verify_signed`] with the public key then requires:
//!
//! - at least one checkpoint (a log stripped of them proves nothing and fails);
//! - each checkpoint signs exactly the line before it: since that line's hash covers every line
//!   before it, any edit, removal, insertion or reordering up to a checkpoint, hashes
//!   recomputed or not, makes it fail (the attacker cannot sign the new hash);
//! - each checkpoint names the one before it (removing a checkpoint shows) and the same log id;
//! - no more lines after a checkpoint than its cadence before the next one (removing the
//!   later checkpoints to rewrite what follows shows).
//!
//! The lines after the last checkpoint are checked by the chain only; the report counts them
//! ([`VerifyReport::unsigned_entries`]): at most `every` while a writer runs, none once the
//! last one has closed, and after a crash whatever the killed writer had not signed yet (the
//! next writer to close signs them, and the repair of a torn line with them). A log cut
//! exactly after a checkpoint cannot be told from the file alone; that is what the heads sent
//! elsewhere are for: [`FileSink::checkpoints_to`] sends every checkpoint entry to another sink
//! (the console, `tracing`, a shipper of your own), and its metadata `seq` and `hash` are a
//! head to verify against (`--head SEQ:HASH`).
//!
//! ## Keeping the signing key away from whoever can write the log
//!
//! The key proves what its holder signed, so it helps exactly as far as the people and
//! programs that can change the log files cannot read the key. The writer must hold it (it
//! signs), so:
//!
//! - Give the key only to the writing process: a `Secret` field loaded from
//!   `CLAY_AUDIT_SIGNING_KEY_FILE` (a Kubernetes or Docker secret, or a 0600 file owned by the
//!   service's user), never in the repository, the image, or the log host's shared
//!   configuration. Log shippers, backup jobs, operators and archive storage that can touch
//!   the files never see it: a rewrite by any of them fails verification.
//! - To keep it off the service itself, split the writer out: the service prints entries with
//!   the console sink, and a small process under another account, which alone owns the log
//!   directory and the key, appends them with a signing [`FileSink`] (below). A compromise of
//!   the service then cannot touch what was already written and signed.
//! - Send the checkpoints out as they are written ([`FileSink::checkpoints_to`]): a writer
//!   compromised later can forge what comes after, but not rewrite what a checkpoint already
//!   outside the host has signed.
//! - Rotate the key like any secret: a new key starts a new key id; verify older files with
//!   the older public key.
//!
//! ```no_run
//! # #[cfg(feature = "signing")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The companion process: `service | audit-writer /var/log/clay/audit.log`.
//! use std::io::BufRead;
//! use clay_config::Secret;
//! use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, SigningKey};
//!
//! let key = std::fs::read_to_string("/run/secrets/clay-audit-signing-key")?;
//! let key = SigningKey::from_secret(&Secret::new(key))?;
//! let sink = FileSink::open("/var/log/clay/audit.log", Durability::EveryEntry)?.signed(key, 100);
//! for line in std::io::stdin().lock().lines() {
//!     if let Some(json) = line?.strip_prefix("[AUDIT] ") {
//!         sink.write(&AuditEntry::from_json(json)?)?;
//!     }
//! }
//! sink.close()?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "signing"))]
//! # fn main() {}
//! ```
//!
//! ## Verifying in CI
//!
//! The public key is not a secret: keep it in the repository or a CI variable. Verify the
//! archived files (or a directory of them) on every run, and against the last head the
//! checkpoint sink shipped:
//!
//! ```text
//! $ cargo clay audit-log verify logs/ --public-key "$CLAY_AUDIT_PUBLIC_KEY" --head "$LAST_SHIPPED_HEAD"
//! logs/: ok: 48213 entries verified in 7 files, head 48213:9f2c…; 483 checkpoint(s) signed by key 1a2b3c4d5e6f7a8b, the last signing seq 48212
//! ```
//!
//! Exit status 0 when everything verifies, 1 when anything does not (the first broken line is
//! named, with its file), 2 for a usage or I/O error. `--format json` and `--format sarif`
//! report the same for scripts and code scanning. Without `--public-key` the command checks the
//! chain only, with the limits above.
//!
//! # Rotation
//!
//! [`FileSink::max_bytes`] rotates the log by size: before an entry would take the file past
//! the limit, it is renamed `<path>.N`, with N one more than the highest number present (so
//! `audit.log.1` is the oldest, nothing is ever renamed twice), and a new file begins at the
//! path, its first line chained to the last line of the file before. [`verify`] on the path or
//! on its directory reads `audit.log.1`, `audit.log.2`, …, `audit.log` in order and checks the
//! chain across them; a file missing from the middle is reported by name
//! ([`Problem::MissingFile`]). [`verify_files`] takes an explicit list, in order; a rotated
//! file given alone may start mid-chain. Every writer of a rotating log must open it with
//! `max_bytes` (each checks, under the lock, that its file is still the one at the path).
//!
//! # Durability: what a power cut can lose
//!
//! Every mode writes each entry to the kernel (one `write`) before `record` returns, so a crash
//! of the process itself (panic, `SIGKILL`, OOM kill) loses nothing in any mode. The modes
//! differ in what a power cut or kernel crash can lose: see [`Durability`]. A new log file's
//! directory entry is synced too (except with `None`), so the file itself survives.
//!
//! # Crashes: torn last lines are repaired, and recorded
//!
//! A crash in the middle of a `write` can leave a last line without its newline. The file sink
//! detects this when it opens the file (and whenever it finds one later, left by another
//! process): if the torn bytes are a complete, correctly chained line that only lacks its
//! `\n`, the newline is added; otherwise the partial line is truncated away. Either way the
//! writer appends a `clay.audit.repair` entry (its metadata gives the offset, the number of
//! torn bytes and their SHA-256), makes it durable, and continues the chain. Nothing written
//! whole is lost. If the last *whole* line is not a valid chain line (someone edited it), the
//! writer refuses to chain onto it: [`FileSink::open`] fails with [`AuditError::Corrupt`] and
//! leaves the file alone.
//!
//! # Verifying
//!
//! ```no_run
//! use clay_config::audit::verify;
//!
//! let report = verify("audit.log")?;
//! if let Some(broken) = report.broken() {
//!     eprintln!("{broken}"); // "line 5: the content does not match its hash (the line was edited)"
//! }
//! println!("{report}");      // "ok: 56000 entries verified, head 56000:9f2c…"
//! # Ok::<(), clay_config::audit::AuditError>(())
//! ```
//!
//! A corrupt or non-UTF-8 file is reported, never a panic; only an I/O error is an `Err`. What
//! each check finds:
//!
//! | tampering | [`verify`] (the chain) | with a kept head | [`verify_signed`] (the key) |
//! |---|---|---|---|
//! | a character of a line changed | `Edited` at that line | same | same |
//! | a line deleted, inserted, or two swapped | `Unlinked` there | same | same |
//! | the file cut mid-line | `Torn` at the last line | same | same |
//! | any of the above, then every hash recomputed | **not found** | found up to the head (`AnchorMismatch`) | found up to the last checkpoint (`CheckpointMismatch`, `BadSignature`) |
//! | checkpoints removed, hashes recomputed | not found | up to the head | `MissingCheckpoint` / `NoCheckpoint` |
//! | the file cut at a line boundary | not found | `Truncated` | the lines after the last checkpoint are counted unsigned; cut right after one, found only with a head |
//! | a rotated file missing | `MissingFile` by name | same | same |
//!
//! # Redaction
//!
//! Every entry is redacted before any sink sees it ([`AuditEntryBuilder::build`] applies the
//! defaults, [`AuditLog::record`] the log's own rules again); see [`Redactor`] for the rules:
//! credential names (`authorization`, `cookie`, `set-cookie`, `password`, `passwd`, `pwd`,
//! `secret`, `token`, `api_key`, `private_key`, `credentials`, `client_secret`, whatever their
//! case or separators, at any depth) and personal data, those names inside text
//! (`Authorization: Bearer …`, `password=…`), bearer tokens, and any key by clay-policy's one
//! definition, in values and in metadata names.
//!
//! # Scope use: which declared scopes were never used
//!
//! With the log attached to a loaded config ([`AuditLog::attach`]), every
//! [`ApiKey::require`](crate::ApiKey::require) writes a `clay.scope.use` entry (`resource` the
//! scope asked for, `result` success or failure, metadata with the key's variable,
//! environment, fingerprint and granted scopes, never the key). [`scope_usage`] sums them per
//! key and environment: the scopes granted, each used with a count, each refusal, and the
//! declared scopes that covered nothing used, the candidates to remove. Recording never fails
//! `require`: if a sink fails, the failure is counted ([`AuditLog::dropped`]) and reported
//! through `tracing`.
//!
//! # Speed
//!
//! `cargo bench -p clay-config --bench audit --features signing` measures entries per second
//! for each durability mode, signed and unsigned, with one writer and with 8 threads; the
//! figures are in the repository's `bench/README.md`.

mod chain;
#[cfg(feature = "signing")]
mod checkpoint;
mod entry;
mod file;
mod lock;
mod redact;
mod rotation;
mod scope;
#[cfg(feature = "signing")]
mod signing;
mod sink;
mod verify;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use chain::{EntryHash, Head};
pub use entry::{AuditEntry, AuditEntryBuilder, AuditResult, Metadata};
pub use file::{Durability, FileSink, Repair};
pub use redact::{DEFAULT_REDACTED_KEYS, REDACTED, Redactor};
pub use scope::{KeyUsage, ScopeUsage, scope_usage};
/// Metadata values are JSON values.
pub use serde_json::Value;
#[cfg(feature = "signing")]
pub use signing::{PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX, SigningKey, VerifyingKey};
pub use sink::{AuditSink, ConsoleSink, FanOut, MemorySink, TracingSink};
#[cfg(feature = "signing")]
pub use verify::verify_signed;
pub use verify::{
    BrokenLink, Problem, VerifyOptions, VerifyReport, verify, verify_against, verify_files,
    verify_reader, verify_with,
};

use crate::{ApiKey, ClayConfig, ScopeUseRecorder};
use clay_policy::KeyPrefixes;

/// The `action` of the entry recording one [`ApiKey::require`] decision.
pub const SCOPE_USE_ACTION: &str = "clay.scope.use";

/// The `action` of the entry a [`FileSink`] writes when it repairs a torn last line.
pub const REPAIR_ACTION: &str = "clay.audit.repair";

/// The `action` of a signed checkpoint, written only by a signing [`FileSink`] (which refuses
/// entries with this action from anyone else).
pub const CHECKPOINT_ACTION: &str = "clay.audit.checkpoint";

/// Why an audit operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing failed.
    Io {
        /// The file, when there is one.
        path: Option<PathBuf>,
        /// The error.
        source: io::Error,
    },
    /// The log's last whole line is not a valid chain line, so a writer cannot continue the
    /// chain. Run [`verify`] to see what happened; nothing was written.
    Corrupt {
        /// The log.
        path: PathBuf,
        /// Byte offset of the line.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Text that should be an entry, a hash or a head is not one.
    Parse(String),
}

impl AuditError {
    pub(crate) fn io(path: Option<&Path>, source: io::Error) -> Self {
        AuditError::Io {
            path: path.map(Path::to_path_buf),
            source,
        }
    }
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Io {
                path: Some(path),
                source,
            } => write!(f, "audit log `{}`: {source}", path.display()),
            AuditError::Io { path: None, source } => write!(f, "audit log: {source}"),
            AuditError::Corrupt {
                path,
                offset,
                reason,
            } => write!(
                f,
                "audit log `{}` at byte {offset}: {reason}; run `cargo clay audit-log verify` on it",
                path.display()
            ),
            AuditError::Parse(reason) => write!(f, "audit: {reason}"),
        }
    }
}

impl From<io::Error> for AuditError {
    fn from(source: io::Error) -> Self {
        AuditError::Io { path: None, source }
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::Io { source, .. } => Some(source),
            AuditError::Corrupt { .. } | AuditError::Parse(_) => None,
        }
    }
}

/// The audit log: redacts each entry and sends it to every sink. Cheap to clone (clones share
/// the sinks), and usable from any thread.
///
/// It also implements [`ScopeUseRecorder`]: [`attach`](Self::attach) it to a loaded config and
/// every [`ApiKey::require`] is recorded as a `clay.scope.use` entry.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    sinks: FanOut,
    redactor: Redactor,
    actor: String,
    dropped: AtomicU64,
}

impl AuditLog {
    /// Starts a log with no sink.
    pub fn builder() -> AuditLogBuilder {
        AuditLogBuilder {
            sinks: FanOut::new(),
            redactor: Redactor::default(),
            actor: None,
        }
    }

    /// A log writing to one hash-chained file.
    ///
    /// ```
    /// use clay_config::audit::{AuditEntry, AuditLog, Durability};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let log = AuditLog::open(dir.path().join("audit.log"), Durability::batched())?;
    /// log.record(AuditEntry::builder("clay.api.call").build())?;
    /// log.flush()?;
    /// # Ok::<(), clay_config::audit::AuditError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<AuditLog, AuditError> {
        Ok(AuditLog::builder()
            .sink(FileSink::open(path, durability)?)
            .build())
    }

    /// Redacts `entry` and writes it to every sink. Every sink is tried; the first failure is
    /// returned.
    pub fn record(&self, mut entry: AuditEntry) -> Result<(), AuditError> {
        self.inner.redactor.redact_entry(&mut entry);
        self.inner.sinks.write(&entry)
    }

    /// Makes everything recorded so far durable in every sink.
    pub fn flush(&self) -> Result<(), AuditError> {
        self.inner.sinks.flush()
    }

    /// The latest `seq` and hash of the first hash-chained sink (a [`FileSink`]), read under
    /// its lock; `None` without one. Keep it elsewhere to check the log later with
    /// [`verify_against`].
    pub fn head(&self) -> Option<Head> {
        self.inner.sinks.head()
    }

    /// Records every later [`ApiKey::require`] of every key of `config`.
    ///
    /// ```
    /// use clay_config::audit::{AuditLog, MemorySink, SCOPE_USE_ACTION};
    /// use clay_config::ClayConfig;
    /// use std::sync::Arc;
    ///
    /// #[derive(ClayConfig)]
    /// struct Clay {
    ///     #[clay(env = "CLAY_READ_KEY",
    ///            scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    ///     reader: clay_config::ApiKey,
    /// }
    ///
    /// let memory = Arc::new(MemorySink::new());
    /// let log = AuditLog::builder().sink(Arc::clone(&memory)).build();
    /// let mut clay = Clay::load_from([("CLAY_READ_KEY", "sk_test_0123456789abcdefghijklmn")])?;
    /// log.attach(&mut clay);
    /// clay.reader.require("read:tables")?;
    /// assert_eq!(memory.entries()[0].action(), SCOPE_USE_ACTION);
    /// assert_eq!(memory.entries()[0].resource(), "read:tables");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach<C: ClayConfig>(&self, config: &mut C) {
        config.attach_scope_recorder(self.recorder());
    }

    /// Records every later [`ApiKey::require`] of `key`.
    pub fn attach_key(&self, key: &mut ApiKey) {
        key.set_recorder(self.recorder());
    }

    /// This log as a [`ScopeUseRecorder`].
    pub fn recorder(&self) -> Arc<dyn ScopeUseRecorder> {
        Arc::new(self.clone())
    }

    /// Scope-use entries that could not be written ([`ScopeUseRecorder::record`] cannot fail
    /// its caller; each failure is also reported through `tracing`).
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// The `userId` of the entries the log writes itself (scope use).
    pub fn actor(&self) -> &str {
        &self.inner.actor
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("sinks", &self.inner.sinks.len())
            .field("actor", &self.inner.actor)
            .finish_non_exhaustive()
    }
}

impl ScopeUseRecorder for AuditLog {
    fn record(&self, key: &ApiKey, scope: &str, granted: bool) {
        let entry = scope::scope_use_entry(&self.inner.actor, key, scope, granted);
        if let Err(error) = AuditLog::record(self, entry) {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                target: "clay_config::audit",
                var = key.var(),
                %error,
                "audit log: could not record a scope use"
            );
        }
    }
}

/// Builds an [`AuditLog`]; see [`AuditLog::builder`].
#[must_use = "call `.build()` to get the log"]
pub struct AuditLogBuilder {
    sinks: FanOut,
    redactor: Redactor,
    actor: Option<String>,
}

impl AuditLogBuilder {
    /// Adds a sink.
    pub fn sink(mut self, sink: impl AuditSink + 'static) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Adds the console sink on standard output (`[AUDIT] {json}`).
    pub fn console(self) -> Self {
        self.sink(ConsoleSink::stdout())
    }

    /// Adds the `tracing` sink.
    pub fn tracing(self) -> Self {
        self.sink(TracingSink)
    }

    /// Also redacts the metadata key `key`.
    pub fn redact_key(mut self, key: &str) -> Self {
        self.redactor = self.redactor.redact_key(key);
        self
    }

    /// Recognises keys in values by these prefixes (from the policy in force) instead of the
    /// built-in ones.
    pub fn key_prefixes(mut self, prefixes: KeyPrefixes) -> Self {
        self.redactor = self.redactor.key_prefixes(prefixes);
        self
    }

    /// Also redacts any long random-looking string.
    pub fn redact_high_entropy(mut self, on: bool) -> Self {
        self.redactor = self.redactor.redact_high_entropy(on);
        self
    }

    /// Replaces the redaction rules whole.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The `userId` of the log's own entries (scope use); defaults to the executable's name.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The log.
    pub fn build(self) -> AuditLog {
        let actor = self.actor.unwrap_or_else(default_actor);
        AuditLog {
            inner: Arc::new(Inner {
                sinks: self.sinks,
                redactor: self.redactor,
                actor,
                dropped: AtomicU64::new(0),
            }),
        }
    }
}

impl fmt::Debug for AuditLogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLogBuilder")
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

fn default_actor() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "clay-config".to_owned())
}
