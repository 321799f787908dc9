//! What a key looks like: the one definition every surface builds on.
//!
//! The derive's `hardcoded_secret`, the loader (key values, settings that must not hold a key,
//! its own variables), the audit log's redactor and `cargo clay scan` all ask this module, so a
//! value one of them calls a key, all of them call a key.
//!
//! **A key** is a known prefix (the built-in and the policy's `[keys]` live and test prefixes,
//! or `whsec_`), wherever it stands (glued to a word too), followed by a body of at least
//! [`MIN_KEY_BODY_LEN`] characters of its class (`[A-Za-z0-9]`; for `whsec_`, base64:
//! `[A-Za-z0-9+/=]`). A body made of one repeated character (`sk_live_xxxxxxxx`) is a
//! placeholder, not a key. A value *contains* a key when a key occurs anywhere in it
//! (`Bearer sk_live_…`, a key with a trailing newline); it *is* a key when it is exactly one.
//!
//! **A high-entropy token** ([`is_high_entropy_token`]) is the second, separate judgement: a long
//! random-looking token without a known prefix. The derive's attribute check applies it
//! ([`looks_like_credential`]); the loader's settings and the scanner's built-in key rules do
//! not (they would refuse hashes and ids); the redactor only when asked.
//!
//! ```
//! use clay_policy::{KeyDefinition, KeyKind, Policy};
//!
//! let keys = KeyDefinition::for_policy(Policy::builtin().keys());
//! assert!(keys.is_key("sk_live_abcd1234efgh"));
//! assert!(!keys.is_key(" sk_live_abcd1234efgh"), "padded: contains a key, is not one");
//! assert!(keys.contains_key("Authorization: Bearer sk_live_abcd1234efgh"));
//! assert!(!keys.contains_key("sk_live_***"));
//! assert!(!keys.contains_key("sk_live_<your-key-here>"));
//! assert!(!keys.contains_key("sk_live_xxxxxxxxxxxx"), "a placeholder");
//! let found: Vec<_> = keys.find_keys("a=sk_test_abcd1234efgh b=whsec_MfKQ9r8GKYqr".as_bytes()).collect();
//! assert_eq!(found.len(), 2);
//! assert_eq!(found[0].kind, KeyKind::Test);
//! assert_eq!(found[1].kind, KeyKind::WebhookSecret);
//! ```

use std::ops::Range;

use crate::policy::{EnvironmentPolicy, KeyPrefixes};

/// Prefix of Standard Webhooks secrets.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// Fewest body characters after a prefix for the text to be a key: `sk_live_abcd1234` is one,
/// `sk_live_example` is not.
pub const MIN_KEY_BODY_LEN: usize = 8;

/// The body class of live and test keys, as a regular-expression class.
const KEY_BODY_CLASS: &str = "[A-Za-z0-9]";
/// The body class of `whsec_` secrets (base64), as a regular-expression class.
const WEBHOOK_BODY_CLASS: &str = "[A-Za-z0-9+/=]";

/// Shortest token the high-entropy rule considers.
const MIN_TOKEN_LEN: usize = 20;
/// Shannon entropy, in bits per character, above which a token counts as random.
const MIN_ENTROPY_BITS: f64 = 3.5;

/// Which prefix a key carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// The policy's live prefix (`sk_live_` by default).
    Live,
    /// The policy's test prefix (`sk_test_` by default).
    Test,
    /// `whsec_`: a Standard Webhooks signing secret.
    WebhookSecret,
}

impl KeyKind {
    /// A short name for reports: `live key`, `test key`, `webhook secret`.
    pub fn describe(self) -> &'static str {
        match self {
            KeyKind::Live => "live key",
            KeyKind::Test => "test key",
            KeyKind::WebhookSecret => "webhook secret",
        }
    }

    fn body_byte(self, b: u8) -> bool {
        match self {
            KeyKind::Live | KeyKind::Test => b.is_ascii_alphanumeric(),
            KeyKind::WebhookSecret => b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='),
        }
    }

    fn body_class(self) -> &'static str {
        match self {
            KeyKind::Live | KeyKind::Test => KEY_BODY_CLASS,
            KeyKind::WebhookSecret => WEBHOOK_BODY_CLASS,
        }
    }
}

