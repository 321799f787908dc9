//! `cargo clay scan [PATH] [--history]`: leaked keys in the working tree and in git history.
//!
//! The working tree is walked in parallel with the `ignore` crate (`.gitignore` respected,
//! `.git` skipped, hidden files such as `.env` included); a file with a NUL byte is binary and
//! skipped. History is streamed from one `git log -p --all` process: every added line of every
//! commit of every ref, files deleted later included, nothing checked out. Every file and line
//! goes through one compiled regex ([`SecretRules`]).
//!
//! A finding keeps the SHA-256 of the secret, never the secret. `.clay-scan-ignore` (one
//! fingerprint per line, `#` comments) and a `clay:allow` comment on the line allow-list.

mod allow;
mod history;
mod rules;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

pub use allow::{ALLOW_FILE, AllowList, INLINE_ALLOW};
pub use rules::{
    HIGH_ENTROPY_ASSIGNMENT, Hit, LIVE_KEY, SecretRule, SecretRules, TEST_KEY, WEBHOOK_SECRET,
};

use crate::report::{Finding, Format, Level, Report, sha256_hex};
use crate::{Error, Outcome, util};

/// Arguments of `cargo clay scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The directory to scan; the current directory by default.
    pub path: Option<PathBuf>,
    /// Also scan every commit of every branch and tag (deleted files included).
    #[arg(long)]
    pub history: bool,
    /// Only git history, not the working tree.
    #[arg(long, conflicts_with = "history")]
    pub history_only: bool,
    /// The policy whose key prefixes to look for; default: `clay-policy.toml` at PATH if
    /// present, else the built-in table.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Threads for the working tree walk; default: one per CPU.
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// Print each rule's id and regex (tab-separated) and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// One secret found: where, by which rule, and the secret's SHA-256 (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretFinding {
    /// The file, relative to the repository root (or to the scanned directory outside git).
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// The commit that added the line, for history findings.
    pub commit: Option<String>,
    /// The rule's id.
    pub rule: String,
    /// SHA-256 of the secret, lowercase hex.
    pub fingerprint: String,
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

    /// The scanner `cargo clay scan` uses for `root`: the policy's key prefixes (`policy`, or
    /// `clay-policy.toml` at `root`, or the built-in table) and the `.clay-scan-ignore` files
    /// at `root` and at its repository's root.
    pub fn for_root(root: &Path, policy: Option<&Path>) -> Result<Self, Error> {
        let policy = crate::policy::load_policy(root, policy)?;
        let rules = SecretRules::with_extra(policy.keys(), rules::from_policy(&policy))?;
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

    /// Every secret in `text` that is not allow-listed: `(line, column, rule index,
    /// fingerprint)`. Lines are counted from `first_line`.
    pub fn scan_text(
        &self,
        text: &[u8],
        first_line: u64,
        mut found: impl FnMut(u64, u64, usize, String),
    ) {
        let mut line = first_line;
        let mut counted_to = 0;
        self.rules.find_all(text, |hit| {
            line += memchr::memchr_iter(b'\n', &text[counted_to..hit.start]).count() as u64;
            counted_to = hit.start;
            let line_start = memchr::memrchr(b'\n', &text[..hit.start]).map_or(0, |i| i + 1);
            let line_end =
                memchr::memchr(b'\n', &text[hit.end..]).map_or(text.len(), |i| hit.end + i);
            if memchr::memmem::find(&text[line_start..line_end], INLINE_ALLOW.as_bytes()).is_some()
            {
                return;
            }
            let fingerprint = sha256_hex(&text[hit.start..hit.end]);
            if self.allow.contains(&fingerprint) {
                return;
            }
            found(
                line,
                (hit.start - line_start + 1) as u64,
                hit.rule,
                fingerprint,
            );
        });
    }

    /// Scans the working tree under `root` in parallel. Paths in findings are `prefix`
    /// followed by the path relative to `root`. Files that could not be read are returned as
    /// warnings.
    pub fn scan_tree(
        &self,
        root: &Path,
        prefix: &str,
        threads: usize,
    ) -> (Vec<SecretFinding>, Vec<String>) {
        let findings = Mutex::new(Vec::new());
        let warnings = Mutex::new(Vec::new());
        WalkBuilder::new(root)
            .hidden(false)
            .filter_entry(|entry| entry.file_name() != ".git")
            .threads(threads)
            .build_parallel()
            .run(|| {
                let mut buffer = Vec::new();
                let findings = &findings;
                let warnings = &warnings;
                Box::new(move |entry| {
                    let entry = match entry {
                        Ok(entry) => entry,
                        Err(error) => {
                            lock(warnings).push(error.to_string());
                            return WalkState::Continue;
                        }
                    };
                    if !entry.file_type().is_some_and(|t| t.is_file()) {
                        return WalkState::Continue;
                    }
                    buffer.clear();
                    let read = std::fs::File::open(entry.path())
                        .and_then(|mut file| file.read_to_end(&mut buffer));
                    if let Err(error) = read {
                        lock(warnings).push(format!("{}: {error}", entry.path().display()));
                        return WalkState::Continue;
                    }
                    // Binary: as git and ripgrep decide it, by a NUL byte.
                    if memchr::memchr(0, &buffer).is_some() {
                        return WalkState::Continue;
                    }
                    let mut local = Vec::new();
                    self.scan_text(&buffer, 1, |line, column, rule, fingerprint| {
                        local.push((line, column, rule, fingerprint));
                    });
                    if !local.is_empty() {
                        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
                        let file = format!("{prefix}{}", util::slash_path(relative));
                        let mut findings = lock(findings);
                        for (line, column, rule, fingerprint) in local {
                            findings.push(SecretFinding {
                                file: file.clone(),
                                line,
                                column,
                                commit: None,
                                rule: self.rules.rules()[rule].id.clone(),
                                fingerprint,
                            });
                        }
                    }
                    WalkState::Continue
                })
            });
        let mut findings = findings.into_inner().unwrap_or_else(|e| e.into_inner());
        findings.sort();
        let warnings = warnings.into_inner().unwrap_or_else(|e| e.into_inner());
        (findings, warnings)
    }

    /// Scans every commit reachable from any ref of the repository at `repo`.
    pub fn scan_history(&self, repo: &Path, progress: bool) -> Result<Vec<SecretFinding>, Error> {
        history::scan(self, repo, progress)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
    let short = &secret.fingerprint[..secret.fingerprint.len().min(12)];
    let message = match &secret.commit {
        Some(commit) => format!(
            "{what} (sha256 {short}…) was committed in {}: it stays in git history, so rotate it \
             immediately (deleting the line does not un-leak it)",
            &commit[..commit.len().min(12)]
        ),
        None => format!(
            "{what} (sha256 {short}…) is in this file: rotate it and load it from an environment \
             variable"
        ),
    };
    Finding {
        column: Some(secret.column),
        commit: secret.commit.clone(),
        fingerprint: Some(secret.fingerprint.clone()),
        ..Finding::new(&secret.rule, Level::Error, message).at(secret.file.clone(), secret.line)
    }
}

/// What `cargo clay scan` found, without printing it.
pub fn scan(args: &Args) -> Result<(Report, Vec<String>), Error> {
    let root = util::dir_arg(args.path.as_deref())?;
    let scanner = Scanner::for_root(&root, args.policy.as_deref())?;
    let prefix = util::git_prefix(&root);
    let mut warnings = Vec::new();
    let mut findings = Vec::new();
    if !args.history_only {
        let threads = args.threads.unwrap_or_else(util::default_threads).max(1);
        let (tree, tree_warnings) = scanner.scan_tree(&root, &prefix, threads);
        findings.extend(tree);
        warnings.extend(tree_warnings);
    }
    if args.history || args.history_only {
        let progress = std::io::stderr().is_terminal();
        findings.extend(scanner.scan_history(&root, progress)?);
    }
    let mut report = Report::new("scan", rule_infos(scanner.rules()));
    report.fallback_file = ".gitignore".to_owned();
    report.findings = findings.iter().map(to_finding).collect();
    Ok((report, warnings))
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
    let (report, warnings) = scan(args)?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    report.write(args.format, out)?;
    Ok(Outcome::from_found(report.has_findings()))
}
