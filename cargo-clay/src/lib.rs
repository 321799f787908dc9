//! `cargo clay`: the Clay security checklist over a repository, leaked keys in files and git
//! history, the derive's checks over a crate, and the policy in force, as text, JSON or SARIF.
//!
//! The binary is a thin wrapper around [`run`]; every command is a module of this library.
//! Exit status: 0 clean, 1 findings, 2 usage or I/O error.
//!
//! ```
//! // `cargo clay policy --default` prints the built-in table.
//! let mut out = Vec::new();
//! let status = cargo_clay::run_with(["cargo-clay", "clay", "policy", "--default"], &mut out);
//! assert_eq!(status, 0);
//! assert!(String::from_utf8_lossy(&out).contains("[environments.production]"));
//! ```

pub mod audit;
pub mod audit_log;
pub mod check;
pub mod policy;
pub mod policy_diff;
pub mod report;
pub mod scan;
pub mod scopes;
pub mod source;
pub mod unused;
mod util;
pub mod verify_key;

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};

use clap::{Parser, Subcommand};

/// Exit status when nothing was found.
pub const EXIT_CLEAN: i32 = 0;
/// Exit status when something was found.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit status for a usage or I/O error.
pub const EXIT_ERROR: i32 = 2;

/// `cargo clay`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-clay",
    bin_name = "cargo clay",
    version,
    about = "Audit a repository against the Clay security checklist, scan for leaked keys, check declared scopes.",
    after_help = "Exit status: 0 clean, 1 findings, 2 usage or I/O error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The derive's least-privilege checks over a crate (runs `cargo check`).
    Check(check::Args),
    /// The declared scopes per key and environment; with `--usage`, the ones never used.
    Scopes(scopes::Args),
    /// The policy in force (the crate's `clay-policy.toml`), or the built-in one, as TOML.
    Policy(policy::Args),
    /// Leaked keys in the working tree, the index (`--staged`) or git history (`--history`).
    Scan(scan::Args),
    /// The security checklist of Clay's security practice over a repository.
    Audit(audit::Args),
    /// Checks that the key in an environment variable is accepted (rotation step 3).
    VerifyKey(verify_key::Args),
    /// Audit log tools.
    #[command(subcommand)]
    AuditLog(audit_log::Command),
}

/// Why a command could not run: a usage or I/O error (exit status 2).
#[derive(Debug)]
pub enum Error {
    /// The command line or an input file is wrong.
    Usage(String),
    /// Reading, writing or running something failed.
    Io(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl fmt::Display, error: impl fmt::Display) -> Self {
        Error::Io(format!("{context}: {error}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::Io(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error.to_string())
    }
}

/// What a command found: clean (exit 0) or findings (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Clean,
    /// At least one finding.
    Findings,
}

impl Outcome {
    /// `Findings` when `found`, else `Clean`.
    pub fn from_found(found: bool) -> Self {
        if found {
            Outcome::Findings
        } else {
            Outcome::Clean
        }
    }
}

/// Runs `cargo clay` with these arguments (the first is the program name; a `clay` after it,
/// as cargo passes it to subcommands, is skipped), printing to standard output. Returns the
/// exit status.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let stdout = io::stdout();
    let mut out = stdout.lock();
    run_with(args, &mut out)
}

/// [`run`], printing the command's output to `out` (errors and progress still go to standard
/// error).
pub fn run_with<I, T>(args: I, out: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if args.get(1).is_some_and(|a| a == "clay") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let status = if error.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            // --help and --version go to the output; usage errors to standard error.
            if error.use_stderr() {
                let _ = error.print();
            } else {
                let _ = write!(out, "{}", error.render());
            }
            return status;
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&args, out),
        Command::Scopes(args) => scopes::run(&args, out),
        Command::Policy(args) => policy::run(&args, out),
        Command::Scan(args) => scan::run(&args, out),
        Command::Audit(args) => audit::run(&args, out),
        Command::VerifyKey(args) => verify_key::run(&args, out),
        Command::AuditLog(command) => audit_log::run(&command, out),
    };
    let _ = out.flush();
    match result {
        Ok(Outcome::Clean) => EXIT_CLEAN,
        Ok(Outcome::Findings) => EXIT_FINDINGS,
        Err(Error::Io(message)) if message.contains("Broken pipe") => EXIT_CLEAN,
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_ERROR
        }
    }
}