/// One key found in a text: its byte range (prefix included) and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMatch {
    /// Byte range of the whole key, prefix and body.
    pub range: Range<usize>,
    /// Which prefix it carries.
    pub kind: KeyKind,
}

/// The one definition of a key, for a set of prefixes.
///
/// Built from a policy's `[keys]` ([`for_policy`](Self::for_policy)), always on top of the
/// built-in prefixes; [`with_prefixes`](Self::with_prefixes) can only add, never remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDefinition {
    prefixes: Vec<(String, KeyKind)>,
}

impl KeyDefinition {
    /// The live and test prefixes of `keys`, and `whsec_`, on top of the built-in table's
    /// prefixes: a policy can teach clay-config new prefixes, never make `sk_live_…` an
    /// ordinary string.
    pub fn for_policy(keys: &KeyPrefixes) -> KeyDefinition {
        KeyDefinition::builtin().clone().with_prefixes(keys)
    }

    /// The definition of the built-in table (`sk_live_`, `sk_test_`, `whsec_`).
    pub fn builtin() -> &'static KeyDefinition {
        static BUILTIN: std::sync::OnceLock<KeyDefinition> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| {
            KeyDefinition {
                prefixes: Vec::new(),
            }
            .with_prefixes(crate::Policy::builtin().keys())
        })
    }

    /// This definition plus the prefixes of `keys` (and `whsec_`), each once. Empty prefixes
    /// are ignored: a prefix must say something.
    pub fn with_prefixes(mut self, keys: &KeyPrefixes) -> KeyDefinition {
        for (prefix, kind) in [
            (keys.live_prefix.as_str(), KeyKind::Live),
            (keys.test_prefix.as_str(), KeyKind::Test),
            (WEBHOOK_SECRET_PREFIX, KeyKind::WebhookSecret),
        ] {
            if !prefix.is_empty() && !self.prefixes.iter().any(|(p, _)| p == prefix) {
                self.prefixes.push((prefix.to_owned(), kind));
            }
        }
        self
    }

    /// The prefixes and their kinds, in the order they were added.
    pub fn prefixes(&self) -> impl Iterator<Item = (&str, KeyKind)> {
        self.prefixes.iter().map(|(p, k)| (p.as_str(), *k))
    }

    /// Every key in `text`, left to right, none overlapping. Works on bytes, so binary files
    /// and text in any ASCII-compatible encoding are searched alike.
    pub fn find_keys<'a>(&'a self, text: &'a [u8]) -> impl Iterator<Item = KeyMatch> + 'a {
        let mut at = 0;
        std::iter::from_fn(move || {
            while at < text.len() {
                let found = self.key_at(text, at);
                match found {
                    Some(m) => {
                        at = m.range.end;
                        return Some(m);
                    }
                    None => at += 1,
                }
            }
            None
        })
    }

    /// The key starting exactly at `start`, if one does.
    fn key_at(&self, text: &[u8], start: usize) -> Option<KeyMatch> {
        let rest = &text[start..];
        // The longest matching prefix wins (`sk_live_` over a custom `sk_`).
        let (prefix, kind) = self
            .prefixes
            .iter()
            .filter(|(p, _)| rest.starts_with(p.as_bytes()))
            .max_by_key(|(p, _)| p.len())?;
        let body_start = start + prefix.len();
        let body_len = text[body_start..]
            .iter()
            .take_while(|&&b| kind.body_byte(b))
            .count();
        let body = &text[body_start..body_start + body_len];
        if body_len < MIN_KEY_BODY_LEN || is_placeholder_body(body) {
            return None;
        }
        Some(KeyMatch {
            range: start..body_start + body_len,
            kind: *kind,
        })
    }

    /// True when a key occurs anywhere in `text`.
    pub fn contains_key(&self, text: &str) -> bool {
        self.find_keys(text.as_bytes()).next().is_some()
    }

    /// True when `text` is exactly one key: nothing before or after it, not even whitespace.
    pub fn is_key(&self, text: &str) -> bool {
        self.key_at(text.as_bytes(), 0)
            .is_some_and(|m| m.range.end == text.len())
    }

    /// The kind of key `text` is, when it is exactly one.
    pub fn kind_of(&self, text: &str) -> Option<KeyKind> {
        self.key_at(text.as_bytes(), 0)
            .filter(|m| m.range.end == text.len())
            .map(|m| m.kind)
    }

    /// The bytes version of [`is_key`](Self::is_key), for binary content.
    pub fn is_key_bytes(&self, text: &[u8]) -> bool {
        self.key_at(text, 0)
            .is_some_and(|m| m.range.end == text.len())
    }

    /// The prefixes of one kind, in the order they were added.
    pub fn prefixes_of(&self, kind: KeyKind) -> impl Iterator<Item = &str> {
        self.prefixes
            .iter()
            .filter(move |(_, k)| *k == kind)
            .map(|(p, _)| p.as_str())
    }

    /// [`scanner_regex`](Self::scanner_regex) for the keys of one kind (a scanner that names
    /// live keys, test keys and webhook secrets as separate rules); `None` when the definition
    /// has no prefix of that kind.
    pub fn scanner_regex_for(&self, kind: KeyKind) -> Option<String> {
        let alternatives: Vec<String> = self.prefixes_of(kind).map(escape_regex).collect();
        (!alternatives.is_empty()).then(|| {
            format!(
                "((?:{}){}{{{},}})",
                alternatives.join("|"),
                kind.body_class(),
                MIN_KEY_BODY_LEN
            )
        })
    }

    /// A regular expression (the `regex` crate's syntax, bytes or text) whose first capture
    /// group finds every key candidate of this definition: the same prefixes, body classes and
    /// minimum length. A scanner confirms each candidate with [`is_key`](Self::is_key), which
    /// also drops placeholders (a regular expression cannot say "not one repeated character").
    pub fn scanner_regex(&self) -> String {
        let alternatives: Vec<String> = self
            .prefixes
            .iter()
            .map(|(prefix, kind)| {
                format!(
                    "{}{}{{{},}}",
                    escape_regex(prefix),
                    kind.body_class(),
                    MIN_KEY_BODY_LEN
                )
            })
            .collect();
        format!("({})", alternatives.join("|"))
    }
}

