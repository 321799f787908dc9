//! The `CLAY_CONFIG` settings file: `[default]` and one table per environment, settings only.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use crate::load::read_text_file;
use crate::manifest::Manifest;
use clay_policy::{Diagnostic, FieldKind, Policy, Problems};

/// The name of the table that applies in every environment.
pub(crate) const DEFAULT_TABLE: &str = "default";

/// A parsed settings file: values by table and field name, with their `line:column`.
pub(crate) struct SettingsFile {
    /// Table name → its values.
    tables: BTreeMap<String, TableValues>,
}

/// Field name → (value as text, `path:line:column`).
type TableValues = BTreeMap<String, (String, String)>;

impl SettingsFile {
    /// Reads and validates the file; every problem is a diagnostic at its `path:line:column`,
    /// in file order.
    pub(crate) fn read(
        path: &str,
        manifest: &Manifest,
        policy: &Policy,
    ) -> Result<SettingsFile, Vec<Diagnostic>> {
        let text = read_text_file(path, clay_policy::MAX_SETTINGS_FILE_BYTES)
            .map_err(|reason| vec![Diagnostic::error(None, reason)])?;
        if text.trim().is_empty() {
            return Err(vec![Diagnostic::error(
                None,
                format!(
                    "{path} is empty: add a `[default]` table of settings, or unset `CLAY_CONFIG`"
                ),
            )]);
        }
        let mut problems = Problems::new(path, &text);
        let at = |offset: usize| {
            let (line, column) = clay_policy::line_column(&text, offset);
            format!("{path}:{line}:{column}")
        };
        let document = match DeTable::parse(&text) {
            Ok(document) => document,
            Err(err) => {
                problems.at(err.span().unwrap_or(0..0), err.message().trim_end());
                return Err(problems.into_sorted());
            }
        };
        // A table's position is the start of its header line, `[production]`.
        let line_start = |offset: usize| {
            let offset = offset.min(text.len());
            text.get(..offset)
                .and_then(|before| before.rfind('\n'))
                .map_or(0, |i| i + 1)
        };

        let settings: Vec<&str> = manifest
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Setting)
            .map(|f| f.name)
            .collect();
        let mut tables = BTreeMap::new();
        let keys = policy.keys();
        let key_definition = clay_policy::KeyDefinition::for_policy(keys);
        // In file order, so that a table given twice is reported where it is given again.
        let mut in_file_order: Vec<_> = document.get_ref().iter().collect();
        in_file_order.sort_by_key(|(name, _)| name.span().start);
        for (table_name, table) in in_file_order {
            let header = line_start(table_name.span().start);
            let header = header..header;
            let table_name = table_name.get_ref().as_ref();
            if clay_policy::looks_like_credential(table_name, keys) {
                problems.at(header.clone(), "a table name looks like a key (not shown): secrets come from environment variables");
                continue;
            }
            let DeValue::Table(entries) = table.get_ref() else {
                problems.at(header.clone(), format!("`{table_name}` is not a table: settings go in `[default]` or an environment's table (`[production]`)"
                ));
                continue;
            };
            if table_name != DEFAULT_TABLE && policy.environment(table_name).is_none() {
                problems.at(header.clone(), format!("`[{table_name}]` is not an environment of the {}{} (tables: [default] and one per environment)",
                    policy.source().describe(),
                    policy.suggest_environment(table_name)
                ));
                continue;
            }
            let mut values = BTreeMap::new();
            for (key, value) in entries.iter() {
                let key_span = key.span();
                let place = at(key_span.start);
                let key = key.get_ref().as_ref();
                if clay_policy::looks_like_credential(key, keys) {
                    problems.at(key_span.clone(), "a setting name looks like a key (not shown): secrets come from environment variables, not from the settings file");
                    continue;
                }
                if let Some(field) = manifest
                    .fields
                    .iter()
                    .find(|f| f.kind.is_secret() && (f.name == key || f.env == key))
                {
                    problems.at(key_span.clone(), format!("`{key}` is a secret ({} `{}`): secrets come from environment variables, not from the settings file",
                        field.kind.name(),
                        field.name
                    ));
                    continue;
                }
                if !settings.contains(&key) {
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
                    problems.at(
                        key_span.clone(),
                        format!(
                            "unknown setting `{key}` (settings of `{}`: {}){hint}",
                            manifest.type_name,
                            if settings.is_empty() {
                                "none".to_owned()
                            } else {
                                settings.join(", ")
                            }
                        ),
                    );
                    continue;
                }
                let text_value = match value.get_ref() {
                    DeValue::String(s) => Some(s.to_string()),
                    DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                        .ok()
                        .map(|n| n.to_string()),
                    DeValue::Float(f) => f.as_str().parse::<f64>().ok().map(|f| f.to_string()),
                    DeValue::Boolean(b) => Some(b.to_string()),
                    DeValue::Datetime(d) => Some(d.to_string()),
                    _ => None,
                };
                let Some(text_value) = text_value else {
                    problems.at(
                        key_span.clone(),
                        format!("`{key}` must be a string, number, boolean or date"),
                    );
                    continue;
                };
                // The one definition of a key, as for settings from any other source.
                if key_definition.contains_key(&text_value) {
                    problems.at(key_span.clone(), format!("the value of `{key}` contains a key (not shown): secrets come from environment variables, not from the settings file"
                    ));
                    continue;
                }
                values.insert(key.to_owned(), (text_value, place));
            }
            // Tables are kept under the environment's name: `[prod]` is `[production]`.
            let canonical = clay_policy::canonical_environment(table_name);
            if tables.insert(canonical.to_owned(), values).is_some() {
                problems.at(header.clone(), format!("`[{table_name}]` names `{canonical}` a second time: keep one table per environment"
                ));
            }
        }
        if problems.is_empty() {
            Ok(SettingsFile { tables })
        } else {
            Err(problems.into_sorted())
        }
    }

    /// A setting's value for `environment` (its table, else `[default]`), with where it came
    /// from (`clay.toml:4:1`).
    pub(crate) fn value(&self, environment: &str, field: &str) -> Option<(String, String)> {
        [environment, DEFAULT_TABLE]
            .iter()
            .find_map(|table| self.tables.get(*table)?.get(field))
            .cloned()
    }
}
