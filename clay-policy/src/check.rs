//! The one implementation of the least-privilege rules: the derive, the loader's `CLAY_POLICY`
//! re-check and `cargo clay` all call [`check`].

use std::fmt;

use crate::credential::looks_like_credential;
use crate::policy::{Catalog, EnvironmentPolicy, Policy};
use crate::scope::Scope;
use crate::suggest::did_you_mean;

/// A rule of the derive's rule table; [`Rule::name`] is the name printed in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// A scope not covered by the environment's `allow` list.
    ExcessiveScope,
    /// A wildcard where `wildcards = false`.
    WildcardScope,
    /// Read and write on one key where `separate_read_write = true`.
    MixedReadWrite,
    /// A scope covered by another of the same key and environment, or listed twice.
    RedundantScope,
    /// Not `action:resource`.
    MalformedScope,
    /// With a `[catalog]`, an action or resource outside it.
    UnknownScopeName,
    /// An environment the policy does not define.
    UnknownEnvironment,
    /// A credential-looking literal in an attribute, or a `default` on a secret.
    HardcodedSecret,
    /// Two fields read the same variable.
    SharedEnvVar,
    /// A field without `env`.
    MissingEnv,
    /// A key without `scopes`, or an empty scope list.
    MissingScopes,
    /// `ApiKey` vs `Option<ApiKey>` not matching the declarations, or `scopes` on a non-key.
    WrongKeyType,
    /// A variable name that is not `[A-Z_][A-Z0-9_]*`, or one the loader reserves.
    InvalidEnvName,
    /// The policy file is missing, unreadable or invalid.
    PolicyFile,
    /// An attribute key that does not exist.
    UnknownAttribute,
    /// An attribute key (or an environment in `scopes`) given twice.
    DuplicateAttribute,
    /// A setting whose variable is named like a secret (`…_KEY`, `…_TOKEN`, …) and is not
    /// marked `public`.
    SecretAsSetting,
    /// `clay_config::require!` asks for a scope no environment's declaration of the field covers.
    UndeclaredScope,
}

impl Rule {
    /// Every rule, in the order of the rule table (rules added later at the end).
    pub const ALL: [Rule; 18] = [
        Rule::ExcessiveScope,
        Rule::WildcardScope,
        Rule::MixedReadWrite,
        Rule::RedundantScope,
        Rule::MalformedScope,
        Rule::UnknownScopeName,
        Rule::UnknownEnvironment,
        Rule::HardcodedSecret,
        Rule::SharedEnvVar,
        Rule::MissingEnv,
        Rule::MissingScopes,
        Rule::WrongKeyType,
        Rule::InvalidEnvName,
        Rule::PolicyFile,
        Rule::UnknownAttribute,
        Rule::DuplicateAttribute,
        Rule::SecretAsSetting,
        Rule::UndeclaredScope,
    ];

