//! `cargo clay audit [PATH]`: the seed's security checklist over a repository, each item
//! `pass`, `fail` or `warn` with its evidence, and the seed's "Error Handling" table as
//! results.
//!
//! | item | how it is decided |
//! |---|---|
//! | API keys in environment variables | no key literal in the working tree (the scan's rules) |
//! | `.env` files in `.gitignore` | `git check-ignore` for `.env`, `.env.local`, `.env.*.local` |
//! | `.env` files never committed | none of them tracked now (`git ls-files`) or added in any commit |
//! | different keys for dev/staging/prod | `.env.<environment>` files compared by key fingerprint |
//! | minimal scopes per environment | the derive's findings (`cargo clay check`) |
//! | webhook signatures validated | a `WebhookSecret` and a `WebhookVerifier` in the Rust sources |
//! | audit logging enabled | an `AuditLog` in the Rust sources |
//! | key age | `*_ISSUED_AT` values in `.env*` files against the policy's rotation ages |

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clay_policy::{Policy, canonical_environment, looks_like_credential};
use ignore::WalkBuilder;
use regex::Regex;
use serde_json::{Value, json};

use crate::report::{Finding, Format, Level, Report, RuleInfo, sha256_hex};
use crate::scan::{self, Scanner};
use crate::{Error, Outcome, check, util};

/// Arguments of `cargo clay audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The repository (or crate) to audit; the current directory by default.
    pub path: Option<PathBuf>,
    /// The policy file; default: `clay-policy.toml` at PATH, else the built-in table.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// An audit log (clay-config's file sink): scopes granted but never used are reported
    /// under "Excessive scopes".
    #[arg(long, value_name = "AUDIT_LOG")]
    pub usage: Option<PathBuf>,
    /// Do not run `cargo check` (the "minimal scopes" item is then a warning).
    #[arg(long)]
    pub no_check: bool,
    /// Do not scan git history for keys (faster; "exposed API key" then covers the tree only).
    #[arg(long)]
    pub no_history: bool,
    /// The date key ages are computed at (YYYY-MM-DD); today by default.
    #[arg(long, value_name = "DATE", hide = true)]
    pub today: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The verdict on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Satisfied.
    Pass,
    /// Could not be confirmed, or nearly due.
    Warn,
    /// Not satisfied: the exit status is 1.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    fn level(self) -> Level {
        match self {
            Status::Pass => Level::Note,
            Status::Warn => Level::Warning,
            Status::Fail => Level::Error,
        }
    }
}

/// One checklist item or error-table row with its verdict and evidence.
#[derive(Debug, Clone)]
pub struct Item {
    /// Stable id (the SARIF rule id).
    pub id: &'static str,
    /// The seed's wording.
    pub title: &'static str,
    /// The verdict.
    pub status: Status,
    /// Why: findings with locations where there are any.
    pub evidence: Vec<Finding>,
}

impl Item {
    fn new(id: &'static str, title: &'static str) -> Self {
        Item {
            id,
            title,
            status: Status::Pass,
            evidence: Vec::new(),
        }
    }

    /// Adds evidence; the item's status becomes the worse of the two.
    fn add(&mut self, status: Status, message: impl Into<String>) -> &mut Finding {
        self.status = self.status.max(status);
        self.evidence
            .push(Finding::new(self.id, status.level(), message));
        let last = self.evidence.len() - 1;
        &mut self.evidence[last]
    }

    fn add_at(&mut self, status: Status, message: impl Into<String>, file: &str, line: u64) {
        let finding = self.add(status, message);
        finding.file = Some(file.to_owned());
        finding.line = Some(line);
    }
}

/// A row of the seed's "Error Handling" table.
#[derive(Debug, Clone)]
pub struct ErrorRow {
    /// The item with the row's verdict.
    pub item: Item,
    /// The seed's "Detection" column.
    pub detection: &'static str,
    /// The seed's "Mitigation" column.
    pub mitigation: &'static str,
}

/// The whole audit.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The audited directory.
    pub root: PathBuf,
    /// The checklist, in the seed's order, plus key age.
    pub checklist: Vec<Item>,
    /// The error table.
    pub errors: Vec<ErrorRow>,
}

