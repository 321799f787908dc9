//! The secret rules, compiled once into one regex that finds every candidate, plus one small
//! regex per rule that says which rule a candidate belongs to and where its secret is.

use clay_policy::{KeyPrefixes, WEBHOOK_SECRET_PREFIX, is_high_entropy_token};
use regex::bytes::Regex;

use crate::Error;
use crate::report::RuleInfo;

/// Id of the live key rule.
pub const LIVE_KEY: &str = "live_key";
/// Id of the test key rule.
pub const TEST_KEY: &str = "test_key";
/// Id of the webhook secret rule.
pub const WEBHOOK_SECRET: &str = "webhook_secret";
/// Id of the high-entropy assignment rule.
pub const HIGH_ENTROPY_ASSIGNMENT: &str = "high_entropy_assignment";

/// Characters of a key after its prefix, and the least number of them.
const KEY_BODY: &str = "[A-Za-z0-9]{24,}";
/// Characters of a `whsec_` secret (base64) after its prefix.
const WEBHOOK_BODY: &str = "[A-Za-z0-9+/=]{24,}";
/// A name ending in KEY, SECRET or TOKEN (`API_KEY`, `apiKey`, `client_secret`; the regex
/// starts at that ending so that it has literals to search for), an optional closing quote
/// (JSON, YAML keys), `=`, `:` or `:=`, an optional opening quote, and the value: at least 20
/// token characters. The value's entropy is judged afterwards by
/// `clay_policy::is_high_entropy_token`, the same function the derive uses.
const ASSIGNMENT: &str = r#"(?:KEY|SECRET|TOKEN|[Kk]ey|[Ss]ecret|[Tt]oken)["']?[ \t]*[:=]{1,2}[ \t]*["']?([A-Za-z0-9+/=_-]{20,})"#;

/// One secret rule.
#[derive(Debug, Clone)]
pub struct SecretRule {
    /// The id in findings.
    pub id: String,
    /// The pattern: its first capture group, when it has one, is the secret, else the match.
    pub pattern: String,
    /// The secret must also pass the high-entropy test.
    pub entropy: bool,
    /// For SARIF and `--list-rules`.
    pub info: RuleInfo,
}

/// Every rule, compiled: one regex over all of them, and one per rule.
#[derive(Debug, Clone)]
pub struct SecretRules {
    rules: Vec<SecretRule>,
    any: Regex,
    each: Vec<Regex>,
}

/// A secret found in some text: the rule, and the secret's byte range in that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`SecretRules::rules`].
    pub rule: usize,
    /// Start of the secret.
    pub start: usize,
    /// End of the secret.
    pub end: usize,
}

impl SecretRules {
    /// The built-in rules, with the key prefixes of the policy in force.
    pub fn new(keys: &KeyPrefixes) -> Result<Self, Error> {
        Self::with_extra(keys, Vec::new())
    }

