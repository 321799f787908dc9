//! Which files make up a rotated log, and in what order.
//!
//! The scheme: the log is written to its path (`audit.log`); when it is rotated, that file is
//! renamed to the path with the next number appended (`audit.log.1`, then `audit.log.2`, …),
//! so the numbers grow with age from oldest (`.1`) to newest, and nothing is ever renamed
//! twice. The chain runs `audit.log.1`, `audit.log.2`, …, then `audit.log`.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::AuditError;

/// `(base, n)` when `name` is `base.n` with `n` a number from 1 (no leading zeros).
pub(crate) fn split_member(name: &str) -> Option<(&str, u64)> {
    let (base, number) = name.rsplit_once('.')?;
    let valid = !base.is_empty()
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0');
    valid.then(|| number.parse().ok().map(|n| (base, n)))?
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(OsStr::to_str)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The rotated files of the log at `active`, oldest first, with their numbers.
pub(crate) fn rotated_files(active: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let Some(base) = file_name(active) else {
        return Ok(Vec::new());
    };
    let mut members = Vec::new();
    let entries = match fs::read_dir(parent(active)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(members),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some((b, n)) = name.to_str().and_then(split_member)
            && b == base
        {
            members.push((n, entry.path()));
        }
    }
    members.sort_unstable();
    Ok(members)
}

/// Where the active file goes when it is rotated: the next number after the highest.
pub(crate) fn next_rotated_path(active: &Path) -> io::Result<PathBuf> {
    let next = rotated_files(active)?.last().map_or(1, |(n, _)| n + 1);
    let mut name = active.as_os_str().to_owned();
    name.push(format!(".{next}"));
    Ok(PathBuf::from(name))
}

/// The files to verify for `path`: a directory's log; an active log's rotated files and
/// itself; any other file alone.
pub(crate) fn expand(path: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let io_err = |e| AuditError::io(Some(path), e);
    let metadata = fs::metadata(path).map_err(io_err)?;
    if metadata.is_dir() {
        return directory_log(path);
    }
    if file_name(path).and_then(split_member).is_some() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = rotated_files(path)
        .map_err(io_err)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    files.push(path.to_path_buf());
    Ok(files)
}

/// The one log in `dir`: its rotated files in order, then the active file if present. Hidden
/// files are skipped; a directory holding several logs is an error naming them.
fn directory_log(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let io_err = |e| AuditError::io(Some(dir), e);
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if !entry.file_type().map_err(io_err)?.is_file() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) if !name.starts_with('.') => names.push(name),
            _ => {}
        }
    }
    // Each log is named by its active file's name (the base of its rotated files).
    let base_of = |name: &str| split_member(name).map_or(name.to_owned(), |(b, _)| b.to_owned());
    let mut bases: Vec<String> = names.iter().map(|n| base_of(n)).collect();
    bases.sort_unstable();
    bases.dedup();
    let rotated: Vec<&String> = bases
        .iter()
        .filter(|b| {
            names
                .iter()
                .any(|n| split_member(n).is_some_and(|(x, _)| x == *b))
        })
        .collect();
    let base = match (bases.as_slice(), rotated.as_slice()) {
        ([], _) => {
            return Err(AuditError::Parse(format!(
                "`{}` holds no audit log",
                dir.display()
            )));
        }
        ([only], _) => only.clone(),
        (_, [only]) => (*only).clone(),
        _ => {
            return Err(AuditError::Parse(format!(
                "`{}` holds several files ({}): name the log's files instead",
                dir.display(),
                bases.join(", ")
            )));
        }
    };
    let active = dir.join(&base);
    let mut files: Vec<PathBuf> = rotated_files(&active)
        .map_err(io_err)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if names.contains(&base) {
        files.push(active);
    }
    Ok(files)
}

/// When `later` directly follows `earlier` in the scheme but a number is skipped, the first
/// missing file's name.
pub(crate) fn missing_between(earlier: &Path, later: &Path) -> Option<String> {
    let (base, n) = split_member(file_name(earlier)?)?;
    let later_name = file_name(later)?;
    let expected_next = n.checked_add(1)?;
    match split_member(later_name) {
        Some((b, m)) if b == base && m > expected_next => Some(format!("{base}.{expected_next}")),
        _ => None,
    }
}

/// The name of the rotated file that would follow `earlier` (`audit.log.3` after
/// `audit.log.2`), when `earlier` is one.
pub(crate) fn successor(earlier: &Path) -> Option<String> {
    let (base, n) = split_member(file_name(earlier)?)?;
    Some(format!("{base}.{}", n.checked_add(1)?))
}

/// True when `path` is named as a rotated file (`name.N`): a part that may start mid-chain.
pub(crate) fn is_rotated_member(path: &Path) -> bool {
    file_name(path).and_then(split_member).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        assert_eq!(split_member("audit.log.3"), Some(("audit.log", 3)));
        assert_eq!(split_member("audit.log"), None);
        assert_eq!(split_member("audit.log.03"), None);
        assert_eq!(split_member("audit.log.0"), None);
        assert_eq!(split_member(".5"), None);
        assert_eq!(split_member("a.99999999999999999999999"), None);
        assert_eq!(
            missing_between(Path::new("d/a.log.2"), Path::new("d/a.log.4")).as_deref(),
            Some("a.log.3")
        );
        assert_eq!(
            missing_between(Path::new("d/a.log.2"), Path::new("d/a.log.3")),
            None
        );
        assert_eq!(
            missing_between(Path::new("d/a.log.2"), Path::new("d/a.log")),
            None
        );
    }
}
