//! The working tree: which files, and reading them safely.
//!
//! In a git work tree: every file git tracks (`git ls-files`), whatever `.gitignore`, `.ignore`
//! or global excludes say, plus the untracked files they do not ignore
//! (`--others --exclude-standard`); names are read NUL-separated, so any byte in a name is
//! fine. Outside git: every file under the directory, no ignore file honoured. Symbolic links
//! are not followed (what they point at inside the tree is scanned as itself); FIFOs, sockets
//! and devices are skipped with a note, never opened; files of any size are streamed.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::content::{self, Buffers};
use super::{Match, Scanner};
use crate::{Error, util};

/// The files to scan under `root`, relative to it, and notes about what was left out.
pub(crate) fn list_files(root: &Path) -> Result<(Vec<PathBuf>, Vec<String>), Error> {
    let mut notes = Vec::new();
    if util::git_toplevel(root).is_none() {
        return Ok((walk_everything(root, &mut notes), notes));
    }
    let output = util::git(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("could not run `git ls-files`", e))?;
    if !output.status.success() {
        return Err(Error::Io(format!(
            "`git ls-files` failed in {}: {}",
            crate::report::escape_text(&root.display().to_string()),
            crate::report::escape_text(String::from_utf8_lossy(&output.stderr).trim())
        )));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for name in output.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.ends_with(b"/") {
            // An untracked directory git does not descend into: a nested repository.
            notes.push(format!(
                "{}: a nested git repository, not scanned (scan it on its own)",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        files.push(path_from_bytes(name));
    }
    files.sort();
    // An unmerged file is listed once per stage.
    files.dedup();
    Ok((files, notes))
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Every file under `root`, no ignore file honoured, links not followed.
fn walk_everything(root: &Path, notes: &mut Vec<String>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .build();
    for entry in walker {
        match entry {
            Ok(entry) => {
                if entry.file_type().is_some_and(|t| !t.is_dir())
                    && let Ok(relative) = entry.path().strip_prefix(root)
                {
                    files.push(relative.to_path_buf());
                }
            }
            Err(error) => notes.push(error.to_string()),
        }
    }
    files.sort();
    files
}

/// Why a file was not read.
pub(crate) enum Skip {
    /// Silently: gone, or a link.
    Quietly,
    /// With a note.
    Note(String),
}

/// Opens `path` when it is a regular file (checked before opening, so that a FIFO is never
/// opened and cannot block, and again on the open file).
pub(crate) fn open_regular(path: &Path) -> Result<File, Skip> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(Skip::Quietly),
        Err(error) => return Err(Skip::Note(error.to_string())),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(Skip::Quietly);
    }
    if kind.is_dir() {
        // A tracked directory is a submodule's gitlink.
        return Err(Skip::Note(
            "a submodule, not scanned (scan it on its own)".to_owned(),
        ));
    }
    if !kind.is_file() {
        return Err(Skip::Note(format!(
            "not a regular file ({}), skipped",
            describe_kind(&kind)
        )));
    }
    let file = File::open(path).map_err(|e| Skip::Note(e.to_string()))?;
    match file.metadata() {
        Ok(meta) if meta.is_file() => Ok(file),
        Ok(_) => Err(Skip::Note(
            "changed into a non-regular file, skipped".to_owned(),
        )),
        Err(error) => Err(Skip::Note(error.to_string())),
    }
}

#[cfg(unix)]
fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Reads a small file (an allow-list, an env file): `None` when it does not exist; an error
/// when it is not a regular file or is larger than `max` bytes.
pub(crate) fn read_small_file(path: &Path, max: u64) -> Result<Option<Vec<u8>>, Error> {
    let shown = || crate::report::escape_text(&path.display().to_string()).into_owned();
    // A link is read when it leads to a regular file.
    let file = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => File::open(path).map_err(|e| Error::io(shown(), e))?,
        Ok(meta) => {
            return Err(Error::Usage(format!(
                "{}: not a regular file ({})",
                shown(),
                describe_kind(&meta.file_type())
            )));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io(shown(), error)),
    };
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(shown(), e))?;
    if bytes.len() as u64 > max {
        return Err(Error::Usage(format!(
            "{}: larger than {max} bytes",
            shown()
        )));
    }
    Ok(Some(bytes))
}

/// Every secret found, with the index of its file, and notes about files not read.
pub(crate) type Scanned = (Vec<(usize, Match)>, Vec<String>);

/// Scans `files` (relative to `root`) on `threads` threads: `(file index, match)` for every
/// secret, and notes for files that could not be read.
pub(crate) fn scan_files(
    scanner: &Scanner,
    root: &Path,
    files: &[PathBuf],
    threads: usize,
) -> Result<Scanned, Error> {
    let next = AtomicUsize::new(0);
    let notes = Mutex::new(Vec::new());
    let found = std::thread::scope(|scope| -> Result<Vec<(usize, Match)>, Error> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut buffers = Buffers::default();
                    let mut found = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(relative) = files.get(index) else {
                            break;
                        };
                        let path = root.join(relative);
                        let note = |message: String| {
                            let mut notes = notes.lock().unwrap_or_else(|e| e.into_inner());
                            notes.push(format!("{}: {message}", util::slash_path(relative)));
                        };
                        let mut file = match open_regular(&path) {
                            Ok(file) => file,
                            Err(Skip::Quietly) => continue,
                            Err(Skip::Note(message)) => {
                                note(message);
                                continue;
                            }
                        };
                        let read = content::stream(&mut file, &mut buffers, |piece| {
                            scanner.scan_piece(&piece, &mut |m| found.push((index, m)));
                        });
                        if let Err(error) = read {
                            note(error.to_string());
                        }
                    }
                    found
                })
            })
            .collect();
        let mut found = Vec::new();
        for worker in workers {
            found.extend(
                worker
                    .join()
                    .map_err(|_| Error::Io("a scanning thread failed".to_owned()))?,
            );
        }
        Ok(found)
    })?;
    Ok((found, notes.into_inner().unwrap_or_else(|e| e.into_inner())))
}
