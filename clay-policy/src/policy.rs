//! The least-privilege table: parsing a policy file, the built-in table, printing as TOML.

use std::fmt;

use serde_spanned::Spanned;

use crate::diagnostics::{Diagnostic, Problems};
use crate::env::{ALIASES, PRODUCTION, STANDARD_ENVIRONMENTS, is_valid_environment_name};
use crate::raw::{RawCatalog, RawEnvironment, RawPolicy, RawScan};
use crate::scope::{Scope, ScopeSet};
use crate::suggest::did_you_mean;

/// The built-in policy: the least-privilege table of Clay's security practice, as TOML.
///
/// Development `read:*`; staging `read:*`, `write:limited`; production any concrete `read:` or
/// `write:` scope (the `*` in the allow list is usable only as a bound, since `wildcards = false`
/// forbids declaring one), with read and write on separate keys; live keys only in production;
/// rotation at 90 days, a warning at 75.
pub const BUILTIN_POLICY_TOML: &str = r#"# The built-in least-privilege table (Clay's security practice: "Apply Least Privilege").
[environments.development]
allow = ["read:*"]
wildcards = true
live_keys = false
separate_read_write = false

[environments.staging]
allow = ["read:*", "write:limited"]
wildcards = true
live_keys = false
separate_read_write = false

[environments.production]
allow = ["read:*", "write:*"]
wildcards = false
live_keys = true
separate_read_write = true

[keys]
live_prefix = "sk_live_"
test_prefix = "sk_test_"
require_prefix = false

[rotation]
max_age_days = 90
warn_age_days = 75
"#;

/// Where a policy came from; shown in messages ("allows: read:*; built-in table").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// The built-in table ([`BUILTIN_POLICY_TOML`]).
    BuiltIn,
    /// A policy file, by the name it is shown with (usually the path as written).
    File(String),
}

impl PolicySource {
    /// How messages name the policy in a sentence: `built-in table`, `policy clay-policy.toml`.
    pub fn describe(&self) -> String {
        match self {
            PolicySource::BuiltIn => "built-in table".to_owned(),
            PolicySource::File(name) => format!("policy {name}"),
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::BuiltIn => f.write_str("built-in table"),
            PolicySource::File(name) => f.write_str(name),
        }
    }
}

/// One environment's row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentPolicy {
    name: String,
    allow: ScopeSet,
    wildcards: bool,
    live_keys: bool,
    separate_read_write: bool,
    from_builtin: bool,
}

impl EnvironmentPolicy {
    /// The environment's name (`production`, or a custom one).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The widest scopes a key may be declared with here.
    pub fn allow(&self) -> &ScopeSet {
        &self.allow
    }
    /// May a declaration use a wildcard (`*`, `p.*`) here?
    pub fn wildcards(&self) -> bool {
        self.wildcards
    }
    /// May keys with the live prefix be used here?
    pub fn live_keys(&self) -> bool {
        self.live_keys
    }
    /// Must read and write scopes be held by separate keys here?
    pub fn separate_read_write(&self) -> bool {
        self.separate_read_write
    }
    /// True when a policy file did not define this standard environment and the built-in row
    /// is used instead.
    pub fn is_from_builtin(&self) -> bool {
        self.from_builtin
    }
}

/// The `[keys]` table: how live and test keys are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefixes {
    /// Prefix of live keys, `sk_live_` by default.
    pub live_prefix: String,
    /// Prefix of test keys, `sk_test_` by default.
    pub test_prefix: String,
    /// When true, a key with neither prefix is refused at load.
    pub require_prefix: bool,
}

/// The `[rotation]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// A key older than this is overdue (an error in production, a warning elsewhere).
    pub max_age_days: u32,
    /// A key older than this gets a warning.
    pub warn_age_days: u32,
}

/// The optional `[catalog]`: the vocabulary of actions and resources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// Known actions (`read`, `write`, …).
    pub actions: Vec<String>,
    /// Known resource paths (`tables`, `tables.rows`, …); `p.*` needs `p` listed.
    pub resources: Vec<String>,
}

