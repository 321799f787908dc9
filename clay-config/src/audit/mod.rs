//! A tamper-evident audit log: the seed's entries, written to a hash-chained file that loses
//! nothing, and the scopes each key actually used.
//!
//! An [`AuditEntry`] serialises as the seed's (pinned in DESIGN.md):
//!
//! ```text
//! {"timestamp":"2026-11-29T17:00:00.000Z","action":"clay.api.call","userId":"u-1","resource":"/v1/resource","result":"success","metadata":{"rows":12}}
//! ```
//!
//! An [`AuditLog`] redacts each entry ([`Redactor`]) and sends it to its sinks: the console
//! (`[AUDIT] ` and the JSON), `tracing`, memory, and the [`FileSink`], which appends one line
//! per entry with three more fields:
//!
//! ```text
//! {…entry…,"seq":1,"prev":"0000…0000","hash":"9f2c…"}
//! ```
//!
//! `seq` counts lines from 1; `prev` is the `hash` of the line before (64 zeros for the first);
//! `hash` is SHA-256 over `prev` (its 64 hex digits) followed by the line's bytes without the
//! `hash` member (ending `"prev":"…"}`). Editing, removing, inserting or reordering a line, or
//! cutting the log mid-line, breaks the chain at that line: [`verify`] reports where. Cutting
//! it at a line boundary, or rewriting it whole, is only visible against a head kept elsewhere
//! ([`AuditLog::head`], [`verify_against`]).
//!
//! Attached to a loaded config ([`AuditLog::attach`]), the log records every
//! [`ApiKey::require`](crate::ApiKey::require) as a `clay.scope.use` entry; [`scope_usage`]
//! sums them into granted-versus-used scopes per key and environment.
//!
//! ```
//! use clay_config::audit::{AuditEntry, AuditLog, AuditResult, Durability, FileSink, verify};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.log");
//! let log = AuditLog::builder()
//!     .console()
//!     .sink(FileSink::open(&path, Durability::EveryEntry)?)
//!     .build();
//! log.record(
//!     AuditEntry::builder("clay.api.call")
//!         .user_id("u-1")
//!         .resource("/v1/resource")
//!         .result(AuditResult::Success)
//!         .metadata("email", "ada@example.com") // written as "[REDACTED]"
//!         .build(),
//! )?;
//! let head = log.head().expect("a file sink keeps a chain");
//! let report = verify(&path)?;
//! assert!(report.is_ok());
//! assert_eq!(report.head(), Some(head));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
#[cfg(feature = "signing")]
pub use signing::{PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX, SigningKey, VerifyingKey};
/// Metadata values are JSON values.
pub use serde_json::Value;
pub use sink::{AuditSink, ConsoleSink, FanOut, MemorySink, TracingSink};
#[cfg(feature = "signing")]
pub use verify::verify_signed;
pub use verify::{
    BrokenLink, Problem, VerifyOptions, VerifyReport, verify, verify_against, verify_files,
    verify_reader, verify_with,
};

use crate::{ApiKey, ClayConfig, KeyPrefixes, ScopeUseRecorder};

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
