//! The hash-chained, append-only file sink.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::chain::{self, Head};
#[cfg(feature = "signing")]
use super::checkpoint::{Checkpoint, CheckpointRef};
use super::entry::AuditEntry;
use super::lock::{FileLock, read_exact_at};
use super::rotation;
#[cfg(feature = "signing")]
use super::signing::SigningKey;
use super::sink::{AuditSink, lock};
use super::{AuditError, CHECKPOINT_ACTION, REPAIR_ACTION};

/// The longest line the writer reads back from the file's tail (a longer last line is treated
/// as corrupt rather than read into memory).
const MAX_TAIL_LINE: u64 = 64 * 1024 * 1024;
/// Chunk size for reading backwards from the end of the file.
const CHUNK: u64 = 64 * 1024;

/// When the file sink asks the operating system to put entries on disk (`fdatasync`).
///
/// Every mode writes each entry with one `write` before [`AuditSink::write`] returns, so a
/// crash of the process (a panic, `SIGKILL`, an OOM kill) loses nothing in any mode: the
/// entry is in the kernel. The modes differ in what a **power cut or kernel crash** can lose:
///
/// | mode | a power cut can lose | cost |
/// |---|---|---|
/// | `EveryEntry` | nothing that was acknowledged (only an entry being written, whose torn line is repaired on the next open) | one `fdatasync` per entry |
/// | `Batched { max_delay, max_entries }` | the entries of the last `max_delay`, and at most `max_entries` of them | one `fdatasync` per batch, plus a background thread |
/// | `None` | whatever the kernel had not yet written back (on Linux, typically up to 30 s of entries) | none |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync` after each entry, before `write` returns.
    EveryEntry,
    /// `fdatasync` once `max_entries` entries are unsynced or the oldest unsynced one is
    /// `max_delay` old (a background thread wakes when it falls due), and on
    /// [`flush`](AuditSink::flush) and drop.
    Batched {
        /// The longest an entry stays unsynced.
        max_delay: Duration,
        /// The most entries left unsynced.
        max_entries: u32,
    },
    /// Never `fdatasync` (except on [`flush`](AuditSink::flush)): the kernel writes back when
    /// it chooses.
    None,
}

impl Durability {
    /// `Batched` with at most 100 ms and 1,000 entries unsynced.
    pub const fn batched() -> Self {
        Durability::Batched {
            max_delay: Duration::from_millis(100),
            max_entries: 1000,
        }
    }
}

impl Default for Durability {
    /// [`Durability::EveryEntry`]: the safe choice for an audit log.
    fn default() -> Self {
        Durability::EveryEntry
    }
}

/// A torn last line that a [`FileSink`] found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Repair {
    /// Byte offset where the torn line started.
    pub offset: u64,
    /// Its length in bytes.
    pub torn_bytes: u64,
    /// True when the torn bytes were a whole, valid line short of its `\n`, and were kept.
    pub kept: bool,
    /// The `seq` of the `clay.audit.repair` entry that records the repair.
    pub entry_seq: u64,
}

/// Appends entries to a file, one JSON line each, every line chained to the one before by
/// SHA-256 (see the [module documentation](super) for the format).
///
/// Several threads and several processes may append to one file: each line is written by one
/// `write` on a file opened with `O_APPEND`, under an exclusive `flock` that holds across
/// processes; under the lock the writer checks the file's length and, if another writer
/// appended since, reads the new last line to continue the chain from it.
///
/// On open, and whenever it finds one later, a torn last line (a write cut short by a crash)
/// is repaired: truncated away (or completed, when only its `\n` is missing) and recorded by
/// a `clay.audit.repair` entry. A last whole line that is not a valid chain line is not
/// touched: opening fails with [`AuditError::Corrupt`].
///
/// Two options, each a method taking the sink and returning it:
/// - [`max_bytes`](Self::max_bytes): rotation. Before an entry would take the file past
///   that size, the file is renamed `<path>.1` (then `.2`, …: the highest number is the
///   newest) and a new file begins at `path`, its first line chained to the last line of the
///   one before. [`verify`](super::verify) on `path` or on its directory checks them all.
/// - `signed(key, every)` (feature `signing`): a signed checkpoint after every `every`
///   entries and when the sink is dropped or [closed](Self::close); see the
///   [module documentation](super).
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, verify};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.log");
/// let sink = FileSink::open(&path, Durability::EveryEntry)?;
/// sink.write(&AuditEntry::builder("clay.api.call").user_id("u-1").build())?;
/// let report = verify(&path)?;
/// assert!(report.is_ok());
/// assert_eq!(report.entries(), 1);
/// assert_eq!(report.head(), Some(sink.current_head()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileSink {
    shared: Arc<Shared>,
    flusher: Option<Flusher>,
}

struct Shared {
    path: PathBuf,
    durability: Durability,
    state: Mutex<State>,
}