/// An extra secret-scanning rule from the policy's `[[scan.rules]]` (used by `cargo clay scan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRule {
    /// The id findings carry: a lowercase identifier, unique in the policy.
    pub id: String,
    /// A regular expression (the scanner's syntax); its first capture group, when it has one,
    /// is the secret, else the whole match.
    pub pattern: String,
    /// What the rule finds, for reports.
    pub description: Option<String>,
    /// When true, the secret must also be a high-entropy token.
    pub entropy: bool,
}

/// A parsed, validated least-privilege table.
///
/// ```
/// use clay_policy::Policy;
///
/// let policy = Policy::from_toml(
///     "[environments.production]\nallow = [\"read:tables\"]\n",
///     "clay-policy.toml",
/// )?;
/// let production = policy.environment("prod").expect("production always exists");
/// assert!(production.allow().allows_str("read:tables"));
/// assert!(!production.wildcards());
/// // development and staging were not defined, so they keep the built-in rows.
/// assert!(policy.environment("development").expect("exists").is_from_builtin());
/// # Ok::<(), clay_policy::PolicyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    source: PolicySource,
    environments: Vec<EnvironmentPolicy>,
    keys: KeyPrefixes,
    rotation: Rotation,
    catalog: Option<Catalog>,
    scan_rules: Vec<ScanRule>,
}

/// One problem in a policy file: a [`Diagnostic`] with its `file:line:column`.
pub type PolicyProblem = Diagnostic;

/// Every problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    source: PolicySource,
    problems: Vec<Diagnostic>,
}

impl PolicyError {
    /// The problems, in file order.
    pub fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }

    /// The policy's name as given to [`Policy::from_toml`].
    pub fn source(&self) -> &PolicySource {
        &self.source
    }
}