    /// The pinned name, e.g. `excessive_scope`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::ExcessiveScope => "excessive_scope",
            Rule::WildcardScope => "wildcard_scope",
            Rule::MixedReadWrite => "mixed_read_write",
            Rule::RedundantScope => "redundant_scope",
            Rule::MalformedScope => "malformed_scope",
            Rule::UnknownScopeName => "unknown_scope_name",
            Rule::UnknownEnvironment => "unknown_environment",
            Rule::HardcodedSecret => "hardcoded_secret",
            Rule::SharedEnvVar => "shared_env_var",
            Rule::MissingEnv => "missing_env",
            Rule::MissingScopes => "missing_scopes",
            Rule::WrongKeyType => "wrong_key_type",
            Rule::InvalidEnvName => "invalid_env_name",
            Rule::PolicyFile => "policy_file",
            Rule::UnknownAttribute => "unknown_attribute",
            Rule::DuplicateAttribute => "duplicate_attribute",
            Rule::SecretAsSetting => "secret_as_setting",
            Rule::UndeclaredScope => "undeclared_scope",
        }
    }

    /// The rule with this name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }

    /// One sentence on what the rule guards against (for SARIF `shortDescription` and docs).
    pub fn summary(self) -> &'static str {
        match self {
            Rule::ExcessiveScope => {
                "A declared scope exceeds the environment's least-privilege table."
            }
            Rule::WildcardScope => "A wildcard scope in an environment that forbids wildcards.",
            Rule::MixedReadWrite => {
                "One key holds read and write scopes where they must be separate."
            }
            Rule::RedundantScope => "A scope already covered by another scope of the same key.",
            Rule::MalformedScope => "A scope that is not `action:resource`.",
            Rule::UnknownScopeName => "An action or resource outside the policy's catalog.",
            Rule::UnknownEnvironment => "An environment the policy does not define.",
            Rule::HardcodedSecret => "A credential written into the source.",
            Rule::SharedEnvVar => "Two fields read the same environment variable.",
            Rule::MissingEnv => "A field without an `env` variable.",
            Rule::MissingScopes => "An API key without declared scopes.",
            Rule::WrongKeyType => {
                "`ApiKey` vs `Option<ApiKey>` does not match the declared scopes."
            }
            Rule::InvalidEnvName => "An environment variable name that is not `[A-Z_][A-Z0-9_]*`.",
            Rule::PolicyFile => "The policy file is missing or invalid.",
            Rule::UnknownAttribute => "An attribute key that does not exist.",
            Rule::DuplicateAttribute => "An attribute key given twice.",
            Rule::SecretAsSetting => {
                "A secret-named variable loaded as a plain setting, whose value `Debug` would print."
            }
            Rule::UndeclaredScope => {
                "Code asks a key for a scope that none of its declarations covers."
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// `ApiKey`: needs `env` and `scopes(...)`.
    ApiKey,
    /// `Secret`: needs `env`, never `default`.
    Secret,
    /// `WebhookSecret`: needs `env`, never `default`.
    WebhookSecret,
    /// Any other type: a non-secret setting parsed with `FromStr`.
    Setting,
}

impl FieldKind {
    /// True for the kinds whose values are credentials.
    pub fn is_secret(self) -> bool {
        !matches!(self, FieldKind::Setting)
    }

    /// The kind with its article, for messages: ``an `ApiKey` ``, `a setting`.
    pub fn with_article(self) -> &'static str {
        match self {
            FieldKind::ApiKey => "an `ApiKey`",
            FieldKind::Secret => "a `Secret`",
            FieldKind::WebhookSecret => "a `WebhookSecret`",
            FieldKind::Setting => "a setting",
        }
    }

    /// The type's name as written in Rust (`ApiKey`, …, `setting`).
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::ApiKey => "ApiKey",
            FieldKind::Secret => "Secret",
            FieldKind::WebhookSecret => "WebhookSecret",
            FieldKind::Setting => "setting",
        }
    }
}

/// One environment's scope list on a key: `production = ["read:tables"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvScopes {
    /// The environment as written (an alias is allowed).
    pub environment: String,
    /// The scopes as written.
    pub scopes: Vec<String>,
}

/// One field of a config struct, as declared in its `#[clay(...)]` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDecl {
    /// The field's name.
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// True for `Option<…>`.
    pub optional: bool,
    /// `env = "…"`, when given.
    pub env: Option<String>,
    /// `scopes(...)`, when given.
    pub scopes: Option<Vec<EnvScopes>>,
    /// `default = "…"`, when given.
    pub default: Option<String>,
    /// The `public` flag: a setting whose variable is named like a secret but whose value is
    /// public (a public key, a key id).
    pub public: bool,
}

