//! Checking a file sink's chain: [`verify`], [`verify_against`] and the [`VerifyReport`].

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::chain::{self, EntryHash, Head, LineError};
use super::lock::FileLock;
use super::{AuditError, REPAIR_ACTION};

/// The longest line `verify` reads into memory; a longer one is reported as malformed.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// Checks the chain of the log at `path`: every line whole, well formed, with the hash of
/// its own content, the `prev` of the line before and the next `seq`.
///
/// Reads the file as it was when the call began (its length is taken under a shared lock, so
/// no writer is between its first and last byte). An I/O error is an `Err`; anything wrong
/// with the content, however corrupt or not UTF-8, is in the report.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, verify};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.log");
/// let sink = FileSink::open(&path, Durability::None)?;
/// for user in ["u-1", "u-2", "u-3"] {
///     sink.write(&AuditEntry::builder("clay.api.call").user_id(user).build())?;
/// }
/// let text = std::fs::read_to_string(&path)?;
/// std::fs::write(&path, text.replacen("u-2", "u-9", 1))?;
///
/// let report = verify(&path)?;
/// assert!(!report.is_ok());
/// assert_eq!(report.entries(), 1);
/// assert_eq!(report.broken().map(|b| b.line()), Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, AuditError> {
    verify_file(path.as_ref(), None)
}

/// [`verify`], and also checks the chain against a head kept elsewhere (from
/// [`AuditLog::head`](super::AuditLog::head)): the line with the head's `seq` must still
/// exist and have its hash. This detects what the chain alone cannot: a log cut short at a
/// line boundary, or rewritten whole.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, verify_against};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.log");
/// let sink = FileSink::open(&path, Durability::None)?;
/// sink.write(&AuditEntry::builder("clay.api.call").build())?;
/// sink.write(&AuditEntry::builder("clay.api.call").build())?;
/// let kept = sink.current_head()?;
///
/// // Cut the last line off, at a line boundary: the chain alone still verifies.
/// let text = std::fs::read_to_string(&path)?;
/// std::fs::write(&path, text.lines().next().map(|l| format!("{l}\n")).unwrap_or_default())?;
/// assert!(clay_config::audit::verify(&path)?.is_ok());
/// let report = verify_against(&path, &kept)?;
/// assert!(!report.is_ok());
/// assert_eq!(report.broken().map(|b| b.line()), Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_against(path: impl AsRef<Path>, anchor: &Head) -> Result<VerifyReport, AuditError> {
    verify_file(path.as_ref(), Some(anchor))
}

/// [`verify`] over any reader (a pipe, a copy in memory), optionally against a kept head.
pub fn verify_reader(reader: impl Read, anchor: Option<&Head>) -> Result<VerifyReport, AuditError> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut verifier = Verifier::new(anchor.copied());
    let mut line = Vec::new();
    while verifier.report.broken.is_none() {
        let Some(read) = read_line(&mut reader, &mut line).map_err(|e| AuditError::io(None, e))?
        else {
            break;
        };
        verifier.line(&line, read);
    }
    Ok(verifier.finish())
}

fn verify_file(path: &Path, anchor: Option<&Head>) -> Result<VerifyReport, AuditError> {
    let io_err = |e| AuditError::io(Some(path), e);
    let file = File::open(path).map_err(io_err)?;
    let len = {
        let _lock = FileLock::shared(&file).map_err(io_err)?;
        file.metadata().map_err(io_err)?.len()
    };
    verify_reader(file.take(len), anchor).map_err(|e| match e {
        AuditError::Io { path: None, source } => AuditError::io(Some(path), source),
        other => other,
    })
}

/// How a line ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    Newline,
    /// The end of the file, with no `\n`.
    Eof,
    /// Longer than [`MAX_LINE`]; the rest was skipped.
    TooLong,
}

/// Reads the next line into `buf` (without its `\n`); `None` at the end of the input.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<LineEnd>> {
    buf.clear();
    let mut any = false;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(if too_long {
                LineEnd::TooLong
            } else {
                LineEnd::Eof
            }));
        }
        any = true;
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i)),
            None => (available, None),
        };
        if buf.len() + chunk.len() > MAX_LINE {
            too_long = true;
        } else if !too_long {
            buf.extend_from_slice(chunk);
        }
        let consumed = found.map_or(chunk.len(), |i| i + 1);
        reader.consume(consumed);
        if found.is_some() {
            return Ok(Some(if too_long {
                LineEnd::TooLong
            } else {
                LineEnd::Newline
            }));
        }
    }
}

struct Verifier {
    anchor: Option<Head>,
    report: VerifyReport,
    line_number: u64,
}

impl Verifier {
    fn new(anchor: Option<Head>) -> Self {
        Verifier {
            anchor,
            report: VerifyReport {
                entries: 0,
                head: None,
                broken: None,
                repairs: Vec::new(),
            },
            line_number: 0,
        }
    }

    fn last(&self) -> Head {
        self.report.head.unwrap_or(Head::EMPTY)
    }

    fn break_at(&mut self, problem: Problem) {
        self.report.broken = Some(BrokenLink {
            line: self.line_number,
            problem,
        });
    }

