//! `cargo clay audit-log verify FILE`: checks a hash-chained audit log
//! (`clay_config::audit::verify`).

use std::io::Write;
use std::path::PathBuf;

use clay_config::audit::{VerifyReport, verify};
use serde_json::json;

use crate::report::{Finding, Format, Level, Report, RuleInfo};
use crate::{Error, Outcome};

/// `cargo clay audit-log …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Verifies the chain of a file sink's log: every line whole, unedited, in order.
    Verify(VerifyArgs),
}

/// Arguments of `cargo clay audit-log verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The log written by `clay_config::audit::FileSink`.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The id of the finding for a broken chain.
pub const BROKEN_CHAIN: &str = "audit_log_broken_chain";

/// Runs `cargo clay audit-log …`.
pub fn run(command: &Command, out: &mut dyn Write) -> Result<Outcome, Error> {
    match command {
        Command::Verify(args) => run_verify(args, out),
    }
}

fn run_verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let verified = verify(&args.file).map_err(|e| Error::Io(e.to_string()))?;
    let file = args.file.display().to_string();
    match args.format {
        Format::Text => writeln!(out, "{file}: {verified}")?,
        Format::Json | Format::Sarif => report(&file, &verified).write(args.format, out)?,
    }
    Ok(Outcome::from_found(!verified.is_ok()))
}

fn report(file: &str, verified: &VerifyReport) -> Report {
    let mut report = Report::new(
        "audit-log verify",
        vec![RuleInfo::new(
            BROKEN_CHAIN,
            "The audit log's hash chain is broken.",
            "Each line of a clay-config audit log carries the SHA-256 of the line before; a \
             line that was edited, removed, inserted, reordered or cut short breaks the chain \
             at that line.",
            "Treat the log as tampered with from this line on: keep a copy, compare with your \
             backups or the head you kept (AuditLog::head), and find out who could write it.",
        )],
    );
    report.fallback_file = file.to_owned();
    if let Some(broken) = verified.broken() {
        report.findings.push(
            Finding::new(
                BROKEN_CHAIN,
                Level::Error,
                format!(
                    "{}; the {} entries before it verify",
                    broken.problem(),
                    verified.entries()
                ),
            )
            .at(file, broken.line()),
        );
    }
    report.json_extra.insert("file".into(), json!(file));
    report
        .json_extra
        .insert("ok".into(), json!(verified.is_ok()));
    report
        .json_extra
        .insert("entries".into(), json!(verified.entries()));
    report
        .json_extra
        .insert("head".into(), json!(verified.head().map(|h| h.to_string())));
    report
        .json_extra
        .insert("repairs".into(), json!(verified.repairs()));
    report
}