    /// The built-in rules and `extra` ones. The extra rules are tried after the key-prefix
    /// rules and before the generic high-entropy assignment, so a specific rule names its
    /// finding even when the line also looks like `TOKEN = …`.
    pub fn with_extra(keys: &KeyPrefixes, extra: Vec<SecretRule>) -> Result<Self, Error> {
        let mut rules = builtin_rules(keys);
        let generic = rules
            .iter()
            .position(|rule| rule.id == HIGH_ENTROPY_ASSIGNMENT)
            .unwrap_or(rules.len());
        rules.splice(generic..generic, extra);
        let each = rules
            .iter()
            .map(|rule| {
                Regex::new(&rule.pattern)
                    .map_err(|e| Error::Usage(format!("rule `{}`: invalid pattern: {e}", rule.id)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let any = Regex::new(
            &rules
                .iter()
                .map(|rule| format!("(?:{})", rule.pattern))
                .collect::<Vec<_>>()
                .join("|"),
        )
        .map_err(|e| Error::Usage(format!("secret rules: {e}")))?;
        Ok(SecretRules { rules, any, each })
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[SecretRule] {
        &self.rules
    }

    /// The patterns, as given to ripgrep by `bench/scan.sh`.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.pattern.as_str())
    }

    /// Every secret in `text`, in order. A candidate that no rule confirms (an assignment of
    /// a low-entropy value) is skipped, and the search goes on after it.
    pub fn find_all(&self, text: &[u8], mut found: impl FnMut(Hit)) {
        for candidate in self.any.find_iter(text) {
            let piece = &text[candidate.start()..candidate.end()];
            if let Some(hit) = self.classify(piece) {
                found(Hit {
                    rule: hit.rule,
                    start: candidate.start() + hit.start,
                    end: candidate.start() + hit.end,
                });
            }
        }
    }

    /// Which rule `piece` (one match of the combined regex) belongs to: the first rule, in
    /// order, that finds a secret in it. A key assigned to `API_KEY` is a key, not an
    /// assignment, because the prefix rules come first.
    fn classify(&self, piece: &[u8]) -> Option<Hit> {
        for (index, (rule, regex)) in self.rules.iter().zip(&self.each).enumerate() {
            let Some(captures) = regex.captures(piece) else {
                continue;
            };
            let secret = captures
                .iter()
                .skip(1)
                .flatten()
                .next()
                .or_else(|| captures.get(0));
            let Some(secret) = secret else { continue };
            if rule.entropy {
                let Ok(value) = std::str::from_utf8(secret.as_bytes()) else {
                    continue;
                };
                if !is_high_entropy_token(value) {
                    continue;
                }
            }
            return Some(Hit {
                rule: index,
                start: secret.start(),
                end: secret.end(),
            });
        }
        None
    }
}

/// The policy's `[[scan.rules]]`, as scanner rules.
pub(super) fn from_policy(policy: &clay_policy::Policy) -> Vec<SecretRule> {
    policy
        .scan_rules()
        .iter()
        .map(|rule| {
            let short = rule
                .description
                .clone()
                .unwrap_or_else(|| format!("A match of the policy's scan rule `{}`.", rule.id));
            SecretRule {
                id: rule.id.clone(),
                pattern: rule.pattern.clone(),
                entropy: rule.entropy,
                info: RuleInfo::new(
                    &rule.id,
                    &short,
                    &format!("{short} (defined in the policy's [[scan.rules]])"),
                    "Rotate the credential if it is real, then load it from an environment variable; \
                     allow-list a false positive by its fingerprint in `.clay-scan-ignore`.",
                ),
            }
        })
        .collect()
}

fn builtin_rules(keys: &KeyPrefixes) -> Vec<SecretRule> {
    let prefixed = |prefix: &str, body: &str| format!("{}{body}", regex::escape(prefix));
    vec![
        SecretRule {
            id: LIVE_KEY.to_owned(),
            pattern: prefixed(&keys.live_prefix, KEY_BODY),
            entropy: false,
            info: RuleInfo::new(
                LIVE_KEY,
                "A live API key committed to the repository.",
                "A string with the policy's live key prefix (sk_live_ by default) followed by at \
                 least 24 key characters. Anyone who can read the repository, or any clone or \
                 fork of it, can use the key with all the permissions of the account that \
                 created it.",
                "Rotate the key immediately: create a new key in the Clay dashboard, update the \
                 environment variable, verify it (`cargo clay verify-key`), revoke the old key. \
                 Then remove the literal and load the key from an environment variable. A key \
                 in git history stays exposed until it is revoked.",
            ),
        },
        SecretRule {
            id: TEST_KEY.to_owned(),
            pattern: prefixed(&keys.test_prefix, KEY_BODY),
            entropy: false,
            info: RuleInfo::new(
                TEST_KEY,
                "A test API key committed to the repository.",
                "A string with the policy's test key prefix (sk_test_ by default) followed by at \
                 least 24 key characters. Test keys reach test data and often more than \
                 intended; committed, they are shared with everyone who can read the history.",
                "Rotate the key, load it from an environment variable, and add `.env` files to \
                 .gitignore. If the value is a documented placeholder, allow-list its \
                 fingerprint in `.clay-scan-ignore` or mark the line `clay:allow`.",
            ),
        },
        SecretRule {
            id: WEBHOOK_SECRET.to_owned(),
            pattern: prefixed(WEBHOOK_SECRET_PREFIX, WEBHOOK_BODY),
            entropy: false,
            info: RuleInfo::new(
                WEBHOOK_SECRET,
                "A webhook signing secret committed to the repository.",
                "A Standard Webhooks secret (`whsec_` and base64). With it anyone can forge \
                 webhook deliveries that your signature check accepts.",
                "Rotate the webhook secret (keep the old one as `with_previous` during the \
                 grace period), load it from an environment variable into a `WebhookSecret`, \
                 and remove the literal.",
            ),
        },
        SecretRule {
            id: HIGH_ENTROPY_ASSIGNMENT.to_owned(),
            pattern: ASSIGNMENT.to_owned(),
            entropy: true,
            info: RuleInfo::new(
                HIGH_ENTROPY_ASSIGNMENT,
                "A random-looking value assigned to a name like *_KEY, *_SECRET or *_TOKEN.",
                "An assignment (`=`, `:` or `:=`) of a long high-entropy token (clay-policy's \
                 entropy test, the same the derive uses) to a name ending in KEY, SECRET or \
                 TOKEN. Such values are usually credentials of some service.",
                "If it is a credential, rotate it and load it from the environment. If it is \
                 not (a hash, a test vector), allow-list its fingerprint in \
                 `.clay-scan-ignore` or mark the line `clay:allow`.",
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use clay_policy::Policy;

    fn ids(rules: &SecretRules, text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        rules.find_all(text.as_bytes(), |hit| {
            out.push((
                rules.rules()[hit.rule].id.clone(),
                text[hit.start..hit.end].to_owned(),
            ));
        });
        out
    }

    #[test]
    fn each_rule() -> Result<(), Error> {
        let rules = SecretRules::new(Policy::builtin().keys())?;
        let live = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        assert_eq!(
            ids(&rules, &format!("CLAY_API_KEY={live}\n")),
            [(LIVE_KEY.to_owned(), live.to_owned())]
        );
        let test = "sk_test_4eC39HqLyjWDarjtT1zdp7dcQQ";
        assert_eq!(
            ids(&rules, &format!("let k = \"{test}\";")),
            [(TEST_KEY.to_owned(), test.to_owned())]
        );
        let wh = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(
            ids(&rules, wh),
            [(WEBHOOK_SECRET.to_owned(), wh.to_owned())]
        );
        let token = "q8Zr1vLx0PaW3mTn7YbKc2Ud9Qe";
        assert_eq!(
            ids(&rules, &format!("GITHUB_TOKEN: \"{token}\"")),
            [(HIGH_ENTROPY_ASSIGNMENT.to_owned(), token.to_owned())]
        );
        assert_eq!(
            ids(&rules, &format!("\"apiKey\": \"{token}\",")),
            [(HIGH_ENTROPY_ASSIGNMENT.to_owned(), token.to_owned())]
        );
        // Low entropy, env-var names, short keys: nothing.
        assert!(ids(&rules, "API_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaa").is_empty());
        assert!(ids(&rules, "SECRET_NAME = CLAY_WEBHOOK_SECRET_PRODUCTION").is_empty());
        assert!(ids(&rules, "sk_live_short").is_empty());
        // Two on one line.
        assert_eq!(ids(&rules, &format!("{live} {test}")).len(), 2);
        Ok(())
    }
}
