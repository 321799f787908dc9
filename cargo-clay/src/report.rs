//! Findings and how they are printed: text for people, JSON for scripts, SARIF 2.1.0 for GitHub
//! code scanning. Every command that reports findings builds a [`Report`] and calls
//! [`Report::write`]; no command formats SARIF itself.
//!
//! Text output never prints a control character that came from a path, a line or a message:
//! [`escape_text`] shows it as `\x1b`, `\r`, `\t`, … (and the invisible characters that
//! reorder or hide text as `\u{202e}`), so a file named to rewrite the terminal cannot.
//! JSON and SARIF carry the strings as they are (JSON escapes control characters itself).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// How a command prints what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One line per finding, for people.
    #[default]
    Text,
    /// One JSON document, for scripts.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning (`github/codeql-action/upload-sarif`).
    Sarif,
}

/// How serious a finding is; SARIF's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Must be fixed: makes the exit status 1.
    Error,
    /// Should be looked at: makes the exit status 1 as well (it is a finding).
    Warning,
    /// Information only: does not change the exit status.
    Note,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// A rule a report's findings refer to: SARIF's `reportingDescriptor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The stable id, e.g. `live_key` or `excessive_scope`.
    pub id: String,
    /// One sentence.
    pub short: String,
    /// A paragraph: what the rule detects and why it matters.
    pub full: String,
    /// What to do about a finding.
    pub help: String,
}

impl RuleInfo {
    /// A rule from borrowed text.
    pub fn new(id: &str, short: &str, full: &str, help: &str) -> Self {
        RuleInfo {
            id: id.to_owned(),
            short: short.to_owned(),
            full: full.to_owned(),
            help: help.to_owned(),
        }
    }
}

/// One finding. It never holds a secret: scans keep only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id.
    pub rule: String,
    /// How serious it is.
    pub level: Level,
    /// What was found and what to do; never contains the secret.
    pub message: String,
    /// The file, relative to the repository root, with `/` separators.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u64>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// The commit, for findings in git history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// SHA-256 of the secret, lowercase hex, for findings about a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Where a scan found it: `tree`, `staged`, `history`, `commit_message`, `tag_message` or
    /// `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The git object (blob, commit or tag id) that holds it, for findings in git objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl Finding {
    /// A finding with no location yet.
    pub fn new(rule: &str, level: Level, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.to_owned(),
            level,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            commit: None,
            fingerprint: None,
            origin: None,
            object: None,
        }
    }

    /// Sets the file and line.
    #[must_use]
    pub fn at(mut self, file: impl Into<String>, line: u64) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self
    }

    /// `file:line:column` or as much of it as is known.
    pub fn location_text(&self) -> String {
        let mut out = self.file.clone().unwrap_or_default();
        if let Some(line) = self.line {
            let _ = write!(out, ":{line}");
            if let Some(column) = self.column {
                let _ = write!(out, ":{column}");
            }
        }
        out
    }
}

/// What a command found: its rules, its findings, and how to print them.
#[derive(Debug, Clone)]
pub struct Report {
    /// The command, e.g. `scan`; in JSON output and SARIF's `automationDetails`.
    pub command: &'static str,
    /// The rules the findings may refer to (all of them, found or not: SARIF lists every rule).
    pub rules: Vec<RuleInfo>,
    /// The findings, in the order they are printed.
    pub findings: Vec<Finding>,
    /// The file SARIF points at for a finding without one (SARIF results need a location).
    pub fallback_file: String,
    /// Extra members of the JSON output (e.g. the audit's checklist).
    pub json_extra: Map<String, Value>,
    /// Lines printed after the findings in text output.
    pub text_footer: Vec<String>,
}

impl Report {
    /// An empty report for `command`.
    pub fn new(command: &'static str, rules: Vec<RuleInfo>) -> Self {
        Report {
            command,
            rules,
            findings: Vec::new(),
            fallback_file: "Cargo.toml".to_owned(),
            json_extra: Map::new(),
            text_footer: Vec::new(),
        }
    }

