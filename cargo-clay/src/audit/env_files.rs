//! The checklist items about `.env` files: ignored by git, never committed, a different key per
//! environment, and key age. Env files are parsed with dotenvy, as the loader reads them.

use std::collections::BTreeMap;
use std::path::Path;

use clay_policy::{KeyPlacement, Policy, RotationVerdict, canonical_environment};
use ignore::WalkBuilder;

use super::ids::{DISTINCT_KEYS, ENV_IGNORED, ENV_UNTRACKED, KEY_AGE, ROTATION};
use super::{Item, Status};
use crate::report::{escape_text, sha256_hex};
use crate::scan::{Origin, SecretFinding};
use crate::util;

/// The env files that must be ignored, as names to test `git check-ignore` with
/// (`.env.production.local` stands for `.env.*.local`).
const MUST_IGNORE: [&str; 3] = [".env", ".env.local", ".env.production.local"];

/// The env files that may be committed, when they hold only placeholders.
const EXAMPLES: [&str; 3] = [".env.example", ".env.sample", ".env.template"];

/// The largest env file read.
const MAX_ENV_FILE: u64 = 1 << 20;

/// True for a file named `.env` or `.env.<anything>`, in any directory.
pub fn is_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env" || (name.starts_with(".env.") && name.len() > ".env.".len())
}

/// True for `.env.example`, `.env.sample` or `.env.template`, in any directory.
pub fn is_example_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    EXAMPLES.contains(&name)
}

/// "`.env` files in `.gitignore`".
pub fn ignored(root: &Path, prefix: &str, in_git: bool) -> Item {
    let mut item = Item::new(ENV_IGNORED, "`.env` files in `.gitignore`");
    if !in_git {
        item.add(Status::Warn, "not a git repository: could not check");
        return item;
    }
    for name in MUST_IGNORE {
        let pattern = if name == ".env.production.local" {
            ".env.*.local"
        } else {
            name
        };
        if is_ignored(root, name) {
            item.add(Status::Pass, format!("`{pattern}` is ignored"));
        } else {
            item.add_at(
                Status::Fail,
                format!("`{pattern}` is not ignored by git: add `{pattern}` to .gitignore"),
                &format!("{prefix}.gitignore"),
                1,
            );
        }
    }
    item
}

