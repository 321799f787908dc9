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
use super::entry::AuditEntry;
use super::lock::{FileLock, read_exact_at};
use super::sink::{AuditSink, lock};
use super::{AuditError, REPAIR_ACTION};

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
    file: File,
    durability: Durability,
    state: Mutex<State>,
}

struct State {
    /// The file's length and last line after this sink's last look, if still trusted.
    tail: Option<Tail>,
    /// Entries written since the last `fdatasync`.
    unsynced: u32,
    /// When the oldest unsynced entry was written.
    oldest_unsynced: Option<Instant>,
    repairs: Vec<Repair>,
}

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
    /// Opens (creating if needed) the log at `path`, repairing a torn last line.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<FileSink, AuditError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |e| AuditError::io(Some(&path), e);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err)?;
        if !existed && durability != Durability::None {
            sync_parent_dir(&path).map_err(io_err)?;
        }
        let shared = Arc::new(Shared {
            path,
            file,
            durability,
            state: Mutex::new(State {
                tail: None,
                unsynced: 0,
                oldest_unsynced: None,
                repairs: Vec::new(),
            }),
        });
        shared.head()?;
        let flusher = match durability {
            Durability::Batched { max_delay, .. } => Some(Flusher::spawn(&shared, max_delay)?),
            Durability::EveryEntry | Durability::None => None,
        };
        Ok(FileSink { shared, flusher })
    }

    /// The file's path.
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
        if let Some(mut flusher) = self.flusher.take() {
            flusher.stop();
        }
        if matches!(self.shared.durability, Durability::Batched { .. })
            && lock(&self.shared.state).unsynced > 0
        {
            // Nowhere to report an error from drop; `flush` first to see it.
            let _ = self.shared.sync();
        }
    }
}

impl Shared {
    fn io_err(&self, e: io::Error) -> AuditError {
        AuditError::io(Some(&self.path), e)
    }

    fn head(&self) -> Result<Head, AuditError> {
        let mut state = lock(&self.state);
        let _flock = FileLock::exclusive(&self.file).map_err(|e| self.io_err(e))?;
        self.current_tail(&mut state).map(|t| t.head)
    }

    fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let sync_now = {
            let mut state = lock(&self.state);
            let _flock = FileLock::exclusive(&self.file).map_err(|e| self.io_err(e))?;
            let tail = self.current_tail(&mut state)?;
            let seq = tail
                .head
                .seq
                .checked_add(1)
                .ok_or_else(|| AuditError::Corrupt {
                    path: self.path.clone(),
                    offset: tail.len,
                    reason: "the sequence number is exhausted".to_owned(),
                })?;
            let (line, hash) = chain::encode(entry, seq, &tail.head.hash)?;
            if let Err(e) = self.write_line(&mut state, tail.len, &line) {
                state.tail = None;
                return Err(e);
            }
            state.tail = Some(Tail {
                len: tail.len + line.len() as u64,
                head: Head { seq, hash },
            });
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
        // Outside the locks: other writers go on while this one waits for the disk, and one
        // `fdatasync` covers their lines too.
        if sync_now { self.sync() } else { Ok(()) }
    }

