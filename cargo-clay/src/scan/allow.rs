//! Allow-listing: fingerprints in `.clay-scan-ignore`, and `clay:allow` in a comment on the
//! line.

use std::collections::HashSet;
use std::path::Path;

use crate::Error;

/// The allow-list file, at the scanned directory or the repository root.
pub const ALLOW_FILE: &str = ".clay-scan-ignore";

/// A line with this text inside a comment is not reported; inside a string it counts for
/// nothing (see [`allowed_by_comment`]).
pub const INLINE_ALLOW: &str = "clay:allow";

/// The largest allow-list read.
const MAX_ALLOW_FILE: u64 = 1 << 20;

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
        let bytes = match super::tree::read_small_file(path, MAX_ALLOW_FILE) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(()),
            Err(error) => return Err(error),
        };
        let text = String::from_utf8_lossy(&bytes);
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

/// True when `line` holds [`INLINE_ALLOW`] inside a comment: after `//`, `#` or `--` (at the
/// start of the line or after a space), or between `/*` and `*/` (or the end of the line), or
/// after `<!--`; never inside a string literal (`"…"`, `'…'`, `` `…` ``, with backslash
/// escapes). The line is read on its own: a string or comment opened on an earlier line is not
/// known, so a line inside a multi-line string is read as code.
///
/// ```
/// use cargo_clay::scan::allowed_by_comment;
///
/// assert!(allowed_by_comment(b"let k = \"...\"; // clay:allow (revoked)"));
/// assert!(allowed_by_comment(b"KEY=... # clay:allow"));
/// assert!(allowed_by_comment(b"x = f(/* clay:allow */ y)"));
/// assert!(!allowed_by_comment(b"let k = \"... clay:allow\";"));
/// assert!(!allowed_by_comment(b"let k = \"...\"; let why = \"clay:allow\";"));
/// assert!(!allowed_by_comment(b"KEY=...clay:allow"));
/// ```
pub fn allowed_by_comment(line: &[u8]) -> bool {
    let marker = INLINE_ALLOW.as_bytes();
    if memchr::memmem::find(line, marker).is_none() {
        return false;
    }
    let starts_word = |i: usize| i == 0 || line[i - 1].is_ascii_whitespace();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < line.len() {
        let b = line[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        let rest = &line[i..];
        let comment_to_end = rest.starts_with(b"//")
            || rest.starts_with(b"<!--")
            || (b == b'#' && starts_word(i))
            || (rest.starts_with(b"--")
                && starts_word(i)
                && rest.get(2).is_none_or(u8::is_ascii_whitespace));
        if comment_to_end {
            return memchr::memmem::find(rest, marker).is_some();
        }
        if rest.starts_with(b"/*") {
            let body = &rest[2..];
            let end = memchr::memmem::find(body, b"*/").unwrap_or(body.len());
            if memchr::memmem::find(&body[..end], marker).is_some() {
                return true;
            }
            i += 2 + end + 2;
            continue;
        }
        if matches!(b, b'"' | b'\'' | b'`') {
            quote = Some(b);
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::allowed_by_comment;

    #[test]
    fn comments_allow_strings_do_not() {
        for line in [
            "const K: &str = \"k\"; // clay:allow",
            "k = 'v'  # clay:allow: documented example",
            "# clay:allow",
            "SELECT 'k' -- clay:allow",
            "f(\"k\") /* clay:allow */",
            "<p>k</p> <!-- clay:allow -->",
            "x = \"a \\\" b\" // clay:allow",
        ] {
            assert!(allowed_by_comment(line.as_bytes()), "{line}");
        }
        for line in [
            "const K: &str = \"k clay:allow\";",
            "k = 'k', note = 'clay:allow'",
            "url = \"https://x#clay:allow\"",
            "run --token k clay:allow",
            "x = `k // clay:allow`",
            "k/* */clay:allow",
            "a#clay:allow",
            "plain clay:allow",
        ] {
            assert!(!allowed_by_comment(line.as_bytes()), "{line}");
        }
    }
}