    /// True when a finding is a warning or an error: the exit status is then 1.
    pub fn has_findings(&self) -> bool {
        self.findings.iter().any(|f| f.level != Level::Note)
    }

    /// Prints the report in `format`.
    pub fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Text => out.write_all(self.to_text().as_bytes()),
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, &self.to_json())?;
                out.write_all(b"\n")
            }
            Format::Sarif => {
                serde_json::to_writer_pretty(&mut *out, &self.to_sarif())?;
                out.write_all(b"\n")
            }
        }
    }

    /// The text form: `file:line:col: level[rule] message (commit …, fingerprint …)`, control
    /// characters escaped.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            let location = finding.location_text();
            if !location.is_empty() {
                let _ = write!(out, "{}: ", escape_text(&location));
            }
            // The derive's messages already start with `[rule] `: not twice.
            let tag = format!("[{}] ", finding.rule);
            let message = finding
                .message
                .strip_prefix(&tag)
                .unwrap_or(&finding.message);
            let _ = write!(
                out,
                "{}[{}] {}",
                finding.level.as_str(),
                escape_text(&finding.rule),
                escape_text(message)
            );
            let mut extra = Vec::new();
            if let Some(commit) = &finding.commit {
                extra.push(format!("commit {}", escape_text(commit)));
            } else if let Some(object) = &finding.object
                && finding.origin.as_deref() != Some("staged")
            {
                extra.push(format!("object {}", escape_text(object)));
            }
            if let Some(fingerprint) = &finding.fingerprint {
                extra.push(format!("fingerprint {fingerprint}"));
            }
            if !extra.is_empty() {
                let _ = write!(out, " ({})", extra.join(", "));
            }
            out.push('\n');
        }
        for line in &self.text_footer {
            let _ = writeln!(out, "{}", escape_text(line));
        }
        let counted = self.findings.iter().filter(|f| f.level != Level::Note);
        let n = counted.count();
        let _ = writeln!(
            out,
            "{}: {}",
            self.command,
            match n {
                0 => "no findings".to_owned(),
                1 => "1 finding".to_owned(),
                n => format!("{n} findings"),
            }
        );
        out
    }

    /// The JSON form: `{"command", "findings": [...], ...extra}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("command".into(), Value::String(self.command.to_owned()));
        object.insert("findings".into(), json!(self.findings));
        for (key, value) in &self.json_extra {
            object.insert(key.clone(), value.clone());
        }
        Value::Object(object)
    }

    /// The SARIF 2.1.0 form, as GitHub code scanning accepts it.
    pub fn to_sarif(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|rule| {
                json!({
                    "id": rule.id,
                    "name": camel_case(&rule.id),
                    "shortDescription": { "text": rule.short },
                    "fullDescription": { "text": rule.full },
                    "help": { "text": rule.help, "markdown": rule.help },
                    "helpUri": HELP_URI,
                })
            })
            .collect();
        let results: Vec<Value> = self
            .findings
            .iter()
            .map(|finding| self.sarif_result(finding))
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {
                    "driver": {
                        "name": "cargo-clay",
                        "semanticVersion": env!("CARGO_PKG_VERSION"),
                        "version": env!("CARGO_PKG_VERSION"),
                        "informationUri": HELP_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": { "id": format!("cargo-clay/{}/", self.command) },
                "originalUriBaseIds": {
                    "%SRCROOT%": { "description": { "text": "The repository root." } }
                },
                "results": results,
            }]
        })
    }

    fn sarif_result(&self, finding: &Finding) -> Value {
        let file = finding.file.as_deref().unwrap_or(&self.fallback_file);
        let mut region = Map::new();
        region.insert("startLine".into(), json!(finding.line.unwrap_or(1).max(1)));
        if let Some(column) = finding.column {
            region.insert("startColumn".into(), json!(column.max(1)));
        }
        let mut result = Map::new();
        result.insert("ruleId".into(), json!(finding.rule));
        if let Some(index) = self.rules.iter().position(|r| r.id == finding.rule) {
            result.insert("ruleIndex".into(), json!(index));
        }
        result.insert("level".into(), json!(finding.level.as_str()));
        let mut text = finding.message.clone();
        if let Some(commit) = &finding.commit {
            let _ = write!(text, " (in commit {commit})");
        }
        result.insert("message".into(), json!({ "text": text }));
        result.insert(
            "locations".into(),
            json!([{
                "physicalLocation": {
                    "artifactLocation": { "uri": uri_encode(file), "uriBaseId": "%SRCROOT%" },
                    "region": region,
                }
            }]),
        );
        // Stable across runs and line moves: the secret's own fingerprint when there is one,
        // else a hash of what the finding is about (rule, file, message).
        let stable = match &finding.fingerprint {
            Some(fingerprint) => fingerprint.clone(),
            None => sha256_hex(format!("{}\0{file}\0{}", finding.rule, finding.message).as_bytes()),
        };
        let mut partial = Map::new();
        partial.insert("clayFinding/v1".into(), json!(stable));
        result.insert("partialFingerprints".into(), Value::Object(partial));
        if finding.commit.is_some() || finding.fingerprint.is_some() {
            let mut properties = Map::new();
            if let Some(commit) = &finding.commit {
                properties.insert("commit".into(), json!(commit));
            }
            if let Some(fingerprint) = &finding.fingerprint {
                properties.insert("secretSha256".into(), json!(fingerprint));
            }
            result.insert("properties".into(), Value::Object(properties));
        }
        Value::Object(result)
    }
}