    /// `fdatasync`, and note that nothing is pending.
    fn sync(&self) -> Result<(), AuditError> {
        {
            let mut state = lock(&self.state);
            state.unsynced = 0;
            state.oldest_unsynced = None;
        }
        self.file.sync_data().map_err(|e| self.io_err(e))
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
    fn write_line(&self, _state: &mut State, offset: u64, line: &[u8]) -> Result<(), AuditError> {
        loop {
            match (&self.file).write(line) {
                Ok(n) if n == line.len() => return Ok(()),
                Ok(n) => {
                    let undo = self.file.set_len(offset);
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
    fn current_tail(&self, state: &mut State) -> Result<Tail, AuditError> {
        let len = self.file.metadata().map_err(|e| self.io_err(e))?.len();
        if let Some(tail) = state.tail
            && tail.len == len
        {
            return Ok(tail);
        }
        state.tail = None;
        let tail = self.read_tail(state, len)?;
        state.tail = Some(tail);
        Ok(tail)
    }

    fn read_tail(&self, state: &mut State, len: u64) -> Result<Tail, AuditError> {
        if len == 0 {
            return Ok(Tail {
                len,
                head: Head::EMPTY,
            });
        }
        let mut last = [0u8; 1];
        read_exact_at(&self.file, &mut last, len - 1).map_err(|e| self.io_err(e))?;
        if last[0] == b'\n' {
            let head = self.whole_line_before(len)?;
            return Ok(Tail { len, head });
        }
        // A torn last line: everything after the last `\n`.
        let torn_start = self
            .last_newline_before(len, None)?
            .map_or(0, |newline| newline + 1);
        let head = if torn_start == 0 {
            Head::EMPTY
        } else {
            self.whole_line_before(torn_start)?
        };
        self.repair(state, torn_start, len, head)
    }

    /// Repairs the torn bytes `start..end` that follow the line `head`: keeps them (adding the
    /// `\n`) when they are exactly the next line, else truncates them; then appends a
    /// `clay.audit.repair` entry and makes both durable.
    fn repair(
        &self,
        state: &mut State,
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
            read_exact_at(&self.file, &mut buf[..n], offset).map_err(|e| self.io_err(e))?;
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
        if torn_bytes <= MAX_TAIL_LINE {
            let mut torn = vec![0u8; usize::try_from(torn_bytes).unwrap_or(0)];
            read_exact_at(&self.file, &mut torn, start).map_err(|e| self.io_err(e))?;
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
            .ok_or_else(|| AuditError::Corrupt {
                path: self.path.clone(),
                offset: start,
                reason: "the sequence number is exhausted".to_owned(),
            })?;
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
            self.write_line(state, end, b"\n")?;
            end + 1
        } else {
            self.file.set_len(start).map_err(|e| self.io_err(e))?;
            start
        };
        self.write_line(state, len, &line)?;
        len += line.len() as u64;
        self.file.sync_data().map_err(|e| self.io_err(e))?;
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

    /// The head of the whole line that ends with the `\n` at `end - 1`.
    fn whole_line_before(&self, end: u64) -> Result<Head, AuditError> {
        let newline = end - 1;
        let start = self
            .last_newline_before(newline, Some(MAX_TAIL_LINE))?
            .map_or(0, |n| n + 1);
        let corrupt = |reason: String| AuditError::Corrupt {
            path: self.path.clone(),
            offset: start,
            reason,
        };
        if newline - start > MAX_TAIL_LINE {
            return Err(corrupt(format!(
                "the last line is longer than {MAX_TAIL_LINE} bytes"
            )));
        }
        let mut line = vec![0u8; usize::try_from(newline - start).unwrap_or(0)];
        read_exact_at(&self.file, &mut line, start).map_err(|e| self.io_err(e))?;
        chain::parse_line(&line)
            .map(|l| Head {
                seq: l.seq,
                hash: l.hash,
            })
            .map_err(|e| corrupt(format!("the last line is not a valid chain line: {e}")))
    }

    /// The offset of the last `\n` before `end`, looking back at most `limit` bytes (further
    /// back counts as "none found" after the limit; the caller checks the length).
    fn last_newline_before(&self, end: u64, limit: Option<u64>) -> Result<Option<u64>, AuditError> {
        let floor = limit.map_or(0, |limit| end.saturating_sub(limit.saturating_add(1)));
        let mut chunk_end = end;
        let mut buf = vec![0u8; usize::try_from(CHUNK).unwrap_or(65536)];
        while chunk_end > floor {
            let chunk_start = chunk_end.saturating_sub(CHUNK).max(floor);
            let n = usize::try_from(chunk_end - chunk_start).unwrap_or(0);
            read_exact_at(&self.file, &mut buf[..n], chunk_start).map_err(|e| self.io_err(e))?;
            if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
                return Ok(Some(chunk_start + i as u64));
            }
            chunk_end = chunk_start;
        }
        Ok(None)
    }
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