/// The exact declaration a finding is about, so the derive can put the error on that token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    /// The field as a whole (its name).
    Field {
        /// Index into the declarations.
        field: usize,
    },
    /// The field's type.
    FieldType {
        /// Index into the declarations.
        field: usize,
    },
    /// The `env = "…"` literal.
    EnvVar {
        /// Index into the declarations.
        field: usize,
    },
    /// The `default = "…"` literal.
    Default {
        /// Index into the declarations.
        field: usize,
    },
    /// The `scopes` keyword.
    ScopesAttr {
        /// Index into the declarations.
        field: usize,
    },
    /// An environment name inside `scopes(...)`.
    Environment {
        /// Index into the declarations.
        field: usize,
        /// Index into [`FieldDecl::scopes`].
        environment: usize,
    },
    /// One scope literal.
    Scope {
        /// Index into the declarations.
        field: usize,
        /// Index into [`FieldDecl::scopes`].
        environment: usize,
        /// Index into [`EnvScopes::scopes`].
        scope: usize,
    },
    /// The `public` flag.
    Public {
        /// Index into the declarations.
        field: usize,
    },
}

/// One violation: its rule, the declaration it is about, and a message that never contains a
/// credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule broken.
    pub rule: Rule,
    /// Where.
    pub site: Site,
    /// What is wrong, without the `[rule]` prefix.
    pub message: String,
}

impl fmt::Display for Finding {
    /// `[rule] message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)
    }
}

/// Variables the loader reads itself; a field may not claim them.
pub const RESERVED_ENV_VARS: [&str; 3] = ["CLAY_ENV", "CLAY_CONFIG", "CLAY_POLICY"];

/// The endings of a variable name that says its value is a secret: a setting read from such a
/// variable is [`Rule::SecretAsSetting`] unless marked `public`.
pub const SECRET_VAR_SUFFIXES: [&str; 8] = [
    "_KEY",
    "_SECRET",
    "_TOKEN",
    "_PASSWORD",
    "_PASSWD",
    "_PWD",
    "_CREDENTIALS",
    "_PRIVATE_KEY",
];

/// True when a variable's name says its value is a secret (it ends in one of
/// [`SECRET_VAR_SUFFIXES`]).
///
/// ```
/// assert!(clay_policy::is_secret_var_name("STRIPE_API_KEY"));
/// assert!(clay_policy::is_secret_var_name("DB_PASSWORD"));
/// assert!(!clay_policy::is_secret_var_name("CLAY_BASE_URL"));
/// assert!(!clay_policy::is_secret_var_name("KEYBOARD_LAYOUT"));
/// ```
pub fn is_secret_var_name(name: &str) -> bool {
    SECRET_VAR_SUFFIXES
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// True for `[A-Z_][A-Z0-9_]*`.
pub fn is_valid_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks declarations against a policy and returns every finding, in declaration order.
///
/// ```
/// use clay_policy::{check, EnvScopes, FieldDecl, FieldKind, Policy, Rule};
///
/// let reader = FieldDecl {
///     name: "reader".into(),
///     kind: FieldKind::ApiKey,
///     optional: true,
///     env: Some("CLAY_READ_KEY".into()),
///     scopes: Some(vec![EnvScopes {
///         environment: "development".into(),
///         scopes: vec!["write:*".into()],
///     }]),
///     default: None,
///     public: false,
/// };
/// let findings = check(&[reader], Policy::builtin());
/// assert_eq!(findings[0].rule, Rule::ExcessiveScope);
/// assert_eq!(
///     findings[0].to_string(),
///     "[excessive_scope] scope `write:*` exceeds the least-privilege table for `development` \
///      (allows: read:*; built-in table)"
/// );
/// ```
pub fn check(fields: &[FieldDecl], policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        check_env_var(index, field, &fields[..index], policy, &mut findings);
        check_public(index, field, &mut findings);
        check_default(index, field, policy, &mut findings);
        check_scopes(index, field, policy, &mut findings);
    }
    findings
}

