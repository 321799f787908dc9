//! The secret rules: the built-in key rules (always on), the policy's `[[scan.rules]]` (added,
//! never replacing), and the generic assignment rule (text only).
//!
//! One combined regex finds candidates fast; around each candidate every rule is run on its own,
//! so that every secret on a line is a finding, not only the first rule's.

use std::collections::BTreeSet;

use clay_policy::{
    KeyDefinition, KeyKind, KeyPrefixes, MIN_KEY_BODY_LEN, Policy, is_high_entropy_token,
};
use regex::bytes::{Regex, RegexBuilder};

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

/// A name ending in KEY, SECRET or TOKEN (`API_KEY`, `apiKey`, `client_secret`; the regex
/// starts at that ending so that it has literals to search for), an optional closing quote
/// (JSON, YAML keys), `=`, `:` or `:=`, an optional opening quote, and the value: at least 20
/// token characters. The value's entropy is judged afterwards by
/// `clay_policy::is_high_entropy_token`, the same function the derive uses.
const ASSIGNMENT: &str = r#"(?:KEY|SECRET|TOKEN|[Kk]ey|[Ss]ecret|[Tt]oken)["']?[ \t]*[:=]{1,2}[ \t]*["']?([A-Za-z0-9+/=_-]{20,})"#;

/// The longest pattern a policy's `[[scan.rules]]` may give, in bytes.
pub const MAX_RULE_PATTERN_LEN: usize = 4096;
/// The most rules a policy's `[[scan.rules]]` may add.
pub const MAX_POLICY_RULES: usize = 64;
/// The largest compiled program one rule may need (the regex crate's `size_limit`).
const RULE_SIZE_LIMIT: usize = 1 << 20;
/// How far around a candidate every rule is re-run, at most (the candidate's line otherwise).
const WINDOW: usize = 4096;

/// One secret rule.
#[derive(Debug, Clone)]
pub struct SecretRule {
    /// The id in findings.
    pub id: String,
    /// The pattern: its first capture group, when it has one, is the secret, else the match.
    pub pattern: String,
    /// The secret must also pass the high-entropy test.
    pub entropy: bool,
    /// For a key rule, the prefixes it looks for: a match must then be a key by clay-policy's
    /// one definition (which also drops placeholders such as `sk_live_xxxxxxxx`).
    pub key_prefixes: Vec<String>,
    /// The rule runs on text only, not on binary content (the generic assignment rule).
    pub text_only: bool,
    /// For SARIF and `--list-rules`.
    pub info: RuleInfo,
}

/// Every rule, compiled: one regex over all of them, and one per rule.
#[derive(Debug, Clone)]
pub struct SecretRules {
    rules: Vec<SecretRule>,
    /// What a key is: clay-policy's one definition, with the built-in prefixes and the policy's.
    keys: KeyDefinition,
    any: Regex,
    each: Vec<Regex>,
}

/// A secret found in some text: the rule, and the secret's byte range in that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// Start of the secret.
    pub start: usize,
    /// End of the secret.
    pub end: usize,
    /// Index into [`SecretRules::rules`].
    pub rule: usize,
}