/// A body of one repeated character (`xxxxxxxx`, `00000000`) is a placeholder.
fn is_placeholder_body(body: &[u8]) -> bool {
    body.iter().all(|&b| b == body[0])
}

fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// True when `text` contains a key by the policy's prefixes: a shorthand for
/// [`KeyDefinition::for_policy`]`(keys).contains_key(text)`.
pub fn contains_key(text: &str, keys: &KeyPrefixes) -> bool {
    KeyDefinition::for_policy(keys).contains_key(text)
}

/// The derive's judgement of an attribute literal: it contains a key, or one of its
/// whitespace- or punctuation-separated pieces is a high-entropy token.
///
/// ```
/// use clay_policy::{Policy, looks_like_credential};
///
/// let keys = Policy::builtin().keys();
/// assert!(looks_like_credential("sk_live_4eC39HqLyjWDarjtT1zdp7dc", keys));
/// assert!(looks_like_credential("q8Zr1vLx0PaW3mTn7YbKc2Ud", keys));
/// assert!(!looks_like_credential("https://api.clay.com", keys));
/// assert!(!looks_like_credential("CLAY_WEBHOOK_SECRET_PRODUCTION", keys));
/// assert!(!looks_like_credential("read:tables", keys));
/// assert!(looks_like_credential("read:sk_live_abcd1234", keys));
/// ```
pub fn looks_like_credential(text: &str, keys: &KeyPrefixes) -> bool {
    contains_key(text, keys) || contains_high_entropy_token(text)
}

/// True when one of the whitespace- or punctuation-separated pieces of `text` is a
/// high-entropy token.
pub fn contains_high_entropy_token(text: &str) -> bool {
    is_high_entropy_token(text.trim())
        || text
            .split(|c: char| {
                c.is_whitespace()
                    || matches!(c, ':' | '=' | '"' | '\'' | ',' | ';' | '@' | '?' | '&')
            })
            .any(is_high_entropy_token)
}

