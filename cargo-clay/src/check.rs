//! `cargo clay check [--manifest-path P]`: the derive's least-privilege findings over a crate.
//!
//! There is one implementation of the rules (`clay_policy::check`, run by the derive at build
//! time); this command does not copy it. It runs `cargo check --message-format=json` with the
//! cargo that runs it and collects the compiler errors whose text starts with `[rule]` for a
//! rule of [`clay_policy::Rule::ALL`], with the file, line and column the derive put them on.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use clay_policy::Rule;
use serde_json::Value;

use crate::report::{Finding, Format, Level, Report, RuleInfo};
use crate::{Error, Outcome, util};

/// Arguments of `cargo clay check`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The crate's (or workspace's) `Cargo.toml`.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Check tests, examples and benches too (`cargo check --all-targets`).
    #[arg(long)]
    pub all_targets: bool,
    /// Check every member of the workspace (`cargo check --workspace`).
    #[arg(long)]
    pub workspace: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What `cargo check` said, sorted out.
#[derive(Debug, Clone, Default)]
pub struct CheckResult {
    /// The `[rule]` errors, each once.
    pub findings: Vec<Finding>,
    /// Errors that are not the derive's (type errors, a missing dependency…), as rendered.
    pub other_errors: Vec<String>,
    /// True when `cargo check` succeeded.
    pub success: bool,
}

/// The SARIF rules: every rule of the derive, described by clay-policy itself.
pub fn rule_infos() -> Vec<RuleInfo> {
    Rule::ALL
        .iter()
        .map(|rule| {
            RuleInfo::new(
                rule.name(),
                rule.summary(),
                &format!(
                    "{} Reported by #[derive(ClayConfig)] at build time; the message names the \
                     token, the environment and the policy table in force.",
                    rule.summary()
                ),
                "Change the declaration as the message says. `cargo clay policy` prints the \
                 least-privilege table in force; the rule table is in the clay-config README.",
            )
        })
        .collect()
}

/// The rule named at the start of a compiler message (`[excessive_scope] …`).
pub fn rule_of_message(message: &str) -> Option<Rule> {
    let rest = message.strip_prefix('[')?;
    let (name, _) = rest.split_once(']')?;
    Rule::from_name(name)
}

/// Runs `cargo check --message-format=json` on the crate and collects the derive's findings.
/// Paths are made relative to `base` (the repository root, usually).
pub fn run_cargo_check(args: &Args, base: Option<&Path>) -> Result<CheckResult, Error> {
    let workspace_root = workspace_root(args.manifest_path.as_deref())?;
    let base = base.map_or_else(|| workspace_root.clone(), Path::to_path_buf);
    let mut command = util::cargo();
    command.args(["check", "--message-format=json"]);
    if let Some(manifest) = &args.manifest_path {
        command.arg("--manifest-path").arg(manifest);
    }
    if args.all_targets {
        command.arg("--all-targets");
    }
    if args.workspace {
        command.arg("--workspace");
    }
    let mut child = util::Streamed::spawn(&mut command, "`cargo check`")?;
    let mut result = CheckResult::default();
    for line in BufReader::new(&mut child.stdout).lines() {
        let line = line.map_err(|e| Error::io("reading `cargo check`", e))?;
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if value["reason"] != "compiler-message" {
            continue;
        }
        let message = &value["message"];
        let text = message["message"].as_str().unwrap_or_default();
        match rule_of_message(text) {
            Some(rule) => {
                let finding = to_finding(rule, message, &workspace_root, &base);
                if !result.findings.contains(&finding) {
                    result.findings.push(finding);
                }
            }
            None if message["level"] == "error" => {
                let rendered = message["rendered"].as_str().unwrap_or(text).to_owned();
                // "aborting due to N previous errors" restates the others.
                if !text.starts_with("aborting due to") && !result.other_errors.contains(&rendered)
                {
                    result.other_errors.push(rendered);
                }
            }
            None => {}
        }
    }
    let (status, stderr) = child.wait("`cargo check`")?;
    result.success = status.success();
    if !result.success && result.findings.is_empty() && result.other_errors.is_empty() {
        // Cargo itself failed (bad manifest, no network for a dependency…).
        return Err(Error::Io(format!(
            "`cargo check` failed:\n{}",
            stderr.trim_end()
        )));
    }
    Ok(result)
}

fn to_finding(rule: Rule, message: &Value, workspace_root: &Path, base: &Path) -> Finding {
    let text = message["message"].as_str().unwrap_or_default();
    let spans = message["spans"].as_array().cloned().unwrap_or_default();
    let span = spans
        .iter()
        .find(|s| s["is_primary"] == true)
        .or_else(|| spans.first());
    let mut finding = Finding::new(rule.name(), Level::Error, text);
    if let Some(span) = span {
        let file = span["file_name"].as_str().unwrap_or_default();
        let path = workspace_root.join(file);
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        finding.file = Some(util::relative_to(&path, base));
        finding.line = span["line_start"].as_u64();
        finding.column = span["column_start"].as_u64();
    }
    finding
}

/// The workspace root of the crate (where cargo's message paths are relative to).
fn workspace_root(manifest_path: Option<&Path>) -> Result<PathBuf, Error> {
    let mut command = util::cargo();
    command.args(["locate-project", "--workspace", "--message-format", "plain"]);
    if let Some(manifest) = manifest_path {
        command.arg("--manifest-path").arg(manifest);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("could not run `cargo locate-project`", e))?;
    if !output.status.success() {
        return Err(Error::Usage(format!(
            "no crate here: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let root = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    Ok(std::fs::canonicalize(&root).unwrap_or(root))
}

/// The report of `cargo clay check`.
pub fn check(args: &Args) -> Result<(Report, CheckResult), Error> {
    let dir = util::crate_dir(args.manifest_path.as_deref())?;
    let base = util::git_toplevel(&dir);
    let result = run_cargo_check(args, base.as_deref())?;
    let mut report = Report::new("check", rule_infos());
    report.findings = result.findings.clone();
    if !result.other_errors.is_empty() {
        report.text_footer.push(format!(
            "note: `cargo check` also reported {} error(s) that are not clay-config's; run \
             `cargo check` to see them",
            result.other_errors.len()
        ));
    }
    Ok((report, result))
}

/// Runs `cargo clay check`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let (report, result) = check(args)?;
    report.write(args.format, out)?;
    if report.findings.is_empty() && !result.success {
        // Only errors that are not clay-config's: the crate does not build.
        for error in &result.other_errors {
            eprint!("{error}");
        }
        return Err(Error::Usage(
            "`cargo check` failed with errors that are not clay-config's (shown above)".to_owned(),
        ));
    }
    Ok(Outcome::from_found(report.has_findings()))
}
