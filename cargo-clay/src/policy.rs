//! `cargo clay policy [--default] [--policy FILE]`: the least-privilege table as TOML;
//! `cargo clay policy diff [REV]` is in [`crate::policy_diff`].

use std::io::Write;
use std::path::{Path, PathBuf};

use clay_policy::Policy;

use crate::{Error, Outcome, util};

/// Arguments of `cargo clay policy`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// `diff [REV]`: what the working tree's policy widens and narrows against `REV`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the built-in table, whatever the crate has.
    #[arg(long = "default", conflicts_with = "policy")]
    pub builtin: bool,
    /// The policy file to print (validated); default: the policy in force for the crate
    /// (`clay-policy.toml` at the crate root, else at the workspace root, else built in).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The crate's `Cargo.toml`; default: the nearest one from the current directory.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

/// Subcommands of `cargo clay policy`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// The policy in force at a git revision (default `HEAD`) against the working tree: per
    /// environment what widens and what narrows, and the declarations the new policy rejects.
    /// Exit status 1 when anything widens.
    Diff(crate::policy_diff::Args),
}

/// The policy in force for the crate or repository at `root`: `explicit` when given, else what
/// clay-policy's `find_policy` decides (the crate root's `clay-policy.toml`, the workspace
/// root's, the built-in table), the rule the derive follows. A file that cannot be read or
/// does not parse is a usage error listing every problem with `file:line:column`.
pub fn load_policy(root: &Path, explicit: Option<&Path>) -> Result<Policy, Error> {
    let location = match explicit {
        Some(path) => {
            let Some(path) = path.to_str() else {
                return Err(Error::Usage(
                    "the policy path is not valid UTF-8".to_owned(),
                ));
            };
            clay_policy::find_policy(Path::new("."), Some(path))
        }
        None => clay_policy::find_policy(root, None),
    };
    location.load().map_err(|e| Error::Usage(e.to_string()))
}

/// Runs `cargo clay policy`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    if let Some(Command::Diff(diff)) = &args.command {
        return crate::policy_diff::run(diff, out);
    }
    if args.builtin {
        out.write_all(Policy::builtin().to_toml().as_bytes())?;
        return Ok(Outcome::Clean);
    }
    let policy = match &args.policy {
        Some(path) => load_policy(Path::new("."), Some(path))?,
        None => {
            let dir = match util::crate_dir(args.manifest_path.as_deref()) {
                Ok(dir) => dir,
                // Outside a crate, the table in force is the built-in one.
                Err(_) if args.manifest_path.is_none() => PathBuf::from("."),
                Err(error) => return Err(error),
            };
            let location = clay_policy::find_policy(&dir, None);
            eprintln!(
                "note: the policy in force for {} is {} ({})",
                dir.display(),
                location.shown(),
                location.origin().describe()
            );
            load_policy(&dir, None)?
        }
    };
    out.write_all(policy.to_toml().as_bytes())?;
    Ok(Outcome::Clean)
}