fn check_env_var(
    index: usize,
    field: &FieldDecl,
    earlier: &[FieldDecl],
    policy: &Policy,
    findings: &mut Vec<Finding>,
) {
    let site = Site::EnvVar { field: index };
    let Some(var) = &field.env else {
        let what = match field.kind {
            FieldKind::Setting => "setting",
            _ => "secret",
        };
        findings.push(Finding {
            rule: Rule::MissingEnv,
            site: Site::Field { field: index },
            message: format!(
                "{what} `{}` has no `env`: add `#[clay(env = \"VARIABLE\")]`, the environment variable it is read from",
                field.name
            ),
        });
        return;
    };
    if looks_like_credential(var, policy.keys()) {
        findings.push(Finding {
            rule: Rule::HardcodedSecret,
            site,
            message: format!(
                "`env` of `{}` looks like a key, not a variable name: put the key in the environment and name its variable here",
                field.name
            ),
        });
        return;
    }
    if !is_valid_env_var_name(var) {
        findings.push(Finding {
            rule: Rule::InvalidEnvName,
            site,
            message: format!(
                "`{}` is not a valid environment variable name: use `[A-Z_][A-Z0-9_]*`, e.g. `{}`",
                var.escape_debug(),
                suggest_env_var_name(var)
            ),
        });
        return;
    }
    if RESERVED_ENV_VARS.contains(&var.as_str()) {
        findings.push(Finding {
            rule: Rule::InvalidEnvName,
            site,
            message: format!("`{var}` is read by the loader itself; choose another variable name"),
        });
        return;
    }
    if let Some(other) = earlier.iter().find(|f| f.env.as_deref() == Some(var)) {
        findings.push(Finding {
            rule: Rule::SharedEnvVar,
            site,
            message: format!(
                "`{}` and `{}` both read `{var}`: give each field its own variable (separate service accounts)",
                other.name, field.name
            ),
        });
        return;
    }
    if field.kind == FieldKind::Setting && !field.public && is_secret_var_name(var) {
        findings.push(Finding {
            rule: Rule::SecretAsSetting,
            site,
            message: format!(
                "`{}` reads `{var}`, named like a secret, as a plain setting whose value `Debug` prints: \
                 declare it `Secret` (or `WebhookSecret` for a webhook signing secret), or mark it \
                 `#[clay(env = \"{var}\", public)]` when the value really is public (a public key, a key id)",
                field.name
            ),
        });
    }
}

/// `public` applies to settings only: a key or secret is never shown, so there is nothing to
/// make public.
fn check_public(index: usize, field: &FieldDecl, findings: &mut Vec<Finding>) {
    if field.public && field.kind.is_secret() {
        findings.push(Finding {
            rule: Rule::WrongKeyType,
            site: Site::Public { field: index },
            message: format!(
                "`public` marks a setting whose variable is named like a secret but whose value is public; \
                 `{}` is {}, whose value is never shown: remove `public`, or make the field a setting \
                 (e.g. `String`) if the value really is public",
                field.name,
                field.kind.with_article()
            ),
        });
    }
}