impl SecretRules {
    /// The built-in rules with the built-in key prefixes and those of `policy`, then the
    /// policy's `[[scan.rules]]`. A policy can add prefixes and rules; it never removes a
    /// built-in one. An invalid or oversized policy rule is an error naming it.
    ///
    /// ```
    /// use cargo_clay::scan::SecretRules;
    /// use clay_policy::Policy;
    ///
    /// let policy = Policy::from_toml(
    ///     "[environments.production]\nallow = []\n[keys]\nlive_prefix = \"clay_live_\"\n",
    ///     "clay-policy.toml",
    /// )?;
    /// let rules = SecretRules::for_policy(&policy)?;
    /// let mut found = Vec::new();
    /// let text = format!("a = {}\nb = {}\n", ["sk_live_", "4eC39HqLyjWD"].concat(), ["clay_live_", "Zz81QwEr"].concat());
    /// rules.find_all(text.as_bytes(), false, |hit| found.push(rules.rules()[hit.rule].id.clone()));
    /// assert_eq!(found, ["live_key", "live_key"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_policy(policy: &Policy) -> Result<Self, Error> {
        Self::with_extra(policy.keys(), from_policy(policy)?)
    }

    /// The built-in rules, with the built-in key prefixes and those of `keys`.
    pub fn new(keys: &KeyPrefixes) -> Result<Self, Error> {
        Self::with_extra(keys, Vec::new())
    }

    /// The built-in rules and `extra` ones. The extra rules are tried after the key rules and
    /// before the generic high-entropy assignment, so a specific rule names its finding even
    /// when the line also looks like `TOKEN = …`.
    pub fn with_extra(keys: &KeyPrefixes, extra: Vec<SecretRule>) -> Result<Self, Error> {
        let definition = KeyDefinition::for_policy(keys);
        let mut rules = builtin_rules(&definition);
        let generic = rules
            .iter()
            .position(|rule| rule.id == HIGH_ENTROPY_ASSIGNMENT)
            .unwrap_or(rules.len());
        rules.splice(generic..generic, extra);
        let each = rules
            .iter()
            .map(|rule| compile(&rule.id, &rule.pattern, RULE_SIZE_LIMIT))
            .collect::<Result<Vec<_>, _>>()?;
        let combined = rules
            .iter()
            .map(|rule| format!("(?:{})", rule.pattern))
            .collect::<Vec<_>>()
            .join("|");
        let any = compile(
            "(all rules)",
            &combined,
            RULE_SIZE_LIMIT * (rules.len() + 1),
        )?;
        Ok(SecretRules {
            rules,
            keys: definition,
            any,
            each,
        })
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[SecretRule] {
        &self.rules
    }

    /// The patterns, as given to ripgrep by `bench/scan.sh`.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.pattern.as_str())
    }

    /// Every secret in `text`, in order of position, each once. Where two rules match the
    /// same secret, the first rule in order names it; two secrets on a line are two hits.
    /// With `binary`, the text-only rules (the generic assignment) do not run.
    pub fn find_all(&self, text: &[u8], binary: bool, mut found: impl FnMut(Hit)) {
        let mut hits = BTreeSet::new();
        let mut covered = 0;
        for candidate in self.any.find_iter(text) {
            if candidate.end() <= covered {
                continue;
            }
            // The candidate's line, at most WINDOW bytes either side (searched no further, so
            // a long line with many candidates costs linear time).
            let before = candidate.start().saturating_sub(WINDOW);
            let after = candidate.end().saturating_add(WINDOW).min(text.len());
            let start = memchr::memrchr(b'\n', &text[before..candidate.start()])
                .map_or(before, |i| before + i + 1);
            let end = memchr::memchr(b'\n', &text[candidate.end()..after])
                .map_or(after, |i| candidate.end() + i);
            self.find_in(text, start, end, binary, &mut hits);
            covered = end;
        }
        // Overlapping hits are one secret: the more specific (earlier) rule names it. The hits
        // come sorted by start and the kept ones do not overlap, so only the last kept one can
        // overlap the next hit.
        let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
        for hit in hits {
            match kept.last_mut() {
                Some(last) if hit.start < last.end => {
                    if hit.rule < last.rule {
                        *last = hit;
                    }
                }
                _ => kept.push(hit),
            }
        }
        kept.into_iter().for_each(&mut found);
    }

    /// Runs every rule on `text[start..end]`, adding confirmed secrets to `hits`.
    fn find_in(
        &self,
        text: &[u8],
        start: usize,
        end: usize,
        binary: bool,
        hits: &mut BTreeSet<Hit>,
    ) {
        let region = &text[start..end];
        for (index, (rule, regex)) in self.rules.iter().zip(&self.each).enumerate() {
            if binary && rule.text_only {
                continue;
            }
            for captures in regex.captures_iter(region) {
                let Some(whole) = captures.get(0) else {
                    continue;
                };
                let secret = captures.iter().skip(1).flatten().next().unwrap_or(whole);
                if secret.is_empty() {
                    continue;
                }
                let (secret_start, secret_end) = (start + secret.start(), start + secret.end());
                if !rule.key_prefixes.is_empty()
                    && !self
                        .keys
                        .is_key_bytes(&text[start + secret.start()..start + secret.end()])
                {
                    continue;
                }
                if rule.entropy {
                    let Ok(value) = std::str::from_utf8(secret.as_bytes()) else {
                        continue;
                    };
                    if !is_high_entropy_token(value) {
                        continue;
                    }
                }
                hits.insert(Hit {
                    start: secret_start,
                    end: secret_end,
                    rule: index,
                });
            }
        }
    }
}

