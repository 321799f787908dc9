//! Telling credentials from other strings: used by the derive (`hardcoded_secret`), the audit
//! log's redaction and the scanner, so all three agree on what a key looks like.

use crate::policy::KeyPrefixes;

/// Prefix of Standard Webhooks secrets.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// Shortest token the high-entropy rule considers.
const MIN_TOKEN_LEN: usize = 20;
/// Shannon entropy, in bits per character, above which a token counts as random.
const MIN_ENTROPY_BITS: f64 = 3.5;

/// True when `text` looks like a credential: it starts with the live or test key prefix or
/// `whsec_` followed by more characters, or it is a long high-entropy token (surrounding
/// whitespace ignored).
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
    // A key copied with a trailing newline or space is still a key.
    let text = text.trim();
    let is_key = |piece: &str| has_key_prefix(piece, keys) || is_high_entropy_token(piece);
    // A key inside a longer string (`read:sk_live_…`, `Bearer sk_live_…`) is still a key.
    is_key(text)
        || text
            .split(|c: char| {
                c.is_whitespace()
                    || matches!(c, ':' | '=' | '"' | '\'' | ',' | ';' | '@' | '?' | '&')
            })
            .any(is_key)
}

/// True when `text` starts with the live or test prefix, or `whsec_`, and has more after it.
pub fn has_key_prefix(text: &str, keys: &KeyPrefixes) -> bool {
    [
        keys.live_prefix.as_str(),
        keys.test_prefix.as_str(),
        WEBHOOK_SECRET_PREFIX,
    ]
    .iter()
    .any(|prefix| {
        text.strip_prefix(prefix)
            .is_some_and(|rest| rest.len() >= 4 && !rest.contains(char::is_whitespace))
    })
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
    let identifier_shaped = text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    token_chars
        && has_digit
        && has_letter
        && !env_name_shaped
        && !(identifier_shaped && text.contains(['_', '-']))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    #[test]
    fn prefixes_and_entropy() {
        let keys = Policy::builtin().keys();
        assert!(looks_like_credential("sk_test_abcd", keys));
        assert!(!looks_like_credential("sk_test_", keys));
        assert!(looks_like_credential(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            keys
        ));
        assert!(looks_like_credential(
            "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
            keys
        ));
        assert!(!looks_like_credential("aaaaaaaaaaaaaaaaaaaaaaaa1", keys));
        assert!(!looks_like_credential("enrichment_table_reader_v2", keys));
        assert!(!looks_like_credential("clay-policy.toml", keys));
        assert!(!looks_like_credential(
            "tests/ui/policies/catalog_v2.toml",
            keys
        ));
    }

    #[test]
    fn entropy_of_uniform_text() {
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
    }
}
