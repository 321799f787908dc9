//! `cargo clay scan [PATH] [--history [A..B] | --history-only | --staged]`: leaked keys in the
//! working tree, the index, and git history.
//!
//! - **The working tree**: in a git work tree, every file git tracks, whatever `.gitignore`,
//!   `.ignore` or global excludes say, plus the untracked files they do not ignore; outside
//!   git, every file. Symbolic links are not followed, FIFOs and devices are skipped with a
//!   note, files of any size are streamed.
//! - **The index** (`--staged`): exactly what the next commit will hold, for pre-commit hooks.
//! - **All of history** (`--history`): every object in the repository once: every blob of
//!   every commit reachable from any ref (branches, tags, remotes, notes, every stash entry),
//!   tags that point at blobs or trees, commit and tag messages, and objects no ref reaches,
//!   reported as unreachable.
//! - **A range** (`--history A..B`): the commits of a pull request, each finding once.
//!
//! What is a secret ([`SecretRules`]): the built-in key rules always run (a scanned
//! repository's `clay-policy.toml` can add key prefixes and `[[scan.rules]]`, never remove the
//! built-ins); keys with a known prefix are found in binary content and in UTF-16 text too
//! (content with NUL bytes is also read as UTF-16); the generic `NAME_KEY=value` rule runs on
//! text only. Every secret on a line is a finding.
//!
//! A finding keeps the SHA-256 of the secret, never the secret. `.clay-scan-ignore` (one
//! fingerprint per line) and `clay:allow` **inside a comment** on the line
//! ([`allowed_by_comment`]) allow-list.

mod allow;
pub(crate) mod content;
pub(crate) mod history;
mod objects;
mod rules;
mod staged;
pub(crate) mod tree;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub use allow::{ALLOW_FILE, AllowList, INLINE_ALLOW, allowed_by_comment};
pub use rules::{
    HIGH_ENTROPY_ASSIGNMENT, Hit, LIVE_KEY, MAX_POLICY_RULES, MAX_RULE_PATTERN_LEN, SecretRule,
    SecretRules, TEST_KEY, WEBHOOK_SECRET,
};

use crate::report::{Finding, Format, Level, Report, sha256_hex};
use crate::{Error, Outcome, util};
use content::Piece;

/// Arguments of `cargo clay scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The directory to scan; the current directory by default.
    pub path: Option<PathBuf>,
    /// Also scan git history: alone, every object of the repository (all refs, every stash
    /// entry, unreachable objects); with a range `A..B`, only the commits of that range.
    #[arg(long, value_name = "RANGE", num_args = 0..=1, default_missing_value = "")]
    pub history: Option<String>,
    /// Only git history (all of it), not the working tree.
    #[arg(long, conflicts_with = "history")]
    pub history_only: bool,
    /// Only the index: what the next commit will hold (for pre-commit hooks).
    #[arg(long, conflicts_with_all = ["history", "history_only"])]
    pub staged: bool,
    /// A policy whose key prefixes and `[[scan.rules]]` to add; default: `clay-policy.toml` at
    /// PATH if present. The built-in rules always run.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Threads; default: one per CPU.
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// Print each rule's id and regex (tab-separated) and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Where a secret was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A file of the working tree.
    Tree,
    /// A file in the index (`--staged`).
    Staged,
    /// A file in a commit reachable from a ref or a stash entry.
    History,
    /// The message of a commit reachable from a ref or a stash entry.
    CommitMessage,
    /// The message of an annotated tag.
    TagMessage,
    /// An object (`blob`, `commit` or `tag`) that no ref or stash entry reaches.
    Unreachable(&'static str),
}

impl Origin {
    /// `tree`, `staged`, `history`, `commit_message`, `tag_message` or `unreachable`: the
    /// `origin` of a JSON finding.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Tree => "tree",
            Origin::Staged => "staged",
            Origin::History => "history",
            Origin::CommitMessage => "commit_message",
            Origin::TagMessage => "tag_message",
            Origin::Unreachable(_) => "unreachable",
        }
    }
}

/// A secret found in some content: where in it, by which rule, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes (of the decoded text, for UTF-16).
    pub column: u64,
    /// Index into [`SecretRules::rules`].
    pub rule: usize,
    /// SHA-256 of the secret, lowercase hex.
    pub fingerprint: String,
}

