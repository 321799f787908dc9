//! `cargo clay audit [PATH]`: the security checklist of Clay's security practice over a
//! repository, each item `pass`, `fail` or `warn` with its evidence, and its "Error Handling"
//! table as results.
//!
//! | item | how it is decided |
//! |---|---|
//! | API keys in environment variables | no key in the working tree: every tracked file, whatever the ignore files say, and the untracked ones not ignored (the scan's rules) |
//! | `.env` files in `.gitignore` | `git check-ignore` for `.env`, `.env.local`, `.env.*.local` |
//! | `.env` files never committed | no `.env` or `.env.*` tracked now or added in any commit, except `.env.example`, `.env.sample` and `.env.template` holding no key |
//! | different keys for dev/staging/prod | `.env.<environment>` files compared by key fingerprint |
//! | minimal scopes per environment | the derive's findings (`cargo clay check`) |
//! | webhook signatures validated | non-test code calls `verify`/`verify_at` and names `WebhookVerifier`, or uses the axum `VerifiedBody` extractor (read with syn: comments, strings and `use` lines do not count) |
//! | audit logging enabled | non-test code records entries (`record`, or `attach`/`attach_key` to record every scope use) and names `AuditLog` |
//! | key age | `*_ISSUED_AT` values in `.env*` files against the policy's rotation ages |
//!
//! The modules: [`checklist`] (the items judged from code and scopes), [`env_files`] (`.env`
//! files: ignored, committed, distinct keys, key age), [`history`] (what git history holds),
//! [`report`] (text, JSON and SARIF).

pub mod checklist;
pub mod env_files;
pub mod history;
pub mod report;

use std::io::Write;
use std::path::PathBuf;

use crate::report::{Finding, Format, Level};
use crate::scan::Scanner;
use crate::source::Code;
use crate::{Error, Outcome, util};

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
    /// The checklist's wording.
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

    /// Adds a finding made elsewhere (a scan's, the derive's) as a failure of this item.
    fn fail_with(&mut self, mut finding: Finding) {
        finding.rule = self.id.to_owned();
        finding.level = Level::Error;
        self.status = Status::Fail;
        self.evidence.push(finding);
    }
}

/// A row of the "Error Handling" table.
#[derive(Debug, Clone)]
pub struct ErrorRow {
    /// The item with the row's verdict.
    pub item: Item,
    /// The "Detection" column.
    pub detection: &'static str,
    /// The "Mitigation" column.
    pub mitigation: &'static str,
}

/// The whole audit.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The audited directory.
    pub root: PathBuf,
    /// The checklist, in order, plus key age.
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

/// Item ids: the SARIF rule ids and the JSON `id`s.
pub mod ids {
    /// API keys in environment variables.
    pub const KEYS_IN_ENV: &str = "keys_in_env_vars";
    /// `.env` files in `.gitignore`.
    pub const ENV_IGNORED: &str = "env_files_ignored";
    /// `.env` files never committed.
    pub const ENV_UNTRACKED: &str = "env_files_never_committed";
    /// Different keys for dev/staging/prod.
    pub const DISTINCT_KEYS: &str = "distinct_keys_per_environment";
    /// Minimal scopes per environment.
    pub const MINIMAL_SCOPES: &str = "minimal_scopes";
    /// Webhook signatures validated.
    pub const WEBHOOKS: &str = "webhook_signatures_validated";
    /// Audit logging enabled.
    pub const AUDIT_LOGGING: &str = "audit_logging_enabled";
    /// Key age.
    pub const KEY_AGE: &str = "key_age";
    /// Exposed API key (error table).
    pub const EXPOSED: &str = "exposed_api_key";
    /// Excessive scopes (error table).
    pub const EXCESSIVE: &str = "excessive_scopes";
    /// Missing rotation (error table).
    pub const ROTATION: &str = "missing_rotation";
}

/// Runs the audit of `args.path`.
pub fn audit(args: &Args) -> Result<Audit, Error> {
    let root = util::dir_arg(args.path.as_deref())?;
    let policy = crate::policy::load_policy(&root, args.policy.as_deref())?;
    let scanner = Scanner::for_root(&root, args.policy.as_deref())?;
    let in_git = util::git_toplevel(&root).is_some();
    let prefix = util::git_prefix(&root);
    let threads = util::default_threads();
    // Key ages are counted from this moment, by clay-policy's rotation verdict (the loader's).
    let now = match &args.today {
        Some(text) => clay_policy::unix_seconds_of(text)
            .map_err(|e| Error::Usage(format!("--today {text:?}: {e}")))?,
        None => clay_policy::now_unix_seconds(),
    };

    let (tree, notes) = scanner.scan_tree(&root, &prefix, threads)?;
    for note in notes {
        eprintln!("note: {}", crate::report::escape_text(&note));
    }
    let history = if in_git && !args.no_history {
        scanner.scan_history(&root, threads, false)?
    } else {
        Vec::new()
    };

    let keys_in_env = checklist::keys_in_env(&tree);
    let ignored = env_files::ignored(&root, &prefix, in_git);
    let untracked = env_files::never_committed(&root, in_git, &tree, &history);
    let env = env_files::read(&root, &prefix);
    let distinct = env_files::distinct_keys(&env, &policy);
    let (scopes, check_findings) = checklist::minimal_scopes(&root, args.no_check);
    let code = Code::read(&root, &prefix);
    for note in code.notes() {
        eprintln!("note: {}", crate::report::escape_text(note));
    }
    let webhooks = checklist::webhooks(&code);
    let audit_logging = checklist::audit_logging(&code);
    let age = env_files::key_age(&env, &policy, now);

    let exposed = history::exposed(&tree, &history, in_git, args.no_history);
    let excessive =
        checklist::excessive_scopes(&check_findings, args.usage.as_deref(), scopes.status)?;
    let rotation = env_files::missing_rotation(&age);

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

/// Runs `cargo clay audit`. Exit status 1 when an item fails (warnings alone do not fail).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let audit = audit(args)?;
    match args.format {
        Format::Text => out.write_all(report::text(&audit).as_bytes())?,
        format => report::to_report(&audit).write(format, out)?,
    }
    Ok(Outcome::from_found(audit.failed()))
}