impl fmt::Display for PolicyError {
    /// One line per problem: `clay-policy.toml:3:10: unknown field ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// The built-in table ([`BUILTIN_POLICY_TOML`]), parsed once per process.
    pub fn builtin() -> &'static Policy {
        static BUILTIN: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| {
            Policy::parse(
                BUILTIN_POLICY_TOML,
                "built-in table".to_owned(),
                PolicySource::BuiltIn,
            )
            .unwrap_or_else(|e| unreachable!("the built-in policy is valid: {e}"))
        })
    }

    /// Parses and validates a policy file's text. `name` is how the file is shown in messages
    /// (the path as written). Every problem is reported with its `line:column`; unknown keys are
    /// errors.
    pub fn from_toml(text: &str, name: impl Into<String>) -> Result<Policy, PolicyError> {
        let name = name.into();
        Policy::parse(text, name.clone(), PolicySource::File(name))
    }

    /// Parses `text`, named `name` in positions. The built-in table is parsed with
    /// [`PolicySource::BuiltIn`]: it states every value itself, so building it never asks the
    /// built-in table for a default (which would be itself, half made).
    fn parse(text: &str, name: String, source: PolicySource) -> Result<Policy, PolicyError> {
        let mut problems = Problems::new(name, text);
        let Some(raw) = crate::raw::read(text, &mut problems) else {
            return Err(PolicyError {
                source,
                problems: problems.into_sorted(),
            });
        };
        let policy = build(raw, &mut problems, source.clone());
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(PolicyError {
                source,
                problems: problems.into_sorted(),
            })
        }
    }

    /// Where this policy came from.
    pub fn source(&self) -> &PolicySource {
        &self.source
    }

    /// The environments: `development`, `staging`, `production`, then custom ones by name.
    pub fn environments(&self) -> &[EnvironmentPolicy] {
        &self.environments
    }

    /// The environment with this name or alias.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentPolicy> {
        let name = crate::canonical_environment(name);
        self.environments.iter().find(|e| e.name == name)
    }

    /// The names of all environments, in [`environments`](Self::environments) order.
    pub fn environment_names(&self) -> impl Iterator<Item = &str> {
        self.environments.iter().map(|e| e.name.as_str())
    }

    /// The `[keys]` table.
    pub fn keys(&self) -> &KeyPrefixes {
        &self.keys
    }

    /// The `[rotation]` table.
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// The `[catalog]`, when the policy has one.
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref()
    }

    /// The extra secret-scanning rules of `[[scan.rules]]`, in file order.
    pub fn scan_rules(&self) -> &[ScanRule] {
        &self.scan_rules
    }

    /// "did you mean" text for an unknown environment name, or an empty string.
    pub fn suggest_environment(&self, unknown: &str) -> String {
        let names = self
            .environment_names()
            .chain(ALIASES.iter().map(|(alias, _)| *alias));
        did_you_mean(unknown, names)
    }

    /// The policy in force, as TOML with every default written out: what
    /// `cargo clay policy` prints. Parsing the output gives an equal table.
    pub fn to_toml(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let quoted = |items: &mut dyn Iterator<Item = &str>| {
            items
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "# least-privilege policy: {}", self.source);
        for env in &self.environments {
            // A row the file left out is the built-in one; written as a comment so that parsing
            // the output inherits it again rather than defining it.
            let prefix = if env.from_builtin {
                let _ = writeln!(
                    out,
                    "# `{}` is not defined here, so the built-in row applies:",
                    env.name
                );
                "# "
            } else {
                ""
            };
            let _ = writeln!(out, "{prefix}[environments.{}]", env.name);
            let _ = writeln!(
                out,
                "{prefix}allow = [{}]",
                quoted(&mut env.allow.iter().map(Scope::as_str))
            );
            let _ = writeln!(out, "{prefix}wildcards = {}", env.wildcards);
            let _ = writeln!(out, "{prefix}live_keys = {}", env.live_keys);
            let _ = writeln!(
                out,
                "{prefix}separate_read_write = {}\n",
                env.separate_read_write
            );
        }
        let _ = writeln!(out, "[keys]");
        let _ = writeln!(out, "live_prefix = {:?}", self.keys.live_prefix);
        let _ = writeln!(out, "test_prefix = {:?}", self.keys.test_prefix);
        let _ = writeln!(out, "require_prefix = {}\n", self.keys.require_prefix);
        let _ = writeln!(out, "[rotation]");
        let _ = writeln!(out, "max_age_days = {}", self.rotation.max_age_days);
        let _ = writeln!(out, "warn_age_days = {}", self.rotation.warn_age_days);
        for rule in &self.scan_rules {
            let _ = writeln!(out, "\n[[scan.rules]]");
            let _ = writeln!(out, "id = {:?}", rule.id);
            let _ = writeln!(out, "pattern = {:?}", rule.pattern);
            if let Some(description) = &rule.description {
                let _ = writeln!(out, "description = {description:?}");
            }
            let _ = writeln!(out, "entropy = {}", rule.entropy);
        }
        if let Some(catalog) = &self.catalog {
            let _ = writeln!(out, "\n[catalog]");
            let _ = writeln!(
                out,
                "actions = [{}]",
                quoted(&mut catalog.actions.iter().map(String::as_str))
            );
            let _ = writeln!(
                out,
                "resources = [{}]",
                quoted(&mut catalog.resources.iter().map(String::as_str))
            );
        }
        out
    }
}

