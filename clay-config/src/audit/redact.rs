//! Keeping personal data and credentials out of entries.

use std::ops::Range;
use std::sync::OnceLock;

use clay_policy::{KeyDefinition, KeyPrefixes, Policy};
use serde_json::{Map, Value};

use super::entry::AuditEntry;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Metadata keys redacted by default: credentials (as Clay's security practice lists them:
/// authorization and cookie headers, passwords, secrets, tokens, API and private keys,
/// credentials, client secrets) and personal data.
pub const DEFAULT_REDACTED_KEYS: &[&str] = &[
    "authorization",
    "cookie",
    "setCookie",
    "password",
    "passwd",
    "pwd",
    "secret",
    "clientSecret",
    "token",
    "apiKey",
    "privateKey",
    "credential",
    "credentials",
    "email",
    "phone",
    "ssn",
];

/// Header names whose whole value (to the end of the line) is a credential when they appear
/// inside a text (`Authorization: Basic …`, `Cookie: a=1; b=2`).
const HEADER_KEYS: &[&str] = &["authorization", "proxyauthorization", "cookie", "setcookie"];

/// Decides what is redacted from an entry, and redacts it.
///
/// - A metadata key naming a credential or personal data ([`DEFAULT_REDACTED_KEYS`] and any
///   key added with [`redact_key`](Self::redact_key)) has its value replaced by
///   `"[REDACTED]"`, at any depth of nested objects and arrays. Keys are compared by words,
///   whatever their case or separators: `apiKey` also matches `api_key`, `API-KEY`, `APIKEY`
///   and `clayApiKey`; `secret` matches `client_secret`; `cookie` matches `Set-Cookie`;
///   `email` matches `userEmail`, but `ssn` does not match `className`.
/// - Inside any string (metadata values, and `action`, `userId`, `resource`): a credential
///   written as `name: value` or `name=value` with such a name (`password=hunter2`,
///   `"token":"…"`, `Authorization: Bearer …` and `Cookie: …` to the end of the line), and
///   the token after `Bearer`, are replaced by `[REDACTED]`.
/// - A key or webhook secret anywhere in a string, as clay-policy's one definition of a key
///   decides (the policy's live and test prefixes and `whsec_`), is replaced where it stands.
///   Metadata **keys** are redacted the same way: a key used as a metadata name becomes
///   `[REDACTED]` (numbered `[REDACTED]#2`, … when several are).
/// - Optionally ([`redact_high_entropy`](Self::redact_high_entropy)), any string that
///   [`clay_policy::contains_high_entropy_token`] (a long random-looking token) is redacted too. Off
///   by default: request ids and content hashes look random as well.
///
/// ```
/// use clay_config::audit::{AuditEntry, Redactor};
///
/// let redactor = Redactor::default().redact_key("customerId");
/// let mut entry = AuditEntry::builder("clay.api.call")
///     .metadata("customer_id", "c-42")
///     .metadata("note", "retried with sk_live_4eC39HqLyjWDarjtT1zdp7dc")
///     .metadata("request", "GET /v1/tables\nAuthorization: Bearer abc.def.ghi")
///     .metadata("rows", 12)
///     .build();
/// redactor.redact_entry(&mut entry);
/// assert!(entry.to_json().ends_with(
///     r#""metadata":{"customer_id":"[REDACTED]","note":"retried with [REDACTED]","request":"GET /v1/tables\nAuthorization: [REDACTED]","rows":12}}"#
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Each redacted key as its lowercase words joined (`apiKey` → `apikey`).
    keys: Vec<String>,
    /// What a key looks like: clay-policy's one definition for the policy's prefixes.
    key_definition: KeyDefinition,
    high_entropy: bool,
}

impl Default for Redactor {
    /// The default keys and the built-in policy's key prefixes.
    fn default() -> Self {
        Redactor::new(Policy::builtin().keys().clone())
    }
}

/// What clay-policy's definition of a key finds in a text.
enum Credentials {
    None,
    /// The whole text is to go (the high-entropy judgement).
    Whole,
    /// These byte ranges are keys.
    At(Vec<Range<usize>>),
}

