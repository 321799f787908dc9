//! `cargo clay scopes` support: when `CLAY_MANIFEST_DIR` is set, each successful expansion also
//! writes the struct's declarations there as JSON (`<crate>.<Type>.json`), with the policy's
//! name and resolved path (`null` for the built-in table). The CLI sets the
//! variable and runs `cargo check` in a target directory of its own, so the declarations come
//! from the derive's own parse: no second parser of `#[clay(...)]`.
//!
//! Writing is best effort: an unwritable directory never fails the build.

use std::fmt::Write as _;

use crate::ast::Container;
use crate::policy::ResolvedPolicy;

/// The variable that asks the derive to export its declarations.
pub(crate) const MANIFEST_DIR_VAR: &str = "CLAY_MANIFEST_DIR";

pub(crate) fn export(container: &Container<'_>, policy: &ResolvedPolicy) {
    let Some(dir) = std::env::var_os(MANIFEST_DIR_VAR) else {
        return;
    };
    let krate = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let type_name = container.ident.to_string();
    let json = to_json(&krate, &type_name, container, policy);
    let path = std::path::Path::new(&dir).join(format!("{krate}.{type_name}.json"));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(path, json);
}

fn to_json(
    krate: &str,
    type_name: &str,
    container: &Container<'_>,
    policy: &ResolvedPolicy,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"crate\":{},\"type\":{},\"policy\":{{\"name\":{},\"path\":{}}},\"fields\":[",
        quote(krate),
        quote(type_name),
        quote(&policy.name),
        policy
            .path
            .as_deref()
            .map_or_else(|| "null".to_owned(), quote)
    );
    for (i, field) in container.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let env = field.attrs.env.as_ref().map_or("", |e| e.text.as_str());
        let _ = write!(
            out,
            "{{\"name\":{},\"env\":{},\"kind\":{},\"optional\":{},\"public\":{},\"scopes\":{{",
            quote(&field.ident.to_string()),
            quote(env),
            quote(field.kind.name()),
            field.optional,
            field.attrs.public.is_some()
        );
        let lists = field.attrs.scopes.iter().flat_map(|s| &s.lists);
        for (j, list) in lists.enumerate() {
            if j > 0 {
                out.push(',');
            }
            let environment = clay_policy::canonical_environment(&list.environment.text);
            let scopes: Vec<String> = list.scopes.iter().map(|s| quote(&s.text)).collect();
            let _ = write!(out, "{}:[{}]", quote(environment), scopes.join(","));
        }
        out.push_str("}}");
    }
    out.push_str("]}\n");
    out
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_json_strings() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