fn build(raw: RawPolicy, problems: &mut Problems<'_>, source: PolicySource) -> Policy {
    let catalog = raw.catalog.map(|c| build_catalog(c, problems));

    let mut environments: Vec<EnvironmentPolicy> = Vec::new();
    match raw.environments {
        None => problems.at(
            0..0,
            "the policy defines no environments: add at least one `[environments.NAME]` table with an `allow` list",
        ),
        Some(tables) if tables.get_ref().is_empty() => problems.at(
            tables.span(),
            "the policy defines no environments: add at least one `[environments.NAME]` table with an `allow` list",
        ),
        Some(tables) => {
            for (name, env) in tables.into_inner() {
                let is_builtin = source == PolicySource::BuiltIn;
                if let Some(env) =
                    build_environment(&name, env, catalog.as_ref(), is_builtin, problems)
                {
                    environments.push(env);
                }
            }
        }
    }
    // The standard environments always exist: those a file leaves out keep the built-in row.
    // The built-in policy itself defines all three, so building it never recurses here.
    for standard in STANDARD_ENVIRONMENTS {
        if !environments.iter().any(|e| e.name == standard)
            && let Some(builtin) = Policy::builtin().environment(standard)
        {
            let mut row = builtin.clone();
            row.from_builtin = true;
            environments.push(row);
        }
    }
    environments.sort_by_key(|e| {
        let rank = STANDARD_ENVIRONMENTS
            .iter()
            .position(|s| *s == e.name)
            .unwrap_or(STANDARD_ENVIRONMENTS.len());
        (rank, e.name.clone())
    });

    // Defaults are the built-in table's values, never restated here. The built-in table states
    // every value itself, so building it never asks for a default.
    let default_keys = || Policy::builtin().keys();
    let keys = match raw.keys {
        None => default_keys().clone(),
        Some(raw_keys) => {
            let mut prefix = |value: Option<Spanned<String>>,
                              default: fn(&KeyPrefixes) -> &String,
                              what: &str| match value {
                None => default(default_keys()).clone(),
                Some(v) if v.get_ref().trim().is_empty() => {
                    problems.at(v.span(), format!("`{what}` must not be empty"));
                    default(default_keys()).clone()
                }
                Some(v) => v.into_inner(),
            };
            let live = prefix(raw_keys.live_prefix, |k| &k.live_prefix, "live_prefix");
            let test = prefix(raw_keys.test_prefix, |k| &k.test_prefix, "test_prefix");
            if live.starts_with(&test) || test.starts_with(&live) {
                problems.at(
                    0..0,
                    format!("`live_prefix` ({live:?}) and `test_prefix` ({test:?}) must not be prefixes of each other"),
                );
            }
            KeyPrefixes {
                live_prefix: live,
                test_prefix: test,
                require_prefix: raw_keys
                    .require_prefix
                    .unwrap_or_else(|| default_keys().require_prefix),
            }
        }
    };

    let mut rotation = match &raw.rotation {
        Some(r) if r.max_age_days.is_some() && r.warn_age_days.is_some() => Rotation {
            max_age_days: 0,
            warn_age_days: 0,
        },
        _ => Policy::builtin().rotation(),
    };
    if let Some(raw_rotation) = raw.rotation {
        let mut days = |value: Option<Spanned<i64>>, what: &str| -> Option<u32> {
            let v = value?;
            match u32::try_from(*v.get_ref()) {
                Ok(days) if days > 0 => Some(days),
                _ => {
                    problems.at(
                        v.span(),
                        format!("`{what}` must be a positive number of days"),
                    );
                    None
                }
            }
        };
        let warn_span = raw_rotation.warn_age_days.as_ref().map(Spanned::span);
        if let Some(max) = days(raw_rotation.max_age_days, "max_age_days") {
            rotation.max_age_days = max;
        }
        match days(raw_rotation.warn_age_days, "warn_age_days") {
            Some(warn) => rotation.warn_age_days = warn,
            // Keep the warning before the limit when only the limit was lowered.
            None => rotation.warn_age_days = rotation.warn_age_days.min(rotation.max_age_days),
        }
        if rotation.warn_age_days > rotation.max_age_days {
            problems.at(
                warn_span.unwrap_or(0..0),
                format!(
                    "`warn_age_days` ({}) must not exceed `max_age_days` ({})",
                    rotation.warn_age_days, rotation.max_age_days
                ),
            );
        }
    }

    let scan_rules = raw
        .scan
        .map(|scan| build_scan_rules(scan, problems))
        .unwrap_or_default();

    Policy {
        source,
        environments,
        keys,
        rotation,
        catalog,
        scan_rules,
    }
}