/// True for a long token of letters, digits and `+/=_-` that mixes letters and digits, is not
/// shaped like an environment variable name (`UPPER_SNAKE`), and has high Shannon entropy.
pub fn is_high_entropy_token(text: &str) -> bool {
    if text.len() < MIN_TOKEN_LEN {
        return false;
    }
    let token_chars = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'));
    let has_digit = text.bytes().any(|b| b.is_ascii_digit());
    let has_letter = text.bytes().any(|b| b.is_ascii_alphabetic());
    let env_name_shaped = text
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    // Lowercase words joined by `_`, `-` or `/` are names and paths (`/tmp/x-12345/settings`),
    // not random tokens: those mix cases.
    let identifier_shaped = text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'/'));
    token_chars
        && has_digit
        && has_letter
        && !env_name_shaped
        && !(identifier_shaped && text.contains(['_', '-', '/']))
        && shannon_entropy(text) >= MIN_ENTROPY_BITS
}

/// Shannon entropy of the byte distribution, in bits per byte.
pub fn shannon_entropy(text: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// How a key value is classified against an environment's `live_keys` and the policy's
/// `require_prefix`: the rule "which environment a key belongs in".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlacement {
    /// The key may be used here.
    Allowed,
    /// A live key where `live_keys = false`.
    LiveKeyNotAllowed,
    /// A test key where `live_keys = true`.
    TestKeyInLiveEnvironment,
    /// Neither prefix, and the policy sets `require_prefix = true`.
    UnprefixedKey,
}

/// Which environment a key value belongs in. Classification goes by prefix alone, whatever
/// the body: a value that starts with the live prefix is treated as live, so a short or odd
/// live key is never let into development.
///
/// ```
/// use clay_policy::{KeyPlacement, Policy, key_placement};
///
/// let policy = Policy::builtin();
/// let dev = policy.environment("development").expect("exists");
/// let prod = policy.environment("production").expect("exists");
/// assert_eq!(key_placement("sk_live_abcd1234", dev, policy.keys()), KeyPlacement::LiveKeyNotAllowed);
/// assert_eq!(key_placement("sk_test_abcd1234", prod, policy.keys()), KeyPlacement::TestKeyInLiveEnvironment);
/// assert_eq!(key_placement("sk_live_abcd1234", prod, policy.keys()), KeyPlacement::Allowed);
/// ```
pub fn key_placement(
    value: &str,
    environment: &EnvironmentPolicy,
    keys: &KeyPrefixes,
) -> KeyPlacement {
    key_placement_with(value, environment.live_keys(), keys)
}

/// [`key_placement`] with `live_keys` given directly (the loader may tighten it at run time).
pub fn key_placement_with(value: &str, live_keys: bool, keys: &KeyPrefixes) -> KeyPlacement {
    // A live or test key inside the value counts too (`x_sk_live_…`): by the one definition,
    // whatever else surrounds it.
    let inside = |kind: KeyKind| {
        KeyDefinition::for_policy(keys)
            .find_keys(value.as_bytes())
            .any(|found| found.kind == kind)
    };
    let starts_live = !keys.live_prefix.is_empty() && value.starts_with(&keys.live_prefix);
    let starts_test = !keys.test_prefix.is_empty() && value.starts_with(&keys.test_prefix);
    let live = starts_live || inside(KeyKind::Live);
    let test = starts_test || inside(KeyKind::Test);
    if live && !live_keys {
        KeyPlacement::LiveKeyNotAllowed
    } else if test && !live && live_keys {
        KeyPlacement::TestKeyInLiveEnvironment
    } else if !starts_live && !starts_test && keys.require_prefix {
        // `require_prefix` asks for the policy's own prefixes.
        KeyPlacement::UnprefixedKey
    } else {
        KeyPlacement::Allowed
    }
}