impl Audit {
    /// True when any item or row failed.
    pub fn failed(&self) -> bool {
        self.checklist
            .iter()
            .chain(self.errors.iter().map(|r| &r.item))
            .any(|i| i.status == Status::Fail)
    }
}

const KEYS_IN_ENV: &str = "keys_in_env_vars";
const ENV_IGNORED: &str = "env_files_ignored";
const ENV_UNTRACKED: &str = "env_files_never_committed";
const DISTINCT_KEYS: &str = "distinct_keys_per_environment";
const MINIMAL_SCOPES: &str = "minimal_scopes";
const WEBHOOKS: &str = "webhook_signatures_validated";
const AUDIT_LOGGING: &str = "audit_logging_enabled";
const KEY_AGE: &str = "key_age";
const EXPOSED: &str = "exposed_api_key";
const EXCESSIVE: &str = "excessive_scopes";
const ROTATION: &str = "missing_rotation";

/// The env files the seed says must be ignored, as names to test `git check-ignore` with
/// (`.env.production.local` stands for `.env.*.local`).
const MUST_IGNORE: [&str; 3] = [".env", ".env.local", ".env.production.local"];

/// Runs the audit of `args.path`.
pub fn audit(args: &Args) -> Result<Audit, Error> {
    let root = util::dir_arg(args.path.as_deref())?;
    let policy = crate::policy::load_policy(&root, args.policy.as_deref())?;
    let scanner = Scanner::for_root(&root, args.policy.as_deref())?;
    let in_git = util::git_toplevel(&root).is_some();
    let prefix = util::git_prefix(&root);
    let today = match &args.today {
        Some(text) => text
            .parse::<jiff::civil::Date>()
            .map_err(|e| Error::Usage(format!("--today {text:?}: {e}")))?,
        None => jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date(),
    };

    // 1. Keys only from environment variables: no literal in the working tree.
    let (tree, warnings) = scanner.scan_tree(&root, &prefix, util::default_threads());
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let mut keys_in_env = Item::new(KEYS_IN_ENV, "API keys in environment variables");
    for secret in &tree {
        let mut finding = scan::to_finding(secret);
        finding.rule = KEYS_IN_ENV.to_owned();
        finding.message = format!(
            "{} literal in a tracked or trackable file (sha256 {}…): load it from an \
             environment variable instead",
            secret.rule,
            &secret.fingerprint[..12]
        );
        keys_in_env.status = Status::Fail;
        keys_in_env.evidence.push(finding);
    }
    if tree.is_empty() {
        keys_in_env.add(
            Status::Pass,
            "no key literal in the working tree (files ignored by git are not part of it)",
        );
    }

    // 2. .env files ignored, 3. never committed.
    let mut ignored = Item::new(ENV_IGNORED, "`.env` files in `.gitignore`");
    let mut untracked = Item::new(
        ENV_UNTRACKED,
        "`.env` files never committed (now or in history)",
    );
    if in_git {
        for name in MUST_IGNORE {
            let pattern = if name == ".env.production.local" {
                ".env.*.local"
            } else {
                name
            };
            if is_ignored(&root, name) {
                ignored.add(Status::Pass, format!("`{pattern}` is ignored"));
            } else {
                ignored.add_at(
                    Status::Fail,
                    format!("`{pattern}` is not ignored by git: add `{pattern}` to .gitignore"),
                    &format!("{prefix}.gitignore"),
                    1,
                );
            }
        }
        let tracked =
            util::git_output(&root, &["ls-files", "-z", "--full-name"]).unwrap_or_default();
        for path in tracked.split('\0').filter(|p| is_secret_env_file(p)) {
            untracked.add_at(
                Status::Fail,
                format!(
                    "`{path}` is tracked by git: `git rm --cached {path}`, add it to \
                     .gitignore, and rotate every key it held"
                ),
                path,
                1,
            );
        }
        for (commit, path) in env_files_in_history(&root) {
            let finding = untracked.add(
                Status::Fail,
                format!(
                    "`{path}` was committed in {}: its keys are in history; rotate them",
                    &commit[..commit.len().min(12)]
                ),
            );
            finding.file = Some(path);
            finding.line = Some(1);
            finding.commit = Some(commit);
        }
        if untracked.evidence.is_empty() {
            untracked.add(
                Status::Pass,
                "no `.env`, `.env.local` or `.env.*.local` tracked now or in any commit",
            );
        }
    } else {
        let note = "not a git repository: could not check";
        ignored.add(Status::Warn, note);
        untracked.add(Status::Warn, note);
    }

    // 4. Different keys per environment; 8. key age (same files).
    let env_files = read_env_files(&root, &prefix);
    let distinct = distinct_keys(&env_files, &policy);

    // 5. Minimal scopes: the derive's findings.
    let mut scopes = Item::new(MINIMAL_SCOPES, "Minimal scopes per environment");
    let mut check_findings = Vec::new();
    if args.no_check {
        scopes.add(Status::Warn, "not checked (--no-check)");
    } else if !root.join("Cargo.toml").is_file() {
        scopes.add(
            Status::Warn,
            "no Cargo.toml here: run `cargo clay check` in the crate that declares the keys",
        );
    } else {
        let check_args = check::Args {
            manifest_path: Some(root.join("Cargo.toml")),
            all_targets: false,
            workspace: false,
            format: Format::Text,
        };
        let base = util::git_toplevel(&root).unwrap_or_else(|| root.clone());
        match check::run_cargo_check(&check_args, Some(&base)) {
            Ok(result) => {
                for finding in &result.findings {
                    // The message already starts with `[rule]`.
                    let mut evidence = finding.clone();
                    evidence.rule = MINIMAL_SCOPES.to_owned();
                    scopes.status = Status::Fail;
                    scopes.evidence.push(evidence);
                }
                check_findings = result.findings.clone();
                if result.findings.is_empty() {
                    if result.success {
                        scopes.add(
                            Status::Pass,
                            "`cargo check` passes: every declared scope is within the policy",
                        );
                    } else {
                        scopes.add(
                            Status::Warn,
                            format!(
                                "`cargo check` failed with {} error(s) that are not \
                                 clay-config's: scopes could not be confirmed",
                                result.other_errors.len()
                            ),
                        );
                    }
                }
            }
            Err(error) => {
                scopes.add(
                    Status::Warn,
                    format!("could not run `cargo check`: {error}"),
                );
            }
        }
    }

    // 6. Webhooks, 7. audit logging: what the Rust sources use.
    let uses = rust_uses(&root, &prefix);
    let mut webhooks = Item::new(WEBHOOKS, "Webhook signatures validated");
    match (uses.get("WebhookSecret"), uses.get("WebhookVerifier")) {
        (_, Some((file, line))) => {
            webhooks.add_at(
                Status::Pass,
                "a `WebhookVerifier` checks signatures",
                file,
                *line,
            );
        }
        (Some((file, line)), None) => webhooks.add_at(
            Status::Fail,
            "a `WebhookSecret` is declared but no `WebhookVerifier` uses it: verify every \
             delivery (clay_config::webhook::WebhookVerifier) before acting on it",
            file,
            *line,
        ),
        (None, None) => {
            webhooks.add(
                Status::Warn,
                "no `WebhookSecret` or `WebhookVerifier` in the Rust sources: if the service \
                 receives webhooks, verify their signatures",
            );
        }
    }
    let mut audit_logging = Item::new(AUDIT_LOGGING, "Audit logging enabled");
    match uses.get("AuditLog") {
        Some((file, line)) => {
            audit_logging.add_at(Status::Pass, "an `AuditLog` is in use", file, *line);
        }
        None => {
            audit_logging.add(
                Status::Fail,
                "no `AuditLog` in the Rust sources: record API use with \
                 clay_config::audit::AuditLog (a file sink keeps a tamper-evident chain)",
            );
        }
    }

    let age = key_age(&env_files, &policy, today);

    // The error table.
    let mut exposed = Item::new(EXPOSED, "Exposed API key");
    let history = if in_git && !args.no_history {
        scanner.scan_history(&root, false)?
    } else {
        Vec::new()
    };
    for secret in tree.iter().chain(&history) {
        let mut finding = scan::to_finding(secret);
        finding.rule = EXPOSED.to_owned();
        exposed.status = Status::Fail;
        exposed.evidence.push(finding);
    }
    if exposed.evidence.is_empty() {
        exposed.add(
            Status::Pass,
            if in_git && !args.no_history {
                "no key in the working tree or in any commit of any branch"
            } else if in_git {
                "no key in the working tree (history not scanned: --no-history)"
            } else {
                "no key in the files (not a git repository: no history)"
            },
        );
    }
    let mut excessive = Item::new(EXCESSIVE, "Excessive scopes");
    for finding in &check_findings {
        let mut evidence = finding.clone();
        evidence.rule = EXCESSIVE.to_owned();
        excessive.status = Status::Fail;
        excessive.evidence.push(evidence);
    }
    match &args.usage {
        Some(log) => {
            let usage =
                clay_config::audit::scope_usage(log).map_err(|e| Error::Io(e.to_string()))?;
            let log_name = log.display().to_string();
            for key in usage.keys() {
                let unused = key.unused_granted();
                if !unused.is_empty() {
                    excessive.add_at(
                        Status::Warn,
                        format!(
                            "`{}` in {} was granted {} but never used them (audit log): \
                             remove them from the declaration",
                            key.var(),
                            key.environment(),
                            unused.join(", ")
                        ),
                        &log_name,
                        1,
                    );
                }
            }
            if excessive.evidence.is_empty() {
                excessive.add(
                    Status::Pass,
                    "every granted scope was used according to the audit log",
                );
            }
        }
        None if excessive.evidence.is_empty() => {
            if scopes.status == Status::Pass {
                excessive.add(
                    Status::Pass,
                    "every declaration is within the policy; give --usage AUDIT_LOG to also \
                     find granted scopes that are never used",
                );
            } else {
                excessive.add(
                    Status::Warn,
                    "the declarations could not be checked (see \"Minimal scopes\"); give \
                     --usage AUDIT_LOG to find granted scopes that are never used",
                );
            }
        }
        None => {}
    }
    let mut rotation = age.clone();
    rotation.id = ROTATION;
    rotation.title = "Missing rotation";
    for finding in &mut rotation.evidence {
        finding.rule = ROTATION.to_owned();
    }

    Ok(Audit {
        root,
        checklist: vec![
            keys_in_env,
            ignored,
            untracked,
            distinct,
            scopes,
            webhooks,
            audit_logging,
            age,
        ],
        errors: vec![
            ErrorRow {
                item: exposed,
                detection: "Git scanning",
                mitigation: "Rotate immediately",
            },
            ErrorRow {
                item: excessive,
                detection: "Audit logs",
                mitigation: "Reduce permissions",
            },
            ErrorRow {
                item: rotation,
                detection: "Key age check",
                mitigation: "Schedule rotation",
            },
        ],
    })
}