/// Compiles one pattern with a size limit, so that a policy cannot make the scan eat memory.
fn compile(id: &str, pattern: &str, size_limit: usize) -> Result<Regex, Error> {
    RegexBuilder::new(pattern)
        .size_limit(size_limit)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => Error::Usage(format!(
                "rule `{id}`: pattern too large (it compiles to more than {limit} bytes)"
            )),
            e => Error::Usage(format!("rule `{id}`: invalid pattern: {e}")),
        })
}

/// The policy's `[[scan.rules]]`, as scanner rules, checked: at most [`MAX_POLICY_RULES`], each
/// pattern at most [`MAX_RULE_PATTERN_LEN`] bytes, valid, not matching the empty string, and no
/// id of a built-in rule.
pub(super) fn from_policy(policy: &Policy) -> Result<Vec<SecretRule>, Error> {
    let rules = policy.scan_rules();
    if rules.len() > MAX_POLICY_RULES {
        return Err(Error::Usage(format!(
            "{}: {} [[scan.rules]], more than the {MAX_POLICY_RULES} allowed",
            policy.source().describe(),
            rules.len()
        )));
    }
    rules
        .iter()
        .map(|rule| {
            let id = &rule.id;
            if [LIVE_KEY, TEST_KEY, WEBHOOK_SECRET, HIGH_ENTROPY_ASSIGNMENT].contains(&id.as_str()) {
                return Err(Error::Usage(format!(
                    "rule `{id}`: the id of a built-in rule (built-in rules cannot be redefined)"
                )));
            }
            if rule.pattern.len() > MAX_RULE_PATTERN_LEN {
                return Err(Error::Usage(format!(
                    "rule `{id}`: pattern too large ({} bytes, at most {MAX_RULE_PATTERN_LEN})",
                    rule.pattern.len()
                )));
            }
            let hir = regex_syntax::ParserBuilder::new()
                .utf8(false)
                .build()
                .parse(&rule.pattern)
                .map_err(|e| Error::Usage(format!("rule `{id}`: invalid pattern: {e}")))?;
            if hir.properties().minimum_len().unwrap_or(0) == 0 {
                return Err(Error::Usage(format!(
                    "rule `{id}`: the pattern matches the empty string"
                )));
            }
            compile(id, &rule.pattern, RULE_SIZE_LIMIT)?;
            let short = rule
                .description
                .clone()
                .unwrap_or_else(|| format!("A match of the policy's scan rule `{id}`."));
            Ok(SecretRule {
                id: id.clone(),
                pattern: rule.pattern.clone(),
                entropy: rule.entropy,
                key_prefixes: Vec::new(),
                text_only: false,
                info: RuleInfo::new(
                    id,
                    &short,
                    &format!("{short} (defined in the policy's [[scan.rules]])"),
                    "Rotate the credential if it is real, then load it from an environment variable; \
                     allow-list a false positive by its fingerprint in `.clay-scan-ignore`.",
                ),
            })
        })
        .collect()
}

