//! Git history, streamed: one `git log -p --all --unified=0` process, read line by line.
//!
//! Only added lines are scanned: a secret enters history in the commit that adds it, and the
//! commit that deletes it (or the file) is where it was still visible, not where it leaked.
//! Merge commits show no diff (their content comes from their parents, which are scanned).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use indicatif::{ProgressBar, ProgressStyle};

use super::{Scanner, SecretFinding};
use crate::Error;
use crate::util::Streamed;

/// Marks a commit header in the stream: a diff line never starts with this byte.
const COMMIT_MARK: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between commits or in a commit's header.
    Outside,
    /// After `diff --git`, before the first `@@`.
    FileHeader,
    /// In a hunk of the current file.
    Hunk,
}

pub(super) fn scan(
    scanner: &Scanner,
    repo: &Path,
    progress: bool,
) -> Result<Vec<SecretFinding>, Error> {
    let bar = if progress {
        let total = count_commits(repo);
        let bar = ProgressBar::new(total.unwrap_or(0));
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} scanning history {bar:30} {pos}/{len} commits ({elapsed})",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut command = git(repo);
    command.args([
        "log",
        "-p",
        "--all",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        // Merges as dense combined diffs: what a merge itself added (a conflict resolved with
        // a key pasted in) is scanned; what it only brought from a branch was scanned there.
        "--cc",
        "--format=%x01%H",
    ]);
    let mut child = Streamed::spawn(&mut command, "`git log`")?;
    let findings = parse(
        scanner,
        BufReader::with_capacity(1 << 20, &mut child.stdout),
        &bar,
    );
    let (status, stderr) = child.wait("`git log`")?;
    bar.finish_and_clear();
    let findings = findings.map_err(|e| Error::io("reading `git log`", e))?;
    if !status.success() {
        let reason = stderr.trim();
        return Err(Error::Usage(
            if reason.contains("does not have any commits") {
                format!("{}: the repository has no commits yet", repo.display())
            } else {
                format!(
                    "`git log` failed in {} (is it a git repository?): {reason}",
                    repo.display()
                )
            },
        ));
    }
    Ok(findings)
}

/// `git -C repo` with settings that make the output parseable whatever the user's config says.
pub(crate) fn git(repo: &Path) -> Command {
    let mut command = crate::util::git(repo);
    command.args([
        "-c",
        "diff.noprefix=false",
        "-c",
        "log.showsignature=false",
        "-c",
        "diff.mnemonicprefix=false",
    ]);
    command
}

fn count_commits(repo: &Path) -> Option<u64> {
    let output = git(repo)
        .args(["rev-list", "--all", "--count"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// Reads a `git log -p --unified=0 --format=%x01%H` stream.
fn parse(
    scanner: &Scanner,
    mut reader: impl BufRead,
    bar: &ProgressBar,
) -> std::io::Result<Vec<SecretFinding>> {
    let mut findings = Vec::new();
    let mut line = Vec::with_capacity(4096);
    let mut state = State::Outside;
    let mut commit = String::new();
    let mut file: Option<String> = None;
    let mut next_line: u64 = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.first() == Some(&COMMIT_MARK) {
            commit = String::from_utf8_lossy(&text[1..]).trim().to_owned();
            state = State::Outside;
            file = None;
            bar.inc(1);
            continue;
        }
        if text.starts_with(b"diff --git ") || text.starts_with(b"diff --cc ") {
            state = State::FileHeader;
            file = None;
            continue;
        }
        match state {
            State::Outside => {}
            State::FileHeader => {
                if let Some(path) = text.strip_prefix(b"+++ ") {
                    file = new_path(path);
                } else if text.starts_with(b"@@") {
                    next_line = hunk_start(text);
                    state = State::Hunk;
                }
            }
            State::Hunk => match text.first() {
                Some(b'+') => {
                    if let Some(path) = &file {
                        scanner.scan_text(
                            &text[1..],
                            next_line,
                            |line, column, rule, fingerprint| {
                                findings.push(SecretFinding {
                                    file: path.clone(),
                                    line,
                                    column,
                                    commit: Some(commit.clone()),
                                    rule: scanner.rules.rules()[rule].id.clone(),
                                    fingerprint,
                                });
                            },
                        );
                    }
                    next_line += 1;
                }
                Some(b'@') => next_line = hunk_start(text),
                // Removed lines, "\ No newline at end of file", context (none with -U0).
                _ => {}
            },
        }
    }
    Ok(findings)
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

/// The first new-file line of a hunk header `@@ -a,b +c,d @@`.
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
        assert_eq!(new_path(b"b/src/a b.rs\t").as_deref(), Some("src/a b.rs"));
        assert_eq!(new_path(b"/dev/null"), None);
        assert_eq!(
            new_path(b"\"b/caf\\303\\251\\\"q\\\".txt\"").as_deref(),
            Some("caf\u{e9}\"q\".txt")
        );
    }
}
