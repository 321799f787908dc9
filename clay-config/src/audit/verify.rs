//! Checking a file sink's chain: [`verify`], [`verify_against`], [`verify_signed`] (feature
//! `signing`), the general [`verify_with`], and the [`VerifyReport`].

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

#[cfg(feature = "signing")]
use super::CHECKPOINT_ACTION;
use super::chain::{self, EntryHash, Head, LineError, ParsedLine};
#[cfg(feature = "signing")]
use super::checkpoint::{Checkpoint, CheckpointRef};
use super::lock::FileLock;
use super::rotation;
#[cfg(feature = "signing")]
use super::signing::VerifyingKey;
use super::{AuditError, REPAIR_ACTION};

/// The longest line `verify` reads into memory; a longer one is reported as malformed.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// Checks the chain of the log at `path`: every line whole, well formed, with the hash of
/// its own content, the `prev` of the line before and the next `seq`.
///
/// `path` may be a log file, a rotated log's active file (its rotated files `<path>.1`,
/// `<path>.2`, … are checked first, in order, the chain running across them), or a directory
/// holding one log. A rotated file given alone (`audit.log.3`) may start mid-chain; anything
/// else must start at `seq` 1.
///
/// Reads each file as it was when its turn came (its length is taken under a shared lock, so
/// no writer is between its first and last byte). An I/O error is an `Err`; anything wrong
/// with the content, however corrupt or not UTF-8, is in the report.
///
/// What this proves, and what it does not: the lines agree with each other, so accidental
/// damage and an edit by someone who cannot rewrite the rest of the file show. Anyone who can
/// write the file can also recompute every hash after an edit (or cut the file at a line
/// boundary), and the chain alone cannot show that: keep a head elsewhere
/// ([`verify_against`]) or sign the log ([`verify_signed`]).
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
    verify_with(&[path], &VerifyOptions::default())
}

/// Checks the chain across exactly these files, in this order (the oldest first): each file's
/// first line must continue the last line of the one before. A rotated file skipped in the
/// sequence (`audit.log.2` then `audit.log.4`) is reported by name
/// ([`Problem::MissingFile`]).
pub fn verify_files<P: AsRef<Path>>(
    files: impl IntoIterator<Item = P>,
) -> Result<VerifyReport, AuditError> {
    let files: Vec<PathBuf> = files
        .into_iter()
        .map(|p| p.as_ref().to_path_buf())
        .collect();
    verify_paths(&files, &VerifyOptions::default())
}

/// [`verify`], and also checks the chain against a head kept elsewhere (from
/// [`AuditLog::head`](super::AuditLog::head), or a checkpoint sent to another sink): the line
/// with the head's `seq` must still exist and have its hash. This detects what the chain
/// alone cannot: a log cut short at a line boundary, or rewritten whole (every hash
/// recomputed) up to the head. Lines after the head are checked as by [`verify`]: an edit
/// there breaks the chain, and shows; an edit there whose hashes were all recomputed is
/// beyond what a head can prove (a later head, or signed checkpoints, prove those lines).
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
    verify_with(&[path], &VerifyOptions::new().head(*anchor))
}

/// [`verify`], and also checks every signed checkpoint with the public key: the log must hold
/// at least one; each must sign exactly the line before it, name the checkpoint before it,
/// and carry a valid signature by `key`; no more lines may follow a checkpoint than its
/// cadence allows. Every edit, removal, insertion and reordering up to the last checkpoint
/// shows, even when every hash was recomputed, because no one without the private key can
/// sign the recomputed hashes. The lines after the last checkpoint are counted in
/// [`VerifyReport::unsigned_entries`]: the chain checks them, nothing signs them yet.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, SigningKey, verify_signed};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.log");
/// let key = SigningKey::generate()?;
/// let public = key.verifying_key();
/// let sink = FileSink::open(&path, Durability::None)?.signed(key, 10);
/// for n in 0..25 {
///     sink.write(&AuditEntry::builder("clay.api.call").metadata("n", n).build())?;
/// }
/// let report = verify_signed(&path, &public)?;
/// assert!(report.is_ok(), "{report}");
/// assert_eq!((report.checkpoints(), report.unsigned_entries()), (2, 5));
///
/// // A wrong key proves nothing.
/// let stranger = SigningKey::generate()?.verifying_key();
/// assert!(!verify_signed(&path, &stranger)?.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "signing")]
pub fn verify_signed(
    path: impl AsRef<Path>,
    key: &VerifyingKey,
) -> Result<VerifyReport, AuditError> {
    verify_with(&[path], &VerifyOptions::new().public_key(*key))
}

