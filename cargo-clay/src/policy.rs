//! `cargo clay policy [--default] [--policy FILE]`: the least-privilege table as TOML.

use std::io::Write;
use std::path::{Path, PathBuf};

use clay_policy::Policy;

use crate::{Error, Outcome, util};

/// The policy file a crate's derive uses by convention, at the crate root.
pub const POLICY_FILE: &str = "clay-policy.toml";

/// Arguments of `cargo clay policy`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Print the built-in table, whatever the crate has.
    #[arg(long = "default", conflicts_with = "policy")]
    pub builtin: bool,
    /// The policy file to print (validated); default: `clay-policy.toml` at the crate root.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The crate's `Cargo.toml`; default: the nearest one from the current directory.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

/// The policy in force for the crate or repository at `root`: `explicit` when given, else
/// `clay-policy.toml` in `root` when present, else the built-in table. A file that does not
/// parse is a usage error listing every problem with `file:line:column`.
pub fn load_policy(root: &Path, explicit: Option<&Path>) -> Result<Policy, Error> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let path = root.join(POLICY_FILE);
            if !path.is_file() {
                return Ok(Policy::builtin().clone());
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(path.display(), e))?;
    let name = explicit.map_or_else(|| POLICY_FILE.to_owned(), |p| p.display().to_string());
    Policy::from_toml(&text, name).map_err(|e| Error::Usage(e.to_string()))
}

/// Runs `cargo clay policy`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
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
            if !dir.join(POLICY_FILE).is_file() {
                eprintln!(
                    "note: no {POLICY_FILE} in {}: the built-in table applies",
                    dir.display()
                );
            }
            load_policy(&dir, None)?
        }
    };
    out.write_all(policy.to_toml().as_bytes())?;
    Ok(Outcome::Clean)
}