struct State {
    /// The file at `path` (replaced when the log rotates).
    file: Arc<File>,
    /// The file's length and last line after this sink's last look, if still trusted.
    tail: Option<Tail>,
    /// Entries written since the last `fdatasync`.
    unsynced: u32,
    /// When the oldest unsynced entry was written.
    oldest_unsynced: Option<Instant>,
    repairs: Vec<Repair>,
    /// Rotate before an entry would take the file past this many bytes.
    max_bytes: Option<u64>,
    #[cfg(feature = "signing")]
    signer: Option<Signer>,
}

/// What a signing sink keeps: the key, the cadence, and what it knows of the latest
/// checkpoint in the log (possibly written by another process).
#[cfg(feature = "signing")]
struct Signer {
    key: SigningKey,
    key_id: String,
    every: u64,
    publish: Option<Arc<dyn AuditSink>>,
    /// The latest checkpoint seen or written.
    latest: Option<CheckpointRef>,
    /// No line up to this `seq` is a later checkpoint than `latest`.
    known_through: u64,
}

#[cfg(feature = "signing")]
impl Signer {
    /// True when the line `seq` needs a checkpoint after it, as far as this sink knows.
    fn due(&self, seq: u64) -> bool {
        let (last, every) = match self.latest {
            // A writer with a shorter cadence than ours set the pace until our checkpoint.
            Some(latest) => (latest.seq, latest.every.min(self.every)),
            None => (0, self.every),
        };
        seq > last && seq - last >= every
    }
}

/// Checkpoint entries to send to the checkpoint sink once the file's locks are released.
#[cfg(feature = "signing")]
type Published = Vec<(Arc<dyn AuditSink>, AuditEntry)>;
#[cfg(not(feature = "signing"))]
type Published = Vec<std::convert::Infallible>;

#[derive(Debug, Clone, Copy)]
struct Tail {
    len: u64,
    head: Head,
}

