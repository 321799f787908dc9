//! Git history.
//!
//! **All of it** (`--history`): every object in the repository is read once, in pack order,
//! from one `git cat-file --batch-all-objects` stream and scanned on every core: each blob
//! whole, however many commits share it (binary attributes and NUL bytes change nothing), and
//! the message of every commit and annotated tag. Meanwhile `git rev-list --objects --all`
//! (plus every stash entry, from the stash's reflog) lists what is reachable, so a secret in an
//! object no ref reaches (an amended or rebased-away commit, a dropped stash, a deleted tag, a
//! file staged and never committed) is reported as unreachable. Only the few blobs that hold a
//! secret are then traced to the oldest commit that added them (`git log --raw`, limited to
//! their paths). A secret that stays in a file across many commits is one finding.
//!
//! **A range** (`--history A..B`, a pull request): the commits of the range only, from
//! `git log -p --text A..B` (what each commit added, merges as dense combined diffs), and their
//! messages; each secret once per file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::content::{self, Piece};
use super::objects::{self, Object, ObjectKind, Source};
use super::{Match, Origin, Scanner, SecretFinding};
use crate::Error;
use crate::report::escape_text;
use crate::util::{self, Streamed};

/// `git -C repo` with settings that make the output parseable whatever the user's config says.
pub(crate) fn git(repo: &Path) -> Command {
    let mut command = util::git(repo);
    command.args([
        "-c",
        "diff.noprefix=false",
        "-c",
        "log.showsignature=false",
        "-c",
        "diff.mnemonicprefix=false",
        "-c",
        "diff.external=",
    ]);
    command
}

/// An error unless `repo` is in a git repository (a work tree or a bare one).
fn ensure_repository(repo: &Path) -> Result<(), Error> {
    if util::git_output(repo, &["rev-parse", "--git-dir"]).is_none() {
        return Err(Error::Usage(format!(
            "{}: not a git repository (git history needs one)",
            escape_text(&repo.display().to_string())
        )));
    }
    Ok(())
}

/// Every stash entry, newest first (`refs/stash` only names the newest; the others live in
/// its reflog).
pub(crate) fn stash_entries(repo: &Path) -> Vec<String> {
    if util::git_output(repo, &["rev-parse", "--verify", "--quiet", "refs/stash"]).is_none() {
        return Vec::new();
    }
    util::git_output(
        repo,
        &["log", "--walk-reflogs", "--format=%H", "refs/stash", "--"],
    )
    .map(|out| out.lines().map(str::to_owned).collect())
    .unwrap_or_default()
}

/// The directory git commands that take repository-relative paths run in: the work tree's
/// root, or the repository itself when it is bare.
fn top_of(repo: &Path) -> PathBuf {
    util::git_toplevel(repo).unwrap_or_else(|| repo.to_path_buf())
}