/// One secret found: where, by which rule, and the secret's SHA-256 (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretFinding {
    /// The file, relative to the repository root (or to the scanned directory outside git);
    /// `None` for a message or an unreachable object.
    pub file: Option<String>,
    /// 1-based line (in the file, the blob or the message).
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// The commit that added the secret, or whose message holds it.
    pub commit: Option<String>,
    /// The rule's id.
    pub rule: String,
    /// SHA-256 of the secret, lowercase hex.
    pub fingerprint: String,
    /// Where it was found.
    pub origin: Origin,
    /// The git object that holds it, for findings in git objects.
    pub object: Option<String>,
    /// For a tag message, the tag's name.
    pub tag: Option<String>,
}

impl SecretFinding {
    /// A working-tree finding of `rule` at `found`, with no file yet.
    fn new(rule: String, found: &Match) -> Self {
        SecretFinding {
            file: None,
            line: found.line,
            column: found.column,
            commit: None,
            rule,
            fingerprint: found.fingerprint.clone(),
            origin: Origin::Tree,
            object: None,
            tag: None,
        }
    }
}

/// The rules and the allow-list, ready to scan text, trees and history.
#[derive(Debug, Clone)]
pub struct Scanner {
    rules: SecretRules,
    allow: AllowList,
}

impl Scanner {
    /// A scanner with `rules` and `allow`.
    pub fn new(rules: SecretRules, allow: AllowList) -> Self {
        Scanner { rules, allow }
    }

    /// The scanner `cargo clay scan` uses for `root`: the built-in rules, plus the key
    /// prefixes and `[[scan.rules]]` of `policy` (or of `clay-policy.toml` at `root`), and the
    /// `.clay-scan-ignore` files at `root` and at its repository's root.
    pub fn for_root(root: &Path, policy: Option<&Path>) -> Result<Self, Error> {
        let policy = crate::policy::load_policy(root, policy)?;
        let rules = SecretRules::for_policy(&policy)?;
        let mut allow = AllowList::default();
        allow.read_file(&root.join(ALLOW_FILE))?;
        if let Some(top) = util::git_toplevel(root)
            && top != root
        {
            allow.read_file(&top.join(ALLOW_FILE))?;
        }
        Ok(Scanner::new(rules, allow))
    }

    /// The rules.
    pub fn rules(&self) -> &SecretRules {
        &self.rules
    }

    /// Every secret in `data` (a whole file or blob: text, UTF-16 or binary) that is not
    /// allow-listed.
    ///
    /// ```
    /// use cargo_clay::scan::{AllowList, Scanner, SecretRules};
    ///
    /// let scanner = Scanner::new(SecretRules::new(clay_policy::Policy::builtin().keys())?, AllowList::default());
    /// let key = ["sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"].concat();
    /// let utf16: Vec<u8> = format!("k = {key}\n").encode_utf16().flat_map(u16::to_le_bytes).collect();
    /// let mut found = Vec::new();
    /// scanner.scan_bytes(&utf16, |m| found.push((m.line, m.column)));
    /// assert_eq!(found, [(1, 5)]);
    /// # Ok::<(), cargo_clay::Error>(())
    /// ```
    pub fn scan_bytes(&self, data: &[u8], mut found: impl FnMut(Match)) {
        let mut buffers = content::Buffers::default();
        content::whole(data, &mut buffers, |piece| {
            self.scan_piece(&piece, &mut found)
        });
    }