struct Flusher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FileSink {
    /// Opens (creating if needed) the log at `path`, repairing a torn last line. An empty
    /// file continues the chain of the newest rotated file beside it (`<path>.N`), if any.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<FileSink, AuditError> {
        let path = path.as_ref().to_path_buf();
        let file = open_active(&path, durability)?;
        let shared = Arc::new(Shared {
            path,
            durability,
            state: Mutex::new(State {
                file: Arc::new(file),
                tail: None,
                unsynced: 0,
                oldest_unsynced: None,
                repairs: Vec::new(),
                max_bytes: None,
                #[cfg(feature = "signing")]
                signer: None,
            }),
        });
        shared.head()?;
        let flusher = match durability {
            Durability::Batched { max_delay, .. } => Some(Flusher::spawn(&shared, max_delay)?),
            Durability::EveryEntry | Durability::None => None,
        };
        Ok(FileSink { shared, flusher })
    }

    /// Rotates the log by size: before an entry would take the file past `max_bytes`, the
    /// file is renamed `<path>.N` (N one more than the highest number there, so `.1` is the
    /// oldest) and a new file begins at `path`, continuing the chain. A signed checkpoint may
    /// follow the entry that filled a file, so a file can exceed `max_bytes` by one line; a
    /// single entry longer than `max_bytes` gets a file of its own.
    ///
    /// Every writer of one log must rotate it the same way (each checks, under the lock,
    /// that its file is still the one at `path`; a writer that does not rotate does not).
    ///
    /// ```
    /// use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, verify};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("audit.log");
    /// let sink = FileSink::open(&path, Durability::None)?.max_bytes(1024);
    /// for n in 0..20 {
    ///     sink.write(&AuditEntry::builder("clay.api.call").metadata("n", n).build())?;
    /// }
    /// assert!(dir.path().join("audit.log.1").exists());
    /// let report = verify(dir.path())?; // or `verify(&path)`: the same files, in order
    /// assert!(report.is_ok(), "{report}");
    /// assert_eq!(report.entries(), 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn max_bytes(self, max_bytes: impl TryInto<u64>) -> FileSink {
        // Any integer type; a negative size is the smallest (an entry per file).
        let max_bytes = max_bytes.try_into().unwrap_or(1).max(1);
        lock(&self.shared.state).max_bytes = Some(max_bytes);
        self
    }

    /// Signs the log: after every `every_n_entries` lines (counted from the latest
    /// checkpoint, whoever wrote it), and when the sink is dropped or [closed](Self::close),
    /// a checkpoint line signs the `seq` and `hash` of the line before it. See the
    /// [module documentation](super) for what that proves; verify with
    /// [`verify_signed`](super::verify_signed).
    ///
    /// ```
    /// use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, SigningKey, verify_signed};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("audit.log");
    /// let key = SigningKey::generate()?;
    /// let public = key.verifying_key();
    /// let sink = FileSink::open(&path, Durability::None)?.signed(key, 100);
    /// for n in 0..250 {
    ///     sink.write(&AuditEntry::builder("clay.api.call").metadata("n", n).build())?;
    /// }
    /// sink.close()?; // or drop it: a last checkpoint either way
    /// let report = verify_signed(&path, &public)?;
    /// assert!(report.is_ok(), "{report}");
    /// assert_eq!(report.checkpoints(), 3);
    /// assert_eq!(report.unsigned_entries(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "signing")]
    #[must_use]
    pub fn signed(self, signing_key: SigningKey, every_n_entries: impl TryInto<u64>) -> FileSink {
        // Any integer type; 0 or a negative count signs after every line.
        let every = every_n_entries.try_into().unwrap_or(1).max(1);
        {
            let mut state = lock(&self.shared.state);
            let publish = state.signer.take().and_then(|s| s.publish);
            state.signer = Some(Signer {
                key_id: signing_key.verifying_key().key_id(),
                key: signing_key,
                every,
                publish,
                latest: None,
                known_through: 0,
            });
        }
        self
    }

    /// Also sends each checkpoint entry to `sink` (the console, `tracing`, a sink of your own
    /// that ships it elsewhere), so the signed heads live outside the file too: a log cut
    /// short after its last checkpoint, which the file alone cannot show, is then caught by
    /// verifying against the last head sent (`--head SEQ:HASH`, with `seq` and `hash` from
    /// the checkpoint's metadata). Call after [`signed`](Self::signed). Sending is best
    /// effort: a failure is reported through `tracing`, the entry stays written.
    #[cfg(feature = "signing")]
    #[must_use]
    pub fn checkpoints_to(self, sink: impl AuditSink + 'static) -> FileSink {
        if let Some(signer) = lock(&self.shared.state).signer.as_mut() {
            signer.publish = Some(Arc::new(sink));
        }
        self
    }

    /// Writes a checkpoint now, unless the log already ends with one; returns the line it
    /// signed. `None` without a signing key, or when there was nothing to sign.
    #[cfg(feature = "signing")]
    pub fn checkpoint(&self) -> Result<Option<Head>, AuditError> {
        self.shared.close_checkpoint()
    }

    /// Closes the sink: a last checkpoint when signing (unless the log already ends with
    /// one), then `fdatasync` unless the durability is `None`. Dropping does the same but
    /// can only report a failure through `tracing`.
    pub fn close(mut self) -> Result<(), AuditError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), AuditError> {
        if let Some(mut flusher) = self.flusher.take() {
            flusher.stop();
        }
        #[cfg(feature = "signing")]
        let signed = self.shared.close_checkpoint().map(|_| ());
        #[cfg(not(feature = "signing"))]
        let signed = Ok(());
        let unsynced = lock(&self.shared.state).unsynced > 0;
        let synced = if self.shared.durability != Durability::None && unsynced {
            self.shared.sync()
        } else {
            Ok(())
        };
        signed.and(synced)
    }

    /// The file's path (the active file, when the log rotates).
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// The chain's latest line now, whoever wrote it (read under the lock).
    pub fn current_head(&self) -> Result<Head, AuditError> {
        self.shared.head()
    }

    /// The torn lines this sink has repaired (on open or later).
    pub fn repairs(&self) -> Vec<Repair> {
        lock(&self.shared.state).repairs.clone()
    }
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.shared.path)
            .field("durability", &self.shared.durability)
            .finish_non_exhaustive()
    }
}

impl AuditSink for FileSink {
    fn write(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        self.shared.append(entry)
    }

    fn flush(&self) -> Result<(), AuditError> {
        self.shared.sync()
    }

    fn head(&self) -> Option<Head> {
        self.shared.head().ok()
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            // Nowhere to return it from drop; `close` first to see it.
            tracing::error!(
                target: "clay_config::audit",
                path = %self.shared.path.display(),
                %error,
                "audit log: closing failed"
            );
        }
    }
}

/// Opens (creating if needed) the active file; a new file's directory entry is made durable.
fn open_active(path: &Path, durability: Durability) -> Result<File, AuditError> {
    let io_err = |e| AuditError::io(Some(path), e);
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_err)?;
    if !existed && durability != Durability::None {
        sync_parent_dir(path).map_err(io_err)?;
    }
    Ok(file)
}

impl Shared {
    fn io_err(&self, e: io::Error) -> AuditError {
        AuditError::io(Some(&self.path), e)
    }

    fn head(&self) -> Result<Head, AuditError> {
        let mut state = lock(&self.state);
        loop {
            let file = Arc::clone(&state.file);
            let _flock = FileLock::exclusive(&file).map_err(|e| self.io_err(e))?;
            if self.was_rotated(&state, &file)? {
                self.reopen(&mut state)?;
                continue;
            }
            return self.current_tail(&mut state, &file).map(|t| t.head);
        }
    }

    fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        if entry.action() == CHECKPOINT_ACTION {
            return Err(AuditError::Parse(format!(
                "the action `{CHECKPOINT_ACTION}` is reserved for the file sink's own signed checkpoints"
            )));
        }
        let mut published = Published::new();
        let sync_now = {
            let mut state = lock(&self.state);
            let written = self.append_locked(&mut state, entry, &mut published);
            if written.is_err() {
                state.tail = None;
            }
            written?;
            match self.durability {
                Durability::EveryEntry => true,
                Durability::None => false,
                Durability::Batched {
                    max_delay,
                    max_entries,
                } => {
                    state.unsynced = state.unsynced.saturating_add(1);
                    let oldest = *state.oldest_unsynced.get_or_insert_with(Instant::now);
                    state.unsynced >= max_entries || oldest.elapsed() >= max_delay
                }
            }
        };
        publish(published);
        // Outside the locks: other writers go on while this one waits for the disk, and one
        // `fdatasync` covers their lines too.
        if sync_now { self.sync() } else { Ok(()) }
    }

    /// Appends `entry` (rotating first when it would not fit, and adding a checkpoint before
    /// or after it when one is due). Call with the state mutex held.
    fn append_locked(
        &self,
        state: &mut State,
        entry: &AuditEntry,
        published: &mut Published,
    ) -> Result<(), AuditError> {
        loop {
            let file = Arc::clone(&state.file);
            let _flock = FileLock::exclusive(&file).map_err(|e| self.io_err(e))?;
            if self.was_rotated(state, &file)? {
                self.reopen(state)?;
                continue;
            }
            let tail = self.current_tail(state, &file)?;
            // A checkpoint left due by a writer that died before writing it comes first.
            let tail = self.checkpoint_if_due(state, &file, tail, published)?;
            let seq = tail
                .head
                .seq
                .checked_add(1)
                .ok_or_else(|| self.exhausted(tail.len))?;
            let (line, hash) = chain::encode(entry, seq, &tail.head.hash)?;
            if let Some(max_bytes) = state.max_bytes
                && tail.len > 0
                && tail.len.saturating_add(line.len() as u64) > max_bytes
            {
                self.rotate(state, &file)?;
                continue;
            }
            self.write_line(&file, tail.len, &line)?;
            let tail = Tail {
                len: tail.len + line.len() as u64,
                head: Head { seq, hash },
            };
            state.tail = Some(tail);
            #[cfg(feature = "signing")]
            if let Some(signer) = state.signer.as_mut()
                && signer.known_through + 1 == seq
            {
                signer.known_through = seq;
            }
            self.checkpoint_if_due(state, &file, tail, published)?;
            return Ok(());
        }
    }

    fn exhausted(&self, offset: u64) -> AuditError {
        AuditError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: "the sequence number is exhausted".to_owned(),
        }
    }

    /// True when the file at `path` is no longer `file` (another writer rotated the log).
    /// Checked only by sinks that rotate: one `stat` per entry.
    fn was_rotated(&self, state: &State, file: &File) -> Result<bool, AuditError> {
        if state.max_bytes.is_none() {
            return Ok(false);
        }
        let current = match std::fs::metadata(&self.path) {
            Ok(current) => current,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(self.io_err(e)),
        };
        let ours = file.metadata().map_err(|e| self.io_err(e))?;
        Ok(!same_file(&current, &ours))
    }

    fn reopen(&self, state: &mut State) -> Result<(), AuditError> {
        state.file = Arc::new(open_active(&self.path, self.durability)?);
        state.tail = None;
        Ok(())
    }

    /// Renames the full file to the next `<path>.N` and starts a new one at `path`. Called
    /// with the full file's lock held, so no other writer rotates it too.
    fn rotate(&self, state: &mut State, file: &File) -> Result<(), AuditError> {
        if self.durability != Durability::None {
            // The finished file is on disk before the next one begins.
            file.sync_data().map_err(|e| self.io_err(e))?;
        }
        let target = rotation::next_rotated_path(&self.path).map_err(|e| self.io_err(e))?;
        std::fs::rename(&self.path, &target).map_err(|e| self.io_err(e))?;
        if self.durability != Durability::None {
            sync_parent_dir(&self.path).map_err(|e| self.io_err(e))?;
        }
        self.reopen(state)
    }

    /// `fdatasync`, and note that nothing is pending.
    fn sync(&self) -> Result<(), AuditError> {
        let file = {
            let mut state = lock(&self.state);
            state.unsynced = 0;
            state.oldest_unsynced = None;
            Arc::clone(&state.file)
        };
        file.sync_data().map_err(|e| self.io_err(e))
    }

    /// Syncs if the oldest unsynced entry is `max_delay` old; returns how long until the next
    /// check is needed.
    fn sync_if_due(&self, max_delay: Duration) -> Duration {
        let oldest = lock(&self.state).oldest_unsynced;
        match oldest.map(|oldest| max_delay.saturating_sub(oldest.elapsed())) {
            Some(Duration::ZERO) => {
                if let Err(e) = self.sync() {
                    tracing::error!(target: "clay_config::audit", error = %e, "audit log: fdatasync failed");
                }
                max_delay
            }
            Some(remaining) => remaining,
            None => max_delay,
        }
    }

    /// Writes `line` at the end (`offset`) with one `write`. A short write (a full disk) is
    /// undone so that no torn line is left behind.
    fn write_line(&self, file: &File, offset: u64, line: &[u8]) -> Result<(), AuditError> {
        loop {
            match (&*file).write(line) {
                Ok(n) if n == line.len() => return Ok(()),
                Ok(n) => {
                    let undo = file.set_len(offset);
                    let message = format!(
                        "short write: {n} of {} bytes (disk full?){}",
                        line.len(),
                        match undo {
                            Ok(()) => String::new(),
                            Err(e) => format!("; removing the partial line failed: {e}"),
                        }
                    );
                    return Err(self.io_err(io::Error::new(io::ErrorKind::WriteZero, message)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err(e)),
            }
        }
    }

    /// The file's current tail, read again if another writer changed the file; repairs a torn
    /// last line. Call with the state mutex and the exclusive `flock` held.
    fn current_tail(&self, state: &mut State, file: &File) -> Result<Tail, AuditError> {
        let len = file.metadata().map_err(|e| self.io_err(e))?.len();
        if let Some(tail) = state.tail
            && tail.len == len
        {
            return Ok(tail);
        }
        state.tail = None;
        let tail = self.read_tail(state, file, len)?;
        state.tail = Some(tail);
        Ok(tail)
    }

    fn read_tail(&self, state: &mut State, file: &File, len: u64) -> Result<Tail, AuditError> {
        if len == 0 {
            return Ok(Tail {
                len,
                head: self.previous_file_head()?,
            });
        }
        let mut last = [0u8; 1];
        read_exact_at(file, &mut last, len - 1).map_err(|e| self.io_err(e))?;
        if last[0] == b'\n' {
            let head = whole_line_before(file, &self.path, len)?;
            return Ok(Tail { len, head });
        }
        // A torn last line: everything after the last `\n`.
        let torn_start = last_newline_before(file, len, None)
            .map_err(|e| self.io_err(e))?
            .map_or(0, |newline| newline + 1);
        let head = if torn_start == 0 {
            self.previous_file_head()?
        } else {
            whole_line_before(file, &self.path, torn_start)?
        };
        self.repair(state, file, torn_start, len, head)
    }

    /// The head an empty active file continues from: the last line of the newest rotated
    /// file, or the empty chain when there is none.
    fn previous_file_head(&self) -> Result<Head, AuditError> {
        let rotated = rotation::rotated_files(&self.path).map_err(|e| self.io_err(e))?;
        let Some((_, previous)) = rotated.last() else {
            return Ok(Head::EMPTY);
        };
        let io_err = |e| AuditError::io(Some(previous), e);
        let file = File::open(previous).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        if len == 0 {
            return Ok(Head::EMPTY);
        }
        whole_line_before(&file, previous, len)
    }

    /// Repairs the torn bytes `start..end` that follow the line `head`: keeps them (adding the
    /// `\n`) when they are exactly the next line, else truncates them; then appends a
    /// `clay.audit.repair` entry and makes both durable.
    fn repair(
        &self,
        state: &mut State,
        file: &File,
        start: u64,
        end: u64,
        head: Head,
    ) -> Result<Tail, AuditError> {
        let torn_bytes = end - start;
        let mut hasher = Sha256::new();
        let mut kept_line = None;
        let mut offset = start;
        let mut buf = vec![0u8; usize::try_from(torn_bytes.min(CHUNK)).unwrap_or(0)];
        while offset < end {
            let n = usize::try_from((end - offset).min(CHUNK)).unwrap_or(0);
            read_exact_at(file, &mut buf[..n], offset).map_err(|e| self.io_err(e))?;
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
        if torn_bytes <= MAX_TAIL_LINE {
            let mut torn = vec![0u8; usize::try_from(torn_bytes).unwrap_or(0)];
            read_exact_at(file, &mut torn, start).map_err(|e| self.io_err(e))?;
            if let Ok(line) = chain::parse_line(&torn)
                && head.seq.checked_add(1) == Some(line.seq)
                && line.prev == head.hash
            {
                kept_line = Some(Head {
                    seq: line.seq,
                    hash: line.hash,
                });
            }
        }
        let digest: [u8; 32] = hasher.finalize().into();
        // Everything that can fail without touching the file comes first.
        let after = kept_line.unwrap_or(head);
        let seq = after
            .seq
            .checked_add(1)
            .ok_or_else(|| self.exhausted(start))?;
        let entry = AuditEntry::builder(REPAIR_ACTION)
            .user_id("clay-config")
            .resource(self.path.display().to_string())
            .metadata("offset", start)
            .metadata("tornBytes", torn_bytes)
            .metadata(
                "tornSha256",
                chain::EntryHash::from_bytes(digest).to_string(),
            )
            .metadata("kept", kept_line.is_some())
            .metadata("afterSeq", after.seq)
            .build();
        let (line, hash) = chain::encode(&entry, seq, &after.hash)?;
        let mut len = if kept_line.is_some() {
            self.write_line(file, end, b"\n")?;
            end + 1
        } else {
            file.set_len(start).map_err(|e| self.io_err(e))?;
            start
        };
        self.write_line(file, len, &line)?;
        len += line.len() as u64;
        file.sync_data().map_err(|e| self.io_err(e))?;
        tracing::warn!(
            target: "clay_config::audit",
            path = %self.path.display(),
            offset = start,
            torn_bytes,
            kept = kept_line.is_some(),
            "audit log: repaired a torn last line"
        );
        state.repairs.push(Repair {
            offset: start,
            torn_bytes,
            kept: kept_line.is_some(),
            entry_seq: seq,
        });
        Ok(Tail {
            len,
            head: Head { seq, hash },
        })
    }

    /// Writes a checkpoint after `tail` when one is due; returns the tail after it.
    #[cfg(feature = "signing")]
    fn checkpoint_if_due(
        &self,
        state: &mut State,
        file: &File,
        tail: Tail,
        published: &mut Published,
    ) -> Result<Tail, AuditError> {
        let due = |state: &State| state.signer.as_ref().is_some_and(|s| s.due(tail.head.seq));
        if !due(state) {
            return Ok(tail);
        }
        // What this sink knows may be stale (another process's checkpoint); an older latest
        // checkpoint only makes one look due sooner, so looking again is needed only now.
        self.refresh_latest_checkpoint(state, file, tail)?;
        if !due(state) {
            return Ok(tail);
        }
        self.write_checkpoint(state, file, tail, published)
    }

    #[cfg(not(feature = "signing"))]
    fn checkpoint_if_due(
        &self,
        _state: &mut State,
        _file: &File,
        tail: Tail,
        _published: &mut Published,
    ) -> Result<Tail, AuditError> {
        Ok(tail)
    }

    /// Brings the signer's latest checkpoint up to date with the lines up to `tail`.
    #[cfg(feature = "signing")]
    fn refresh_latest_checkpoint(
        &self,
        state: &mut State,
        file: &File,
        tail: Tail,
    ) -> Result<(), AuditError> {
        let Some(known_through) = state.signer.as_ref().map(|s| s.known_through) else {
            return Ok(());
        };
        if tail.head.seq <= known_through {
            return Ok(());
        }
        let found = self.find_latest_checkpoint(file, tail.len, known_through)?;
        if let Some(signer) = state.signer.as_mut() {
            if found.is_some() {
                signer.latest = found;
            }
            signer.known_through = tail.head.seq;
        }
        Ok(())
    }

    /// The latest checkpoint among the lines after `stop_seq`: read backwards from `end` of
    /// the active file, then through the rotated files, newest first.
    #[cfg(feature = "signing")]
    fn find_latest_checkpoint(
        &self,
        file: &File,
        end: u64,
        stop_seq: u64,
    ) -> Result<Option<CheckpointRef>, AuditError> {
        use std::ops::ControlFlow;

        let visit = |line: &[u8]| -> ControlFlow<Option<CheckpointRef>> {
            let Some(seq) = seq_of_line(line) else {
                return ControlFlow::Continue(());
            };
            if seq <= stop_seq {
                return ControlFlow::Break(None);
            }
            if is_checkpoint_line(line)
                && let Ok(parsed) = chain::parse_line(line)
                && let Ok(checkpoint) = Checkpoint::from_entry(&parsed.entry)
            {
                return ControlFlow::Break(Some(checkpoint.at(seq)));
            }
            if seq == 1 {
                ControlFlow::Break(None)
            } else {
                ControlFlow::Continue(())
            }
        };
        if let Some(found) = lines_backwards(file, end, visit).map_err(|e| self.io_err(e))? {
            return Ok(found);
        }
        let rotated = rotation::rotated_files(&self.path).map_err(|e| self.io_err(e))?;
        for (_, path) in rotated.iter().rev() {
            let io_err = |e| AuditError::io(Some(path), e);
            let older = File::open(path).map_err(io_err)?;
            let len = older.metadata().map_err(io_err)?.len();
            if let Some(found) = lines_backwards(&older, len, visit).map_err(io_err)? {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Signs `tail` and appends the checkpoint line; returns the tail after it.
    #[cfg(feature = "signing")]
    fn write_checkpoint(
        &self,
        state: &mut State,
        file: &File,
        tail: Tail,
        published: &mut Published,
    ) -> Result<Tail, AuditError> {
        let Some(signer) = state.signer.as_ref() else {
            return Ok(tail);
        };
        let checkpoint = Checkpoint::sign(
            &signer.key,
            &signer.key_id,
            tail.head,
            signer.latest.as_ref(),
            signer.every,
        )?;
        let resource = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let entry = checkpoint.entry(&resource);
        let seq = tail
            .head
            .seq
            .checked_add(1)
            .ok_or_else(|| self.exhausted(tail.len))?;
        let (line, hash) = chain::encode(&entry, seq, &tail.head.hash)?;
        self.write_line(file, tail.len, &line)?;
        let after = Tail {
            len: tail.len + line.len() as u64,
            head: Head { seq, hash },
        };
        state.tail = Some(after);
        if let Some(signer) = state.signer.as_mut() {
            signer.latest = Some(checkpoint.at(seq));
            if signer.known_through == tail.head.seq {
                signer.known_through = seq;
            }
            if let Some(sink) = &signer.publish {
                published.push((Arc::clone(sink), entry));
            }
        }
        Ok(after)
    }

    /// A checkpoint now (on close, or on request), unless the log is empty or already ends
    /// with one: whatever a writer that died left unsigned is signed by the next to close.
    #[cfg(feature = "signing")]
    fn close_checkpoint(&self) -> Result<Option<Head>, AuditError> {
        let mut published = Published::new();
        let signed = {
            let mut state = lock(&self.state);
            if state.signer.is_none() {
                return Ok(None);
            }
            loop {
                let file = Arc::clone(&state.file);
                let _flock = FileLock::exclusive(&file).map_err(|e| self.io_err(e))?;
                if self.was_rotated(&state, &file)? {
                    self.reopen(&mut state)?;
                    continue;
                }
                let result = self.checkpoint_tail(&mut state, &file, &mut published);
                if result.is_err() {
                    state.tail = None;
                }
                break result?;
            }
        };
        if signed.is_some() && self.durability != Durability::None {
            self.sync()?;
        }
        publish(published);
        Ok(signed)
    }

    #[cfg(feature = "signing")]
    fn checkpoint_tail(
        &self,
        state: &mut State,
        file: &File,
        published: &mut Published,
    ) -> Result<Option<Head>, AuditError> {
        let tail = self.current_tail(state, file)?;
        self.refresh_latest_checkpoint(state, file, tail)?;
        let Some(signer) = state.signer.as_ref() else {
            return Ok(None);
        };
        let ends_signed = signer.latest.is_some_and(|c| c.seq == tail.head.seq);
        if tail.head.seq == 0 || ends_signed {
            return Ok(None);
        }
        self.write_checkpoint(state, file, tail, published)?;
        Ok(Some(tail.head))
    }
}

/// Sends checkpoint entries to the checkpoint sink (after the file's locks are released).
fn publish(published: Published) {
    #[cfg(feature = "signing")]
    for (sink, entry) in published {
        if let Err(error) = sink.write(&entry) {
            tracing::error!(
                target: "clay_config::audit",
                %error,
                "audit log: could not send a checkpoint to the checkpoint sink"
            );
        }
    }
    #[cfg(not(feature = "signing"))]
    drop(published);
}

/// The `seq` of a chain line, read from its fixed-length end
/// (`,"seq":N,"prev":"<64 hex>","hash":"<64 hex>"}`) without parsing the JSON.
#[cfg(feature = "signing")]
fn seq_of_line(line: &[u8]) -> Option<u64> {
    const AFTER_SEQ: usize = r#","prev":""#.len() + 64 + r#"","hash":""#.len() + 64 + 2;
    let digits_end = line.len().checked_sub(AFTER_SEQ)?;
    if !line[digits_end..].starts_with(br#","prev":""#) {
        return None;
    }
    let digits_start = line[..digits_end]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    if !line[..digits_start].ends_with(br#","seq":"#) {
        return None;
    }
    std::str::from_utf8(&line[digits_start..digits_end])
        .ok()?
        .parse()
        .ok()
}

/// True when the line is a checkpoint as this sink writes them: the action follows the
/// 24-character timestamp.
#[cfg(feature = "signing")]
fn is_checkpoint_line(line: &[u8]) -> bool {
    const AT: usize = r#"{"timestamp":""#.len() + 24;
    let marker = format!(r#"","action":"{CHECKPOINT_ACTION}""#);
    line.get(AT..)
        .is_some_and(|rest| rest.starts_with(marker.as_bytes()))
}

/// Calls `visit` on each line (without its `\n`) of `file` before `end`, last first, until it
/// breaks; returns what it broke with.
#[cfg(feature = "signing")]
fn lines_backwards<R>(
    file: &File,
    end: u64,
    mut visit: impl FnMut(&[u8]) -> std::ops::ControlFlow<R>,
) -> io::Result<Option<R>> {
    use std::ops::ControlFlow;

    let mut buf = vec![0u8; usize::try_from(CHUNK).unwrap_or(65536)];
    // The start of the line being read, found so far (the bytes after the chunk read last).
    let mut pending: Vec<u8> = Vec::new();
    let mut pos = end;
    while pos > 0 {
        let start = pos.saturating_sub(CHUNK);
        let n = usize::try_from(pos - start).unwrap_or(0);
        read_exact_at(file, &mut buf[..n], start)?;
        let mut chunk_end = n;
        while let Some(i) = buf[..chunk_end].iter().rposition(|&b| b == b'\n') {
            let flow = if pending.is_empty() {
                visit_nonempty(&buf[i + 1..chunk_end], &mut visit)
            } else {
                let mut line = buf[i + 1..chunk_end].to_vec();
                line.append(&mut pending);
                visit_nonempty(&line, &mut visit)
            };
            if let ControlFlow::Break(found) = flow {
                return Ok(Some(found));
            }
            chunk_end = i;
        }
        let mut line = buf[..chunk_end].to_vec();
        line.append(&mut pending);
        pending = line;
        if pending.len() as u64 > MAX_TAIL_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a line longer than {MAX_TAIL_LINE} bytes"),
            ));
        }
        pos = start;
    }
    Ok(match visit_nonempty(&pending, &mut visit) {
        ControlFlow::Break(found) => Some(found),
        ControlFlow::Continue(()) => None,
    })
}

#[cfg(feature = "signing")]
fn visit_nonempty<R>(
    line: &[u8],
    visit: &mut impl FnMut(&[u8]) -> std::ops::ControlFlow<R>,
) -> std::ops::ControlFlow<R> {
    if line.is_empty() {
        std::ops::ControlFlow::Continue(())
    } else {
        visit(line)
    }
}

/// The head of the whole line of `file` that ends with the `\n` at `end - 1`.
fn whole_line_before(file: &File, path: &Path, end: u64) -> Result<Head, AuditError> {
    let io_err = |e| AuditError::io(Some(path), e);
    let newline = end - 1;
    let start = last_newline_before(file, newline, Some(MAX_TAIL_LINE))
        .map_err(io_err)?
        .map_or(0, |n| n + 1);
    let corrupt = |reason: String| AuditError::Corrupt {
        path: path.to_path_buf(),
        offset: start,
        reason,
    };
    if newline - start > MAX_TAIL_LINE {
        return Err(corrupt(format!(
            "the last line is longer than {MAX_TAIL_LINE} bytes"
        )));
    }
    let mut line = vec![0u8; usize::try_from(newline - start).unwrap_or(0)];
    read_exact_at(file, &mut line, start).map_err(io_err)?;
    chain::parse_line(&line)
        .map(|l| Head {
            seq: l.seq,
            hash: l.hash,
        })
        .map_err(|e| corrupt(format!("the last line is not a valid chain line: {e}")))
}

/// The offset of the last `\n` before `end`, looking back at most `limit` bytes (further
/// back counts as "none found" after the limit; the caller checks the length).
fn last_newline_before(file: &File, end: u64, limit: Option<u64>) -> io::Result<Option<u64>> {
    let floor = limit.map_or(0, |limit| end.saturating_sub(limit.saturating_add(1)));
    let mut chunk_end = end;
    let mut buf = vec![0u8; usize::try_from(CHUNK).unwrap_or(65536)];
    while chunk_end > floor {
        let chunk_start = chunk_end.saturating_sub(CHUNK).max(floor);
        let n = usize::try_from(chunk_end - chunk_start).unwrap_or(0);
        read_exact_at(file, &mut buf[..n], chunk_start)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(Some(chunk_start + i as u64));
        }
        chunk_end = chunk_start;
    }
    Ok(None)
}

/// True when two metadata describe the same file (device and inode on Unix).
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    true
}

impl Flusher {
    fn spawn(shared: &Arc<Shared>, max_delay: Duration) -> Result<Flusher, AuditError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let weak: Weak<Shared> = Arc::downgrade(shared);
        let max_delay = max_delay.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("clay-audit-flush".to_owned())
            .spawn(move || {
                // Wake when the oldest unsynced entry falls due, not on a fixed tick, so no
                // entry stays unsynced longer than `max_delay` (plus the sync itself).
                let mut wait = max_delay;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    match weak.upgrade() {
                        Some(shared) => wait = shared.sync_if_due(max_delay),
                        None => break,
                    }
                }
            })
            .map_err(|e| AuditError::io(Some(&shared.path), e))?;
        Ok(Flusher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes a new file's directory entry durable.
#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}
