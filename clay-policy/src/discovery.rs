//! Which policy is in force, and bounded reads of the files clay-config trusts.
//!
//! One function, [`find_policy`], decides which least-privilege table applies to a crate, for
//! the derive and every `cargo clay` command alike:
//! 1. `#[clay(policy = "path")]` on the struct: that file (relative to the crate root, or
//!    absolute);
//! 2. otherwise `clay-policy.toml` in the crate root;
//! 3. otherwise `clay-policy.toml` in the workspace root (the nearest ancestor of the crate root
//!    whose `Cargo.toml` has a `[workspace]` table), so a monorepo keeps one policy;
//! 4. otherwise the built-in table.
//!
//! Files are read with [`read_bounded`]: regular files only, up to a size cap, so a FIFO, a
//! device or a huge file named as a policy, a settings file or a secret file is a clear error at
//! once, never a hung build or an out-of-memory.
//!
//! ```
//! use clay_policy::{PolicyOrigin, find_policy};
//!
//! let dir = std::env::temp_dir().join(format!("clay-policy-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! assert_eq!(find_policy(&dir, None).origin(), PolicyOrigin::BuiltIn);
//! std::fs::write(dir.join("clay-policy.toml"), "[environments.production]\nallow = [\"read:tables\"]\n")?;
//! let found = find_policy(&dir, None);
//! assert_eq!(found.origin(), PolicyOrigin::CrateRoot);
//! assert_eq!(found.shown(), "clay-policy.toml");
//! let policy = found.load()?;
//! assert!(!policy.environment("production").expect("exists").allow().allows_str("read:rows"));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::policy::{Policy, PolicyError};

/// The file name looked for in the crate root and the workspace root.
pub const POLICY_FILE_NAME: &str = "clay-policy.toml";
/// Largest policy file read (1 MiB).
pub const MAX_POLICY_FILE_BYTES: u64 = 1 << 20;
/// Largest settings file (`CLAY_CONFIG`) read (1 MiB).
pub const MAX_SETTINGS_FILE_BYTES: u64 = 1 << 20;
/// Largest secret file (`<VAR>_FILE`) read (64 KiB).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 << 10;

/// Which rule of [`find_policy`] chose the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyOrigin {
    /// `#[clay(policy = "…")]` named it.
    Attribute,
    /// `clay-policy.toml` in the crate root.
    CrateRoot,
    /// `clay-policy.toml` in the workspace root.
    WorkspaceRoot,
    /// No file: the built-in table.
    BuiltIn,
}

impl PolicyOrigin {
    /// A short phrase for messages: `named by #[clay(policy)]`, `crate root`, …
    pub fn describe(self) -> &'static str {
        match self {
            PolicyOrigin::Attribute => "named by #[clay(policy = …)]",
            PolicyOrigin::CrateRoot => "found in the crate root",
            PolicyOrigin::WorkspaceRoot => "found in the workspace root",
            PolicyOrigin::BuiltIn => "built-in table",
        }
    }
}

/// The policy in force for a crate: where it is and how to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLocation {
    origin: PolicyOrigin,
    path: Option<PathBuf>,
    shown: String,
}

impl PolicyLocation {
    /// The built-in table.
    pub fn builtin() -> PolicyLocation {
        PolicyLocation {
            origin: PolicyOrigin::BuiltIn,
            path: None,
            shown: "built-in table".to_owned(),
        }
    }

    /// Which rule chose it.
    pub fn origin(&self) -> PolicyOrigin {
        self.origin
    }

    /// The file's full path; `None` for the built-in table.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How messages name it: the path relative to the crate root when it lies below it (as a
    /// user writes it), else the full path; `built-in table` for the built-in one.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Reads (bounded) and parses the policy; the built-in table needs no reading.
    pub fn load(&self) -> Result<Policy, PolicyLoadError> {
        let Some(path) = &self.path else {
            return Ok(Policy::builtin().clone());
        };
        let bytes =
            read_bounded(path, MAX_POLICY_FILE_BYTES).map_err(|error| PolicyLoadError::Read {
                shown: self.shown.clone(),
                error,
            })?;
        let text = String::from_utf8(bytes).map_err(|_| PolicyLoadError::NotUtf8 {
            shown: self.shown.clone(),
        })?;
        Policy::from_toml(&text, self.shown.clone()).map_err(PolicyLoadError::Invalid)
    }
}