fn is_ignored(root: &Path, name: &str) -> bool {
    util::git(root)
        .args(["check-ignore", "-q", "--no-index", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `.env`, `.env.local` or `.env.<anything>.local`, in any directory.
fn is_secret_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env"
        || name == ".env.local"
        || (name.starts_with(".env.")
            && name.ends_with(".local")
            && name.len() > ".env..local".len())
}

/// Every (commit, path) where a secret env file was added or changed, on any ref.
fn env_files_in_history(root: &Path) -> Vec<(String, String)> {
    let Some(log) = util::git_output(
        root,
        &[
            "log",
            "--all",
            "--no-renames",
            "--diff-filter=AMR",
            "--format=%x01%H",
            "--name-only",
        ],
    ) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut commit = "";
    for line in log.lines() {
        if let Some(hash) = line.strip_prefix('\u{1}') {
            commit = hash;
        } else if !line.is_empty() && is_secret_env_file(line) {
            found.push((commit.to_owned(), line.to_owned()));
        }
    }
    found
}

/// A variable in an env file.
#[derive(Debug, Clone)]
struct EnvVar {
    file: String,
    line: u64,
    name: String,
    value: String,
}

/// An env file and its environment (`.env.production` → production; `None` for `.env`).
#[derive(Debug, Clone)]
struct EnvFile {
    file: String,
    environment: Option<String>,
    vars: Vec<EnvVar>,
}

/// Reads every `.env*` file under `root` (ignored ones included: that is where keys live),
/// skipping examples and templates.
fn read_env_files(root: &Path, prefix: &str) -> Vec<EnvFile> {
    let mut files = Vec::new();
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .max_depth(Some(4))
        .filter_entry(|e| {
            !matches!(
                e.file_name().to_str(),
                Some(".git" | "target" | "node_modules" | "vendor")
            )
        })
        .build();
    for entry in walker.flatten() {
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        if !(name == ".env" || name.starts_with(".env.")) || !entry.path().is_file() {
            continue;
        }
        let rest = name.strip_prefix(".env.").unwrap_or("");
        let env_part = rest.strip_suffix(".local").unwrap_or(rest);
        if matches!(
            env_part,
            "example" | "sample" | "template" | "dist" | "defaults" | "schema"
        ) {
            continue;
        }
        let environment =
            (!env_part.is_empty()).then(|| canonical_environment(env_part).to_owned());
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let file = format!("{prefix}{}", util::slash_path(relative));
        let vars = parse_env(&text)
            .into_iter()
            .map(|(line, name, value)| EnvVar {
                file: file.clone(),
                line,
                name,
                value,
            })
            .collect();
        files.push(EnvFile {
            file,
            environment,
            vars,
        });
    }
    files.sort_by(|a, b| a.file.cmp(&b.file));
    files
}

/// `NAME=value` lines (`export ` and quotes allowed, `#` comments skipped).
fn parse_env(text: &str) -> Vec<(u64, String, String)> {
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let mut value = value.trim();
        if let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
            value = value[1..].split(quote).next().unwrap_or("");
        } else if let Some((before, _)) = value.split_once(" #") {
            value = before.trim_end();
        }
        vars.push(((index + 1) as u64, name.to_owned(), value.to_owned()));
    }
    vars
}