/// Scans every object of the repository at `repo`.
pub(super) fn scan_all(
    scanner: &Scanner,
    repo: &Path,
    threads: usize,
    progress: bool,
) -> Result<Vec<SecretFinding>, Error> {
    ensure_repository(repo)?;
    let top = top_of(repo);
    let stash = stash_entries(repo);
    let found = std::thread::scope(|scope| -> Result<_, Error> {
        let reachable = scope.spawn(|| reachable_objects(&top, &stash));
        let found = objects::scan(scanner, repo, &Source::All, threads, progress)?;
        let reachable = reachable
            .join()
            .map_err(|_| Error::Io("listing reachable objects failed".to_owned()))??;
        Ok((found, reachable))
    });
    let (found, reachable) = found?;

    // Which commit added each reachable blob that holds a secret.
    let blobs: HashSet<&str> = found
        .iter()
        .filter(|(object, _)| {
            object.kind == ObjectKind::Blob && reachable.contains_key(object.oid.as_str())
        })
        .map(|(object, _)| object.oid.as_str())
        .collect();
    // One pass over every commit's changes, and only when a reachable blob holds a secret.
    // (Limiting it to those blobs' paths looks cheaper but is not: with a hundred paths git's
    // pathspec matching makes the walk twenty times slower than the whole history.)
    let added = if blobs.is_empty() {
        HashMap::new()
    } else {
        added_by(&top, &stash, &blobs)?
    };

    let mut best: BTreeMap<FindingKey, (i64, SecretFinding)> = BTreeMap::new();
    for (object, found) in found {
        let rule = scanner.rules().rules()[found.rule].id.clone();
        let is_reachable = reachable.contains_key(object.oid.as_str());
        let (finding, age) = match (object.kind, is_reachable) {
            (ObjectKind::Blob, true) => {
                let (commit, file, age) = match added.get(&object.oid) {
                    Some(added) => (
                        Some(added.commit.clone()),
                        Some(added.path.clone()),
                        added.age,
                    ),
                    None => {
                        let path = reachable.get(object.oid.as_str()).filter(|p| !p.is_empty());
                        (
                            None,
                            path.map(|p| String::from_utf8_lossy(p).into_owned()),
                            -1,
                        )
                    }
                };
                let finding = SecretFinding {
                    file,
                    commit,
                    origin: Origin::History,
                    object: Some(object.oid.clone()),
                    ..SecretFinding::new(rule, &found)
                };
                (finding, age)
            }
            (ObjectKind::Commit, true) => (
                SecretFinding {
                    commit: Some(object.oid.clone()),
                    origin: Origin::CommitMessage,
                    ..SecretFinding::new(rule, &found)
                },
                // The oldest commit first.
                -object.time,
            ),
            (ObjectKind::Tag, true) => (
                SecretFinding {
                    tag: object.tag.clone(),
                    origin: Origin::TagMessage,
                    object: Some(object.oid.clone()),
                    ..SecretFinding::new(rule, &found)
                },
                0,
            ),
            (kind, false) => (
                SecretFinding {
                    origin: Origin::Unreachable(kind.as_str()),
                    object: Some(object.oid.clone()),
                    ..SecretFinding::new(rule, &found)
                },
                0,
            ),
        };
        let file = match finding.origin {
            Origin::History => finding.file.clone(),
            _ => None,
        };
        let key = (
            finding.rule.clone(),
            finding.fingerprint.clone(),
            file,
            finding.origin,
        );
        match best.get(&key) {
            Some((best_age, best_finding))
                if (*best_age, std::cmp::Reverse(best_finding))
                    >= (age, std::cmp::Reverse(&finding)) => {}
            _ => {
                best.insert(key, (age, finding));
            }
        }
    }
    let mut findings: Vec<SecretFinding> = best.into_values().map(|(_, f)| f).collect();
    findings.sort();
    Ok(findings)
}

/// What makes two findings one: the rule, the secret, the file (for history) and the origin.
type FindingKey = (String, String, Option<String>, Origin);

/// Every object reachable from a ref or a stash entry, each with the path rev-list names it by
/// (empty for commits and tags).
fn reachable_objects(top: &Path, stash: &[String]) -> Result<HashMap<String, Vec<u8>>, Error> {
    let mut command = git(top);
    command.args(["rev-list", "--objects", "--all"]);
    command.args(stash);
    let mut child = Streamed::spawn(&mut command, "`git rev-list`")?;
    let mut reachable = HashMap::new();
    let mut reader = BufReader::with_capacity(1 << 20, &mut child.stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("reading `git rev-list`", e))?;
        if read == 0 {
            break;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let (oid, path) = match memchr::memchr(b' ', line) {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &b""[..]),
        };
        if oid.len() >= 40 && oid.iter().all(u8::is_ascii_hexdigit) {
            reachable.insert(String::from_utf8_lossy(oid).into_owned(), path.to_vec());
        }
    }
    drop(reader);
    let (status, stderr) = child.wait("`git rev-list`")?;
    if !status.success() {
        // A repository without any commit has nothing reachable.
        if stderr.contains("bad revision") || stderr.trim().is_empty() {
            return Ok(reachable);
        }
        return Err(Error::Io(format!(
            "`git rev-list` failed: {}",
            escape_text(stderr.trim())
        )));
    }
    Ok(reachable)
}

/// Where a blob first came in.
#[derive(Debug, Clone)]
struct Added {
    commit: String,
    path: String,
    /// How far back: larger is older.
    age: i64,
}

