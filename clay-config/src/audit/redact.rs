//! Keeping personal data and credentials out of entries.

use std::sync::OnceLock;

use clay_policy::{KeyPrefixes, Policy, looks_like_credential};
use serde_json::Value;

use super::entry::AuditEntry;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Metadata keys redacted by default: personal data and credentials.
pub const DEFAULT_REDACTED_KEYS: &[&str] = &[
    "email", "phone", "ssn", "password", "apiKey", "token", "secret",
];

/// Characters a key or secret token can be made of, after its prefix (`whsec_` secrets are
/// base64, so `+`, `/` and `=` count).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=')
}

/// Decides what is redacted from an entry, and redacts it.
///
/// - A metadata key naming personal data or a credential ([`DEFAULT_REDACTED_KEYS`] and any
///   key added with [`redact_key`](Self::redact_key)) has its value replaced by
///   `"[REDACTED]"`, at any depth. Keys are compared by words, whatever their case or
///   separators: `apiKey` also matches `api_key`, `API-KEY` and `clayApiKey`; `email` matches
///   `userEmail` and `email_verified`, but `ssn` does not match `className`.
/// - A string that holds a key or webhook secret (the policy's live and test key prefixes and
///   `whsec_`, as [`clay_policy::has_key_prefix`] decides) is redacted whatever its key, and
///   also in `action`, `userId` and `resource`: a value that is a key becomes `"[REDACTED]"`,
///   a key inside a longer text is replaced in place.
/// - Optionally ([`redact_high_entropy`](Self::redact_high_entropy)), any string that
///   [`clay_policy::looks_like_credential`] (a long random-looking token) is redacted too. Off
///   by default: request ids and content hashes look random as well.
///
/// ```
/// use clay_config::audit::{AuditEntry, Redactor};
///
/// let redactor = Redactor::default().redact_key("customerId");
/// let mut entry = AuditEntry::builder("clay.api.call")
///     .metadata("customer_id", "c-42")
///     .metadata("note", "retried with sk_live_4eC39HqLyjWDarjtT1zdp7dc")
///     .metadata("rows", 12)
///     .build();
/// redactor.redact_entry(&mut entry);
/// assert!(entry.to_json().ends_with(
///     r#""metadata":{"customer_id":"[REDACTED]","note":"retried with [REDACTED]","rows":12}}"#
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Each redacted key as its lowercase words joined (`apiKey` → `apikey`).
    keys: Vec<String>,
    prefixes: KeyPrefixes,
    high_entropy: bool,
}

impl Default for Redactor {
    /// The default keys and the built-in policy's key prefixes.
    fn default() -> Self {
        Redactor::new(Policy::builtin().keys().clone())
    }
}

impl Redactor {
    /// The default keys, and values with `prefixes` (from the policy in force, e.g.
    /// `policy.keys().clone()`).
    pub fn new(prefixes: KeyPrefixes) -> Self {
        Redactor {
            keys: DEFAULT_REDACTED_KEYS.iter().map(|k| normalize(k)).collect(),
            prefixes,
            high_entropy: false,
        }
    }

