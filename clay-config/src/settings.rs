//! The `CLAY_CONFIG` settings file: `[default]` and one table per environment, settings only.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::load::read_text_file;
use crate::manifest::Manifest;
use crate::{FieldKind, Policy};

/// The name of the table that applies in every environment.
pub(crate) const DEFAULT_TABLE: &str = "default";

/// A parsed settings file: values by table and field name, with their `line:column`.
pub(crate) struct SettingsFile {
    path: String,
    /// Table name → (`line:column` of the header, its values).
    tables: BTreeMap<String, (String, TableValues)>,
}

/// Field name → (value as text, `path:line:column`).
type TableValues = BTreeMap<String, (String, String)>;

type RawFile = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

impl SettingsFile {
    /// Reads and validates the file; every problem is a message starting with `path:line:column`.
    pub(crate) fn read(
        path: &str,
        manifest: &Manifest,
        policy: &Policy,
    ) -> Result<SettingsFile, Vec<String>> {
        let text = read_text_file(path)
            .map_err(|reason| vec![format!("`CLAY_CONFIG` {path} {reason}")])?;
        if text.trim().is_empty() {
            return Err(vec![format!(
                "`CLAY_CONFIG` {path} is empty: add a `[default]` table of settings, or unset `CLAY_CONFIG`"
            )]);
        }
        let at = |offset: usize| {
            let (line, column) = clay_policy::line_column(&text, offset);
            format!("{path}:{line}:{column}")
        };
        let raw: RawFile = toml::from_str(&text).map_err(|err| {
            let offset = err.span().map_or(0, |s| s.start);
            vec![format!("{}: {}", at(offset), err.message().trim_end())]
        })?;

        let settings: Vec<&str> = manifest
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Setting)
            .map(|f| f.name)
            .collect();
        let mut problems = Vec::new();
        let mut tables = BTreeMap::new();
        let positions = positions(&text);
        let position = |table: &str, key: &str| {
            positions
                .get(&(table.to_owned(), key.to_owned()))
                .map(|offset| at(*offset))
        };
        let keys = policy.keys();
        for (table_name, table) in raw {
            let header =
                position(table_name.get_ref(), "").unwrap_or_else(|| at(table_name.span().start));
            if clay_policy::looks_like_credential(table_name.get_ref(), keys) {
                problems.push(format!(
                    "{header}: a table name looks like a key (not shown): secrets come from environment variables"
                ));
                continue;
            }
            let toml::Value::Table(entries) = table.get_ref() else {
                problems.push(format!(
                    "{header}: `{}` is not a table: settings go in `[default]` or an environment's table (`[production]`)",
                    table_name.get_ref()
                ));
                continue;
            };
            let mut values = BTreeMap::new();
            for (key, value) in entries {
                let place = position(table_name.get_ref(), key).unwrap_or_else(|| header.clone());
                let line_only = place
                    .rsplit_once(':')
                    .map_or(place.as_str(), |(l, _)| l)
                    .to_owned();
                if clay_policy::looks_like_credential(key, keys) {
                    problems.push(format!(
                        "{place}: a setting name looks like a key (not shown): secrets come from environment variables, not {line_only}"
                    ));
                    continue;
                }
                if let Some(field) = manifest
                    .fields
                    .iter()
                    .find(|f| f.kind.is_secret() && (f.name == key || f.env == key))
                {
                    problems.push(format!(
                        "{place}: `{key}` is a secret ({} `{}`): secrets come from environment variables, not {line_only}",
                        field.kind.name(),
                        field.name
                    ));
                    continue;
                }
                if !settings.contains(&key.as_str()) {
                    let by_var = manifest
                        .fields
                        .iter()
                        .find(|f| f.env == key && f.kind == FieldKind::Setting);
                    let hint = match by_var {
                        Some(field) => {
                            format!("; settings are keyed by field name: use `{}`", field.name)
                        }
                        None => clay_policy::did_you_mean(key, settings.iter().copied()),
                    };
                    problems.push(format!(
                        "{place}: unknown setting `{key}` (settings of `{}`: {}){hint}",
                        manifest.type_name,
                        if settings.is_empty() {
                            "none".to_owned()
                        } else {
                            settings.join(", ")
                        }
                    ));
                    continue;
                }
                let text_value = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => {
                        problems.push(format!(
                            "{place}: `{key}` must be a string, number or boolean"
                        ));
                        continue;
                    }
                };
                if clay_policy::looks_like_credential(&text_value, keys) {
                    problems.push(format!(
                        "{place}: the value of `{key}` looks like a key: secrets come from environment variables, not {line_only}"
                    ));
                    continue;
                }
                values.insert(key.clone(), (text_value, place));
            }
            tables.insert(table_name.into_inner(), (header, values));
        }
        // In file order: `path:line:column: …`.
        problems.sort_by_key(|message: &String| {
            let mut numbers = message
                .strip_prefix(path)
                .unwrap_or_default()
                .split(':')
                .skip(1)
                .map_while(|n| n.parse::<usize>().ok());
            (numbers.next(), numbers.next())
        });
        if problems.is_empty() {
            Ok(SettingsFile {
                path: path.to_owned(),
                tables,
            })
        } else {
            Err(problems)
        }
    }

    /// The environment tables (not `[default]`) with the `line:column` of their headers.
    pub(crate) fn environments(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tables
            .iter()
            .filter(|(name, _)| name.as_str() != DEFAULT_TABLE)
            .map(|(name, (header, _))| {
                let position = header
                    .strip_prefix(&self.path)
                    .unwrap_or(header)
                    .trim_start_matches(':');
                (name.as_str(), position)
            })
    }

    /// A setting's value for `environment` (its table, else `[default]`), with where it came
    /// from (`clay.toml:4:1`).
    pub(crate) fn value(&self, environment: &str, field: &str) -> Option<(String, String)> {
        let lookup = |table: &str| {
            self.tables
                .get(table)
                .and_then(|(_, values)| values.get(field))
                .map(|(value, place)| (value.clone(), place.clone()))
        };
        // A table may be named by an alias (`[prod]`).
        let by_alias = self
            .tables
            .keys()
            .find(|name| {
                name.as_str() != DEFAULT_TABLE
                    && clay_policy::canonical_environment(name) == environment
            })
            .cloned();
        by_alias
            .and_then(|name| lookup(&name))
            .or_else(|| lookup(DEFAULT_TABLE))
    }
}

/// Byte offsets of table headers and of `key = …` lines, by (table, key); `key` is empty for
/// the header. A plain line scan: toml's `Table` keeps no spans, and settings files are flat.
fn positions(text: &str) -> BTreeMap<(String, String), usize> {
    let mut found = BTreeMap::new();
    let mut table = String::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let at = offset + (line.len() - trimmed.len());
        offset += line.len();
        if let Some(header) = trimmed.strip_prefix('[') {
            if let Some((name, _)) = header.split_once(']') {
                table = unquote(name);
                found.entry((table.clone(), String::new())).or_insert(at);
            }
        } else if let Some((key, _)) = trimmed.split_once('=')
            && !trimmed.starts_with('#')
        {
            found.entry((table.clone(), unquote(key))).or_insert(at);
        }
    }
    found
}

fn unquote(text: &str) -> String {
    text.trim().trim_matches('"').trim_matches('\'').to_owned()
}
