//! [`AuditEntry`], its builder and its pinned JSON form.

use std::fmt;

use jiff::Timestamp;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AuditError;
use super::redact::Redactor;

/// What happened to the action an entry records.
///
/// ```
/// use clay_config::audit::AuditResult;
///
/// assert_eq!(AuditResult::Success.as_str(), "success");
/// assert_eq!(AuditResult::Failure.to_string(), "failure");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    /// The action was carried out (`"success"`).
    Success,
    /// The action was refused or failed (`"failure"`).
    Failure,
}

impl AuditResult {
    /// `"success"` or `"failure"`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditResult::Success => "success",
            AuditResult::Failure => "failure",
        }
    }

    /// `Success` when `ok` is true, `Failure` otherwise.
    pub fn from_bool(ok: bool) -> Self {
        if ok {
            AuditResult::Success
        } else {
            AuditResult::Failure
        }
    }
}

impl fmt::Display for AuditResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry's `metadata`: string keys to JSON values, kept in insertion order (as
/// `JSON.stringify` does in Clay's security practice). Setting a key again replaces its value in place.
///
/// ```
/// use clay_config::audit::Metadata;
///
/// let mut metadata = Metadata::new();
/// metadata.insert("rows", 12);
/// metadata.insert("table", "people");
/// metadata.insert("rows", 13);
/// assert_eq!(metadata.len(), 2);
/// assert_eq!(metadata.get("rows"), Some(&13.into()));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(Vec<(String, Value)>);

impl Metadata {
    /// No metadata.
    pub fn new() -> Self {
        Metadata(Vec::new())
    }

    /// Sets `key` to `value`, replacing an earlier value of the same key in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string value of `key`, when it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The entries, keys and values, for redaction (which keeps the keys unique).
    pub(crate) fn entries_mut(&mut self) -> &mut Vec<(String, Value)> {
        &mut self.0
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no key (the entry's JSON then has no `metadata` field).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut metadata = Metadata::new();
        for (k, v) in iter {
            metadata.insert(k, v);
        }
        metadata
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetadataVisitor;

        impl<'de> Visitor<'de> for MetadataVisitor {
            type Value = Metadata;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Metadata, A::Error> {
                let mut entries: Vec<(String, Value)> = Vec::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate metadata key `{key}`"
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(Metadata(entries))
            }
        }

        deserializer.deserialize_map(MetadataVisitor)
    }
}

/// One audited action: when, what, who, on what, how it ended, and any details.
///
/// Serialises exactly as the entries of Clay's security practice: camelCase keys in this
/// order, the timestamp in RFC 3339 UTC with milliseconds, `metadata` left out when empty.
/// [`build`](AuditEntryBuilder::build) redacts personal data and credentials (see
/// [`Redactor`]), so no key or secret value reaches an entry.
///
/// ```
/// use clay_config::audit::{AuditEntry, AuditResult};
///
/// let entry = AuditEntry::builder("clay.api.call")
///     .timestamp("2026-11-29T17:00:00Z".parse()?)
///     .user_id("u-1")
///     .resource("/v1/resource")
///     .result(AuditResult::Success)
///     .build();
/// assert_eq!(
///     entry.to_json(),
///     r#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"clay.api.call","userId":"u-1","resource":"/v1/resource","result":"success"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    timestamp: Timestamp,
    action: String,
    user_id: String,
    resource: String,
    result: AuditResult,
    metadata: Metadata,
}

impl AuditEntry {
    /// Starts an entry for `action` (`clay.api.call`, …), timestamped now, with result
    /// `success` until told otherwise.
    pub fn builder(action: impl Into<String>) -> AuditEntryBuilder {
        AuditEntryBuilder {
            entry: AuditEntry {
                timestamp: now_millis(),
                action: action.into(),
                user_id: String::new(),
                resource: String::new(),
                result: AuditResult::Success,
                metadata: Metadata::new(),
            },
        }
    }

    /// When it happened, to the millisecond.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// What was done (`clay.api.call`).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Who did it.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// What it was done to.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// How it ended.
    pub fn result(&self) -> AuditResult {
        self.result
    }

    /// The details, redacted.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The entry's JSON, on one line, in the pinned format.
    pub fn to_json(&self) -> String {
        // Serialising strings, a timestamp and `serde_json::Value`s cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The console sink's line: `[AUDIT] ` and the JSON, without a newline.
    pub fn console_line(&self) -> String {
        format!("[AUDIT] {}", self.to_json())
    }

    /// Parses an entry from its JSON (a line of the file sink parses too: its `seq`, `prev`
    /// and `hash` fields are ignored here).
    pub fn from_json(json: &str) -> Result<AuditEntry, AuditError> {
        serde_json::from_str::<WireEntry>(json)
            .map_err(|e| AuditError::Parse(e.to_string()))
            .and_then(WireEntry::into_entry)
    }

    pub(crate) fn fields_mut(&mut self) -> EntryFieldsMut<'_> {
        EntryFieldsMut {
            action: &mut self.action,
            user_id: &mut self.user_id,
            resource: &mut self.resource,
            metadata: &mut self.metadata,
        }
    }
}