/// What [`verify_with`] checks besides the chain: a kept head, and (feature `signing`) the
/// signed checkpoints.
///
/// ```
/// use clay_config::audit::{Head, VerifyOptions};
///
/// let options = VerifyOptions::new().head(Head::EMPTY);
/// assert_eq!(options.kept_head(), Some(Head::EMPTY));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    head: Option<Head>,
    #[cfg(feature = "signing")]
    public_key: Option<VerifyingKey>,
}

impl VerifyOptions {
    /// The chain only.
    pub fn new() -> Self {
        VerifyOptions::default()
    }

    /// Also checks against a kept head, as [`verify_against`].
    #[must_use]
    pub fn head(mut self, head: Head) -> Self {
        self.head = Some(head);
        self
    }

    /// The kept head, if any.
    pub fn kept_head(&self) -> Option<Head> {
        self.head
    }

    /// Also checks the signed checkpoints with `key`, as [`verify_signed`].
    #[cfg(feature = "signing")]
    #[must_use]
    pub fn public_key(mut self, key: VerifyingKey) -> Self {
        self.public_key = Some(key);
        self
    }
}

/// Checks the logs at `paths` with `options`. One path is expanded as [`verify`] does (a
/// directory, or an active file with its rotated files); several are taken as given, in
/// order, as [`verify_files`] does (a directory among them is expanded in place).
pub fn verify_with<P: AsRef<Path>>(
    paths: &[P],
    options: &VerifyOptions,
) -> Result<VerifyReport, AuditError> {
    let mut files = Vec::new();
    match paths {
        [one] => files = rotation::expand(one.as_ref())?,
        _ => {
            for path in paths {
                let path = path.as_ref();
                if path.is_dir() {
                    files.extend(rotation::expand(path)?);
                } else {
                    files.push(path.to_path_buf());
                }
            }
        }
    }
    if files.is_empty() {
        return Err(AuditError::Parse("no audit log file to verify".to_owned()));
    }
    verify_paths(&files, options)
}

/// [`verify`] over any reader (a pipe, a copy in memory), optionally against a kept head.
pub fn verify_reader(reader: impl Read, anchor: Option<&Head>) -> Result<VerifyReport, AuditError> {
    let options = VerifyOptions {
        head: anchor.copied(),
        ..VerifyOptions::default()
    };
    let mut verifier = Verifier::new(&options, false);
    verifier.read(reader)?;
    Ok(verifier.finish())
}

fn verify_paths(files: &[PathBuf], options: &VerifyOptions) -> Result<VerifyReport, AuditError> {
    let mut verifier = Verifier::new(options, files.len() > 1);
    for (i, path) in files.iter().enumerate() {
        if verifier.report.broken.is_some() {
            break;
        }
        let previous = i.checked_sub(1).map(|p| files[p].as_path());
        verifier.start_file(path, previous);
        if let Some(missing) = previous.and_then(|p| rotation::missing_between(p, path)) {
            verifier.line_number = 1;
            verifier.break_at(Problem::MissingFile { name: missing });
            break;
        }
        let io_err = |e| AuditError::io(Some(path), e);
        let file = File::open(path).map_err(io_err)?;
        let len = {
            let _lock = FileLock::shared(&file).map_err(io_err)?;
            file.metadata().map_err(io_err)?.len()
        };
        verifier.read(file.take(len)).map_err(|e| match e {
            AuditError::Io { path: None, source } => AuditError::io(Some(path), source),
            other => other,
        })?;
    }
    Ok(verifier.finish())
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
    #[cfg(feature = "signing")]
    signed: Option<SignedCheck>,
    report: VerifyReport,
    /// The line within the current file.
    line_number: u64,
    /// The current file, named in broken links when there are several.
    file: Option<PathBuf>,
    several_files: bool,
    /// The current file is a rotated file given first: its first line may continue a chain
    /// begun in files not given.
    may_start_mid_chain: bool,
    /// The file before the current one, when its name says which file should follow it.
    expected_successor: Option<String>,
}

impl Verifier {
    fn new(options: &VerifyOptions, several_files: bool) -> Self {
        Verifier {
            anchor: options.head,
            #[cfg(feature = "signing")]
            signed: options.public_key.map(SignedCheck::new),
            report: VerifyReport {
                entries: 0,
                head: None,
                broken: None,
                repairs: Vec::new(),
                files: Vec::new(),
                first_seq: None,
                signing: None,
            },
            line_number: 0,
            file: None,
            several_files,
            may_start_mid_chain: false,
            expected_successor: None,
        }
    }