fn suggest_env_var_name(var: &str) -> String {
    let mut name: String = var
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

fn check_default(index: usize, field: &FieldDecl, policy: &Policy, findings: &mut Vec<Finding>) {
    let Some(default) = &field.default else {
        return;
    };
    let site = Site::Default { field: index };
    if field.kind.is_secret() {
        findings.push(Finding {
            rule: Rule::HardcodedSecret,
            site,
            message: format!(
                "`{}` is {} and may not have a `default`: secrets come only from environment variables",
                field.name,
                field.kind.with_article()
            ),
        });
    } else if looks_like_credential(default, policy.keys()) {
        findings.push(Finding {
            rule: Rule::HardcodedSecret,
            site,
            message: format!(
                "the `default` of `{}` looks like a key: keys come only from environment variables",
                field.name
            ),
        });
    }
}

fn check_scopes(index: usize, field: &FieldDecl, policy: &Policy, findings: &mut Vec<Finding>) {
    let Some(lists) = &field.scopes else {
        if field.kind == FieldKind::ApiKey {
            findings.push(Finding {
                rule: Rule::MissingScopes,
                site: Site::Field { field: index },
                message: format!(
                    "API key `{}` declares no scopes: add `scopes(production = [\"read:…\"])` with what it may do in each environment",
                    field.name
                ),
            });
        }
        return;
    };
    if lists.is_empty() && field.kind == FieldKind::ApiKey {
        findings.push(Finding {
            rule: Rule::MissingScopes,
            site: Site::ScopesAttr { field: index },
            message: format!(
                "`scopes()` of `{}` is empty, so the key could never be used: list what it may do, e.g. `scopes(production = [\"read:…\"])`, or remove the field",
                field.name
            ),
        });
        return;
    }
    if field.kind != FieldKind::ApiKey {
        findings.push(Finding {
            rule: Rule::WrongKeyType,
            site: Site::ScopesAttr { field: index },
            message: format!(
                "`scopes` applies to `ApiKey` fields, and `{}` is {}: make it an `ApiKey` or remove `scopes`",
                field.name,
                field.kind.with_article()
            ),
        });
    }

    // Environments (canonical names) in which this key validly holds scopes.
    let mut granted_in: Vec<&str> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (env_index, list) in lists.iter().enumerate() {
        let env_site = Site::Environment {
            field: index,
            environment: env_index,
        };
        let canonical = crate::canonical_environment(&list.environment);
        let environment = policy.environment(canonical);
        if environment.is_none() && looks_like_credential(&list.environment, policy.keys()) {
            // A key pasted as an environment name (`"sk_live_…" = [...]`): never echo it.
            findings.push(Finding {
                rule: Rule::HardcodedSecret,
                site: env_site,
                message: format!(
                    "an environment name in the scopes of `{}` looks like a key: name an environment of the policy, keep keys in environment variables",
                    field.name
                ),
            });
            // Not understood: the key's type is not judged on it.
            seen.push(canonical);
            continue;
        }
        if environment.is_none() {
            findings.push(Finding {
                rule: Rule::UnknownEnvironment,
                site: env_site,
                message: format!(
                    "unknown environment `{}` (the {} defines: {}){}",
                    list.environment,
                    policy.source().describe(),
                    policy.environment_names().collect::<Vec<_>>().join(", "),
                    policy.suggest_environment(&list.environment)
                ),
            });
        }
        if seen.contains(&canonical) {
            let alias_note = if canonical != list.environment {
                format!(" (`{}` is an alias of `{canonical}`)", list.environment)
            } else {
                String::new()
            };
            findings.push(Finding {
                rule: Rule::DuplicateAttribute,
                site: env_site,
                message: format!(
                    "environment `{canonical}` is listed twice in the scopes of `{}`{alias_note}",
                    field.name
                ),
            });
            // Its scopes are still checked, so every mistake shows in one build; the list
            // grants nothing.
            check_scope_list(index, env_index, field, list, environment, policy, findings);
            continue;
        }
        seen.push(canonical);
        if list.scopes.is_empty() {
            findings.push(Finding {
                rule: Rule::MissingScopes,
                site: env_site,
                message: format!(
                    "empty scope list for `{canonical}`: leave the environment out when `{}` has no scopes there (the key must then be `Option<ApiKey>`)",
                    field.name
                ),
            });
            continue;
        }
        let valid = check_scope_list(index, env_index, field, list, environment, policy, findings);
        if environment.is_some() && valid {
            granted_in.push(canonical);
        }
    }

    if field.kind == FieldKind::ApiKey {
        check_key_type(index, field, &granted_in, &seen, policy, findings);
    }
}

/// Checks one environment's list; returns false when an entry could not be understood at all
/// (malformed or a credential), so type checks do not pile on.
fn check_scope_list(
    index: usize,
    env_index: usize,
    field: &FieldDecl,
    list: &EnvScopes,
    environment: Option<&EnvironmentPolicy>,
    policy: &Policy,
    findings: &mut Vec<Finding>,
) -> bool {
    let site = |scope| Site::Scope {
        field: index,
        environment: env_index,
        scope,
    };
    let mut all_parsed = true;
    let mut parsed: Vec<(usize, Scope)> = Vec::new();
    for (scope_index, text) in list.scopes.iter().enumerate() {
        if looks_like_credential(text, policy.keys()) {
            findings.push(Finding {
                rule: Rule::HardcodedSecret,
                site: site(scope_index),
                message: format!(
                    "a scope of `{}` looks like a key: keys come only from environment variables",
                    field.name
                ),
            });
            all_parsed = false;
            continue;
        }
        match Scope::parse(text) {
            Ok(scope) => parsed.push((scope_index, scope)),
            Err(e) => {
                findings.push(Finding {
                    rule: Rule::MalformedScope,
                    site: site(scope_index),
                    message: format!("malformed scope `{}`: {e}", text.escape_debug()),
                });
                all_parsed = false;
            }
        }
    }

    // One finding per token, by the most specific rule: malformed (above), then unknown name,
    // then wildcard, then excessive. A scope reported here takes no part in the list-level
    // rules below, so `raed:tables` is one mistake, not also a "write" beside `read:tables`.
    let mut sound: Vec<(usize, &Scope)> = Vec::new();
    for (scope_index, scope) in &parsed {
        match scope_problem(scope, environment, policy) {
            Some((rule, message)) => findings.push(Finding {
                rule,
                site: site(*scope_index),
                message,
            }),
            None => sound.push((*scope_index, scope)),
        }
    }

    // Redundancy: listed twice, or covered by another sound scope of the same list.
    let mut redundant: Vec<usize> = Vec::new();
    for (position, (scope_index, scope)) in sound.iter().enumerate() {
        let covering = sound
            .iter()
            .enumerate()
            .find(|(other_position, (_, other))| {
                *other_position != position
                    && other.covers(scope)
                    && (other != scope || *other_position < position)
            });
        if let Some((_, (_, other))) = covering {
            let message = if other == scope {
                format!(
                    "scope `{scope}` is listed twice for `{}`",
                    crate::canonical_environment(&list.environment)
                )
            } else {
                format!(
                    "scope `{scope}` is already covered by `{other}` for `{}`: remove it",
                    crate::canonical_environment(&list.environment)
                )
            };
            findings.push(Finding {
                rule: Rule::RedundantScope,
                site: site(*scope_index),
                message,
            });
            redundant.push(*scope_index);
        }
    }

    if let Some(environment) = environment.filter(|e| e.separate_read_write()) {
        // `*` as an action is both a read and a write; any action but `read` modifies.
        let reads = |s: &Scope| matches!(s.action(), "read" | "*");
        let writes = |s: &Scope| s.action() != "read";
        let (mut has_read, mut has_write) = (false, false);
        // The error goes on the first scope that makes the list mixed, never on a token that
        // already carries a finding (a redundant scope is covered by a sound one of the same
        // action, so leaving it out changes nothing but where the error goes).
        let culprit = sound
            .iter()
            .filter(|(scope_index, _)| !redundant.contains(scope_index))
            .find(|(_, s)| {
                has_read |= reads(s);
                has_write |= writes(s);
                has_read && has_write
            });
        if let Some((culprit_index, _)) = culprit {
            findings.push(Finding {
                rule: Rule::MixedReadWrite,
                site: site(*culprit_index),
                message: format!(
                    "`{}` holds both read and write scopes in `{}`, where read and write must be on separate keys: split it into a reader key (read:…) and a writer key (write:…), each with its own variable",
                    field.name,
                    environment.name()
                ),
            });
        }
    }
    all_parsed
}

fn check_key_type(
    index: usize,
    field: &FieldDecl,
    granted_in: &[&str],
    mentioned: &[&str],
    policy: &Policy,
    findings: &mut Vec<Finding>,
) {
    let missing: Vec<&str> = policy
        .environment_names()
        .filter(|name| !granted_in.contains(name))
        .collect();
    // Only judge the type on declarations that were fully understood.
    let understood = mentioned.len() == granted_in.len();
    if !understood {
        return;
    }
    if !field.optional && !missing.is_empty() {
        findings.push(Finding {
            rule: Rule::WrongKeyType,
            site: Site::FieldType { field: index },
            message: format!(
                "`{}` has no scopes in {}, so that environment must not have the key: declare it `Option<ApiKey>`",
                field.name,
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    } else if field.optional && missing.is_empty() {
        findings.push(Finding {
            rule: Rule::WrongKeyType,
            site: Site::FieldType { field: index },
            message: format!(
                "`{}` has scopes in every environment, so it is always required: declare it `ApiKey`, not `Option<ApiKey>`",
                field.name
            ),
        });
    }
}

/// The one finding a well-formed scope gets on its own, by precedence: `unknown_scope_name`
/// (the table cannot allow what it does not know), then `wildcard_scope`, then
/// `excessive_scope`. `None` for a sound scope. Without a known environment only the catalog is
/// judged.
fn scope_problem(
    scope: &Scope,
    environment: Option<&EnvironmentPolicy>,
    policy: &Policy,
) -> Option<(Rule, String)> {
    if let Some(catalog) = policy.catalog() {
        let problems = catalog_problems(scope, catalog);
        if !problems.is_empty() {
            // An unknown action and an unknown resource are one finding on one token.
            return Some((Rule::UnknownScopeName, problems.join("; ")));
        }
    }
    let environment = environment?;
    if scope.is_wildcard() && !environment.wildcards() {
        return Some((
            Rule::WildcardScope,
            format!(
                "wildcard scope `{scope}` is not allowed in `{}` ({}): name the exact {} the key needs",
                environment.name(),
                origin_phrase(environment, policy),
                if scope.action() == "*" {
                    "action and resource"
                } else {
                    "resource"
                }
            ),
        ));
    }
    if !environment.allow().allows(scope) {
        return Some((
            Rule::ExcessiveScope,
            format!(
                "scope `{scope}` exceeds the least-privilege table for `{}` (allows: {}; {}){}",
                environment.name(),
                environment.allow(),
                origin_phrase(environment, policy),
                nearest_allowed(scope, environment)
            ),
        ));
    }
    None
}

/// ``"; did you mean `read:tables`?"`` when a scope of the environment's `allow` list is a likely
/// typo-fix of `scope`: its action and its resource are each equal or close (so `read:rows` is
/// not "corrected" to `read:tables` merely for sharing `read:`). Wildcards are offered only
/// where the environment accepts them.
fn nearest_allowed(scope: &Scope, environment: &EnvironmentPolicy) -> String {
    let close = |a: &str, b: &str| a == b || !did_you_mean(a, std::iter::once(b)).is_empty();
    let candidates = environment
        .allow()
        .iter()
        .filter(|allowed| environment.wildcards() || !allowed.is_wildcard())
        .filter(|allowed| {
            close(scope.action(), allowed.action()) && close(scope.resource(), allowed.resource())
        })
        .map(Scope::as_str);
    did_you_mean(scope.as_str(), candidates)
}

/// Catalog problems of one scope ("unknown action `raed`; did you mean `read`?"), used for
/// declarations and for the policy's own `allow` lists.
pub(crate) fn catalog_problems(scope: &Scope, catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    let action = scope.action();
    if action != "*" && !catalog.actions.iter().any(|a| a == action) {
        problems.push(format!(
            "unknown action `{action}` in `{scope}` (catalog actions: {}){}",
            catalog.actions.join(", "),
            did_you_mean(action, catalog.actions.iter().map(String::as_str))
        ));
    }
    if let Some(path) = scope.resource_path()
        && !catalog.resources.iter().any(|r| r == path)
    {
        problems.push(format!(
            "unknown resource `{path}` in `{scope}` (catalog resources: {}){}",
            catalog.resources.join(", "),
            did_you_mean(path, catalog.resources.iter().map(String::as_str))
        ));
    }
    problems
}

fn origin_phrase(environment: &EnvironmentPolicy, policy: &Policy) -> String {
    if environment.is_from_builtin() && *policy.source() != crate::PolicySource::BuiltIn {
        format!(
            "built-in table; {} does not define `{}`",
            policy.source(),
            environment.name()
        )
    } else {
        policy.source().to_string()
    }
}
