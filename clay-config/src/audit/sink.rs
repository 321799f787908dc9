//! Where entries go: the [`AuditSink`] trait and the console, tracing, memory and fan-out
//! sinks. The hash-chained file sink is in [`FileSink`](super::FileSink).

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use super::AuditError;
use super::chain::Head;
use super::entry::{AuditEntry, AuditResult};

/// A destination for audit entries. Sinks are shared between threads, so `write` takes
/// `&self`; each call writes one whole entry or fails.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditError, AuditSink};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// /// Counts entries instead of keeping them.
/// #[derive(Default)]
/// struct Counter(AtomicUsize);
///
/// impl AuditSink for Counter {
///     fn write(&self, _entry: &AuditEntry) -> Result<(), AuditError> {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// let counter = Counter::default();
/// counter.write(&AuditEntry::builder("clay.api.call").build())?;
/// assert_eq!(counter.0.load(Ordering::Relaxed), 1);
/// # Ok::<(), AuditError>(())
/// ```
pub trait AuditSink: Send + Sync {
    /// Writes one entry.
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError>;

    /// Makes every entry written so far durable (as far as the sink can). The default does
    /// nothing.
    fn flush(&self) -> Result<(), AuditError> {
        Ok(())
    }

    /// The sink's chain head, for sinks that keep a hash chain (the file sink). The default
    /// is `None`.
    fn head(&self) -> Option<Head> {
        None
    }
}

impl<S: AuditSink + ?Sized> AuditSink for Arc<S> {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        (**self).write(entry)
    }
    fn flush(&self) -> Result<(), AuditError> {
        (**self).flush()
    }
    fn head(&self) -> Option<Head> {
        (**self).head()
    }
}

impl<S: AuditSink + ?Sized> AuditSink for Box<S> {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        (**self).write(entry)
    }
    fn flush(&self) -> Result<(), AuditError> {
        (**self).flush()
    }
    fn head(&self) -> Option<Head> {
        (**self).head()
    }
}

/// Locks a mutex, taking the data over from a thread that panicked while holding it: a sink's
/// state stays consistent between writes, and an audit log must keep working.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum ConsoleTarget {
    Stdout,
    Stderr,
    Writer(Mutex<Box<dyn Write + Send>>),
}

/// Prints each entry as Clay's security practice does: `[AUDIT] ` and the JSON, on one line, written whole.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, ConsoleSink};
///
/// let sink = ConsoleSink::stdout();
/// sink.write(&AuditEntry::builder("clay.api.call").user_id("u-1").build())?;
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
pub struct ConsoleSink {
    target: ConsoleTarget,
}

impl ConsoleSink {
    /// To standard output, as the practice's `console.log`.
    pub fn stdout() -> Self {
        ConsoleSink {
            target: ConsoleTarget::Stdout,
        }
    }

    /// To standard error.
    pub fn stderr() -> Self {
        ConsoleSink {
            target: ConsoleTarget::Stderr,
        }
    }

    /// To any writer (a pipe, a socket, a buffer in tests).
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        ConsoleSink {
            target: ConsoleTarget::Writer(Mutex::new(Box::new(writer))),
        }
    }
}

impl Default for ConsoleSink {
    fn default() -> Self {
        ConsoleSink::stdout()
    }
}

impl std::fmt::Debug for ConsoleSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match self.target {
            ConsoleTarget::Stdout => "stdout",
            ConsoleTarget::Stderr => "stderr",
            ConsoleTarget::Writer(_) => "writer",
        };
        f.debug_struct("ConsoleSink")
            .field("target", &target)
            .finish()
    }
}