impl Redactor {
    /// The default keys, and values with `prefixes` (from the policy in force, e.g.
    /// `policy.keys().clone()`).
    pub fn new(prefixes: KeyPrefixes) -> Self {
        Redactor {
            keys: DEFAULT_REDACTED_KEYS.iter().map(|k| normalize(k)).collect(),
            key_definition: KeyDefinition::for_policy(&prefixes),
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
        self.key_definition = KeyDefinition::for_policy(&prefixes);
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
        let entries = fields.metadata.entries_mut();
        let renamed = self.redact_pairs(entries.iter_mut().map(|(k, v)| (&mut *k, v)));
        if renamed {
            // Metadata keys are unique (a reader refuses duplicates): number the renamed ones.
            let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
            for (key, _) in entries.iter_mut() {
                *key = unique(std::mem::take(key), |k| taken.contains(k));
                taken.insert(key.clone());
            }
        }
    }

    /// Redacts a JSON value in place: nested objects by key (and their keys by content),
    /// strings by content.
    pub fn redact_value(&self, value: &mut Value) {
        match value {
            Value::String(text) => self.redact_string(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => self.redact_map(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn redact_map(&self, map: &mut Map<String, Value>) {
        let mut pairs: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
        self.redact_pairs(pairs.iter_mut().map(|(k, v)| (k, v)));
        for (key, value) in pairs {
            let key = unique(key, |k| map.contains_key(k));
            map.insert(key, value);
        }
    }

    /// Redacts each value by its key (or its content), and each key by its content; true
    /// when a key was renamed.
    fn redact_pairs<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a mut String, &'a mut Value)>,
    ) -> bool {
        let mut renamed = false;
        for (key, value) in pairs {
            if self.is_redacted_key(key) {
                *value = Value::String(REDACTED.to_owned());
            } else {
                self.redact_value(value);
            }
            let before = key.len();
            self.redact_string(key);
            renamed |= key.len() != before || key == REDACTED;
        }
        renamed
    }

    /// Redacts a string in place: a credential whole becomes `[REDACTED]`; a key, a
    /// `name=value` credential or a bearer token inside a text is replaced where it stands.
    pub fn redact_string(&self, text: &mut String) {
        if text == REDACTED {
            return;
        }
        let mut spans = match self.credentials(text) {
            Credentials::Whole => {
                REDACTED.clone_into(text);
                return;
            }
            Credentials::None => Vec::new(),
            Credentials::At(spans) => spans,
        };
        spans.extend(self.assigned_credentials(text));
        if !spans.is_empty() {
            *text = replace_spans(text, spans);
        }
    }

    /// The one place this module asks clay-policy what a key looks like: the byte ranges of
    /// `text` that are keys (clay-policy's one definition, so the redactor, the loader and the
    /// scanner agree on every value), or, with the high-entropy judgement on, the whole text
    /// when one of its pieces is a random-looking token.
    fn credentials(&self, text: &str) -> Credentials {
        if self.high_entropy && clay_policy::contains_high_entropy_token(text) {
            return Credentials::Whole;
        }
        let spans: Vec<Range<usize>> = self
            .key_definition
            .find_keys(text.as_bytes())
            .map(|found| found.range)
            .collect();
        if spans.is_empty() {
            Credentials::None
        } else {
            Credentials::At(spans)
        }
    }

    /// The values of `name: value` / `name=value` pairs whose name is redacted, and the token
    /// after `Bearer`, inside `text`.
    fn assigned_credentials(&self, text: &str) -> Vec<Range<usize>> {
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if !is_name_byte(bytes[i]) {
                i += 1;
                continue;
            }
            let name_start = i;
            while i < bytes.len() && is_name_byte(bytes[i]) {
                i += 1;
            }
            let name = &text[name_start..i];
            if name.eq_ignore_ascii_case("bearer") {
                let value = skip(bytes, i, |b| b == b' ' || b == b'\t');
                if value > i {
                    let end = value_end(bytes, value, None, false);
                    if end > value {
                        spans.push(value..end);
                        i = end;
                    }
                }
                continue;
            }
            // `name`, an optional closing quote, `:` or `=`, then the value.
            let mut at = skip(bytes, i, |b| b == b'"' || b == b'\'');
            at = skip(bytes, at, |b| b == b' ' || b == b'\t');
            if at >= bytes.len() || !matches!(bytes[at], b':' | b'=') || !self.is_redacted_key(name)
            {
                continue;
            }
            let header =
                matches!(bytes[at], b':') && HEADER_KEYS.contains(&normalize(name).as_str());
            let mut value = skip(bytes, at + 1, |b| b == b' ' || b == b'\t');
            let quote = bytes
                .get(value)
                .copied()
                .filter(|&b| b == b'"' || b == b'\'');
            if quote.is_some() {
                value += 1;
            }
            let end = value_end(bytes, value, quote, header);
            if end > value {
                spans.push(value..end);
                i = end;
            }
        }
        spans
    }
}

/// Letters, digits, `_` and `-`: what a field or header name is made of.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn skip(bytes: &[u8], mut at: usize, what: impl Fn(u8) -> bool) -> usize {
    while at < bytes.len() && what(bytes[at]) {
        at += 1;
    }
    at
}

/// Where a value starting at `start` ends: at its closing quote; for a header, at the end of
/// the line; otherwise at whitespace or a separator (`&`, `;`, `,`, a quote).
fn value_end(bytes: &[u8], start: usize, quote: Option<u8>, header: bool) -> usize {
    let ends = |b: u8| match quote {
        Some(q) => b == q,
        None if header => b == b'\n' || b == b'\r',
        None => b.is_ascii_whitespace() || matches!(b, b'&' | b';' | b',' | b'"' | b'\''),
    };
    let mut at = start;
    while at < bytes.len() && !ends(bytes[at]) {
        // A backslash escapes the next byte inside a quoted value.
        at += if quote.is_some() && bytes[at] == b'\\' {
            2
        } else {
            1
        };
    }
    at.min(bytes.len())
}

/// `text` with each span replaced by `[REDACTED]` (overlapping spans merged into one).
fn replace_spans(text: &str, mut spans: Vec<Range<usize>>) -> String {
    spans.sort_unstable_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in merged {
        // Spans come from byte scans at ASCII delimiters and from char offsets, so they fall
        // on char boundaries; a stray one is widened rather than split a character.
        let start = (0..=span.start.min(text.len()))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0)
            .max(at);
        let end = (span.end.min(text.len())..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end.max(start);
    }
    out.push_str(&text[at..]);
    out
}

/// `key`, or `key#2`, `key#3`, …: the first that is not `taken`.
fn unique(key: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&key) {
        return key;
    }
    (2..)
        .map(|n| format!("{key}#{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(key)
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
            "authorization",
            "Authorization",
            "cookie",
            "Set-Cookie",
            "setcookie",
            "PASSWORD",
            "passwd",
            "pwd",
            "SECRET",
            "TOKEN",
            "api_key",
            "apikey",
            "api-key",
            "API_KEY",
            "private_key",
            "PrivateKey",
            "credentials",
            "client_secret",
            "clientsecret",
            "CLIENT_SECRET",
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
        let redacted = |text: &str| {
            let mut s = text.to_owned();
            r.redact_string(&mut s);
            s
        };
        assert_eq!(redacted("sk_live_4eC39HqLyjWDarjtT1zdp7dc"), REDACTED);
        // A key is what clay-policy's one definition says: prefix and body, nothing glued on.
        assert_eq!(
            redacted("Bearer sk_test_abcd1234, then whsec_ab+c/d=xyz done"),
            "Bearer [REDACTED], then [REDACTED] done"
        );
        assert_eq!(
            redacted("/v1/tables?key=sk_live_abcdefgh&x=1"),
            "/v1/tables?key=[REDACTED]&x=1"
        );
        // A placeholder or a bare prefix is not a key.
        assert_eq!(redacted("sk_live_xxxxxxxx"), "sk_live_xxxxxxxx");
        assert_eq!(
            redacted("sk_live_ is only a prefix"),
            "sk_live_ is only a prefix"
        );
        assert_eq!(redacted("read:sk_live_abcd1234"), "read:[REDACTED]");
    }

    #[test]
    fn named_credentials_inside_text_are_replaced() {
        let r = Redactor::default();
        let redacted = |text: &str| {
            let mut s = text.to_owned();
            r.redact_string(&mut s);
            s
        };
        for (text, expected) in [
            (
                "GET /x\r\nAuthorization: Bearer eyJhbGciOi.J9.x\r\nHost: a",
                "GET /x\r\nAuthorization: [REDACTED]\r\nHost: a",
            ),
            (
                "authorization: Basic dXNlcjpwYXNz",
                "authorization: [REDACTED]",
            ),
            ("Cookie: session=abc; theme=dark", "Cookie: [REDACTED]"),
            ("set-cookie: id=a3fWa; Secure", "set-cookie: [REDACTED]"),
            (
                "sent bearer opaque-token-123 upstream",
                "sent bearer [REDACTED] upstream",
            ),
            (
                "login?user=ada&password=hunter2&x=1",
                "login?user=ada&password=[REDACTED]&x=1",
            ),
            ("PASSWD=hunter2 PWD=x", "PASSWD=[REDACTED] PWD=[REDACTED]"),
            (
                r#"{"client_secret":"s3 cr\"et","a":1}"#,
                r#"{"client_secret":"[REDACTED]","a":1}"#,
            ),
            (
                "api-key: abc, private_key=xyz",
                "api-key: [REDACTED], private_key=[REDACTED]",
            ),
            (
                "credentials='u:p' token = t0k",
                "credentials='[REDACTED]' token = [REDACTED]",
            ),
            // Names that only contain a redacted word's letters are left alone.
            ("tokenizer=bpe keyboard=us", "tokenizer=bpe keyboard=us"),
            ("no assignment: password", "no assignment: password"),
        ] {
            assert_eq!(redacted(text), expected, "{text}");
        }
        // Redacting twice changes nothing more.
        let once = redacted("Authorization: Bearer abc\npassword=x");
        assert_eq!(redacted(&once), once);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_handled_and_embedded_keys_never_survive(
            key in "\\PC{0,24}",
            before in "\\PC{0,16}",
            secret in "[A-Za-z0-9]{8,30}",
            after in "[ ,;&?]\\PC{0,16}",
        ) {
            // One repeated character is a placeholder, not a key.
            proptest::prop_assume!(secret.bytes().any(|b| b != secret.as_bytes()[0]));
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
