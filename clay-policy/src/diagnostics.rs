//! One typed problem for every reader of clay-config's files and for the loader: severity,
//! where (`file:line:column`), and a message that never holds a key. Readers collect them with
//! [`Problems`], which turns byte offsets into positions once; nothing parses a message back
//! for its line number.

use std::fmt;
use std::ops::Range;

use crate::credential::{KeyDefinition, is_high_entropy_token};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Stops the build or the load.
    Error,
    /// Reported; does not stop anything.
    Warning,
}

/// A position in a file: 1-based line and character column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file as messages name it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    /// `file:line:column`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem: how serious, where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious.
    pub severity: Severity,
    /// Where, when the problem is in a file.
    pub location: Option<Location>,
    /// What is wrong. Never contains a key: text that holds one is shown without it.
    pub message: String,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            location,
            message: without_secrets(&message.into()),
        }
    }

    /// The 1-based line, or 0 without a location.
    pub fn line(&self) -> usize {
        self.location.as_ref().map_or(0, |l| l.line)
    }

    /// The 1-based column, or 0 without a location.
    pub fn column(&self) -> usize {
        self.location.as_ref().map_or(0, |l| l.column)
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: message`, or the message alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What stands in a message for a key or a random-looking token taken from a file.
pub const NOT_SHOWN: &str = "<looks like a key, not shown>";

/// `message` with every key (the built-in definition) and every high-entropy token replaced by
/// [`NOT_SHOWN`]: a reader's message may quote what it read (a table name, a list entry), and a
/// key pasted there must not travel on into a build log or a load error.
pub fn without_secrets(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut at = 0;
    for found in KeyDefinition::builtin().find_keys(message.as_bytes()) {
        out.push_str(&message[at..found.range.start]);
        out.push_str(NOT_SHOWN);
        at = found.range.end;
    }
    out.push_str(&message[at..]);
    let is_separator = |c: char| {
        c.is_whitespace() || matches!(c, '`' | '"' | '\'' | ',' | ';' | '[' | ']' | '(' | ')')
    };
    if !out.split(is_separator).any(is_high_entropy_token) {
        return out;
    }
    let mut cleaned = String::with_capacity(out.len());
    let mut piece = String::new();
    for c in out.chars() {
        if is_separator(c) {
            cleaned.push_str(if is_high_entropy_token(&piece) {
                NOT_SHOWN
            } else {
                &piece
            });
            piece.clear();
            cleaned.push(c);
        } else {
            piece.push(c);
        }
    }
    cleaned.push_str(if is_high_entropy_token(&piece) {
        NOT_SHOWN
    } else {
        &piece
    });
    cleaned
}

/// Collects the problems of one file, turning byte offsets into positions: the policy reader
/// and the loader's settings reader both use it.
///
/// ```
/// use clay_policy::Problems;
///
/// let text = "[default]\nbase_url = 1\n";
/// let mut problems = Problems::new("settings.toml", text);
/// problems.at(21..22, "`base_url` must be a string");
/// let found = problems.into_sorted();
/// assert_eq!(found[0].to_string(), "settings.toml:2:12: `base_url` must be a string");
/// ```
pub struct Problems<'a> {
    file: String,
    text: &'a str,
    found: Vec<Diagnostic>,
}

impl<'a> Problems<'a> {
    /// A collector for `text`, named `file` in locations.
    pub fn new(file: impl Into<String>, text: &'a str) -> Problems<'a> {
        Problems {
            file: file.into(),
            text,
            found: Vec::new(),
        }
    }

    /// How many problems so far.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// An error at the start of `span` (a byte range of the text).
    pub fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.found.push(Diagnostic::error(
            Some(Location {
                file: self.file.clone(),
                line,
                column,
            }),
            message,
        ));
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// An error about the file as a whole (no position).
    pub fn whole_file(&mut self, message: impl Into<String>) {
        self.found.push(Diagnostic::error(None, message));
    }

    /// The problems in file order (those without a position first).
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.found.sort_by_key(|d| (d.line(), d.column()));
        self.found
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_carry_a_key() {
        let shown = without_secrets(
            "unknown environment `sk_live_abcd1234efgh` (the policy defines: production)",
        );
        assert_eq!(
            shown,
            format!("unknown environment `{NOT_SHOWN}` (the policy defines: production)")
        );
        let shown = without_secrets("malformed scope \"q8Zr1vLx0PaW3mTn7YbKc2Ud\" in `allow`");
        assert!(!shown.contains("q8Zr1vLx"), "{shown}");
        let plain = "unknown field `wildcard`, expected one of `allow`, `wildcards`";
        assert_eq!(without_secrets(plain), plain);
    }

    #[test]
    fn problems_sort_by_position() {
        let text = "a\nbb\nccc\n";
        let mut problems = Problems::new("f.toml", text);
        problems.at(5..6, "third line");
        problems.at(0..1, "first line");
        let sorted = problems.into_sorted();
        assert_eq!(sorted[0].to_string(), "f.toml:1:1: first line");
        assert_eq!(sorted[1].to_string(), "f.toml:3:1: third line");
        assert_eq!(sorted[1].severity, Severity::Error);
    }
}