fn distinct_keys(files: &[EnvFile], policy: &Policy) -> Item {
    let mut item = Item::new(DISTINCT_KEYS, "Different keys for dev/staging/prod");
    // fingerprint → (environment, var)
    let mut seen: BTreeMap<String, Vec<(&str, &EnvVar)>> = BTreeMap::new();
    let mut environments = Vec::new();
    for file in files {
        let Some(environment) = &file.environment else {
            continue;
        };
        let mut has_key = false;
        for var in &file.vars {
            if var.name.ends_with("_ISSUED_AT") || !looks_like_credential(&var.value, policy.keys())
            {
                continue;
            }
            has_key = true;
            seen.entry(sha256_hex(var.value.as_bytes()))
                .or_default()
                .push((environment, var));
            let live = var.value.starts_with(&policy.keys().live_prefix);
            let allows_live = policy
                .environment(environment)
                .is_some_and(|e| e.live_keys());
            if live && policy.environment(environment).is_some() && !allows_live {
                item.add_at(
                    Status::Fail,
                    format!(
                        "`{}` holds a live key in {environment}, where the policy allows only \
                         test keys",
                        var.name
                    ),
                    &var.file,
                    var.line,
                );
            }
        }
        if has_key && !environments.contains(environment) {
            environments.push(environment.clone());
        }
    }
    for (fingerprint, uses) in &seen {
        let mut envs: Vec<&str> = uses.iter().map(|(e, _)| *e).collect();
        envs.sort_unstable();
        envs.dedup();
        if envs.len() < 2 {
            continue;
        }
        let names: Vec<String> = uses
            .iter()
            .map(|(env, var)| format!("`{}` in {} ({env})", var.name, var.file))
            .collect();
        let (_, first) = uses[0];
        item.add_at(
            Status::Fail,
            format!(
                "one key (sha256 {}…) is used in {}: {}; give each environment its own key",
                &fingerprint[..12],
                envs.join(" and "),
                names.join(", ")
            ),
            &first.file,
            first.line,
        );
        if let Some(last) = item.evidence.last_mut() {
            last.fingerprint = Some(fingerprint.clone());
        }
    }
    if item.evidence.is_empty() {
        if environments.len() >= 2 {
            item.add(
                Status::Pass,
                format!(
                    "no key shared between {} (compared by fingerprint)",
                    environments.join(", ")
                ),
            );
        } else {
            item.add(
                Status::Warn,
                format!(
                    "keys found for {} environment(s) in `.env.<environment>` files: nothing to \
                     compare; make sure each environment has its own keys",
                    environments.len()
                ),
            );
        }
    }
    item
}

