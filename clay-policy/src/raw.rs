//! Reading a policy document: every key checked, every value typed, every problem at its
//! `line:column`, all of them in one pass.
//!
//! This walks toml's spanned document rather than deriving `Deserialize`: clay-policy is built
//! for the host by every user of the derive, and walking keeps serde out of that build. It also
//! reports every structural problem, where serde stops at the first.

use std::collections::BTreeMap;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostics::Problems;

pub(crate) struct RawPolicy {
    pub(crate) environments: Option<Spanned<BTreeMap<Spanned<String>, RawEnvironment>>>,
    pub(crate) keys: Option<RawKeys>,
    pub(crate) rotation: Option<RawRotation>,
    pub(crate) catalog: Option<RawCatalog>,
    pub(crate) scan: Option<RawScan>,
}

pub(crate) struct RawEnvironment {
    pub(crate) allow: Vec<Spanned<String>>,
    pub(crate) wildcards: Option<bool>,
    pub(crate) live_keys: Option<bool>,
    pub(crate) separate_read_write: Option<bool>,
}

pub(crate) struct RawKeys {
    pub(crate) live_prefix: Option<Spanned<String>>,
    pub(crate) test_prefix: Option<Spanned<String>>,
    pub(crate) require_prefix: Option<bool>,
}

pub(crate) struct RawRotation {
    pub(crate) max_age_days: Option<Spanned<i64>>,
    pub(crate) warn_age_days: Option<Spanned<i64>>,
}

pub(crate) struct RawCatalog {
    pub(crate) actions: Vec<Spanned<String>>,
    pub(crate) resources: Vec<Spanned<String>>,
}

pub(crate) struct RawScan {
    pub(crate) rules: Vec<RawScanRule>,
}

pub(crate) struct RawScanRule {
    pub(crate) id: Spanned<String>,
    pub(crate) pattern: Spanned<String>,
    pub(crate) description: Option<String>,
    pub(crate) entropy: Option<bool>,
}

type Value<'i> = Spanned<DeValue<'i>>;

/// The document's structure, or `None` when it is not TOML or has structural problems (all of
/// them reported).
pub(crate) fn read(text: &str, problems: &mut Problems<'_>) -> Option<RawPolicy> {
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(err) => {
            problems.at(err.span().unwrap_or(0..0), err.message().trim_end());
            return None;
        }
    };
    let before = problems.len();
    let root = document.get_ref();
    let mut reader = Reader { problems };
    reader.known_keys(
        root,
        &["environments", "keys", "rotation", "catalog", "scan"],
    );
    let raw = RawPolicy {
        environments: root
            .get("environments")
            .and_then(|value| reader.environments(value)),
        keys: reader.table_of(root, "keys").map(|t| reader.keys(t)),
        rotation: reader
            .table_of(root, "rotation")
            .map(|t| reader.rotation(t)),
        catalog: reader
            .table_of(root, "catalog")
            .and_then(|(span, t)| reader.catalog(span, t)),
        scan: reader.table_of(root, "scan").and_then(|t| reader.scan(t)),
    };
    (reader.problems.len() == before).then_some(raw)
}

struct Reader<'p, 't> {
    problems: &'p mut Problems<'t>,
}

/// A table with the span of where it is defined.
type Located<'a, 'i> = (std::ops::Range<usize>, &'a DeTable<'i>);

impl Reader<'_, '_> {
    /// Reports each key of `table` that is not in `known`, in serde's words.
    fn known_keys(&mut self, table: &DeTable<'_>, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.get_ref().as_ref()) {
                let expected = match known {
                    [one] => format!("expected `{one}`"),
                    many => format!(
                        "expected one of {}",
                        many.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.problems.at(
                    key.span(),
                    format!("unknown field `{}`, {expected}", key.get_ref()),
                );
            }
        }
    }

    fn table_of<'a, 'i>(&mut self, parent: &'a DeTable<'i>, key: &str) -> Option<Located<'a, 'i>> {
        let value = parent.get(key)?;
        self.table(value, key)
    }