/// For each of `blobs`, the oldest commit (on any ref or stash entry) that added it, and the
/// path it was added at.
fn added_by(
    top: &Path,
    stash: &[String],
    blobs: &HashSet<&str>,
) -> Result<HashMap<String, Added>, Error> {
    let mut command = git(top);
    command.args([
        "log",
        "--all",
        "-m",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-renames",
        "--format=%x01%H",
    ]);
    command.args(stash).arg("--");
    let mut child = Streamed::spawn(&mut command, "`git log`")?;
    let mut reader = BufReader::with_capacity(1 << 20, &mut child.stdout);
    let mut added: HashMap<String, Added> = HashMap::new();
    let mut commit = String::new();
    let mut age = 0i64;
    let mut pending_blob: Option<String> = None;
    let mut token = Vec::new();
    loop {
        token.clear();
        let read = reader
            .read_until(0, &mut token)
            .map_err(|e| Error::io("reading `git log`", e))?;
        if read == 0 {
            break;
        }
        let token = token.strip_suffix(b"\0").unwrap_or(&token);
        if let Some(blob) = pending_blob.take() {
            added.insert(
                blob,
                Added {
                    commit: commit.clone(),
                    path: String::from_utf8_lossy(token).into_owned(),
                    age,
                },
            );
            continue;
        }
        let token = token.strip_prefix(b"\n").unwrap_or(token);
        if let Some(hash) = token.strip_prefix(b"\x01") {
            commit = String::from_utf8_lossy(hash).trim().to_owned();
            age += 1;
        } else if token.first() == Some(&b':') {
            // `:old_mode new_mode old_oid new_oid status`, then the path.
            let text = String::from_utf8_lossy(token);
            if let Some(new) = text.split(' ').nth(3)
                && blobs.contains(new)
            {
                pending_blob = Some(new.to_owned());
            }
        }
    }
    drop(reader);
    let (status, stderr) = child.wait("`git log`")?;
    if !status.success() && !stderr.contains("does not have any commits") {
        return Err(Error::Io(format!(
            "`git log` failed: {}",
            escape_text(stderr.trim())
        )));
    }
    Ok(added)
}

