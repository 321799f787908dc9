//! `cargo clay scopes` support: when `CLAY_MANIFEST_DIR` is set, each successful expansion also
//! writes the struct's declarations there as JSON (one file per struct and compilation target),
//! with the policy's name, resolved path (`null` for the built-in table) and environments in
//! the policy's order, and where the struct is: its file, its line and the target being
//! compiled (`lib`, `bin NAME`), so that structs of different binaries stay apart. The CLI sets the
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
    let location = Location::of(container);
    let json = to_json(&krate, &type_name, &location, container, policy);
    // One file per struct and target: two binaries' `Config` must not overwrite each other.
    let path = std::path::Path::new(&dir).join(format!(
        "{krate}.{}.{type_name}.{:016x}.json",
        location.target.replace(' ', "-"),
        location.fingerprint()
    ));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(path, json);
}

/// Where the struct is declared, and the target being compiled.
struct Location {
    /// The absolute path of the struct's file, when the compiler gives one.
    source: Option<String>,
    /// The line of the struct's name (1-based), when known.
    line: Option<usize>,
    /// `lib`, or `bin NAME` for a binary (cargo's `CARGO_BIN_NAME`).
    target: String,
}

impl Location {
    fn of(container: &Container<'_>) -> Location {
        let target = match std::env::var("CARGO_BIN_NAME") {
            Ok(bin) if !bin.is_empty() => format!("bin {bin}"),
            _ => "lib".to_owned(),
        };
        // Span locations exist only inside the compiler (not in this crate's unit tests).
        if !proc_macro::is_available() {
            return Location {
                source: None,
                line: None,
                target,
            };
        }
        let span = container.ident.span().unwrap();
        // Relative paths are relative to the compiler's working directory.
        let source = span.local_file().map(|file| {
            std::env::current_dir()
                .map(|cwd| cwd.join(&file))
                .unwrap_or(file)
                .display()
                .to_string()
        });
        Location {
            source,
            line: Some(span.line()),
            target,
        }
    }

    /// A stable name part for the file and line (FNV-1a), so that equally named structs of one
    /// target do not share a file either.
    fn fingerprint(&self) -> u64 {
        let text = format!(
            "{}:{}",
            self.source.as_deref().unwrap_or(""),
            self.line.unwrap_or(0)
        );
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

fn to_json(
    krate: &str,
    type_name: &str,
    location: &Location,
    container: &Container<'_>,
    policy: &ResolvedPolicy,
) -> String {
    let mut out = String::new();
    let environments: Vec<String> = policy.policy.environment_names().map(quote).collect();
    let _ = write!(
        out,
        "{{\"crate\":{},\"type\":{},\"target\":{},\"source\":{},\"line\":{},\"policy\":{{\"name\":{},\"path\":{}}},\"environments\":[{}],\"fields\":[",
        quote(krate),
        quote(type_name),
        quote(&location.target),
        location
            .source
            .as_deref()
            .map_or_else(|| "null".to_owned(), quote),
        location
            .line
            .map_or_else(|| "null".to_owned(), |line| line.to_string()),
        quote(&policy.name),
        policy
            .path
            .as_deref()
            .map_or_else(|| "null".to_owned(), quote),
        environments.join(",")
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