/// The built-in rules: the built-in prefixes always, plus any other prefix `keys` names.
/// The built-in rules: one per kind of key, each built from clay-policy's key definition (its
/// prefixes, body class and minimum length), then the generic assignment rule.
fn builtin_rules(definition: &KeyDefinition) -> Vec<SecretRule> {
    let kind_rule = |id: &'static str, kind: KeyKind| {
        let prefixes: Vec<String> = definition.prefixes_of(kind).map(str::to_owned).collect();
        let pattern = definition
            .scanner_regex_for(kind)
            .unwrap_or_else(|| "[^\\x00-\\xff]".to_owned());
        (id, prefixes, pattern)
    };
    let live = kind_rule(LIVE_KEY, KeyKind::Live);
    let test = kind_rule(TEST_KEY, KeyKind::Test);
    let webhook = kind_rule(WEBHOOK_SECRET, KeyKind::WebhookSecret);
    let min = MIN_KEY_BODY_LEN;
    let key_rule =
        |(id, prefixes, pattern): (&str, Vec<String>, String), info: RuleInfo| SecretRule {
            id: id.to_owned(),
            pattern,
            entropy: false,
            key_prefixes: prefixes,
            text_only: false,
            info,
        };
    vec![
        key_rule(
            live,
            RuleInfo::new(
                LIVE_KEY,
                "A live API key committed to the repository.",
                &format!(
                    "A live key prefix (sk_live_, plus the policy's own) (anywhere, glued to a \
                     word too), followed by at least {min} letters and digits that are not one \
                     repeated character. Anyone who can read the repository, or any clone or \
                     fork of it, can use the key with all the permissions of the account that \
                     created it."
                ),
                "Rotate the key immediately: create a new key in the Clay dashboard, update the \
                 environment variable, verify it (`cargo clay verify-key`), revoke the old key. \
                 Then remove the literal and load the key from an environment variable. A key \
                 in git history stays exposed until it is revoked.",
            ),
        ),
        key_rule(
            test,
            RuleInfo::new(
                TEST_KEY,
                "A test API key committed to the repository.",
                &format!(
                    "A test key prefix (sk_test_, plus the policy's own) (anywhere, glued to a \
                     word too), followed by at least {min} letters and digits that are not one \
                     repeated character. Test keys reach test data and often more than \
                     intended; committed, they are shared with everyone who can read the \
                     history."
                ),
                "Rotate the key, load it from an environment variable, and add `.env` files to \
                 .gitignore. If the value is a documented placeholder, allow-list its \
                 fingerprint in `.clay-scan-ignore` or put `clay:allow` in a comment on the line.",
            ),
        ),
        key_rule(
            webhook,
            RuleInfo::new(
                WEBHOOK_SECRET,
                "A webhook signing secret committed to the repository.",
                &format!(
                    "A Standard Webhooks secret: `whsec_` and at least {min} base64 characters. \
                     With it anyone can forge webhook deliveries that your signature check \
                     accepts."
                ),
                "Rotate the webhook secret (keep the old one as `with_previous` during the \
                 grace period), load it from an environment variable into a `WebhookSecret`, \
                 and remove the literal.",
            ),
        ),
        SecretRule {
            id: HIGH_ENTROPY_ASSIGNMENT.to_owned(),
            pattern: ASSIGNMENT.to_owned(),
            entropy: true,
            key_prefixes: Vec::new(),
            text_only: true,
            info: RuleInfo::new(
                HIGH_ENTROPY_ASSIGNMENT,
                "A random-looking value assigned to a name like *_KEY, *_SECRET or *_TOKEN.",
                "An assignment (`=`, `:` or `:=`) of a long high-entropy token (clay-policy's \
                 entropy test, the same the derive uses) to a name ending in KEY, SECRET or \
                 TOKEN, in text files (not in binary content). Such values are usually \
                 credentials of some service.",
                "If it is a credential, rotate it and load it from the environment. If it is \
                 not (a hash, a test vector), allow-list its fingerprint in \
                 `.clay-scan-ignore` or put `clay:allow` in a comment on the line.",
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rules: &SecretRules, text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        rules.find_all(text.as_bytes(), false, |hit| {
            out.push((
                rules.rules()[hit.rule].id.clone(),
                text[hit.start..hit.end].to_owned(),
            ));
        });
        out
    }

    fn live(body: &str) -> String {
        format!("sk_{}_{body}", "live")
    }

    #[test]
    fn each_rule() -> Result<(), Error> {
        let rules = SecretRules::new(Policy::builtin().keys())?;
        let key = live("4eC39HqLyjWDarjtT1zdp7dc");
        assert_eq!(
            ids(&rules, &format!("CLAY_API_KEY={key}\n")),
            [(LIVE_KEY.to_owned(), key.clone())]
        );
        let test = format!("sk_{}_{}", "test", "4eC39HqLyjWDarjtT1zdp7dcQQ");
        assert_eq!(
            ids(&rules, &format!("let k = \"{test}\";")),
            [(TEST_KEY.to_owned(), test.clone())]
        );
        let wh = format!("whsec_{}", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(ids(&rules, &wh), [(WEBHOOK_SECRET.to_owned(), wh.clone())]);
        let token = "q8Zr1vLx0PaW3mTn7YbKc2Ud9Qe";
        assert_eq!(
            ids(&rules, &format!("GITHUB_TOKEN: \"{token}\"")),
            [(HIGH_ENTROPY_ASSIGNMENT.to_owned(), token.to_owned())]
        );
        // Low entropy, env-var names: nothing.
        assert!(ids(&rules, "API_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaa").is_empty());
        assert!(ids(&rules, "SECRET_NAME = CLAY_WEBHOOK_SECRET_PRODUCTION").is_empty());
        Ok(())
    }

    #[test]
    fn the_key_definition() -> Result<(), Error> {
        let rules = SecretRules::new(Policy::builtin().keys())?;
        // A short body of 8 or more letters and digits is a key; the body is the maximal run.
        assert_eq!(
            ids(&rules, &format!("{}_rest", live("abcd1234efgh"))),
            [(LIVE_KEY.to_owned(), live("abcd1234efgh"))]
        );
        // Placeholders and look-alikes are not.
        for text in [
            live("***"),
            live("<your-key-here>"),
            live("xxxxxxxx"),
            live("XXXXXXXXXXXXXXXXXXXXXXXXXX"),
            live("abc1234"),
        ] {
            assert!(ids(&rules, &text).is_empty(), "{text}");
        }
        // A key is found wherever it stands, glued to a word too (clay-policy's definition,
        // the one the derive, the loader and the redactor use).
        for glued in ["x", "9", "my_", "Bearer "] {
            assert_eq!(
                ids(&rules, &format!("{glued}{}", live("abcd1234efgh"))).len(),
                1,
                "{glued}"
            );
        }
        Ok(())
    }

    #[test]
    fn every_secret_on_a_line() -> Result<(), Error> {
        let rules = SecretRules::new(Policy::builtin().keys())?;
        let one = live("4eC39HqLyjWDarjtT1zdp7dc");
        let two = live("Zz81QwErTy0uIoPaSdFgHjKl");
        let token = "q8Zr1vLx0PaW3mTn7YbKc2Ud9Qe";
        let line = format!("PASSWORD_TOKEN={token} KEY={one},{two}");
        let found = ids(&rules, &line);
        assert_eq!(
            found,
            [
                (HIGH_ENTROPY_ASSIGNMENT.to_owned(), token.to_owned()),
                (LIVE_KEY.to_owned(), one),
                (LIVE_KEY.to_owned(), two),
            ]
        );
        Ok(())
    }

    #[test]
    fn many_secrets_on_one_line_take_linear_time() -> Result<(), Error> {
        let rules = SecretRules::new(Policy::builtin().keys())?;
        let line = (0..50_000)
            .map(|i| live(&format!("k{i:08}x")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut count = 0;
        rules.find_all(line.as_bytes(), false, |_| count += 1);
        assert_eq!(count, 50_000);
        Ok(())
    }

    #[test]
    fn binary_content_runs_only_prefixed_rules() -> Result<(), Error> {
        let rules = SecretRules::new(Policy::builtin().keys())?;
        let text = format!(
            "API_TOKEN=q8Zr1vLx0PaW3mTn7YbKc2Ud9Qe {}",
            live("4eC39HqLyjWD")
        );
        let mut found = Vec::new();
        rules.find_all(text.as_bytes(), true, |hit| found.push(hit.rule));
        assert_eq!(found, [0]);
        Ok(())
    }

    #[test]
    fn policy_adds_and_never_removes() -> Result<(), Box<dyn std::error::Error>> {
        let policy = Policy::from_toml(
            "[environments.production]\nallow = []\n[keys]\nlive_prefix = \"clay_live_\"\ntest_prefix = \"clay_test_\"\n",
            "clay-policy.toml",
        )?;
        let rules = SecretRules::for_policy(&policy)?;
        let text = format!(
            "{} {} {}",
            live("4eC39HqLyjWD"),
            ["clay_live_", "4eC39HqLyjWD"].concat(),
            ["sk_test_", "4eC39HqLyjWD"].concat()
        );
        let mut found = Vec::new();
        rules.find_all(text.as_bytes(), false, |hit| {
            found.push(rules.rules()[hit.rule].id.clone())
        });
        assert_eq!(found, [LIVE_KEY, LIVE_KEY, TEST_KEY]);
        Ok(())
    }

    #[test]
    fn bad_policy_rules_are_errors() -> Result<(), Box<dyn std::error::Error>> {
        let policy_with = |pattern: &str| {
            Policy::from_toml(
                &format!(
                    "[environments.production]\nallow = []\n[[scan.rules]]\nid = \"mine\"\npattern = '{pattern}'\n"
                ),
                "clay-policy.toml",
            )
        };
        for (pattern, message) in [
            ("itk_([", "invalid pattern"),
            ("x*", "matches the empty string"),
            ("(?:[A-Za-z0-9]{500}){500}", "too large"),
        ] {
            let policy = policy_with(pattern)?;
            match SecretRules::for_policy(&policy) {
                Err(Error::Usage(text)) => {
                    assert!(
                        text.contains("rule `mine`") && text.contains(message),
                        "{text}"
                    );
                }
                other => unreachable!("{pattern}: {other:?}"),
            }
        }
        let long = "a".repeat(MAX_RULE_PATTERN_LEN + 1);
        assert!(SecretRules::for_policy(&policy_with(&long)?).is_err());
        Ok(())
    }
}