    fn start_file(&mut self, path: &Path, previous: Option<&Path>) {
        self.line_number = 0;
        self.file = Some(path.to_path_buf());
        self.report.files.push(path.to_path_buf());
        self.may_start_mid_chain = previous.is_none() && rotation::is_rotated_member(path);
        // Only a file that should have come between the two can be missing.
        self.expected_successor = previous
            .and_then(rotation::successor)
            .filter(|name| path.file_name().is_none_or(|own| own != name.as_str()));
    }

    fn read(&mut self, reader: impl Read) -> Result<(), AuditError> {
        let mut reader = BufReader::with_capacity(256 * 1024, reader);
        let mut line = Vec::new();
        while self.report.broken.is_none() {
            let Some(read) =
                read_line(&mut reader, &mut line).map_err(|e| AuditError::io(None, e))?
            else {
                break;
            };
            self.line(&line, read);
        }
        Ok(())
    }

    fn last(&self) -> Head {
        self.report.head.unwrap_or(Head::EMPTY)
    }

    fn break_at(&mut self, problem: Problem) {
        self.report.broken = Some(BrokenLink {
            line: self.line_number,
            file: self.file.clone().filter(|_| self.several_files),
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
        let first_of_all = self.report.head.is_none();
        if first_of_all && self.may_start_mid_chain && parsed.seq > 1 {
            // A rotated file given first: it continues files that were not given.
        } else if let Some(problem) = self.link_problem(&parsed) {
            return self.break_at(problem);
        }
        if let Some(anchor) = self.anchor
            && anchor.seq == parsed.seq
            && anchor.hash != parsed.hash
        {
            return self.break_at(Problem::AnchorMismatch { anchor });
        }
        #[cfg(feature = "signing")]
        if let Some(signed) = self.signed.as_mut() {
            let before = self.report.head.unwrap_or(Head::EMPTY);
            let from_genesis = self.report.first_seq.unwrap_or(parsed.seq) == 1;
            if let Err(problem) = signed.line(&parsed, before, from_genesis) {
                return self.break_at(problem);
            }
        }
        if first_of_all {
            self.report.first_seq = Some(parsed.seq);
        }
        self.report.entries += 1;
        self.report.head = Some(Head {
            seq: parsed.seq,
            hash: parsed.hash,
        });
        if parsed.entry.action() == REPAIR_ACTION {
            self.report.repairs.push(parsed.seq);
        }
    }

    /// Why `parsed` does not follow the last verified line, if it does not.
    fn link_problem(&self, parsed: &ParsedLine) -> Option<Problem> {
        let last = self.last();
        if parsed.prev != last.hash {
            if self.line_number == 1
                && let Some(name) = self.expected_successor.clone()
            {
                // A file that does not continue the rotated file before it: the one that
                // should have come between them is missing.
                return Some(Problem::MissingFile { name });
            }
            return Some(Problem::Unlinked {
                expected: last.hash,
                found: parsed.prev,
            });
        }
        let expected = last.seq.saturating_add(1);
        (parsed.seq != expected).then_some(Problem::Sequence {
            expected,
            found: parsed.seq,
        })
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
        #[cfg(feature = "signing")]
        if let Some(signed) = self.signed.take() {
            if self.report.broken.is_none()
                && let Some(problem) = signed.finish(self.report.entries)
            {
                self.line_number += 1;
                self.break_at(problem);
            }
            self.report.signing = Some(signed.summary());
        }
        self.report
    }
}

/// The signed-checkpoint half of a verification.
#[cfg(feature = "signing")]
struct SignedCheck {
    key: VerifyingKey,
    key_id: String,
    latest: Option<CheckpointRef>,
    signed_head: Option<Head>,
    checkpoints: u64,
    /// Lines since the latest checkpoint (all of them: unsigned).
    unsigned: u64,
    /// Of those, the ones that count against the cadence (not repairs).
    since: u64,
}

#[cfg(feature = "signing")]
impl SignedCheck {
    fn new(key: VerifyingKey) -> Self {
        SignedCheck {
            key_id: key.key_id(),
            key,
            latest: None,
            signed_head: None,
            checkpoints: 0,
            unsigned: 0,
            since: 0,
        }
    }

    /// Checks one line that the chain accepts; `before` is the line before it and
    /// `from_genesis` whether the verification saw the chain from its start.
    fn line(
        &mut self,
        parsed: &ParsedLine,
        before: Head,
        from_genesis: bool,
    ) -> Result<(), Problem> {
        if parsed.entry.action() != CHECKPOINT_ACTION {
            self.unsigned += 1;
            if parsed.entry.action() != REPAIR_ACTION {
                self.since += 1;
            }
            return Ok(());
        }
        let checkpoint = Checkpoint::from_entry(&parsed.entry)
            .map_err(|reason| Problem::BadCheckpoint { reason })?;
        self.check_cadence()?;
        if checkpoint.covers != before {
            return Err(Problem::CheckpointMismatch {
                signed: checkpoint.covers,
                found: before,
            });
        }
        if !checkpoint.verify(&self.key) {
            return Err(Problem::BadSignature {
                key_id: self.key_id.clone(),
                signed_by: checkpoint.key_id.clone(),
            });
        }
        let linked = match self.latest {
            Some(latest) => {
                checkpoint.log == latest.log && checkpoint.prev_signature == Some(latest.signature)
            }
            // Seen from the start of the chain, the first checkpoint names none before it.
            None => !from_genesis || checkpoint.prev_signature.is_none(),
        };
        if !linked {
            return Err(Problem::CheckpointUnlinked {
                previous: self.latest.map(|l| l.seq),
            });
        }
        self.latest = Some(checkpoint.at(parsed.seq));
        self.signed_head = Some(checkpoint.covers);
        self.checkpoints += 1;
        self.unsigned = 0;
        self.since = 0;
        Ok(())
    }

    /// More lines since the latest checkpoint than its cadence allows: checkpoints were
    /// removed.
    fn check_cadence(&self) -> Result<(), Problem> {
        match self.latest {
            Some(latest) if self.since > latest.every => Err(Problem::MissingCheckpoint {
                after: latest.seq,
                every: latest.every,
                lines: self.since,
            }),
            _ => Ok(()),
        }
    }

    fn finish(&self, entries: u64) -> Option<Problem> {
        if entries > 0 && self.latest.is_none() {
            return Some(Problem::NoCheckpoint);
        }
        self.check_cadence().err()
    }

    fn summary(&self) -> Signing {
        Signing {
            key_id: self.key_id.clone(),
            checkpoints: self.checkpoints,
            signed_head: self.signed_head,
            unsigned: self.unsigned,
        }
    }
}

/// What the signed checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signing {
    key_id: String,
    checkpoints: u64,
    signed_head: Option<Head>,
    unsigned: u64,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    entries: u64,
    head: Option<Head>,
    broken: Option<BrokenLink>,
    repairs: Vec<u64>,
    files: Vec<PathBuf>,
    first_seq: Option<u64>,
    signing: Option<Signing>,
}

impl VerifyReport {
    /// True when every line verified (and the kept head, if given, was found; and, when
    /// verified with a public key, every checkpoint).
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