fn build_scan_rules(raw: RawScan, problems: &mut Problems<'_>) -> Vec<ScanRule> {
    let mut rules: Vec<ScanRule> = Vec::new();
    for rule in raw.rules {
        let id = rule.id.get_ref();
        let id_ok = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            problems.at(
                rule.id.span(),
                format!("scan rule id {id:?} is not a lowercase identifier (`[a-z][a-z0-9_]*`)"),
            );
            continue;
        }
        if rules.iter().any(|r| r.id == *id) {
            problems.at(rule.id.span(), format!("scan rule `{id}` is defined twice"));
            continue;
        }
        if rule.pattern.get_ref().trim().is_empty() {
            problems.at(
                rule.pattern.span(),
                format!("scan rule `{id}` has an empty `pattern`"),
            );
            continue;
        }
        rules.push(ScanRule {
            id: rule.id.into_inner(),
            pattern: rule.pattern.into_inner(),
            description: rule.description,
            entropy: rule.entropy.unwrap_or(false),
        });
    }
    rules
}

fn build_catalog(raw: RawCatalog, problems: &mut Problems<'_>) -> Catalog {
    let mut catalog = Catalog::default();
    for action in raw.actions {
        match crate::scope::split_and_validate(&format!("{}:x", action.get_ref())) {
            Ok(_) if action.get_ref() != "*" => catalog.actions.push(action.into_inner()),
            Ok(_) => problems.at(action.span(), "`*` is not a catalog action: list names"),
            Err(e) => problems.at(
                action.span(),
                format!("catalog action {:?}: {}", action.get_ref(), e.reason()),
            ),
        }
    }
    for resource in raw.resources {
        let text = resource.get_ref();
        if text == "*" || text.ends_with(".*") {
            problems.at(
                resource.span(),
                "wildcards are not catalog resources: list paths",
            );
            continue;
        }
        match crate::scope::split_and_validate(&format!("x:{text}")) {
            Ok(_) => catalog.resources.push(resource.into_inner()),
            Err(e) => problems.at(
                resource.span(),
                format!("catalog resource {text:?}: {}", e.reason()),
            ),
        }
    }
    catalog
}