fn key_age(files: &[EnvFile], policy: &Policy, today: jiff::civil::Date) -> Item {
    let mut item = Item::new(KEY_AGE, "Key age (rotation)");
    let rotation = policy.rotation();
    for var in files.iter().flat_map(|f| &f.vars) {
        let Some(key_var) = var.name.strip_suffix("_ISSUED_AT") else {
            continue;
        };
        let issued = match parse_issued(&var.value) {
            Some(date) => date,
            None => {
                item.add_at(
                    Status::Warn,
                    format!(
                        "`{}` is not a date (expected YYYY-MM-DD or RFC 3339)",
                        var.name
                    ),
                    &var.file,
                    var.line,
                );
                continue;
            }
        };
        let days = (today - issued).get_days();
        let (status, message) = if days < -1 {
            (
                Status::Warn,
                format!(
                    "`{key_var}` was issued in the future ({}): check the date",
                    var.value
                ),
            )
        } else if days > i32::try_from(rotation.max_age_days).unwrap_or(i32::MAX) {
            (
                Status::Fail,
                format!(
                    "`{key_var}` was issued {days} days ago, past the {}-day rotation limit: \
                     rotate it now",
                    rotation.max_age_days
                ),
            )
        } else if days > i32::try_from(rotation.warn_age_days).unwrap_or(i32::MAX) {
            (
                Status::Warn,
                format!(
                    "`{key_var}` was issued {days} days ago: schedule rotation before day {}",
                    rotation.max_age_days
                ),
            )
        } else {
            (
                Status::Pass,
                format!("`{key_var}` was issued {days} days ago"),
            )
        };
        item.add_at(status, message, &var.file, var.line);
    }
    if item.evidence.is_empty() {
        item.add(
            Status::Warn,
            "no `*_ISSUED_AT` in any `.env*` file: key age unknown; record when each key was \
             issued (e.g. CLAY_API_KEY_ISSUED_AT=2026-11-29)",
        );
    }
    item
}