impl AuditSink for ConsoleSink {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let mut line = entry.console_line();
        line.push('\n');
        let result = match &self.target {
            ConsoleTarget::Stdout => io::stdout().lock().write_all(line.as_bytes()),
            ConsoleTarget::Stderr => io::stderr().lock().write_all(line.as_bytes()),
            ConsoleTarget::Writer(writer) => lock(writer).write_all(line.as_bytes()),
        };
        result.map_err(|e| AuditError::io(None, e))
    }

    fn flush(&self) -> Result<(), AuditError> {
        let result = match &self.target {
            ConsoleTarget::Stdout => io::stdout().lock().flush(),
            ConsoleTarget::Stderr => io::stderr().lock().flush(),
            ConsoleTarget::Writer(writer) => lock(writer).flush(),
        };
        result.map_err(|e| AuditError::io(None, e))
    }
}

/// Emits each entry as a `tracing` event with target `clay_config::audit` (INFO for success,
/// WARN for failure), with the fields `action`, `user_id`, `resource`, `result`, `timestamp`,
/// `metadata` (as JSON) and the message `audit`.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, TracingSink};
///
/// TracingSink.write(&AuditEntry::builder("clay.api.call").build())?;
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let metadata = serde_json::to_string(entry.metadata()).unwrap_or_default();
        let timestamp = super::entry::format_timestamp(entry.timestamp());
        match entry.result() {
            AuditResult::Success => tracing::info!(
                target: "clay_config::audit",
                action = entry.action(),
                user_id = entry.user_id(),
                resource = entry.resource(),
                result = entry.result().as_str(),
                timestamp = %timestamp,
                metadata = %metadata,
                "audit"
            ),
            AuditResult::Failure => tracing::warn!(
                target: "clay_config::audit",
                action = entry.action(),
                user_id = entry.user_id(),
                resource = entry.resource(),
                result = entry.result().as_str(),
                timestamp = %timestamp,
                metadata = %metadata,
                "audit"
            ),
        }
        Ok(())
    }
}

/// Keeps entries in memory: for tests, and for shipping them elsewhere in batches.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, MemorySink};
///
/// let sink = MemorySink::new();
/// sink.write(&AuditEntry::builder("clay.api.call").build())?;
/// assert_eq!(sink.entries()[0].action(), "clay.api.call");
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemorySink {
    entries: Mutex<Vec<AuditEntry>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        MemorySink::default()
    }

    /// A copy of the entries written so far.
    pub fn entries(&self) -> Vec<AuditEntry> {
        lock(&self.entries).clone()
    }

    /// Takes the entries written so far, leaving the sink empty.
    pub fn take(&self) -> Vec<AuditEntry> {
        std::mem::take(&mut *lock(&self.entries))
    }
}

impl AuditSink for MemorySink {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        lock(&self.entries).push(entry.clone());
        Ok(())
    }
}

/// Sends each entry to several sinks (Clay's security practice logs to Clay analytics and to the console).
///
/// Every sink gets every entry, even when an earlier one fails; the first failure is
/// returned.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, FanOut, MemorySink};
/// use std::sync::Arc;
///
/// let (a, b) = (Arc::new(MemorySink::new()), Arc::new(MemorySink::new()));
/// let fan_out = FanOut::new().with(Arc::clone(&a)).with(Arc::clone(&b));
/// fan_out.write(&AuditEntry::builder("clay.api.call").build())?;
/// assert_eq!((a.entries().len(), b.entries().len()), (1, 1));
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
#[derive(Default)]
pub struct FanOut {
    sinks: Vec<Box<dyn AuditSink>>,
}

impl FanOut {
    /// No sinks yet.
    pub fn new() -> Self {
        FanOut::default()
    }

    /// Adds a sink.
    #[must_use]
    pub fn with(mut self, sink: impl AuditSink + 'static) -> Self {
        self.push(sink);
        self
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: impl AuditSink + 'static) {
        self.sinks.push(Box::new(sink));
    }

    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// True when there is no sink.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl std::fmt::Debug for FanOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOut")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl AuditSink for FanOut {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let mut first_error = None;
        for sink in &self.sinks {
            if let Err(e) = sink.write(entry) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn flush(&self) -> Result<(), AuditError> {
        let mut first_error = None;
        for sink in &self.sinks {
            if let Err(e) = sink.flush() {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn head(&self) -> Option<Head> {
        self.sinks.iter().find_map(|sink| sink.head())
    }
}