    fn table<'a, 'i>(&mut self, value: &'a Value<'i>, what: &str) -> Option<Located<'a, 'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some((value.span(), table)),
            _ => {
                self.problems
                    .at(value.span(), format!("`{what}` must be a table"));
                None
            }
        }
    }

    fn required<'a, 'i>(
        &mut self,
        (span, table): Located<'a, 'i>,
        key: &str,
    ) -> Option<&'a Value<'i>> {
        let value = table.get(key);
        if value.is_none() {
            self.problems.at(span, format!("missing field `{key}`"));
        }
        value
    }

    fn string(&mut self, value: &Value<'_>, what: &str) -> Option<Spanned<String>> {
        match value.get_ref() {
            DeValue::String(text) => Some(Spanned::new(value.span(), text.to_string())),
            _ => {
                self.problems
                    .at(value.span(), format!("`{what}` must be a string"));
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value<'_>, what: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(*flag),
            _ => {
                self.problems.at(
                    value.span(),
                    format!("`{what}` must be a boolean (true or false)"),
                );
                None
            }
        }
    }

    fn integer(&mut self, value: &Value<'_>, what: &str) -> Option<Spanned<i64>> {
        let parsed = match value.get_ref() {
            DeValue::Integer(int) => i64::from_str_radix(int.as_str(), int.radix()).ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.problems
                .at(value.span(), format!("`{what}` must be a whole number"));
        }
        parsed.map(|n| Spanned::new(value.span(), n))
    }

    fn strings(&mut self, value: &Value<'_>, what: &str) -> Option<Vec<Spanned<String>>> {
        match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .map(|item| self.string(item, what))
                .collect::<Vec<_>>()
                .into_iter()
                .collect(),
            _ => {
                self.problems.at(
                    value.span(),
                    format!("`{what}` must be a list of strings, e.g. [\"read:tables\"]"),
                );
                None
            }
        }
    }

    fn optional<T>(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        read: impl FnOnce(&mut Self, &Value<'_>, &str) -> Option<T>,
    ) -> Option<T> {
        let value = table.get(key)?;
        read(self, value, key)
    }

    fn environments(
        &mut self,
        value: &Value<'_>,
    ) -> Option<Spanned<BTreeMap<Spanned<String>, RawEnvironment>>> {
        let (span, tables) = self.table(value, "environments")?;
        let mut environments = BTreeMap::new();
        for (name, value) in tables.iter() {
            let name = Spanned::new(name.span(), name.get_ref().to_string());
            let Some(located) = self.table(value, &format!("environments.{}", name.get_ref()))
            else {
                continue;
            };
            if let Some(environment) = self.environment(located) {
                environments.insert(name, environment);
            }
        }
        Some(Spanned::new(span, environments))
    }

    fn environment(&mut self, located: Located<'_, '_>) -> Option<RawEnvironment> {
        let (_, table) = located;
        self.known_keys(
            table,
            &["allow", "wildcards", "live_keys", "separate_read_write"],
        );
        // Every key is read before any `?`, so each problem is reported.
        let allow = self.required(located, "allow");
        let allow = allow.and_then(|value| self.strings(value, "allow"));
        let wildcards = self.optional(table, "wildcards", Self::boolean);
        let live_keys = self.optional(table, "live_keys", Self::boolean);
        let separate_read_write = self.optional(table, "separate_read_write", Self::boolean);
        Some(RawEnvironment {
            allow: allow?,
            wildcards,
            live_keys,
            separate_read_write,
        })
    }

    fn keys(&mut self, (_, table): Located<'_, '_>) -> RawKeys {
        self.known_keys(table, &["live_prefix", "test_prefix", "require_prefix"]);
        RawKeys {
            live_prefix: self.optional(table, "live_prefix", Self::string),
            test_prefix: self.optional(table, "test_prefix", Self::string),
            require_prefix: self.optional(table, "require_prefix", Self::boolean),
        }
    }

    fn rotation(&mut self, (_, table): Located<'_, '_>) -> RawRotation {
        self.known_keys(table, &["max_age_days", "warn_age_days"]);
        RawRotation {
            max_age_days: self.optional(table, "max_age_days", Self::integer),
            warn_age_days: self.optional(table, "warn_age_days", Self::integer),
        }
    }

    fn catalog(&mut self, span: std::ops::Range<usize>, table: &DeTable<'_>) -> Option<RawCatalog> {
        let located = (span, table);
        self.known_keys(table, &["actions", "resources"]);
        let actions = self
            .required(located.clone(), "actions")
            .and_then(|value| self.strings(value, "actions"));
        let resources = self
            .required(located, "resources")
            .and_then(|value| self.strings(value, "resources"));
        Some(RawCatalog {
            actions: actions?,
            resources: resources?,
        })
    }

    fn scan(&mut self, located: Located<'_, '_>) -> Option<RawScan> {
        let (_, table) = located;
        self.known_keys(table, &["rules"]);
        let rules = self.required(located, "rules")?;
        let DeValue::Array(items) = rules.get_ref() else {
            self.problems.at(
                rules.span(),
                "`scan.rules` must be an array of tables: write each as `[[scan.rules]]`",
            );
            return None;
        };
        let mut read = Vec::new();
        for item in items {
            let Some(located) = self.table(item, "scan.rules") else {
                continue;
            };
            let (_, rule) = located;
            self.known_keys(rule, &["id", "pattern", "description", "entropy"]);
            let id = self
                .required(located.clone(), "id")
                .and_then(|value| self.string(value, "id"));
            let pattern = self
                .required(located, "pattern")
                .and_then(|value| self.string(value, "pattern"));
            let description = self
                .optional(rule, "description", Self::string)
                .map(Spanned::into_inner);
            let entropy = self.optional(rule, "entropy", Self::boolean);
            if let (Some(id), Some(pattern)) = (id, pattern) {
                read.push(RawScanRule {
                    id,
                    pattern,
                    description,
                    entropy,
                });
            }
        }
        Some(RawScan { rules: read })
    }
}