fn parse_issued(text: &str) -> Option<jiff::civil::Date> {
    let text = text.trim();
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return Some(date);
    }
    let timestamp = text.parse::<jiff::Timestamp>().ok()?;
    Some(jiff::tz::Offset::UTC.to_datetime(timestamp).date())
}

/// The first place (file, line) each of `WebhookSecret`, `WebhookVerifier`, `AuditLog` is
/// named in a Rust source file under `root`.
fn rust_uses(root: &Path, prefix: &str) -> BTreeMap<&'static str, (String, u64)> {
    let mut found = BTreeMap::new();
    let Ok(pattern) = Regex::new(r"\b(WebhookSecret|WebhookVerifier|AuditLog)\b") else {
        return found;
    };
    let mut paths: Vec<PathBuf> = WalkBuilder::new(root)
        .filter_entry(|e| e.file_name() != "target")
        .build()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs") && e.path().is_file())
        .map(|e| e.into_path())
        .collect();
    paths.sort();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let code = code_only(&text);
        for (index, line) in code.lines().enumerate() {
            for capture in pattern.captures_iter(line) {
                let name = match &capture[1] {
                    "WebhookSecret" => "WebhookSecret",
                    "WebhookVerifier" => "WebhookVerifier",
                    _ => "AuditLog",
                };
                found.entry(name).or_insert_with(|| {
                    let relative = path.strip_prefix(root).unwrap_or(&path);
                    (
                        format!("{prefix}{}", util::slash_path(relative)),
                        (index + 1) as u64,
                    )
                });
            }
        }
    }
    found
}