/// True when `value` holds whitespace or a control character anywhere (a leading space, a
/// trailing newline, a tab, U+FEFF): such a key or secret is refused, since servers strip the
/// padding and the padded copy would slip past the live/test and distinct-value rules.
pub fn has_padding_or_control(value: &str) -> bool {
    value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}' || c == '\u{200b}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn def() -> &'static KeyDefinition {
        KeyDefinition::builtin()
    }

    #[test]
    fn keys_and_placeholders() {
        assert!(def().is_key("sk_live_abcd1234efgh"));
        assert!(def().is_key("sk_test_abcd1234"));
        assert!(!def().is_key("sk_test_abcd123"), "7 body characters");
        assert!(!def().is_key("sk_test_"));
        assert!(!def().contains_key("sk_live_***"));
        assert!(!def().contains_key("sk_live_<your-key-here>"));
        assert!(!def().contains_key("sk_live_xxxxxxxx"));
        assert!(!def().contains_key("sk_live_00000000000000"));
        assert!(def().is_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert!(!def().is_key("whsec_"));
        assert!(
            def().contains_key("xsk_live_abcd1234efgh"),
            "glued to a word"
        );
        assert!(def().contains_key("_sk_live_abcd1234efgh"));
        assert!(def().contains_key("read:sk_live_abcd1234"));
        assert!(def().contains_key("sk_live_abcd1234efgh\n"));
        assert!(!def().is_key("sk_live_abcd1234efgh\n"));
        assert!(!def().is_key("\u{feff}sk_live_abcd1234efgh"));
        assert!(def().contains_key("\u{feff}sk_live_abcd1234efgh"));
    }

    #[test]
    fn every_key_on_a_line() {
        let line = b"a=sk_live_abcd1234efgh b=sk_live_zzzz9999yyyy\x00sk_test_qwer5678tyui";
        let kinds: Vec<KeyKind> = def().find_keys(line).map(|m| m.kind).collect();
        assert_eq!(kinds, [KeyKind::Live, KeyKind::Live, KeyKind::Test]);
    }

    #[test]
    fn custom_prefixes_add_never_remove() {
        let custom = KeyPrefixes {
            live_prefix: "clay_live_".into(),
            test_prefix: "clay_test_".into(),
            require_prefix: false,
        };
        let custom = KeyDefinition::for_policy(&custom);
        assert!(
            custom.contains_key("sk_live_abcd1234efgh"),
            "built-ins stay"
        );
        assert!(custom.contains_key("clay_live_abcd1234efgh"));
        assert!(!def().contains_key("clay_live_abcd1234efgh"));
    }

    #[test]
    fn the_regex_is_built_from_the_same_parts() {
        let regex = def().scanner_regex();
        assert!(regex.contains("sk_live_[A-Za-z0-9]{8,}"), "{regex}");
        assert!(regex.contains("whsec_[A-Za-z0-9+/=]{8,}"), "{regex}");
        assert_eq!(escape_regex("a.b+c"), "a\\.b\\+c");
        assert_eq!(
            def().scanner_regex_for(KeyKind::Live).as_deref(),
            Some("((?:sk_live_)[A-Za-z0-9]{8,})")
        );
        assert!(def().is_key_bytes(b"whsec_MfKQ9r8GKYqr"));
        assert!(!def().is_key_bytes(b"whsec_MfKQ9r8GKYqr "));
    }

    #[test]
    fn attribute_judgement() {
        let keys = Policy::builtin().keys();
        assert!(looks_like_credential(
            "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
            keys
        ));
        assert!(!looks_like_credential("aaaaaaaaaaaaaaaaaaaaaaaa1", keys));
        assert!(!looks_like_credential("enrichment_table_reader_v2", keys));
        assert!(!looks_like_credential("clay-policy.toml", keys));
        assert!(!looks_like_credential("/tmp/x-12345/settings", keys));
        assert!(!looks_like_credential(
            "tests/ui/policies/catalog_v2.toml",
            keys
        ));
    }

    #[test]
    fn placement() {
        let keys = Policy::builtin().keys();
        assert_eq!(
            key_placement_with("sk_live_a", false, keys),
            KeyPlacement::LiveKeyNotAllowed,
            "by prefix alone"
        );
        assert_eq!(
            key_placement_with("plain", true, keys),
            KeyPlacement::Allowed
        );
        assert_eq!(
            key_placement_with("x_sk_live_abcd1234efgh", false, keys),
            KeyPlacement::LiveKeyNotAllowed,
            "a live key inside the value"
        );
        let strict = KeyPrefixes {
            require_prefix: true,
            ..keys.clone()
        };
        assert_eq!(
            key_placement_with("plain", true, &strict),
            KeyPlacement::UnprefixedKey
        );
    }

    #[test]
    fn padding() {
        for padded in [" k", "k\n", "k\r\n", "\tk", "\u{feff}k", "k\u{0}"] {
            assert!(has_padding_or_control(padded), "{padded:?}");
        }
        assert!(!has_padding_or_control("sk_live_abcd1234"));
    }

    #[test]
    fn entropy_of_uniform_text() {
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
    }
}