fn is_ignored(root: &Path, name: &str) -> bool {
    util::git(root)
        .args(["check-ignore", "-q", "--no-index", "--", name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// "`.env` files never committed": no `.env` or `.env.*` tracked now or added by any commit
/// (of any ref or stash entry), except the example files while they hold no key (judged by the
/// scan's rules: the working tree's findings for files tracked now, history's for commits).
pub fn never_committed(
    root: &Path,
    in_git: bool,
    tree: &[SecretFinding],
    history: &[SecretFinding],
) -> Item {
    let mut item = Item::new(
        ENV_UNTRACKED,
        "`.env` files never committed (now or in history)",
    );
    if !in_git {
        item.add(Status::Warn, "not a git repository: could not check");
        return item;
    }
    let tracked = util::git_output(root, &["ls-files", "-z", "--full-name"]).unwrap_or_default();
    for path in tracked.split('\0').filter(|p| is_env_file(p)) {
        let shown = escape_text(path);
        if is_example_env_file(path) {
            if let Some(key) = tree.iter().find(|f| f.file.as_deref() == Some(path)) {
                item.add_at(
                    Status::Fail,
                    format!(
                        "`{shown}` is committed as an example but holds a {} (sha256 {}…), not a \
                         placeholder: replace it with a placeholder and rotate the key",
                        key.rule,
                        &key.fingerprint[..12]
                    ),
                    path,
                    key.line,
                );
            }
            continue;
        }
        item.add_at(
            Status::Fail,
            format!(
                "`{shown}` is tracked by git: `git rm --cached {shown}`, add it to .gitignore, \
                 and rotate every key it held"
            ),
            path,
            1,
        );
    }
    for (commit, path) in env_files_in_history(root) {
        if is_example_env_file(&path) {
            continue;
        }
        let finding = item.add(
            Status::Fail,
            format!(
                "`{}` was committed in {}: its keys are in history; rotate them",
                escape_text(&path),
                &commit[..commit.len().min(12)]
            ),
        );
        finding.file = Some(path);
        finding.line = Some(1);
        finding.commit = Some(commit);
    }
    for key in history.iter().filter(|f| {
        f.origin == Origin::History && f.file.as_deref().is_some_and(is_example_env_file)
    }) {
        let finding = item.add(
            Status::Fail,
            format!(
                "`{}` held a {} (sha256 {}…) in history, not a placeholder: rotate it",
                escape_text(key.file.as_deref().unwrap_or_default()),
                key.rule,
                &key.fingerprint[..12]
            ),
        );
        finding.file = key.file.clone();
        finding.line = Some(key.line);
        finding.commit = key.commit.clone();
    }
    if item.evidence.is_empty() {
        item.add(
            Status::Pass,
            "no `.env` or `.env.*` tracked now or in any commit (examples hold only placeholders)",
        );
    }
    item
}

/// Every (commit, path) where an env file was added or changed, on any ref or stash entry.
fn env_files_in_history(root: &Path) -> Vec<(String, String)> {
    let stash = crate::scan::history::stash_entries(root);
    let output = crate::scan::history::git(root)
        .args([
            "log",
            "--all",
            "--no-renames",
            "--diff-filter=AMR",
            "--format=%x01%H",
            "--name-only",
            "-z",
        ])
        .args(&stash)
        .args(["--", ":(top,glob)**/.env", ":(top,glob)**/.env.*"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(output) = output else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut commit = String::new();
    for token in output.stdout.split(|b| *b == 0) {
        let token = token.strip_prefix(b"\n").unwrap_or(token);
        if let Some(hash) = token.strip_prefix(b"\x01") {
            commit = String::from_utf8_lossy(hash).into_owned();
        } else if !token.is_empty() {
            let path = String::from_utf8_lossy(token).into_owned();
            if is_env_file(&path) && !commit.is_empty() {
                found.push((commit.clone(), path));
            }
        }
    }
    found
}

/// A variable in an env file.
#[derive(Debug, Clone)]
pub struct EnvVar {
    /// The file it is in, repository-relative.
    pub file: String,
    /// The line its name is on.
    pub line: u64,
    /// The variable.
    pub name: String,
    /// Its value, as written in the file (a value made by `$VAR` substitution is left out).
    pub value: String,
}

/// An env file and its environment (`.env.production` → production; `None` for `.env`).
#[derive(Debug, Clone)]
pub struct EnvFile {
    /// The file, repository-relative.
    pub file: String,
    /// Its environment, canonical.
    pub environment: Option<String>,
    /// Its variables.
    pub vars: Vec<EnvVar>,
}

/// Reads every `.env*` file under `root` (ignored ones included: that is where keys live; four
/// levels deep at most, `.git`, `target`, `node_modules` and `vendor` skipped), except the
/// examples and templates.
pub fn read(root: &Path, prefix: &str) -> Vec<EnvFile> {
    let mut files = Vec::new();
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
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
        if !(name == ".env" || name.starts_with(".env.")) {
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
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let file = format!("{prefix}{}", util::slash_path(relative));
        // Regular files only, bounded: a FIFO named `.env` cannot hang the audit.
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let text = match crate::scan::tree::read_small_file(entry.path(), MAX_ENV_FILE) {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(None) => continue,
            Err(error) => {
                eprintln!("note: {}", escape_text(&error.to_string()));
                continue;
            }
        };
        let environment =
            (!env_part.is_empty()).then(|| canonical_environment(env_part).to_owned());
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

/// The variables of an env file, parsed by dotenvy: `(line, name, value)`. A value that does
/// not appear as written in the file came from `$VAR` substitution (dotenvy substitutes from
/// the process's environment too) and is left out: only what the file holds is judged. Lines
/// dotenvy cannot parse are skipped (their text is never shown: it may hold a key).
pub(crate) fn parse_env(text: &str) -> Vec<(u64, String, String)> {
    let mut vars = Vec::new();
    let mut from_line = 0usize;
    let lines: Vec<&str> = text.lines().collect();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let Ok((name, value)) = item else {
            continue;
        };
        if !value.is_empty() && !text.contains(value.as_str()) {
            continue;
        }
        // The first line from here on that assigns `name`.
        let assigns = |line: &str| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
            line.strip_prefix(name.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        };
        let index = (from_line..lines.len())
            .find(|&i| assigns(lines[i]))
            .unwrap_or(from_line);
        from_line = index + 1;
        vars.push(((index + 1) as u64, name, value));
    }
    vars
}

/// "Different keys for dev/staging/prod": no key shared between environments' env files, and
/// no live key where the policy allows only test keys.
pub fn distinct_keys(files: &[EnvFile], policy: &Policy) -> Item {
    let mut item = Item::new(DISTINCT_KEYS, "Different keys for dev/staging/prod");
    // fingerprint → (environment, var)
    let mut seen: BTreeMap<String, Vec<(&str, &EnvVar)>> = BTreeMap::new();
    let mut environments = Vec::new();
    let keys = clay_policy::KeyDefinition::for_policy(policy.keys());
    for file in files {
        let Some(environment) = &file.environment else {
            continue;
        };
        let mut has_key = false;
        for var in &file.vars {
            if var.name.ends_with("_ISSUED_AT") || !keys.contains_key(&var.value) {
                continue;
            }
            has_key = true;
            seen.entry(sha256_hex(var.value.as_bytes()))
                .or_default()
                .push((environment, var));
            // Which environment a key belongs in: clay-policy's placement rule, the loader's.
            let Some(policy_environment) = policy.environment(environment) else {
                continue;
            };
            let placement =
                clay_policy::key_placement(var.value.trim(), policy_environment, policy.keys());
            let problem = match placement {
                KeyPlacement::Allowed => None,
                KeyPlacement::LiveKeyNotAllowed => Some(("a live key", "only test keys")),
                KeyPlacement::TestKeyInLiveEnvironment => Some(("a test key", "live keys")),
                KeyPlacement::UnprefixedKey => {
                    Some(("a key with neither prefix", "only prefixed keys"))
                }
            };
            if let Some((what, allowed)) = problem {
                item.add_at(
                    Status::Fail,
                    format!(
                        "`{}` holds {what} in {environment}, where the policy allows {allowed}",
                        escape_text(&var.name)
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

/// "Key age": each `<VAR>_ISSUED_AT` against the policy's rotation ages.
///
/// The verdict is clay-policy's `rotation_verdict`, the loader's: the same whole 24-hour days,
/// the same tolerance for a date slightly ahead, and the same severity: an overdue key fails
/// where loading would stop (production), a date that cannot be read or lies in the future
/// fails everywhere; an overdue key elsewhere and one due soon are warnings.
pub fn key_age(files: &[EnvFile], policy: &Policy, now: i64) -> Item {
    let mut item = Item::new(KEY_AGE, "Key age (rotation)");
    let rotation = policy.rotation();
    for file in files {
        let environment = file
            .environment
            .as_deref()
            .unwrap_or(clay_policy::DEVELOPMENT);
        for var in &file.vars {
            let Some(key_var) = var.name.strip_suffix("_ISSUED_AT") else {
                continue;
            };
            let key_var = escape_text(key_var);
            let verdict = clay_policy::rotation_verdict(&var.value, now, rotation);
            let status = if verdict.is_error_in(environment) {
                Status::Fail
            } else if verdict.needs_attention() {
                Status::Warn
            } else {
                Status::Pass
            };
            // The value is never shown: it may be a secret pasted into the wrong variable.
            let message = match verdict {
                RotationVerdict::Invalid { reason } => {
                    format!("`{}` is {reason}", escape_text(&var.name))
                }
                RotationVerdict::InFuture => format!(
                    "`{}` is in the future: a key cannot have been issued after now; check the date",
                    escape_text(&var.name)
                ),
                RotationVerdict::Overdue { age_days } => format!(
                    "`{key_var}` was issued {age_days} days ago, past the {}-day rotation limit: \
                     rotate it now",
                    rotation.max_age_days
                ),
                RotationVerdict::DueSoon { age_days } => format!(
                    "`{key_var}` was issued {age_days} days ago: schedule rotation before day {}",
                    rotation.max_age_days
                ),
                RotationVerdict::Fresh { age_days } => {
                    format!("`{key_var}` was issued {age_days} days ago")
                }
            };
            item.add_at(status, message, &var.file, var.line);
        }
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

/// "Missing rotation" (the error table): the key-age item's verdict, as a row.
pub fn missing_rotation(age: &Item) -> Item {
    let mut rotation = age.clone();
    rotation.id = ROTATION;
    rotation.title = "Missing rotation";
    for finding in &mut rotation.evidence {
        finding.rule = ROTATION.to_owned();
    }
    rotation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_names() {
        assert!(is_env_file(".env"));
        assert!(is_env_file("app/.env.local"));
        assert!(is_env_file(".env.production"));
        assert!(is_env_file(".env.example"));
        assert!(is_example_env_file("a/.env.sample"));
        assert!(!is_example_env_file(".env.example.local"));
        assert!(!is_env_file("x.env"));
        assert!(!is_env_file(".envrc"));
        assert!(!is_env_file(".env."));
    }

    #[test]
    fn env_lines() {
        let vars = parse_env("# c\nexport A=1\nB = \"two # x\"\nC=3 # note\nD=${HOME}\n\nA2='x'\n");
        assert_eq!(vars[0], (2, "A".to_owned(), "1".to_owned()));
        assert_eq!(vars[1], (3, "B".to_owned(), "two # x".to_owned()));
        assert_eq!(vars[2], (4, "C".to_owned(), "3".to_owned()));
        // Substituted from the environment: not what the file holds.
        assert!(vars.iter().all(|(_, name, _)| name != "D"), "{vars:?}");
        assert_eq!(vars.last(), Some(&(7, "A2".to_owned(), "x".to_owned())));
        // A line dotenvy cannot parse is skipped, the rest still read.
        let vars = parse_env("A=1\nnot a line\nB=2\n");
        assert_eq!(
            vars.iter().map(|v| v.2.as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
    }

    fn env_file(environment: Option<&str>, vars: &[(&str, &str)]) -> EnvFile {
        let file = format!(".env.{}", environment.unwrap_or("x"));
        EnvFile {
            file: file.clone(),
            environment: environment.map(str::to_owned),
            vars: vars
                .iter()
                .enumerate()
                .map(|(i, (name, value))| EnvVar {
                    file: file.clone(),
                    line: i as u64 + 1,
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn key_age_judges_as_the_loader_does() {
        let policy = Policy::builtin();
        let now = clay_policy::unix_seconds_of("2026-11-29T12:00:00Z").unwrap_or_default();
        let statuses = |environment: Option<&str>, value: &str| {
            let item = key_age(
                &[env_file(environment, &[("K_ISSUED_AT", value)])],
                policy,
                now,
            );
            let messages: Vec<String> = item.evidence.iter().map(|e| e.message.clone()).collect();
            [(item.status, messages.join("\n"))]
        };
        // Overdue: a failure where loading stops (production), a warning elsewhere.
        assert_eq!(
            statuses(Some("production"), "2026-01-01")[0].0,
            Status::Fail
        );
        assert_eq!(statuses(Some("staging"), "2026-01-01")[0].0, Status::Warn);
        assert_eq!(
            statuses(Some("production"), "2026-09-01")[0].0,
            Status::Warn
        );
        assert_eq!(
            statuses(Some("production"), "2026-11-19")[0].0,
            Status::Pass
        );
        // A date that cannot be read or lies ahead fails everywhere, and is never echoed.
        let bad = statuses(None, "hunter2");
        assert_eq!(bad[0].0, Status::Fail);
        assert!(!bad[0].1.contains("hunter2"), "{}", bad[0].1);
        assert_eq!(statuses(None, "2027-01-01")[0].0, Status::Fail);
    }

    #[test]
    fn a_test_key_in_production_fails_as_it_would_at_load() {
        let files = [env_file(
            Some("production"),
            &[("CLAY_READ_KEY", "sk_test_abcd1234efgh5678")],
        )];
        let item = distinct_keys(&files, Policy::builtin());
        assert_eq!(item.status, Status::Fail, "{:?}", item.evidence);
        assert!(
            item.evidence
                .iter()
                .any(|e| e.message.contains("a test key in production")),
            "{:?}",
            item.evidence
        );
        let files = [env_file(
            Some("development"),
            &[("CLAY_READ_KEY", "sk_live_abcd1234efgh5678")],
        )];
        let item = distinct_keys(&files, Policy::builtin());
        assert_eq!(item.status, Status::Fail, "{:?}", item.evidence);
        assert!(
            item.evidence
                .iter()
                .any(|e| e.message.contains("a live key in development")),
            "{:?}",
            item.evidence
        );
    }
}