/// Rust source without comments and without the contents of string and char literals (raw
/// strings included), newlines kept, so that a type named only in a message, a doc comment or a
/// comment does not count as used, and line numbers still match.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut i = 0;
    // Keeps line numbers: the newlines inside skipped text are written out.
    let skip_to = |code: &mut String, from: usize, to: usize| {
        code.extend(
            chars[from..to.min(chars.len())]
                .iter()
                .filter(|c| **c == '\n'),
        );
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|c| *c == '\n')
                .map_or(chars.len(), |p| i + p);
            i = end;
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            let mut j = i;
            while j < chars.len() {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            skip_to(&mut code, i, j);
            i = j;
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                code.push(c);
                i += 1;
                continue;
            }
            let body = i + 2 + hashes;
            let closing: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let end = (body..chars.len())
                .find(|&j| chars[j..].starts_with(&closing))
                .map_or(chars.len(), |j| j + closing.len());
            code.push_str("\"\"");
            skip_to(&mut code, body, end);
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            code.push_str("\"\"");
            skip_to(&mut code, i + 1, j);
            i = j + 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('"', '\'', '\u{22}'), not a lifetime: `'x'` ends two further on,
            // an escape at the first quote after the escaped character.
            let end = if next == Some('\\') {
                (i + 3..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .map_or(chars.len(), |j| j + 1)
            } else {
                i + 3
            };
            code.push_str("' '");
            i = end;
        } else {
            code.push(c);
            i += 1;
        }
    }
    code
}

fn rules() -> Vec<RuleInfo> {
    vec![
        RuleInfo::new(
            KEYS_IN_ENV,
            "API keys in environment variables.",
            "A key literal in a source or config file is shared with everyone who can read the repository. Keys belong in environment variables (the seed's Step 1).",
            "Move the key to an environment variable, rotate it, and load it with clay-config.",
        ),
        RuleInfo::new(
            ENV_IGNORED,
            "`.env` files in `.gitignore`.",
            "`.env`, `.env.local` and `.env.*.local` hold keys and must be ignored by git.",
            "Add `.env`, `.env.local` and `.env.*.local` to .gitignore.",
        ),
        RuleInfo::new(
            ENV_UNTRACKED,
            "`.env` files never committed.",
            "An env file that is tracked now, or was committed once, exposes its keys to everyone with the history.",
            "`git rm --cached` the file, ignore it, and rotate every key it held.",
        ),
        RuleInfo::new(
            DISTINCT_KEYS,
            "Different keys for dev/staging/prod.",
            "One key shared by two environments lets a development machine act on production.",
            "Create one key per environment (and per service account).",
        ),
        RuleInfo::new(
            MINIMAL_SCOPES,
            "Minimal scopes per environment.",
            "The declared scopes must stay within the least-privilege table (`cargo clay check`).",
            "Reduce the declaration as the derive's message says.",
        ),
        RuleInfo::new(
            WEBHOOKS,
            "Webhook signatures validated.",
            "A webhook secret that no verifier uses means deliveries are trusted unverified.",
            "Verify every delivery with clay_config::webhook::WebhookVerifier.",
        ),
        RuleInfo::new(
            AUDIT_LOGGING,
            "Audit logging enabled.",
            "Without an audit log there is no record of what each key did.",
            "Record API use with clay_config::audit::AuditLog.",
        ),
        RuleInfo::new(
            KEY_AGE,
            "Key age.",
            "Keys older than the policy's rotation age must be rotated.",
            "Rotate the key and update `<VAR>_ISSUED_AT`.",
        ),
        RuleInfo::new(
            EXPOSED,
            "Exposed API key (git scanning).",
            "A key in a file or in any commit of any branch is exposed.",
            "Rotate immediately.",
        ),
        RuleInfo::new(
            EXCESSIVE,
            "Excessive scopes (audit logs).",
            "Scopes beyond the table, or granted and never used, widen what a leaked key can do.",
            "Reduce permissions.",
        ),
        RuleInfo::new(
            ROTATION,
            "Missing rotation (key age check).",
            "A key past its rotation age has been exposed to more people and systems than a fresh one.",
            "Schedule rotation.",
        ),
    ]
}