/// Scans the commits of `range` (`A..B`, anything `git rev-list` takes as one argument).
pub(super) fn scan_range(
    scanner: &Scanner,
    repo: &Path,
    range: &str,
    threads: usize,
) -> Result<Vec<SecretFinding>, Error> {
    ensure_repository(repo)?;
    if range.starts_with('-') || range.is_empty() {
        return Err(Error::Usage(format!(
            "--history {}: not a revision range (expected A..B)",
            escape_text(range)
        )));
    }
    let top = top_of(repo);
    let commits = {
        let output = git(&top)
            .args(["rev-list", "--end-of-options", range, "--"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("could not run `git rev-list`", e))?;
        if !output.status.success() {
            return Err(Error::Usage(format!(
                "--history {}: not a revision range of this repository: {}",
                escape_text(range),
                escape_text(String::from_utf8_lossy(&output.stderr).trim())
            )));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    // Each secret once per file (a key added, removed and added again is one finding), from
    // the oldest commit that added it.
    let mut best: BTreeMap<FindingKey, SecretFinding> = BTreeMap::new();
    let mut keep = |finding: SecretFinding| {
        let key = (
            finding.rule.clone(),
            finding.fingerprint.clone(),
            finding.file.clone(),
            finding.origin,
        );
        // Newest first: a later one is older.
        best.insert(key, finding);
    };

    let mut command = git(&top);
    command.args([
        "log",
        "-p",
        "--text",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        "--cc",
        "--format=%x01%H",
        "--end-of-options",
        range,
        "--",
    ]);
    let mut child = Streamed::spawn(&mut command, "`git log`")?;
    let parsed = parse_patches(
        scanner,
        BufReader::with_capacity(1 << 20, &mut child.stdout),
        &mut keep,
    );
    let (status, stderr) = child.wait("`git log`")?;
    parsed.map_err(|e| Error::io("reading `git log`", e))?;
    if !status.success() {
        return Err(Error::Io(format!(
            "`git log` failed: {}",
            escape_text(stderr.trim())
        )));
    }

    // The messages of the range's commits.
    let found = objects::scan(scanner, repo, &Source::These(&commits), threads, false)?;
    let mut messages: Vec<(Object, Match)> = found;
    messages.sort_by_key(|(object, _)| std::cmp::Reverse(object.time));
    for (object, found) in messages {
        let rule = scanner.rules().rules()[found.rule].id.clone();
        keep(SecretFinding {
            commit: Some(object.oid.clone()),
            origin: Origin::CommitMessage,
            ..SecretFinding::new(rule, &found)
        });
    }
    let mut findings: Vec<SecretFinding> = best.into_values().collect();
    findings.sort();
    Ok(findings)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between commits or in a commit's header.
    Outside,
    /// After `diff --git`, before the first `@@`.
    FileHeader,
    /// In a hunk of the current file.
    Hunk,
}

/// The longest diff line held at once; a longer one (a binary file's) is scanned in parts.
const MAX_LINE: usize = content::CHUNK;

/// Reads a `git log -p --unified=0 --format=%x01%H` stream, scanning every added line.
fn parse_patches(
    scanner: &Scanner,
    mut reader: impl BufRead,
    keep: &mut impl FnMut(SecretFinding),
) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(4096);
    let mut state = State::Outside;
    let mut commit = String::new();
    let mut file: Option<String> = None;
    let mut next_line: u64 = 0;
    // Prefix columns of the current hunk: 1, or one per parent in a merge's combined diff.
    let mut columns = 1;
    let mut scratch = Vec::new();
    // Set while the rest of an over-long added line is being read.
    let mut continued = false;
    loop {
        line.clear();
        let complete = read_line_capped(&mut reader, &mut line, MAX_LINE)?;
        if line.is_empty() {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if continued {
            scan_added(
                scanner,
                text,
                &mut scratch,
                next_line - 1,
                &commit,
                &file,
                keep,
            );
            continued = !complete;
            continue;
        }
        if text.first() == Some(&0x01) {
            commit = String::from_utf8_lossy(&text[1..]).trim().to_owned();
            state = State::Outside;
            file = None;
        } else if text.starts_with(b"diff --git ") || text.starts_with(b"diff --cc ") {
            state = State::FileHeader;
            file = None;
        } else {
            match state {
                State::Outside => {}
                State::FileHeader => {
                    if let Some(path) = text.strip_prefix(b"+++ ") {
                        file = new_path(path);
                    } else if text.starts_with(b"@@") {
                        next_line = hunk_start(text);
                        columns = hunk_columns(text);
                        state = State::Hunk;
                    }
                }
                State::Hunk => {
                    if is_added(text, columns) {
                        scan_added(
                            scanner,
                            &text[columns..],
                            &mut scratch,
                            next_line,
                            &commit,
                            &file,
                            keep,
                        );
                        next_line += 1;
                        continued = !complete;
                    } else if text.starts_with(b"@@") {
                        next_line = hunk_start(text);
                        columns = hunk_columns(text);
                    } else if !text.starts_with(b"\\")
                        && text.get(..columns).is_some_and(|p| !p.contains(&b'-'))
                    {
                        // A line the merge kept from a parent: it counts, it was scanned there.
                        next_line += 1;
                    }
                    // Removed lines and "\ No newline at end of file" do not count.
                }
            }
        }
        // The rest of a long line that is not an added line is skipped.
        if !complete && !continued {
            skip_rest_of_line(&mut reader)?;
        }
    }
    Ok(())
}

/// A line the commit itself added: `+`, or in a merge's combined diff `+` in every column
/// (a line with ` +` came from a parent, where it was scanned).
fn is_added(text: &[u8], columns: usize) -> bool {
    text.get(..columns)
        .is_some_and(|p| p.iter().all(|b| *b == b'+'))
}

/// The prefix columns of a hunk: one fewer than the `@` that open its header.
fn hunk_columns(header: &[u8]) -> usize {
    header
        .iter()
        .take_while(|b| **b == b'@')
        .count()
        .saturating_sub(1)
        .max(1)
}

fn scan_added(
    scanner: &Scanner,
    text: &[u8],
    scratch: &mut Vec<u8>,
    line: u64,
    commit: &str,
    file: &Option<String>,
    keep: &mut impl FnMut(SecretFinding),
) {
    let Some(path) = file else { return };
    let (decoded, kind) = content::decode(text, false, scratch);
    let piece = Piece {
        text: decoded,
        kind,
        first_line: line,
        report_before: decoded.len(),
    };
    scanner.scan_piece(&piece, &mut |found| {
        let rule = scanner.rules().rules()[found.rule].id.clone();
        keep(SecretFinding {
            file: Some(path.clone()),
            commit: Some(commit.to_owned()),
            origin: Origin::History,
            ..SecretFinding::new(rule, &found)
        });
    });
}

/// Reads up to and including the next `\n`, or `cap` bytes: true when the line is complete.
fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<bool> {
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok(true);
        }
        let room = cap.saturating_sub(line.len());
        match memchr::memchr(b'\n', &available[..available.len().min(room)]) {
            Some(newline) => {
                line.extend_from_slice(&available[..=newline]);
                reader.consume(newline + 1);
                return Ok(true);
            }
            None => {
                let take = available.len().min(room);
                line.extend_from_slice(&available[..take]);
                reader.consume(take);
                if line.len() >= cap {
                    return Ok(false);
                }
            }
        }
    }
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        if read_line_capped(reader, &mut sink, MAX_LINE)? {
            return Ok(());
        }
    }
}

