//! Allow-listing: fingerprints in `.clay-scan-ignore`, and `clay:allow` on the line.

use std::collections::HashSet;
use std::path::Path;

use crate::Error;

/// The allow-list file, at the scanned directory or the repository root.
pub const ALLOW_FILE: &str = ".clay-scan-ignore";

/// A line containing this text is not reported (put it in a comment).
pub const INLINE_ALLOW: &str = "clay:allow";

/// Fingerprints (SHA-256 of the secret, hex) not to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    fingerprints: HashSet<String>,
}

impl AllowList {
    /// Reads an allow-list: one fingerprint per line, anything after it (a comment) ignored,
    /// `#` lines and blank lines skipped. A missing file is an empty list; a line that is not
    /// a fingerprint is an error, so a typo does not silently allow nothing.
    pub fn read_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(Error::io(path.display(), error)),
        };
        self.parse(&text).map_err(|(line, message)| {
            Error::Usage(format!("{}:{line}: {message}", path.display()))
        })
    }

    /// Adds the fingerprints of an allow-list's text; `Err((line, message))` on a bad line.
    pub fn parse(&mut self, text: &str) -> Result<(), (usize, String)> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fingerprint = line.split_whitespace().next().unwrap_or_default();
            if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                // Not echoed: a line that is not a fingerprint may be a pasted secret.
                return Err((
                    index + 1,
                    "not a fingerprint: expected the 64 hex digits of a finding's sha256, \
                     then an optional comment"
                        .to_owned(),
                ));
            }
            self.fingerprints.insert(fingerprint.to_ascii_lowercase());
        }
        Ok(())
    }

    /// Adds one fingerprint.
    pub fn insert(&mut self, fingerprint: &str) {
        self.fingerprints.insert(fingerprint.to_ascii_lowercase());
    }

    /// True when `fingerprint` is allow-listed.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }

    /// The number of fingerprints.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
}