impl fmt::Display for PolicyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Why the policy in force could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyLoadError {
    /// The file could not be read.
    Read {
        /// The policy's name in messages.
        shown: String,
        /// Why.
        error: FileReadError,
    },
    /// The file is not UTF-8.
    NotUtf8 {
        /// The policy's name in messages.
        shown: String,
    },
    /// The file was read but is not a valid policy (every problem, with `line:column`).
    Invalid(PolicyError),
}

impl fmt::Display for PolicyLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyLoadError::Read { shown, error } => {
                write!(f, "cannot read policy file `{shown}`: {error}")
            }
            PolicyLoadError::NotUtf8 { shown } => {
                write!(f, "policy file `{shown}` is not valid UTF-8")
            }
            PolicyLoadError::Invalid(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PolicyLoadError {}

/// The policy in force for the crate at `crate_root` (its `CARGO_MANIFEST_DIR`), given the
/// struct's `#[clay(policy = "…")]` value if it has one. Nothing is read but directory entries
/// and `Cargo.toml` files: a missing or unreadable attribute file is reported by
/// [`PolicyLocation::load`].
pub fn find_policy(crate_root: &Path, attribute: Option<&str>) -> PolicyLocation {
    if let Some(written) = attribute {
        let path = crate_root.join(written);
        let shown = shown_name(crate_root, &path);
        return PolicyLocation {
            origin: PolicyOrigin::Attribute,
            path: Some(path),
            shown,
        };
    }
    let in_crate = crate_root.join(POLICY_FILE_NAME);
    if exists(&in_crate) {
        return PolicyLocation {
            origin: PolicyOrigin::CrateRoot,
            shown: POLICY_FILE_NAME.to_owned(),
            path: Some(in_crate),
        };
    }
    if let Some(workspace) = workspace_root(crate_root) {
        let in_workspace = workspace.join(POLICY_FILE_NAME);
        if exists(&in_workspace) {
            return PolicyLocation {
                origin: PolicyOrigin::WorkspaceRoot,
                shown: in_workspace.display().to_string(),
                path: Some(in_workspace),
            };
        }
    }
    PolicyLocation::builtin()
}

/// Present in any form (a FIFO or a directory too): such a file is then refused by the read
/// with a clear error, rather than silently skipped for the next rule.
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The nearest strict ancestor of `crate_root` whose `Cargo.toml` has a `[workspace]` table.
/// A crate that is itself the workspace root was covered by the crate-root rule.
pub fn workspace_root(crate_root: &Path) -> Option<PathBuf> {
    let absolute = if crate_root.is_absolute() {
        crate_root.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(crate_root)
    };
    absolute
        .ancestors()
        .skip(1)
        .find(|dir| declares_workspace(&dir.join("Cargo.toml")))
        .map(Path::to_path_buf)
}

fn declares_workspace(manifest: &Path) -> bool {
    let Ok(bytes) = read_bounded(manifest, MAX_POLICY_FILE_BYTES) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return false;
    };
    toml::de::DeTable::parse(text)
        .map(|doc| doc.get_ref().contains_key("workspace"))
        .unwrap_or(false)
}

fn shown_name(crate_root: &Path, path: &Path) -> String {
    path.strip_prefix(crate_root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Why a file could not be read. Its `Display` completes "cannot read FILE: …" and never
/// includes the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileReadError {
    /// Nothing at that path.
    NotFound,
    /// Something that is not a regular file (a directory, a FIFO, a device, a socket).
    NotRegular {
        /// What it is: `a directory`, `a FIFO`, …
        what: &'static str,
    },
    /// Larger than the cap.
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// Another I/O error.
    Io(String),
}

impl fmt::Display for FileReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileReadError::NotFound => f.write_str("no such file"),
            FileReadError::NotRegular { what } => {
                write!(f, "it is {what}, not a regular file")
            }
            FileReadError::TooLarge { limit } => {
                write!(f, "it is larger than {}", human_size(*limit))
            }
            FileReadError::Io(error) => f.write_str(error),
        }
    }
}

impl std::error::Error for FileReadError {}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads `path` when it is a regular file (symbolic links followed) of at most `limit` bytes.
///
/// The kind is checked before opening, because opening a FIFO for reading waits for a writer;
/// the read itself stops at `limit + 1` bytes, so a file that grows after the check is still
/// refused without reading it whole.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileReadError> {
    let metadata = std::fs::metadata(path).map_err(|e| io_error(&e))?;
    if !metadata.is_file() {
        return Err(FileReadError::NotRegular {
            what: kind_of(&metadata),
        });
    }
    if metadata.len() > limit {
        return Err(FileReadError::TooLarge { limit });
    }
    let file = std::fs::File::open(path).map_err(|e| io_error(&e))?;
    // The handle's own metadata: the path may have been swapped since the check.
    let opened = file.metadata().map_err(|e| io_error(&e))?;
    if !opened.is_file() {
        return Err(FileReadError::NotRegular {
            what: kind_of(&opened),
        });
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(&e))?;
    if bytes.len() as u64 > limit {
        return Err(FileReadError::TooLarge { limit });
    }
    Ok(bytes)
}