/// The text fields redaction looks at.
pub(crate) struct EntryFieldsMut<'a> {
    pub(crate) action: &'a mut String,
    pub(crate) user_id: &'a mut String,
    pub(crate) resource: &'a mut String,
    pub(crate) metadata: &'a mut Metadata,
}

impl fmt::Display for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Serialize for AuditEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = if self.metadata.is_empty() { 5 } else { 6 };
        let mut s = serializer.serialize_struct("AuditEntry", fields)?;
        s.serialize_field("timestamp", &format_timestamp(self.timestamp))?;
        s.serialize_field("action", &self.action)?;
        s.serialize_field("userId", &self.user_id)?;
        s.serialize_field("resource", &self.resource)?;
        s.serialize_field("result", &self.result)?;
        if !self.metadata.is_empty() {
            s.serialize_field("metadata", &self.metadata)?;
        }
        s.end()
    }
}

/// Builds an [`AuditEntry`]; see [`AuditEntry::builder`].
#[derive(Debug, Clone)]
#[must_use = "call `.build()` to get the entry"]
pub struct AuditEntryBuilder {
    entry: AuditEntry,
}

impl AuditEntryBuilder {
    /// Who did it (`userId`).
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.entry.user_id = user_id.into();
        self
    }

    /// What it was done to.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.entry.resource = resource.into();
        self
    }

    /// How it ended (the default is [`AuditResult::Success`]).
    pub fn result(mut self, result: AuditResult) -> Self {
        self.entry.result = result;
        self
    }

    /// Shorthand for `.result(AuditResult::Failure)`.
    pub fn failure(self) -> Self {
        self.result(AuditResult::Failure)
    }

    /// Adds a metadata field (replacing one of the same key). Personal data and credentials
    /// are redacted by [`build`](Self::build).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.entry.metadata.insert(key, value);
        self
    }

    /// When it happened (default: when the builder was made). Truncated to milliseconds.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.entry.timestamp = truncate_to_millis(timestamp);
        self
    }

    /// The entry, with the default redaction applied ([`Redactor::default`]); an
    /// [`AuditLog`](super::AuditLog) applies its own redaction again before writing.
    pub fn build(self) -> AuditEntry {
        let mut entry = self.entry;
        Redactor::builtin().redact_entry(&mut entry);
        entry
    }

    /// The entry as given: for the log's own entries (checkpoints), whose hex digests and
    /// signatures must reach the file unchanged.
    #[cfg(feature = "signing")]
    pub(crate) fn build_unredacted(self) -> AuditEntry {
        self.entry
    }
}

/// An entry (or a file sink's line) as it is read back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireEntry {
    timestamp: String,
    action: String,
    user_id: String,
    resource: String,
    result: AuditResult,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    pub(crate) seq: Option<u64>,
    #[serde(default)]
    pub(crate) prev: Option<String>,
    #[serde(default)]
    pub(crate) hash: Option<String>,
}

impl WireEntry {
    pub(crate) fn into_entry(self) -> Result<AuditEntry, AuditError> {
        let timestamp = self
            .timestamp
            .parse::<Timestamp>()
            .map_err(|e| AuditError::Parse(format!("bad timestamp `{}`: {e}", self.timestamp)))?;
        Ok(AuditEntry {
            timestamp,
            action: self.action,
            user_id: self.user_id,
            resource: self.resource,
            result: self.result,
            metadata: self.metadata,
        })
    }
}

/// RFC 3339 in UTC with exactly three fractional digits: `2026-11-29T17:00:00.000Z`.
pub(crate) fn format_timestamp(timestamp: Timestamp) -> String {
    format!("{timestamp:.3}")
}

fn truncate_to_millis(timestamp: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(timestamp.as_millisecond()).unwrap_or(timestamp)
}

pub(crate) fn now_millis() -> Timestamp {
    truncate_to_millis(Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_three_digits_and_z() {
        let ts: Timestamp = "2026-11-29T17:00:00.123456Z".parse().expect("valid");
        assert_eq!(format_timestamp(ts), "2026-11-29T17:00:00.123Z");
        let ts: Timestamp = "2026-11-29T17:00:00Z".parse().expect("valid");
        assert_eq!(format_timestamp(ts), "2026-11-29T17:00:00.000Z");
        let ts: Timestamp = "2026-11-29T18:00:00+01:00".parse().expect("valid");
        assert_eq!(format_timestamp(ts), "2026-11-29T17:00:00.000Z");
    }

    #[test]
    fn metadata_keeps_order_and_refuses_duplicates() {
        let entry = AuditEntry::from_json(
            r#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"a","userId":"u","resource":"r","result":"failure","metadata":{"z":1,"a":2}}"#,
        )
        .expect("parses");
        let keys: Vec<&str> = entry.metadata().iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["z", "a"]);
        assert!(entry.to_json().ends_with(r#""metadata":{"z":1,"a":2}}"#));
        assert!(
            AuditEntry::from_json(
                r#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"a","userId":"u","resource":"r","result":"success","metadata":{"a":1,"a":2}}"#,
            )
            .is_err()
        );
    }
}