/// Where the rules are documented.
const HELP_URI: &str = "https://github.com/clay-config/clay-config/blob/main/cargo-clay/README.md";

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `text` with every control character escaped (`\x1b`, `\r`, `\n`, `\t`, `\x7f`, `\u{85}`) and
/// the invisible characters that reorder or hide text (bidirectional overrides and isolates,
/// zero-width characters, the byte order mark) shown as `\u{…}`, so that text output can never
/// move the cursor, rewrite a line or hide what it shows. Borrowed when there is nothing to
/// escape.
///
/// ```
/// use cargo_clay::report::escape_text;
///
/// assert_eq!(escape_text("src/main.rs"), "src/main.rs");
/// assert_eq!(escape_text("a\rb\x1b[2Kc\td"), "a\\rb\\x1b[2Kc\\td");
/// assert_eq!(escape_text("x\u{202e}y"), "x\\u{202e}y");
/// ```
pub fn escape_text(text: &str) -> Cow<'_, str> {
    let needs = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `live_key` → `LiveKey`: SARIF's optional `name`.
fn camel_case(id: &str) -> String {
    id.split(['_', '-', '/'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

/// Percent-encodes a relative path for a SARIF URI, keeping `/` and unreserved characters.
pub fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_and_names() {
        assert_eq!(uri_encode("src/a b.rs"), "src/a%20b.rs");
        assert_eq!(uri_encode(".env"), ".env");
        assert_eq!(camel_case("live_key"), "LiveKey");
        assert_eq!(sha256_hex(b"").len(), 64);
    }

    #[test]
    fn text_output_escapes_control_characters() {
        let mut report = Report::new("scan", Vec::new());
        let name = "a\r\x1b[2Kscan: no findings\n\u{9b}\u{2066}.txt";
        report
            .findings
            .push(Finding::new("live_key", Level::Error, format!("found in `{name}`")).at(name, 1));
        report.text_footer.push(format!("note: {name}"));
        let text = report.to_text();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.contains("a\\r\\x1b[2Kscan: no findings\\n\\x9b\\u{2066}.txt:1"),
            "{text}"
        );
        // JSON keeps the string (escaped the JSON way).
        let json = report.to_json();
        assert_eq!(json["findings"][0]["file"], name);
    }
}
