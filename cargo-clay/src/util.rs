//! Small helpers shared by the commands: paths, git, cargo.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// The directory a command works on: `path`, or the current directory; it must exist.
pub(crate) fn dir_arg(path: Option<&Path>) -> Result<PathBuf, Error> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => std::env::current_dir().map_err(|e| Error::io("current directory", e))?,
    };
    let meta = std::fs::metadata(&path).map_err(|e| Error::io(path.display(), e))?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!("{}: not a directory", path.display())));
    }
    // Canonical, so that it compares equal to git's toplevel.
    std::fs::canonicalize(&path).map_err(|e| Error::io(path.display(), e))
}

/// `git -C dir` with output that parses whatever the user's config says.
pub(crate) fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["-c", "core.quotepath=false"]);
    command
}

/// Runs `git -C dir args…`; its standard output when it succeeds.
pub(crate) fn git_output(dir: &Path, args: &[&str]) -> Option<String> {
    let output = git(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The root of the git work tree containing `dir`, when it is in one.
pub(crate) fn git_toplevel(dir: &Path) -> Option<PathBuf> {
    let top = git_output(dir, &["rev-parse", "--show-toplevel"])?;
    let top = PathBuf::from(top.trim_end_matches(['\n', '\r']));
    Some(std::fs::canonicalize(&top).unwrap_or(top))
}

/// `dir` relative to its work tree's root, with a trailing `/` (empty at the root or
/// outside git): the prefix that makes paths under `dir` repository-relative.
pub(crate) fn git_prefix(dir: &Path) -> String {
    git_output(dir, &["rev-parse", "--show-prefix"])
        .map(|p| p.trim_end_matches(['\n', '\r']).to_owned())
        .unwrap_or_default()
}

/// A relative path with `/` separators.
pub(crate) fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` relative to `base` with `/` separators, or `path` as given when it is not under it.
pub(crate) fn relative_to(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(relative) => slash_path(relative),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// One thread per CPU.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The cargo that runs us (`CARGO`, which cargo sets for subcommands), else `cargo`.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// The directory of the crate: that of `manifest_path`, or the nearest one upwards from the
/// current directory that holds a `Cargo.toml`.
pub(crate) fn crate_dir(manifest_path: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(manifest) = manifest_path {
        if !manifest.is_file() {
            return Err(Error::Usage(format!(
                "{}: no such manifest",
                manifest.display()
            )));
        }
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        return std::fs::canonicalize(dir).map_err(|e| Error::io(dir.display(), e));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("current directory", e))?;
    cwd.ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            Error::Usage(format!(
                "could not find `Cargo.toml` in {} or any parent directory (use --manifest-path)",
                cwd.display()
            ))
        })
}

/// A child process whose stdout is read as a stream while its stderr is drained on a thread,
/// so a chatty stderr cannot block the child while the caller reads stdout.
pub(crate) struct Streamed {
    child: std::process::Child,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// The child's stdout.
    pub(crate) stdout: std::process::ChildStdout,
}

impl Streamed {
    /// Spawns `command` (`what` names it in errors: "`git log`").
    pub(crate) fn spawn(command: &mut Command, what: &str) -> Result<Streamed, Error> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format_args!("could not run {what}"), e))?;
        let stderr = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
                text
            })
        });
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Io(format!("{what} has no output pipe")))?;
        Ok(Streamed {
            child,
            stderr,
            stdout,
        })
    }

    /// Waits for the child: its exit status and everything it wrote to stderr.
    pub(crate) fn wait(mut self, what: &str) -> Result<(std::process::ExitStatus, String), Error> {
        let status = self
            .child
            .wait()
            .map_err(|e| Error::io(format_args!("could not wait for {what}"), e))?;
        let stderr = self.stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        Ok((status, stderr))
    }
}