fn build_environment(
    name: &Spanned<String>,
    raw: RawEnvironment,
    catalog: Option<&Catalog>,
    is_builtin: bool,
    problems: &mut Problems<'_>,
) -> Option<EnvironmentPolicy> {
    let env_name = name.get_ref();
    if let Some((alias, canonical)) = ALIASES.iter().find(|(alias, _)| alias == env_name) {
        problems.at(
            name.span(),
            format!("`{alias}` is an alias: name the table `[environments.{canonical}]`"),
        );
        return None;
    }
    // (The built-in table's names are known; asking the key definition while building the
    // built-in table would ask the table for itself.)
    if !is_builtin && crate::KeyDefinition::builtin().contains_key(env_name) {
        problems.at(
            name.span(),
            "an environment name looks like a key (not shown): name environments, keep keys in environment variables",
        );
        return None;
    }
    if !is_valid_environment_name(env_name) {
        problems.at(
            name.span(),
            format!(
                "environment name {env_name:?} is not a lowercase identifier (`[a-z][a-z0-9_-]*`)"
            ),
        );
        return None;
    }
    let is_production = env_name == PRODUCTION;
    let mut allow = ScopeSet::new();
    for scope in raw.allow {
        match Scope::parse(scope.get_ref()) {
            Ok(parsed) => {
                if let Some(catalog) = catalog {
                    for problem in crate::check::catalog_problems(&parsed, catalog) {
                        problems.at(scope.span(), problem);
                    }
                }
                allow.insert(parsed);
            }
            Err(e) => problems.at(
                scope.span(),
                format!("malformed scope {:?} in `allow`: {e}", scope.get_ref()),
            ),
        }
    }
    Some(EnvironmentPolicy {
        name: env_name.clone(),
        allow,
        wildcards: raw.wildcards.unwrap_or(!is_production),
        live_keys: raw.live_keys.unwrap_or(is_production),
        separate_read_write: raw.separate_read_write.unwrap_or(is_production),
        from_builtin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::from_toml(text, "p.toml")
    }

    #[test]
    fn a_key_in_a_policy_file_is_reported_without_being_shown() {
        let text =
            "[environments.sk_live_abcd1234efgh]\nallow = [\"read:*\", \"sk_test_abcd1234efgh\"]\n";
        let err = Policy::from_toml(text, "p.toml").expect_err("keys are not names or scopes");
        let shown = err.to_string();
        assert!(!shown.contains("abcd1234efgh"), "{shown}");
        assert!(
            shown.contains("p.toml:1:15: an environment name looks like a key"),
            "{shown}"
        );
    }

    #[test]
    fn defaults_come_from_the_built_in_table() {
        let policy = Policy::from_toml(
            "[environments.qa]\nallow = [\"read:*\"]\n[rotation]\nmax_age_days = 30\n",
            "p.toml",
        )
        .expect("valid");
        assert_eq!(policy.keys(), Policy::builtin().keys());
        assert_eq!(policy.rotation().max_age_days, 30);
        assert_eq!(
            policy.rotation().warn_age_days,
            30,
            "the warning stays before the limit"
        );
    }

    #[test]
    fn builtin_is_the_practice_table() {
        let p = Policy::builtin();
        assert_eq!(p.source(), &PolicySource::BuiltIn);
        let names: Vec<_> = p.environment_names().collect();
        assert_eq!(names, ["development", "staging", "production"]);
        let dev = p.environment("dev").expect("dev");
        assert_eq!(dev.allow().to_string(), "read:*");
        assert!(!dev.live_keys() && dev.wildcards() && !dev.separate_read_write());
        let staging = p.environment("stage").expect("staging");
        assert_eq!(staging.allow().to_string(), "read:*, write:limited");
        let prod = p.environment("prod").expect("prod");
        assert!(prod.live_keys() && !prod.wildcards() && prod.separate_read_write());
        assert_eq!(
            p.rotation(),
            Rotation {
                max_age_days: 90,
                warn_age_days: 75
            }
        );
        assert_eq!(p.keys().live_prefix, "sk_live_");
    }

    #[test]
    fn to_toml_round_trips() {
        let builtin = Policy::builtin();
        let again = parse(&builtin.to_toml()).expect("round trip");
        assert_eq!(again.environments(), builtin.environments());
        let custom = parse(
            "[environments.qa]\nallow=[\"read:tables\"]\n[catalog]\nactions=[\"read\"]\nresources=[\"tables\"]\n[rotation]\nmax_age_days=30\n",
        )
        .expect("valid");
        let again = parse(&custom.to_toml()).expect("round trip");
        assert_eq!(again.environments(), custom.environments());
        assert_eq!(again.catalog(), custom.catalog());
        assert_eq!(
            again.rotation(),
            Rotation {
                max_age_days: 30,
                warn_age_days: 30
            }
        );
    }

    #[test]
    fn defaults_per_environment() {
        let p = parse(
            "[environments.production]\nallow=[\"read:tables\"]\n[environments.qa]\nallow=[]\n",
        )
        .expect("valid");
        let prod = p.environment("production").expect("production");
        assert!(!prod.is_from_builtin() && !prod.wildcards() && prod.live_keys());
        let qa = p.environment("qa").expect("qa");
        assert!(qa.wildcards() && !qa.live_keys() && !qa.separate_read_write());
        assert!(p.environment("development").expect("dev").is_from_builtin());
        let names: Vec<_> = p.environment_names().collect();
        assert_eq!(names, ["development", "staging", "production", "qa"]);
    }

    #[test]
    fn unknown_key_has_line_and_column() {
        let err = parse("[environments.production]\nallow = [\"read:x\"]\nalow = []\n")
            .expect_err("unknown");
        let p = &err.problems()[0];
        assert_eq!((p.line(), p.column()), (3, 1));
        assert!(p.message.contains("alow"), "{}", p.message);
        assert!(err.to_string().starts_with("p.toml:3:1: "), "{err}");
    }

    #[test]
    fn not_toml_is_an_error_with_position() {
        let err = parse("[environments.production\n").expect_err("bad toml");
        assert_eq!(err.problems()[0].line(), 1);
    }

    #[test]
    fn malformed_scope_is_located() {
        let err = parse("[environments.production]\nallow = [\"read:x\", \"Write:y\"]\n")
            .expect_err("bad");
        let p = &err.problems()[0];
        assert_eq!((p.line(), p.column()), (2, 20));
        assert!(p.message.contains("upper case"), "{}", p.message);
    }

    #[test]
    fn no_environments_is_an_error() {
        let err = parse("[rotation]\nmax_age_days = 10\n").expect_err("none");
        assert!(
            err.problems()[0]
                .message
                .contains("defines no environments")
        );
        let err = parse("[environments]\n").expect_err("empty");
        assert!(
            err.problems()[0]
                .message
                .contains("defines no environments")
        );
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let err = parse(
            "[environments.prod]\nallow=[]\n[environments.QA]\nallow=[]\n[rotation]\nmax_age_days=10\nwarn_age_days=20\n[keys]\nlive_prefix=\"\"\n",
        )
        .expect_err("several");
        let messages: Vec<_> = err.problems().iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("alias")));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("not a lowercase identifier"))
        );
        assert!(messages.iter().any(|m| m.contains("must not exceed")));
        assert!(messages.iter().any(|m| m.contains("must not be empty")));
    }

    #[test]
    fn catalog_applies_to_allow_lists() {
        let err = parse(
            "[environments.production]\nallow=[\"read:tabels\"]\n[catalog]\nactions=[\"read\"]\nresources=[\"tables\"]\n",
        )
        .expect_err("unknown resource");
        assert!(
            err.problems()[0].message.contains("did you mean `tables`"),
            "{err}"
        );
    }

    #[test]
    fn scan_rules_parse_validate_and_round_trip() {
        let text = "[environments.production]\nallow=[\"read:x\"]\n[[scan.rules]]\nid = \"internal_token\"\npattern = \"itk_[A-Za-z0-9]{32}\"\ndescription = \"Internal token\"\n";
        let policy = parse(text).expect("valid");
        assert_eq!(
            policy.scan_rules(),
            [ScanRule {
                id: "internal_token".into(),
                pattern: "itk_[A-Za-z0-9]{32}".into(),
                description: Some("Internal token".into()),
                entropy: false,
            }]
        );
        let again = parse(&policy.to_toml()).expect("round trip");
        assert_eq!(again.scan_rules(), policy.scan_rules());
        let err = parse("[environments.production]\nallow=[]\n[[scan.rules]]\nid = \"Bad-Id\"\npattern = \"x\"\n[[scan.rules]]\nid = \"ok\"\npattern = \" \"\n[[scan.rules]]\nid = \"ok2\"\npattern = \"x\"\nflags = 1\n")
            .expect_err("invalid rules");
        assert!(
            err.problems()[0].message.contains("unknown field `flags`"),
            "{err}"
        );
        let err = parse("[environments.production]\nallow=[]\n[[scan.rules]]\nid = \"Bad-Id\"\npattern = \"x\"\n[[scan.rules]]\nid = \"ok\"\npattern = \" \"\n")
            .expect_err("invalid rules");
        let messages: Vec<_> = err
            .problems()
            .iter()
            .map(|p| (p.line(), p.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].0, 4);
        assert!(messages[0].1.contains("not a lowercase identifier"));
        assert!(messages[1].1.contains("empty `pattern`"));
    }

    #[test]
    fn every_structural_problem_in_one_pass() {
        let err = parse(
            "[environments.production]\nallow = \"read:*\"\nwildcards = \"no\"\nextra = 1\n\n[environments.staging]\nlive_keys = true\n\n[rotation]\nmax_age_days = \"ninety\"\n\n[typo]\n",
        )
        .expect_err("several problems");
        let found: Vec<_> = err
            .problems()
            .iter()
            .map(|p| (p.line(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    2,
                    "`allow` must be a list of strings, e.g. [\"read:tables\"]"
                ),
                (3, "`wildcards` must be a boolean (true or false)"),
                (
                    4,
                    "unknown field `extra`, expected one of `allow`, `wildcards`, `live_keys`, `separate_read_write`"
                ),
                (6, "missing field `allow`"),
                (10, "`max_age_days` must be a whole number"),
                (
                    12,
                    "unknown field `typo`, expected one of `environments`, `keys`, `rotation`, `catalog`, `scan`"
                ),
            ],
            "{err}"
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(crate::line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(crate::line_column("x", 99), (1, 2));
    }
}