    /// The `seq` of each `clay.audit.repair` entry among the verified lines (in a log that
    /// starts at `seq` 1, its line number): where a writer found a torn line after a crash
    /// and repaired it.
    pub fn repairs(&self) -> &[u64] {
        &self.repairs
    }

    /// The files read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The `seq` of the first line (1, unless a rotated file given first continues earlier
    /// ones).
    pub fn first_seq(&self) -> Option<u64> {
        self.first_seq
    }

    /// True when the checkpoints were checked with a public key ([`verify_signed`]).
    pub fn is_signed_check(&self) -> bool {
        self.signing.is_some()
    }

    /// The id of the public key the checkpoints were checked with.
    pub fn key_id(&self) -> Option<&str> {
        self.signing.as_ref().map(|s| s.key_id.as_str())
    }

    /// The number of checkpoints whose signature verified.
    pub fn checkpoints(&self) -> u64 {
        self.signing.as_ref().map_or(0, |s| s.checkpoints)
    }

    /// The line the last valid checkpoint signs: everything up to it is proven by the key.
    pub fn signed_head(&self) -> Option<Head> {
        self.signing.as_ref().and_then(|s| s.signed_head)
    }

    /// The lines after the last valid checkpoint: checked by the chain, not yet signed (the
    /// next checkpoint will sign them; after a crash, the next writer's). 0 without a key.
    pub fn unsigned_entries(&self) -> u64 {
        self.signing.as_ref().map_or(0, |s| s.unsigned)
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
        if self.files.len() > 1 {
            write!(f, " in {} files", self.files.len())?;
        }
        if let Some(head) = self.head {
            write!(f, ", head {head}")?;
        }
        if !self.repairs.is_empty() {
            write!(f, ", {} torn tail(s) repaired", self.repairs.len())?;
        }
        if let Some(signing) = &self.signing {
            write!(
                f,
                "; {} checkpoint(s) signed by key {}",
                signing.checkpoints, signing.key_id
            )?;
            if let Some(signed) = signing.signed_head {
                write!(f, ", the last signing seq {}", signed.seq)?;
            }
            if signing.unsigned > 0 {
                write!(f, "; {} entries after it not signed yet", signing.unsigned)?;
            }
        }
        Ok(())
    }
}

/// The first line that does not chain to the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    line: u64,
    file: Option<PathBuf>,
    problem: Problem,
}