/// The audit as a report: every evidence line of every item (pass items as notes).
pub fn to_report(audit: &Audit) -> Report {
    let mut report = Report::new("audit", rules());
    report.fallback_file = ".gitignore".to_owned();
    let items: Vec<&Item> = audit
        .checklist
        .iter()
        .chain(audit.errors.iter().map(|r| &r.item))
        .collect();
    report.findings = items
        .iter()
        .flat_map(|item| {
            item.evidence
                .iter()
                .filter(|f| f.level != Level::Note)
                .cloned()
        })
        .collect();
    let item_json = |item: &Item| {
        json!({
            "id": item.id,
            "title": item.title,
            "status": item.status.as_str(),
            "evidence": item.evidence,
        })
    };
    report.json_extra.insert(
        "root".into(),
        Value::String(audit.root.display().to_string()),
    );
    report.json_extra.insert(
        "checklist".into(),
        Value::Array(audit.checklist.iter().map(item_json).collect()),
    );
    report.json_extra.insert(
        "error_handling".into(),
        Value::Array(
            audit
                .errors
                .iter()
                .map(|row| {
                    let mut value = item_json(&row.item);
                    value["detection"] = json!(row.detection);
                    value["mitigation"] = json!(row.mitigation);
                    value
                })
                .collect(),
        ),
    );
    report
        .json_extra
        .insert("failed".into(), Value::Bool(audit.failed()));
    report
}

fn text(audit: &Audit) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let item_text = |out: &mut String, item: &Item, extra: &str| {
        let _ = writeln!(
            out,
            "  {:<4}  {}{extra}",
            item.status.as_str().to_uppercase(),
            item.title
        );
        for evidence in &item.evidence {
            let location = evidence.location_text();
            let commit = evidence
                .commit
                .as_deref()
                .map(|c| format!(" [commit {c}]"))
                .unwrap_or_default();
            if location.is_empty() {
                let _ = writeln!(out, "          {}{commit}", evidence.message);
            } else {
                let _ = writeln!(out, "          {location}: {}{commit}", evidence.message);
            }
        }
    };
    let _ = writeln!(out, "Security checklist ({}):", audit.root.display());
    for item in &audit.checklist {
        item_text(&mut out, item, "");
    }
    let _ = writeln!(out, "\nError handling (issue | detection | mitigation):");
    for row in &audit.errors {
        item_text(
            &mut out,
            &row.item,
            &format!(" | {} | {}", row.detection, row.mitigation),
        );
    }
    let all: Vec<&Item> = audit
        .checklist
        .iter()
        .chain(audit.errors.iter().map(|r| &r.item))
        .collect();
    let count = |s: Status| all.iter().filter(|i| i.status == s).count();
    let _ = writeln!(
        out,
        "\naudit: {} failed, {} warnings, {} passed",
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass)
    );
    out
}

/// Runs `cargo clay audit`. Exit status 1 when an item fails (warnings alone do not fail).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let audit = audit(args)?;
    match args.format {
        Format::Text => out.write_all(text(&audit).as_bytes())?,
        format => to_report(&audit).write(format, out)?,
    }
    Ok(Outcome::from_found(audit.failed()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_only_drops_strings_and_comments() {
        let source = "let v = WebhookVerifier::new(x); // AuditLog\n\
                      help(\"use AuditLog \\\" here \\\n continued WebhookSecret\");\n\
                      /* AuditLog /* nested */ */ let q = '\"'; let r = r#\"AuditLog \"# ;\n\
                      fn f<'a>(x: &'a AuditLog) {}\n";
        let code = super::code_only(source);
        let lines: Vec<&str> = code.lines().collect();
        assert_eq!(lines.len(), source.lines().count(), "{code}");
        assert_eq!(lines[0], "let v = WebhookVerifier::new(x); ");
        assert!(
            !lines[1].contains("AuditLog") && !lines[2].contains("WebhookSecret"),
            "{code}"
        );
        assert!(!lines[3].contains("AuditLog"), "{code}");
        assert!(lines[4].contains("&'a AuditLog"), "{code}");
    }

    use super::*;

    #[test]
    fn env_file_names() {
        assert!(is_secret_env_file(".env"));
        assert!(is_secret_env_file("app/.env.local"));
        assert!(is_secret_env_file(".env.production.local"));
        assert!(!is_secret_env_file(".env.example"));
        assert!(!is_secret_env_file(".env.production"));
        assert!(!is_secret_env_file("x.env"));
    }

    #[test]
    fn env_lines() {
        let vars = parse_env("# c\nexport A=1\nB = \"two # x\"\nC=3 # note\n");
        assert_eq!(vars[0], (2, "A".to_owned(), "1".to_owned()));
        assert_eq!(vars[1], (3, "B".to_owned(), "two # x".to_owned()));
        assert_eq!(vars[2], (4, "C".to_owned(), "3".to_owned()));
    }
}