    /// Every secret in one decoded piece of content, lines counted from the piece's first.
    pub(crate) fn scan_piece(&self, piece: &Piece<'_>, found: &mut dyn FnMut(Match)) {
        let text = piece.text;
        let mut line = piece.first_line;
        let mut counted_to = 0;
        // The current line's bounds and whether a comment allows it: found once per line, so
        // many secrets on one long line cost no more than one.
        let mut current: Option<(usize, usize, bool)> = None;
        self.rules.find_all(text, piece.kind.is_binary(), |hit| {
            if hit.start >= piece.report_before {
                return;
            }
            line += memchr::memchr_iter(b'\n', &text[counted_to..hit.start]).count() as u64;
            counted_to = hit.start;
            let (line_start, _, allowed) = match current {
                Some(bounds @ (_, end, _)) if hit.start < end => bounds,
                _ => {
                    let start = memchr::memrchr(b'\n', &text[..hit.start]).map_or(0, |i| i + 1);
                    let end =
                        memchr::memchr(b'\n', &text[hit.end..]).map_or(text.len(), |i| hit.end + i);
                    let bounds = (start, end, allowed_by_comment(&text[start..end]));
                    current = Some(bounds);
                    bounds
                }
            };
            if allowed {
                return;
            }
            let fingerprint = sha256_hex(&text[hit.start..hit.end]);
            if self.allow.contains(&fingerprint) {
                return;
            }
            found(Match {
                line,
                column: (hit.start - line_start + 1) as u64,
                rule: hit.rule,
                fingerprint,
            });
        });
    }

    /// Scans the working tree under `root` on `threads` threads. Paths in findings are
    /// `prefix` followed by the path relative to `root`. Returns the findings and notes about
    /// files left out (not regular files, unreadable).
    pub fn scan_tree(
        &self,
        root: &Path,
        prefix: &str,
        threads: usize,
    ) -> Result<(Vec<SecretFinding>, Vec<String>), Error> {
        let (files, mut notes) = tree::list_files(root)?;
        let (found, read_notes) = tree::scan_files(self, root, &files, threads)?;
        notes.extend(read_notes);
        let mut findings: Vec<SecretFinding> = found
            .into_iter()
            .map(|(index, found)| SecretFinding {
                file: Some(format!("{prefix}{}", util::slash_path(&files[index]))),
                ..SecretFinding::new(self.rules.rules()[found.rule].id.clone(), &found)
            })
            .collect();
        findings.sort();
        Ok((findings, notes))
    }

    /// Scans every object of the repository at `repo`: each blob whole, commit and tag
    /// messages, unreachable objects reported as such.
    pub fn scan_history(
        &self,
        repo: &Path,
        threads: usize,
        progress: bool,
    ) -> Result<Vec<SecretFinding>, Error> {
        history::scan_all(self, repo, threads, progress)
    }

    /// Scans the commits of `range` (`A..B`) of the repository at `repo`.
    pub fn scan_range(
        &self,
        repo: &Path,
        range: &str,
        threads: usize,
    ) -> Result<Vec<SecretFinding>, Error> {
        history::scan_range(self, repo, range, threads)
    }

    /// Scans the index of the work tree at `root` (what the next commit will hold).
    pub fn scan_staged(
        &self,
        root: &Path,
        prefix: &str,
        threads: usize,
    ) -> Result<Vec<SecretFinding>, Error> {
        staged::scan(self, root, prefix, threads)
    }
}

/// The rules of a scan report, for SARIF.
pub fn rule_infos(rules: &SecretRules) -> Vec<crate::report::RuleInfo> {
    rules.rules().iter().map(|r| r.info.clone()).collect()
}

