//! Which scopes each key actually used: the `clay.scope.use` entries and [`scope_usage`].

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use super::entry::{AuditEntry, AuditResult};
use super::{AuditError, SCOPE_USE_ACTION};
use crate::ApiKey;
use clay_policy::Scope;

/// The `clay.scope.use` entry for one [`ApiKey::require`] decision: `resource` is the scope,
/// `result` whether it was granted, `metadata` the key's variable, environment, fingerprint
/// and granted scopes. Never the key.
pub(crate) fn scope_use_entry(actor: &str, key: &ApiKey, scope: &str, granted: bool) -> AuditEntry {
    let granted_scopes: Vec<Value> = key
        .scopes()
        .iter()
        .map(|s| Value::String(s.as_str().to_owned()))
        .collect();
    AuditEntry::builder(SCOPE_USE_ACTION)
        .user_id(actor)
        .resource(scope)
        .result(AuditResult::from_bool(granted))
        .metadata("var", key.var())
        .metadata("environment", key.environment())
        .metadata("fingerprint", key.fingerprint().to_string())
        .metadata("granted", granted_scopes)
        .build()
}

/// Sums the `clay.scope.use` entries of the log at `path`: per key and environment, the
/// scopes granted, the scopes used (and how often) and the refusals. Lines that are not
/// entries are counted in [`ScopeUsage::skipped_lines`], not an error: run
/// [`verify`](super::verify) to judge the log's integrity.
///
/// ```
/// use clay_config::audit::{AuditLog, Durability, FileSink, scope_usage};
/// use clay_config::ApiKey;
/// use clay_config::policy::ScopeSet;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.log");
/// let log = AuditLog::builder().sink(FileSink::open(&path, Durability::None)?).build();
/// let mut key = ApiKey::new(
///     "CLAY_READ_KEY",
///     "sk_test_0123456789abcdefghijklmn",
///     "development",
///     ScopeSet::parse(["read:tables", "read:people"])?,
/// );
/// log.attach_key(&mut key);
/// key.require("read:tables")?;
/// key.require("read:tables")?;
/// assert!(key.require("write:rows").is_err());
///
/// let usage = scope_usage(&path)?;
/// let reader = usage.get("CLAY_READ_KEY", "development").expect("recorded");
/// assert_eq!(reader.used().get("read:tables"), Some(&2));
/// assert_eq!(reader.denied().get("write:rows"), Some(&1));
/// assert_eq!(reader.unused_granted(), ["read:people"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scope_usage(path: impl AsRef<Path>) -> Result<ScopeUsage, AuditError> {
    let path = path.as_ref();
    let io_err = |e| AuditError::io(Some(path), e);
    let mut reader = BufReader::new(File::open(path).map_err(io_err)?);
    let mut usage = ScopeUsage::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_err)? == 0 {
            break;
        }
        let entry = std::str::from_utf8(&line)
            .ok()
            .and_then(|text| AuditEntry::from_json(text.trim_end_matches('\n')).ok());
        match entry {
            Some(entry) => usage.add(&entry),
            None => usage.skipped_lines += 1,
        }
    }
    Ok(usage)
}

/// Granted-versus-used scopes per key and environment; see [`scope_usage`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeUsage {
    keys: BTreeMap<(String, String), KeyUsage>,
    skipped_lines: u64,
}

impl ScopeUsage {
    /// Sums entries from anywhere (a [`MemorySink`](super::MemorySink), another store);
    /// entries other than `clay.scope.use` are ignored.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> Self {
        let mut usage = ScopeUsage::default();
        for entry in entries {
            usage.add(entry);
        }
        usage
    }

    fn add(&mut self, entry: &AuditEntry) {
        if entry.action() != SCOPE_USE_ACTION {
            return;
        }
        let metadata = entry.metadata();
        let (Some(var), Some(environment)) =
            (metadata.get_str("var"), metadata.get_str("environment"))
        else {
            return;
        };
        let key = self
            .keys
            .entry((var.to_owned(), environment.to_owned()))
            .or_insert_with(|| KeyUsage {
                var: var.to_owned(),
                environment: environment.to_owned(),
                ..KeyUsage::default()
            });
        if let Some(fingerprint) = metadata.get_str("fingerprint")
            && !key.fingerprints.iter().any(|f| f == fingerprint)
        {
            key.fingerprints.push(fingerprint.to_owned());
        }
        if let Some(Value::Array(granted)) = metadata.get("granted") {
            // The latest declaration counts: a narrowed grant should not report old scopes.
            key.granted = granted
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        let counts = match entry.result() {
            AuditResult::Success => &mut key.used,
            AuditResult::Failure => &mut key.denied,
        };
        *counts.entry(entry.resource().to_owned()).or_insert(0) += 1;
    }

    /// Every key and environment seen, ordered by variable then environment.
    pub fn keys(&self) -> impl Iterator<Item = &KeyUsage> {
        self.keys.values()
    }

    /// The usage of the key read from `var` in `environment`.
    pub fn get(&self, var: &str, environment: &str) -> Option<&KeyUsage> {
        self.keys.get(&(var.to_owned(), environment.to_owned()))
    }

    /// Lines of the file that were not audit entries.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// True when no `clay.scope.use` entry was found.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Display for ScopeUsage {
    /// One block per key and environment: granted, used with counts, never used, refused.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.keys.is_empty() {
            return f.write_str("no scope use recorded\n");
        }
        for key in self.keys.values() {
            writeln!(f, "{} in {}:", key.var, key.environment)?;
            writeln!(f, "  granted:    {}", key.granted.join(", "))?;
            let used: Vec<String> = key.used.iter().map(|(s, n)| format!("{s} ({n})")).collect();
            writeln!(f, "  used:       {}", used.join(", "))?;
            writeln!(f, "  never used: {}", key.unused_granted().join(", "))?;
            if !key.denied.is_empty() {
                let denied: Vec<String> = key
                    .denied
                    .iter()
                    .map(|(s, n)| format!("{s} ({n})"))
                    .collect();
                writeln!(f, "  refused:    {}", denied.join(", "))?;
            }
        }
        Ok(())
    }
}

/// One key in one environment: what it was granted and what it was used for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUsage {
    var: String,
    environment: String,
    fingerprints: Vec<String>,
    granted: Vec<String>,
    used: BTreeMap<String, u64>,
    denied: BTreeMap<String, u64>,
}

impl KeyUsage {
    /// The key's variable.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// The environment it was loaded for.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The fingerprints seen (more than one when the key was rotated).
    pub fn fingerprints(&self) -> &[String] {
        &self.fingerprints
    }

    /// The scopes granted, as the latest entry recorded them.
    pub fn granted(&self) -> &[String] {
        &self.granted
    }

    /// Each scope granted when asked for, with how many times.
    pub fn used(&self) -> &BTreeMap<String, u64> {
        &self.used
    }

    /// Each scope refused, with how many times.
    pub fn denied(&self) -> &BTreeMap<String, u64> {
        &self.denied
    }

    /// The granted scopes that covered no scope actually used: candidates to remove from the
    /// declaration (least privilege).
    pub fn unused_granted(&self) -> Vec<&str> {
        let used: Vec<Scope> = self
            .used
            .keys()
            .filter_map(|s| Scope::parse(s).ok())
            .collect();
        self.granted
            .iter()
            .filter(|granted| match Scope::parse(granted) {
                Ok(granted) => !used.iter().any(|u| granted.covers(u)),
                Err(_) => !self.used.contains_key(granted.as_str()),
            })
            .map(String::as_str)
            .collect()
    }
}
