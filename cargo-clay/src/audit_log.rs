//! `cargo clay audit-log verify FILE... [--public-key KEY] [--head SEQ:HASH]`: checks a
//! hash-chained audit log (`clay_config::audit::verify_with`), and `cargo clay audit-log
//! keygen [FILE]`: a new key pair for signed checkpoints.

use std::io::Write;
use std::path::{Path, PathBuf};

use clay_config::audit::{
    Head, SigningKey, VerifyOptions, VerifyReport, VerifyingKey, verify_with,
};
use serde_json::json;

use crate::report::{Finding, Format, Level, Report, RuleInfo};
use crate::{Error, Outcome};

/// `cargo clay audit-log …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Verifies a log written by `clay_config::audit::FileSink`: every line whole, unedited,
    /// in order, across rotated files; with --public-key, every signed checkpoint; with
    /// --head, that the log still holds a head kept elsewhere.
    Verify(VerifyArgs),
    /// Makes a key pair for signed checkpoints: the private key to a new file (mode 0600,
    /// never overwriting one), the public key on standard output.
    Keygen(KeygenArgs),
}

/// Arguments of `cargo clay audit-log verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The log: one file (its rotated files `FILE.1`, `FILE.2`, … are read first), a
    /// directory holding one log, or the files in order, oldest first.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Check the signed checkpoints with this public key (as `keygen` printed it,
    /// `clay-audit-ed25519-public:…`). The log must hold at least one checkpoint.
    #[arg(long, value_name = "KEY")]
    pub public_key: Option<String>,
    /// A head kept elsewhere (`AuditLog::head`, or a checkpoint's `seq` and `hash`): the log
    /// must still hold that line with that hash; a log cut short before it fails.
    #[arg(long, value_name = "SEQ:HASH")]
    pub head: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Arguments of `cargo clay audit-log keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key: a new file, created with mode 0600.
    #[arg(value_name = "FILE", default_value = "clay-audit-signing.key")]
    pub file: PathBuf,
}

/// The id of the finding for a broken chain (or a failed signed check).
pub const BROKEN_CHAIN: &str = "audit_log_broken_chain";

/// Runs `cargo clay audit-log …`.
pub fn run(command: &Command, out: &mut dyn Write) -> Result<Outcome, Error> {
    match command {
        Command::Verify(args) => run_verify(args, out),
        Command::Keygen(args) => run_keygen(args, out),
    }
}

fn run_verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let mut options = VerifyOptions::new();
    if let Some(key) = &args.public_key {
        let key: VerifyingKey = key
            .parse()
            .map_err(|e| Error::Usage(format!("--public-key: {e}")))?;
        options = options.public_key(key);
    }
    if let Some(head) = &args.head {
        let head: Head = head
            .parse()
            .map_err(|e| Error::Usage(format!("--head: {e} (expected SEQ:HASH)")))?;
        options = options.head(head);
    }
    let verified = verify_with(&args.files, &options).map_err(|e| Error::Io(e.to_string()))?;
    let shown: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let file = shown.join(" ");
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
            "The audit log's hash chain or its signed checkpoints do not verify.",
            "Each line of a clay-config audit log carries the SHA-256 of the line before; a \
             line that was edited, removed, inserted, reordered or cut short breaks the chain \
             at that line. With a public key, each signed checkpoint must sign the line \
             before it: a log rewritten with recomputed hashes fails there.",
            "Treat the log as tampered with from this line on: keep a copy, compare with your \
             backups or the head you kept, and find out who could write it.",
        )],
    );
    report.fallback_file = file.to_owned();
    if let Some(broken) = verified.broken() {
        let at = broken
            .file()
            .map(Path::display)
            .map_or_else(|| file.to_owned(), |f| f.to_string());
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
            .at(at, broken.line()),
        );
    }
    let files: Vec<String> = verified
        .files()
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let extra = &mut report.json_extra;
    extra.insert("file".into(), json!(file));
    extra.insert("files".into(), json!(files));
    extra.insert("ok".into(), json!(verified.is_ok()));
    extra.insert("entries".into(), json!(verified.entries()));
    extra.insert("head".into(), json!(verified.head().map(|h| h.to_string())));
    extra.insert("repairs".into(), json!(verified.repairs()));
    extra.insert("signed".into(), json!(verified.is_signed_check()));
    if verified.is_signed_check() {
        extra.insert("keyId".into(), json!(verified.key_id()));
        extra.insert("checkpoints".into(), json!(verified.checkpoints()));
        extra.insert(
            "signedHead".into(),
            json!(verified.signed_head().map(|h| h.to_string())),
        );
        extra.insert("unsignedEntries".into(), json!(verified.unsigned_entries()));
    }
    report
}

fn run_keygen(args: &KeygenArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let key = SigningKey::generate().map_err(|e| Error::Io(e.to_string()))?;
    let shown = args.file.display();
    let mut file = create_private(&args.file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Usage(format!(
                "{shown} exists: keygen never overwrites a key (remove it first, or name another file)"
            ))
        } else {
            Error::io(format!("creating {shown}"), e)
        }
    })?;
    let secret = key.to_secret();
    let written = file
        .write_all(secret.expose_secret().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        // Leave no half-written key behind.
        let _ = std::fs::remove_file(&args.file);
        return Err(Error::io(format!("writing {shown}"), e));
    }
    writeln!(out, "{}", key.verifying_key())?;
    eprintln!(
        "wrote the private key to {shown} (mode 0600). Give it to the service that writes the \
         log (e.g. as CLAY_AUDIT_SIGNING_KEY_FILE); give the public key above to whoever \
         verifies: cargo clay audit-log verify LOG --public-key <key>"
    );
    Ok(Outcome::Clean)
}

/// A new file only the owner can read and write; fails if anything exists at `path`.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
