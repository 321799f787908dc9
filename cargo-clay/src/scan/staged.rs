//! The index: what the next commit will hold (`scan --staged`, for pre-commit hooks).
//!
//! Every entry of `git ls-files --stage` (NUL-separated) is read from git's object database,
//! not from the working tree, so what is scanned is exactly what `git commit` would record,
//! whatever the working copy holds since. A blob staged at several paths is scanned once.

use std::collections::HashMap;
use std::path::Path;

use super::objects::{self, ObjectKind, Source};
use super::{Origin, Scanner, SecretFinding};
use crate::report::escape_text;
use crate::{Error, util};

/// Scans the index of the work tree containing `root`; paths are `prefix` and the path
/// relative to `root` (entries outside `root` are not scanned).
pub(super) fn scan(
    scanner: &Scanner,
    root: &Path,
    prefix: &str,
    threads: usize,
) -> Result<Vec<SecretFinding>, Error> {
    if util::git_toplevel(root).is_none() {
        return Err(Error::Usage(format!(
            "{}: not in a git work tree (--staged scans the index)",
            escape_text(&root.display().to_string())
        )));
    }
    let output = util::git(root)
        .args(["ls-files", "--stage", "-z"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("could not run `git ls-files`", e))?;
    if !output.status.success() {
        return Err(Error::Io(format!(
            "`git ls-files --stage` failed: {}",
            escape_text(String::from_utf8_lossy(&output.stderr).trim())
        )));
    }
    // `<mode> <oid> <stage>\t<path>` per entry.
    let mut paths_of: HashMap<String, Vec<String>> = HashMap::new();
    for entry in output.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let Some(tab) = memchr::memchr(b'\t', entry) else {
            continue;
        };
        let fields = String::from_utf8_lossy(&entry[..tab]);
        let mut fields = fields.split(' ');
        let (Some(mode), Some(oid)) = (fields.next(), fields.next()) else {
            continue;
        };
        // A submodule's commit is another repository's.
        if mode == "160000" {
            continue;
        }
        let path = format!("{prefix}{}", String::from_utf8_lossy(&entry[tab + 1..]));
        paths_of.entry(oid.to_owned()).or_default().push(path);
    }
    let mut blobs: Vec<String> = paths_of.keys().cloned().collect();
    blobs.sort();
    let found = objects::scan(scanner, root, &Source::These(&blobs), threads, false)?;
    let mut findings = Vec::new();
    for (object, found) in found {
        if object.kind != ObjectKind::Blob {
            continue;
        }
        let rule = &scanner.rules().rules()[found.rule].id;
        for path in paths_of.get(&object.oid).into_iter().flatten() {
            findings.push(SecretFinding {
                file: Some(path.clone()),
                origin: Origin::Staged,
                object: Some(object.oid.clone()),
                ..SecretFinding::new(rule.clone(), &found)
            });
        }
    }
    findings.sort();
    findings.dedup();
    Ok(findings)
}