fn io_error(error: &std::io::Error) -> FileReadError {
    match error.kind() {
        std::io::ErrorKind::NotFound => FileReadError::NotFound,
        _ => FileReadError::Io(error.to_string()),
    }
}

fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "clay-policy-discovery-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const TIGHT: &str = "[environments.production]\nallow = [\"read:tables\"]\n";

    #[test]
    fn the_four_rules_in_order() {
        let tmp = TempDir::new("order");
        let workspace = &tmp.0;
        let member = workspace.join("crates/svc");
        std::fs::create_dir_all(&member).expect("mkdir");
        std::fs::write(
            workspace.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/svc\"]\n",
        )
        .expect("write");
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"svc\"\n").expect("write");

        assert_eq!(find_policy(&member, None).origin(), PolicyOrigin::BuiltIn);

        std::fs::write(workspace.join(POLICY_FILE_NAME), TIGHT).expect("write");
        let found = find_policy(&member, None);
        assert_eq!(found.origin(), PolicyOrigin::WorkspaceRoot);
        assert_eq!(
            found.path(),
            Some(workspace.join(POLICY_FILE_NAME).as_path())
        );
        assert!(found.load().is_ok());

        std::fs::write(member.join(POLICY_FILE_NAME), TIGHT).expect("write");
        assert_eq!(find_policy(&member, None).origin(), PolicyOrigin::CrateRoot);

        let named = find_policy(&member, Some("policies/strict.toml"));
        assert_eq!(named.origin(), PolicyOrigin::Attribute);
        assert_eq!(named.shown(), "policies/strict.toml");
        assert!(matches!(
            named.load(),
            Err(PolicyLoadError::Read {
                error: FileReadError::NotFound,
                ..
            })
        ));
    }

    #[test]
    fn a_package_manifest_is_not_a_workspace() {
        let tmp = TempDir::new("package");
        let member = tmp.0.join("svc");
        std::fs::create_dir_all(&member).expect("mkdir");
        // `workspace` only as a key inside [package] does not make a workspace root.
        std::fs::write(
            tmp.0.join("Cargo.toml"),
            "[package]\nname = \"x\"\nworkspace = \"..\"\n",
        )
        .expect("write");
        std::fs::write(tmp.0.join(POLICY_FILE_NAME), TIGHT).expect("write");
        assert_eq!(find_policy(&member, None).origin(), PolicyOrigin::BuiltIn);
    }

    #[test]
    fn bounded_reads_refuse_what_is_not_a_small_regular_file() {
        let tmp = TempDir::new("bounded");
        let big = tmp.0.join("big.toml");
        std::fs::write(&big, vec![b'#'; 2048]).expect("write");
        assert_eq!(
            read_bounded(&big, 1024),
            Err(FileReadError::TooLarge { limit: 1024 })
        );
        assert_eq!(read_bounded(&big, 4096).map(|b| b.len()), Ok(2048));
        assert_eq!(
            read_bounded(&tmp.0, 1024),
            Err(FileReadError::NotRegular {
                what: "a directory"
            })
        );
        assert_eq!(
            read_bounded(&tmp.0.join("nope"), 1024),
            Err(FileReadError::NotFound)
        );
        #[cfg(unix)]
        {
            assert_eq!(
                read_bounded(Path::new("/dev/zero"), 1024),
                Err(FileReadError::NotRegular { what: "a device" })
            );
            let fifo = tmp.0.join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(
                made.is_ok_and(|s| s.success()),
                "mkfifo is needed for this test"
            );
            {
                assert_eq!(
                    read_bounded(&fifo, 1024),
                    Err(FileReadError::NotRegular { what: "a FIFO" })
                );
                // A FIFO as the crate's policy is found, then refused: never skipped.
                std::fs::rename(&fifo, tmp.0.join(POLICY_FILE_NAME)).expect("rename");
                let found = find_policy(&tmp.0, None);
                assert_eq!(found.origin(), PolicyOrigin::CrateRoot);
                let err = found.load().expect_err("a FIFO").to_string();
                assert!(err.contains("a FIFO, not a regular file"), "{err}");
            }
        }
    }
}