    /// The default redactor, built once.
    pub(crate) fn builtin() -> &'static Redactor {
        static BUILTIN: OnceLock<Redactor> = OnceLock::new();
        BUILTIN.get_or_init(Redactor::default)
    }

    /// Also redacts the metadata key `key` (compared by words, like the defaults).
    #[must_use]
    pub fn redact_key(mut self, key: &str) -> Self {
        let key = normalize(key);
        if !key.is_empty() && !self.keys.contains(&key) {
            self.keys.push(key);
        }
        self
    }

    /// Uses `prefixes` to recognise keys in values.
    #[must_use]
    pub fn key_prefixes(mut self, prefixes: KeyPrefixes) -> Self {
        self.prefixes = prefixes;
        self
    }

    /// Also redacts any string that looks like a credential (long, random-looking).
    #[must_use]
    pub fn redact_high_entropy(mut self, on: bool) -> Self {
        self.high_entropy = on;
        self
    }

    /// True when values under the metadata key `key` are redacted.
    pub fn is_redacted_key(&self, key: &str) -> bool {
        let (joined, starts) = split_words(key);
        self.keys
            .iter()
            .any(|target| contains_word_run(&joined, &starts, target))
    }

    /// Redacts `entry` in place.
    pub fn redact_entry(&self, entry: &mut AuditEntry) {
        let fields = entry.fields_mut();
        self.redact_string(fields.action);
        self.redact_string(fields.user_id);
        self.redact_string(fields.resource);
        for (key, value) in fields.metadata.values_mut() {
            if self.is_redacted_key(key) {
                *value = Value::String(REDACTED.to_owned());
            } else {
                self.redact_value(value);
            }
        }
    }

    /// Redacts a JSON value in place: nested objects by key, strings by content.
    pub fn redact_value(&self, value: &mut Value) {
        match value {
            Value::String(text) => self.redact_string(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if self.is_redacted_key(key) {
                        *value = Value::String(REDACTED.to_owned());
                    } else {
                        self.redact_value(value);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Redacts a string in place: a credential whole becomes `[REDACTED]`, a key inside a text
    /// is replaced where it stands.
    pub fn redact_string(&self, text: &mut String) {
        if text == REDACTED {
            return;
        }
        if self.high_entropy && looks_like_credential(text, &self.prefixes) {
            REDACTED.clone_into(text);
            return;
        }
        if let Some(redacted) = self.replace_keys(text) {
            *text = redacted;
        }
        if self.high_entropy
            && text
                .split(|c: char| !is_token_char(c))
                .any(|word| looks_like_credential(word, &self.prefixes))
        {
            REDACTED.clone_into(text);
        }
    }

    /// `text` with each key inside it replaced, or `None` when it holds none. What a key is
    /// comes from clay-policy's one definition, so the redactor, the loader and the scanner
    /// agree on every value.
    fn replace_keys(&self, text: &str) -> Option<String> {
        let definition = clay_policy::KeyDefinition::for_policy(&self.prefixes);
        let mut out = String::new();
        let mut at = 0;
        for found in definition.find_keys(text.as_bytes()) {
            out.push_str(&text[at..found.range.start]);
            out.push_str(REDACTED);
            at = found.range.end;
        }
        if at == 0 {
            return None;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// `apiKey`, `api_key`, `API-KEY` → `apikey`.
fn normalize(key: &str) -> String {
    split_words(key).0
}

/// The lowercase words of an identifier, joined, with the byte offset where each word starts:
/// split at `_`, `-`, `.`, spaces, and camelCase boundaries (`APIKey` → `api`, `key`).
fn split_words(key: &str) -> (String, Vec<usize>) {
    let mut joined = String::with_capacity(key.len());
    let mut starts = Vec::new();
    let mut in_word = false;
    let mut chars = key.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        if !c.is_alphanumeric() {
            in_word = false;
            prev = Some(c);
            continue;
        }
        let next = chars.peek().copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if !in_word || boundary {
            starts.push(joined.len());
            in_word = true;
        }
        joined.extend(c.to_lowercase());
        prev = Some(c);
    }
    (joined, starts)
}

/// True when some run of consecutive words, joined, equals `target`.
fn contains_word_run(joined: &str, starts: &[usize], target: &str) -> bool {
    starts.iter().any(|&start| {
        let end = start + target.len();
        joined.get(start..end) == Some(target)
            && (end == joined.len() || starts.binary_search(&end).is_ok())
    })
}

/// The words themselves, for tests.
#[cfg(test)]
fn words(key: &str) -> Vec<String> {
    let (joined, starts) = split_words(key);
    let mut ends: Vec<usize> = starts.iter().skip(1).copied().collect();
    ends.push(joined.len());
    starts
        .iter()
        .zip(ends)
        .map(|(&s, e)| joined[s..e].to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_camel_case_and_separators() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("api_key"), ["api", "key"]);
        assert_eq!(words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(words("className"), ["class", "name"]);
        assert_eq!(words("user2Email"), ["user2", "email"]);
    }

    #[test]
    fn keys_match_by_words() {
        let r = Redactor::default().redact_key("customerId");
        for key in [
            "email",
            "userEmail",
            "email_verified",
            "phoneNumber",
            "SSN",
            "password",
            "db_password",
            "apiKey",
            "api_key",
            "APIKEY",
            "clayApiKey",
            "token",
            "accessToken",
            "refresh-token",
            "secret",
            "clientSecret",
            "customer_id",
            "CustomerID",
        ] {
            assert!(r.is_redacted_key(key), "{key}");
        }
        for key in [
            "className",
            "var",
            "fingerprint",
            "environment",
            "granted",
            "rows",
            "key",
        ] {
            assert!(!r.is_redacted_key(key), "{key}");
        }
    }

    #[test]
    fn keys_inside_text_are_replaced() {
        let r = Redactor::default();
        let mut s = "sk_live_4eC39HqLyjWDarjtT1zdp7dc".to_owned();
        r.redact_string(&mut s);
        assert_eq!(s, REDACTED);
        let mut s = "Bearer sk_test_abcd1234, then whsec_ab+c/d=xyz done".to_owned();
        r.redact_string(&mut s);
        assert_eq!(s, "Bearer [REDACTED], then [REDACTED] done");
        let mut s = "/v1/tables?key=sk_live_abcdefgh&x=1".to_owned();
        r.redact_string(&mut s);
        assert_eq!(s, "/v1/tables?key=[REDACTED]&x=1");
        let mut s = "sk_live_ is only a prefix".to_owned();
        r.redact_string(&mut s);
        assert_eq!(s, "sk_live_ is only a prefix");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_handled_and_embedded_keys_never_survive(
            key in "\\PC{0,24}",
            before in "\\PC{0,16}",
            secret in "[A-Za-z0-9]{8,30}",
            after in "[ ,;&?]\\PC{0,16}",
        ) {
            let r = Redactor::default().redact_high_entropy(true);
            let _ = r.is_redacted_key(&key);
            let mut text = format!("{before}sk_live_{secret}{after}");
            r.redact_string(&mut text);
            proptest::prop_assert!(!text.contains(&format!("sk_live_{secret}")), "{}", text);
        }
    }

    #[test]
    fn high_entropy_is_opt_in() {
        let token = "q8Zr1vLx0PaW3mTn7YbKc2Ud";
        let mut s = token.to_owned();
        Redactor::default().redact_string(&mut s);
        assert_eq!(s, token);
        Redactor::default()
            .redact_high_entropy(true)
            .redact_string(&mut s);
        assert_eq!(s, REDACTED);
    }
}