/// The path of `+++ b/path`; `None` for `/dev/null` (a deleted file).
fn new_path(raw: &[u8]) -> Option<String> {
    // Git ends the name with a tab when it contains a space (for patch(1)).
    let raw = raw.strip_suffix(b"\t").unwrap_or(raw);
    if raw == b"/dev/null" {
        return None;
    }
    let unquoted;
    let raw = if raw.first() == Some(&b'"') && raw.last() == Some(&b'"') && raw.len() >= 2 {
        unquoted = unquote(&raw[1..raw.len() - 1]);
        &unquoted[..]
    } else {
        raw
    };
    let path = raw.strip_prefix(b"b/").unwrap_or(raw);
    Some(String::from_utf8_lossy(path).into_owned())
}

/// Undoes git's C-style quoting of a path (`\"`, `\\`, `\t`, `\n`, octal bytes).
fn unquote(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            let next = raw[i + 1];
            match next {
                b'0'..=b'7' if i + 4 <= raw.len() => {
                    let value = raw[i + 1..i + 4].iter().try_fold(0u32, |acc, d| {
                        (b'0'..=b'7')
                            .contains(d)
                            .then(|| acc * 8 + u32::from(d - b'0'))
                    });
                    if let Some(byte) = value.and_then(|v| u8::try_from(v).ok()) {
                        out.push(byte);
                        i += 4;
                        continue;
                    }
                    out.push(next);
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'r' => out.push(b'\r'),
                b'v' => out.push(0x0b),
                other => out.push(other),
            }
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The first new-file line of a hunk header `@@ -a,b +c,d @@` (or `@@@ -a -b +c @@@`).
fn hunk_start(header: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(header);
    text.split_whitespace()
        .find_map(|part| part.strip_prefix('+'))
        .and_then(|range| range.split(',').next())
        .and_then(|start| start.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(hunk_start(b"@@ -0,0 +3,2 @@ fn main"), 3);
        assert_eq!(hunk_start(b"@@ -1 +1 @@"), 1);
        assert_eq!(hunk_start(b"@@@ -1,2 -1,2 +1,3 @@@"), 1);
        assert_eq!(new_path(b"b/src/a b.rs\t").as_deref(), Some("src/a b.rs"));
        assert_eq!(new_path(b"/dev/null"), None);
        assert_eq!(
            new_path(b"\"b/caf\\303\\251\\\"q\\\".txt\"").as_deref(),
            Some("caf\u{e9}\"q\".txt")
        );
        assert_eq!(hunk_columns(b"@@ -1 +1 @@"), 1);
        assert_eq!(hunk_columns(b"@@@ -1 -1 +1 @@@"), 2);
        assert!(is_added(b"+x", 1) && is_added(b"++x", 2));
        assert!(!is_added(b"-x", 1) && !is_added(b" +x", 2) && !is_added(b"+ x", 2));
    }

    #[test]
    fn long_lines_are_read_in_parts() -> std::io::Result<()> {
        let data = [vec![b'a'; 10], b"\nb\n".to_vec()].concat();
        let mut reader = &data[..];
        let mut line = Vec::new();
        assert!(!read_line_capped(&mut reader, &mut line, 4)?);
        assert_eq!(line, b"aaaa");
        skip_rest_of_line(&mut reader)?;
        line.clear();
        assert!(read_line_capped(&mut reader, &mut line, 4)?);
        assert_eq!(line, b"b\n");
        assert!(reader.is_empty());
        Ok(())
    }
}