/// A secret finding as a report finding: the rule, where, and what to do. Never the secret.
pub fn to_finding(secret: &SecretFinding) -> Finding {
    let what = match secret.rule.as_str() {
        LIVE_KEY => "a live API key",
        TEST_KEY => "a test API key",
        WEBHOOK_SECRET => "a webhook signing secret",
        HIGH_ENTROPY_ASSIGNMENT => "a high-entropy value assigned to a key/secret/token name",
        _ => "a secret",
    };
    let short = |id: &str| id[..id.len().min(12)].to_owned();
    let fingerprint = short(&secret.fingerprint);
    let object = secret.object.as_deref().map(short).unwrap_or_default();
    let message = match (secret.origin, &secret.commit) {
        (Origin::Tree, _) => format!(
            "{what} (sha256 {fingerprint}…) is in this file: rotate it and load it from an \
             environment variable"
        ),
        (Origin::Staged, _) => format!(
            "{what} (sha256 {fingerprint}…) is staged for the next commit: remove it from the \
             file, stage the file again, and load the value from an environment variable \
             (rotate it if it was ever pushed or shared)"
        ),
        (Origin::History, Some(commit)) => format!(
            "{what} (sha256 {fingerprint}…) was committed in {}: it stays in git history, so \
             rotate it immediately (deleting the line does not un-leak it)",
            short(commit)
        ),
        (Origin::History, None) => format!(
            "{what} (sha256 {fingerprint}…) is in git history (object {object}, reachable from \
             a tag): rotate it immediately"
        ),
        (Origin::CommitMessage, commit) => format!(
            "{what} (sha256 {fingerprint}…) is in the message of commit {}: it stays in git \
             history, so rotate it immediately",
            commit.as_deref().map(short).unwrap_or_default()
        ),
        (Origin::TagMessage, _) => format!(
            "{what} (sha256 {fingerprint}…) is in the message of the annotated tag `{}` (object \
             {object}): rotate it immediately",
            secret.tag.as_deref().unwrap_or_default()
        ),
        (Origin::Unreachable(kind), _) => format!(
            "{what} (sha256 {fingerprint}…) is in an unreachable {kind} {object} (no branch, \
             tag or stash reaches it: an amended or rebased-away commit, a dropped stash, a \
             file staged and never committed), yet it is in the repository and in every copy \
             of it: rotate it, then remove it with `git reflog expire --expire-unreachable=now \
             --all && git gc --prune=now`"
        ),
    };
    let mut finding = Finding::new(&secret.rule, Level::Error, message);
    finding.file = secret.file.clone();
    finding.line = Some(secret.line);
    finding.column = Some(secret.column);
    finding.commit = secret.commit.clone();
    finding.fingerprint = Some(secret.fingerprint.clone());
    finding.origin = Some(secret.origin.as_str().to_owned());
    finding.object = secret.object.clone();
    finding
}

/// What `cargo clay scan` found, without printing it, and notes about what was left out.
pub fn scan(args: &Args) -> Result<(Report, Vec<String>), Error> {
    let mut args = args.clone();
    // `scan --history DIR`: a directory, not a range.
    if let Some(value) = &args.history
        && args.path.is_none()
        && !value.is_empty()
        && !value.contains("..")
        && Path::new(value).is_dir()
    {
        args.path = Some(PathBuf::from(value));
        args.history = Some(String::new());
    }
    let root = util::dir_arg(args.path.as_deref())?;
    let scanner = Scanner::for_root(&root, args.policy.as_deref())?;
    let prefix = util::git_prefix(&root);
    let threads = args.threads.unwrap_or_else(util::default_threads).max(1);
    let mut notes = Vec::new();
    let mut findings = Vec::new();
    if args.staged {
        findings.extend(scanner.scan_staged(&root, &prefix, threads)?);
    } else {
        if !args.history_only {
            let (tree, tree_notes) = scanner.scan_tree(&root, &prefix, threads)?;
            findings.extend(tree);
            notes.extend(tree_notes);
        }
        match args.history.as_deref() {
            Some(range) if !range.is_empty() => {
                findings.extend(scanner.scan_range(&root, range, threads)?);
            }
            Some(_) => {
                let progress = std::io::stderr().is_terminal();
                findings.extend(scanner.scan_history(&root, threads, progress)?);
            }
            None if args.history_only => {
                let progress = std::io::stderr().is_terminal();
                findings.extend(scanner.scan_history(&root, threads, progress)?);
            }
            None => {}
        }
    }
    let mut report = Report::new("scan", rule_infos(scanner.rules()));
    report.fallback_file = ".gitignore".to_owned();
    report.findings = findings.iter().map(to_finding).collect();
    Ok((report, notes))
}

/// Runs `cargo clay scan`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    if args.list_rules {
        let root = util::dir_arg(args.path.as_deref())?;
        let scanner = Scanner::for_root(&root, args.policy.as_deref())?;
        for rule in scanner.rules().rules() {
            writeln!(out, "{}\t{}", rule.id, rule.pattern)?;
        }
        return Ok(Outcome::Clean);
    }
    let (report, notes) = scan(args)?;
    for note in &notes {
        eprintln!("note: {}", crate::report::escape_text(note));
    }
    report.write(args.format, out)?;
    Ok(Outcome::from_found(report.has_findings()))
}