impl BrokenLink {
    /// The 1-based line number (within its file).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The file it is in, when the verification read several.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(
                f,
                "line {} of {}: {}",
                self.line,
                file.display(),
                self.problem
            ),
            None => write!(f, "line {}: {}", self.line, self.problem),
        }
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
    /// A rotated file of the log is missing: the file here does not continue the one before.
    MissingFile {
        /// The missing file's name (`audit.log.3`).
        name: String,
    },
    /// A checkpoint line whose metadata is not a checkpoint's.
    BadCheckpoint {
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint signs another line than the one before it: lines before it were
    /// changed, removed, inserted or reordered after it was signed (and the hashes
    /// recomputed, or the chain would have broken first).
    CheckpointMismatch {
        /// The `seq` and `hash` the checkpoint signs.
        signed: Head,
        /// The line before it.
        found: Head,
    },
    /// The checkpoint's signature does not verify with the public key: it was forged or
    /// altered, or the log was signed with another key.
    BadSignature {
        /// The id of the public key given.
        key_id: String,
        /// The key id the checkpoint names.
        signed_by: String,
    },
    /// The checkpoint does not name the checkpoint before it (or names one where the log
    /// has none): a checkpoint was removed, or copied from another log.
    CheckpointUnlinked {
        /// The `seq` of the checkpoint before it, if any.
        previous: Option<u64>,
    },
    /// More lines follow a checkpoint than its cadence allows before the next one: the
    /// checkpoints that should be there were removed (or a writer without the key wrote).
    MissingCheckpoint {
        /// The `seq` of the last checkpoint.
        after: u64,
        /// Its cadence: at most this many lines before the next.
        every: u64,
        /// How many lines follow it without one.
        lines: u64,
    },
    /// Verified with a public key, the log has no checkpoint at all: nothing in it is signed
    /// (signing was off, or every checkpoint was removed).
    NoCheckpoint,
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
            Problem::MissingFile { name } => write!(
                f,
                "`{name}` is missing: this file does not continue the one before it"
            ),
            Problem::BadCheckpoint { reason } => write!(f, "not a valid checkpoint: {reason}"),
            Problem::CheckpointMismatch { signed, found } => write!(
                f,
                "the checkpoint signs seq {} with hash {}, but the line before it is seq {} with hash {} (lines before it were changed, removed, inserted or reordered after it was signed)",
                signed.seq, signed.hash, found.seq, found.hash
            ),
            Problem::BadSignature { key_id, signed_by } => {
                write!(f, "the checkpoint's signature does not verify with public key {key_id}")?;
                if signed_by != key_id {
                    write!(f, " (it names key {signed_by})")?;
                }
                f.write_str(": it was forged or altered, or the log is signed with another key")
            }
            Problem::CheckpointUnlinked { previous: Some(seq) } => write!(
                f,
                "the checkpoint does not name the checkpoint at seq {seq} before it (a checkpoint was removed, or copied from another log)"
            ),
            Problem::CheckpointUnlinked { previous: None } => f.write_str(
                "the checkpoint names a checkpoint before it, but the log has none (a checkpoint was removed)",
            ),
            Problem::MissingCheckpoint { after, every, lines } => write!(
                f,
                "{lines} lines follow the checkpoint at seq {after} without another, though one is written every {every} (checkpoints were removed)"
            ),
            Problem::NoCheckpoint => f.write_str(
                "the log has no signed checkpoint: nothing in it is proven by the key (signing was off, or every checkpoint was removed)",
            ),
        }
    }
}