    fn line(&mut self, bytes: &[u8], end: LineEnd) {
        self.line_number += 1;
        match end {
            LineEnd::Eof => return self.break_at(Problem::Torn),
            LineEnd::TooLong => {
                return self.break_at(Problem::Malformed {
                    reason: format!("the line is longer than {MAX_LINE} bytes"),
                });
            }
            LineEnd::Newline => {}
        }
        let parsed = match chain::parse_line(bytes) {
            Ok(parsed) => parsed,
            Err(LineError::HashMismatch) => return self.break_at(Problem::Edited),
            Err(LineError::Malformed(reason)) => {
                return self.break_at(Problem::Malformed { reason });
            }
        };
        let last = self.last();
        if parsed.prev != last.hash {
            return self.break_at(Problem::Unlinked {
                expected: last.hash,
                found: parsed.prev,
            });
        }
        let expected = last.seq.saturating_add(1);
        if parsed.seq != expected {
            return self.break_at(Problem::Sequence {
                expected,
                found: parsed.seq,
            });
        }
        if let Some(anchor) = self.anchor
            && anchor.seq == parsed.seq
            && anchor.hash != parsed.hash
        {
            return self.break_at(Problem::AnchorMismatch { anchor });
        }
        self.report.entries += 1;
        self.report.head = Some(Head {
            seq: parsed.seq,
            hash: parsed.hash,
        });
        if parsed.entry.action() == REPAIR_ACTION {
            self.report.repairs.push(self.line_number);
        }
    }

    fn finish(mut self) -> VerifyReport {
        if self.report.broken.is_none()
            && let Some(anchor) = self.anchor
            && anchor.seq > self.last().seq
        {
            self.line_number += 1;
            let last_seq = self.last().seq;
            self.break_at(Problem::Truncated { anchor, last_seq });
        }
        self.report
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    entries: u64,
    head: Option<Head>,
    broken: Option<BrokenLink>,
    repairs: Vec<u64>,
}

impl VerifyReport {
    /// True when every line verified (and the kept head, if given, was found).
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }

    /// The number of lines that verified, from the first: all of them when the log is
    /// intact, the ones before the first broken link otherwise.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The last line that verified (`None` when none did): keep it to check later with
    /// [`verify_against`].
    pub fn head(&self) -> Option<Head> {
        self.head
    }

    /// The first broken link, with its 1-based line number.
    pub fn broken(&self) -> Option<&BrokenLink> {
        self.broken.as_ref()
    }

    /// Line numbers of the `clay.audit.repair` entries among the verified lines: where a
    /// writer found a torn line after a crash and repaired it.
    pub fn repairs(&self) -> &[u64] {
        &self.repairs
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.broken {
            None => write!(f, "ok: {} entries verified", self.entries)?,
            Some(broken) => write!(
                f,
                "broken: {broken}; the {} entries before it verify",
                self.entries
            )?,
        }
        if let Some(head) = self.head {
            write!(f, ", head {head}")?;
        }
        if !self.repairs.is_empty() {
            write!(f, ", {} torn tail(s) repaired", self.repairs.len())?;
        }
        Ok(())
    }
}

/// The first line that does not chain to the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    line: u64,
    problem: Problem,
}

impl BrokenLink {
    /// The 1-based line number.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Why a link is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The last line has no `\n`: the log was cut short in the middle of a line (a crash
    /// while writing, which the next writer repairs, or a truncation).
    Torn,
    /// Not a chain line: not UTF-8, not JSON, not an entry, or no valid `seq`/`prev`/`hash`.
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The line's hash does not match its content: it was edited.
    Edited,
    /// The line's `prev` is not the hash of the line before: a line was removed, inserted or
    /// reordered here.
    Unlinked {
        /// The hash of the line before (zeros for the first line).
        expected: EntryHash,
        /// The line's `prev`.
        found: EntryHash,
    },
    /// The line's `seq` does not follow the line before.
    Sequence {
        /// The line before's `seq` plus one.
        expected: u64,
        /// The line's `seq`.
        found: u64,
    },
    /// The kept head's line has another hash: the log was rewritten.
    AnchorMismatch {
        /// The kept head.
        anchor: Head,
    },
    /// The log ends before the kept head's line: it was cut short.
    Truncated {
        /// The kept head.
        anchor: Head,
        /// The `seq` of the log's last line.
        last_seq: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Torn => f.write_str("the line is cut short (no newline at the end of the log)"),
            Problem::Malformed { reason } => write!(f, "not a valid audit line: {reason}"),
            Problem::Edited => f.write_str("the content does not match its hash (the line was edited)"),
            Problem::Unlinked { .. } => f.write_str(
                "`prev` is not the hash of the line before (a line was removed, inserted or reordered here)",
            ),
            Problem::Sequence { expected, found } => {
                write!(f, "`seq` is {found} where {expected} was expected")
            }
            Problem::AnchorMismatch { anchor } => write!(
                f,
                "the line with seq {} does not have the kept head's hash {} (the log was rewritten)",
                anchor.seq, anchor.hash
            ),
            Problem::Truncated { anchor, last_seq } => write!(
                f,
                "the log ends at seq {last_seq} but the kept head is seq {} (the log was cut short)",
                anchor.seq
            ),
        }
    }
}
