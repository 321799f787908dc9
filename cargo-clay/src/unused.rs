//! `cargo clay scopes --unused`: declared scopes that no code of the crate needs.
//!
//! The crate's non-test Rust files are parsed with syn and every scope the code asks a key for
//! is collected: `require!(config.field, "…")`, `config.field.require("…")` and
//! `config.field.allows("…")` (through `.as_ref()`, `?`, `.unwrap()` and the like). A declared
//! scope is needed when it covers one of the scopes asked of its field; a scope asked of a key
//! the code does not reach through a field (`key.require("…")` on a parameter) counts for every
//! key, since which key it is cannot be known without types. Least privilege from use,
//! without running anything; the audit log's view (`--usage`) is the run-time counterpart.
//!
//! Not counted as code: files under `tests/`, `benches/`, `examples/` and `target/`, items
//! under `#[cfg(test)]` and `#[test]` functions. Uses inside macro calls are found when the
//! macro's arguments are expressions (`assert!`, `format!`, `println!`…).

use std::path::{Path, PathBuf};

use clay_policy::Scope;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ExprMethodCall, Lit, Macro, Member};

use crate::Error;
use crate::report::{Finding, Level};
use crate::scopes::{ManifestJson, UNUSED_SCOPE};

/// One scope asked of a key in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeUse {
    /// The field the key was reached through, when the code names one.
    pub field: Option<String>,
    /// The scope literal, as written.
    pub scope: String,
    /// The file, relative to the crate directory.
    pub file: String,
    /// 1-based line of the literal.
    pub line: usize,
}

/// Directories that hold no deployed code.
const SKIPPED_DIRS: [&str; 4] = ["tests", "benches", "examples", "target"];

/// Largest source file read; a bigger one is skipped, not read into memory.
const MAX_SOURCE_BYTES: u64 = 8 * 1024 * 1024;

/// Every scope use in the non-test Rust files under `dir`. Files that do not parse are
/// returned apart, so the caller can say which ones were not read.
pub fn uses_in_crate(dir: &Path) -> Result<(Vec<ScopeUse>, Vec<String>), Error> {
    let mut files = Vec::new();
    collect_rust_files(dir, &mut files).map_err(|e| Error::io(dir.display(), e))?;
    files.sort();
    let mut uses = Vec::new();
    let mut unreadable = Vec::new();
    for path in files {
        let relative = crate::util::relative_to(&path, dir);
        let text = match std::fs::metadata(&path) {
            Ok(meta) if meta.len() <= MAX_SOURCE_BYTES => std::fs::read_to_string(&path).ok(),
            _ => None,
        };
        match text.and_then(|text| uses_in_source(&text, &relative).ok()) {
            Some(found) => uses.extend(found),
            None => unreadable.push(relative),
        }
    }
    Ok((uses, unreadable))
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_ref()) {
                collect_rust_files(&entry.path(), files)?;
            }
        } else if kind.is_file() && name.ends_with(".rs") {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// Every scope use in one file's source.
pub fn uses_in_source(text: &str, file: &str) -> syn::Result<Vec<ScopeUse>> {
    let syntax = syn::parse_file(text)?;
    let mut finder = Finder {
        file,
        uses: Vec::new(),
    };
    finder.visit_file(&syntax);
    Ok(finder.uses)
}

struct Finder<'a> {
    file: &'a str,
    uses: Vec<ScopeUse>,
}

/// `#[cfg(test)]` (alone or in `all(test, …)`) or `#[test]`.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if attr.path().is_ident("test") {
            return true;
        }
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let mut test = false;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("test") {
                test = true;
            } else if meta.path.is_ident("all") {
                meta.parse_nested_meta(|inner| {
                    test |= inner.path.is_ident("test");
                    Ok(())
                })?;
            }
            Ok(())
        });
        test
    })
}

/// The field a key expression reaches its key through: `config.writer.as_ref()?` → `writer`.
fn field_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Field(field) => match &field.member {
            Member::Named(name) => Some(syn::ext::IdentExt::unraw(name).to_string()),
            Member::Unnamed(_) => field_of(&field.base),
        },
        Expr::MethodCall(call) => field_of(&call.receiver),
        Expr::Try(expr) => field_of(&expr.expr),
        Expr::Reference(expr) => field_of(&expr.expr),
        Expr::Paren(expr) => field_of(&expr.expr),
        Expr::Unary(expr) => field_of(&expr.expr),
        Expr::Group(expr) => field_of(&expr.expr),
        _ => None,
    }
}

fn string_literal(expr: &Expr) -> Option<&syn::LitStr> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => Some(text),
            _ => None,
        },
        Expr::Paren(expr) => string_literal(&expr.expr),
        Expr::Group(expr) => string_literal(&expr.expr),
        _ => None,
    }
}

impl Finder<'_> {
    fn record(&mut self, field: Option<String>, literal: &syn::LitStr) {
        self.uses.push(ScopeUse {
            field,
            scope: literal.value(),
            file: self.file.to_owned(),
            line: literal.span().start().line,
        });
    }

    /// `require!(config.field, "scope")`: the argument split as the macro itself splits it.
    fn require_macro(&mut self, mac: &Macro) -> bool {
        let is_require = mac
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "require");
        if !is_require {
            return false;
        }
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        let Ok(args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) else {
            return false;
        };
        let args: Vec<&Expr> = args.iter().collect();
        match args.as_slice() {
            [key, scope] => match string_literal(scope) {
                Some(literal) => {
                    let field = field_of(key);
                    self.record(field, literal);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => return visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            visit::visit_impl_item_fn(self, item);
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        if (call.method == "require" || call.method == "allows")
            && call.args.len() == 1
            && let Some(literal) = call.args.first().and_then(string_literal)
        {
            let field = field_of(&call.receiver);
            self.record(field, literal);
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        if self.require_macro(mac) {
            return;
        }
        // Macros whose arguments are expressions (`assert!(…)`, `println!(…)`): look inside.
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}

/// `--unused` for `cargo clay scopes`: the crate's uses against `manifests`. A source file
/// that does not parse is an error (its uses are unknown, so nothing can be called unused).
pub fn run(args: &crate::scopes::Args, manifests: &[ManifestJson]) -> Result<Vec<Finding>, Error> {
    let dir = crate::util::crate_dir(args.manifest_path.as_deref())?;
    let (uses, unreadable) = uses_in_crate(&dir)?;
    if !unreadable.is_empty() {
        return Err(Error::Usage(format!(
            "could not read or parse {}: their scope uses are unknown, so no scope is reported unused",
            unreadable.join(", ")
        )));
    }
    let base = crate::util::git_toplevel(&dir).unwrap_or_else(|| dir.clone());
    let read_source = |source: &str| std::fs::read_to_string(base.join(source)).ok();
    Ok(findings(manifests, &uses, &read_source))
}

/// The line of the first `"scope"` literal after the line naming `"var"`: where the unneeded
/// scope is declared.
fn declaration_line(text: &str, var: &str, scope: &str) -> Option<usize> {
    let var = format!("\"{var}\"");
    let scope = format!("\"{scope}\"");
    let start = text.lines().position(|line| line.contains(&var))?;
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, line)| line.contains(&scope))
        .map(|(index, _)| index + 1)
}

/// Per key and environment, the declared scopes none of `uses` needs, as findings;
/// `read_source` gives a manifest's source file, to point at the declaration's line.
pub fn findings(
    manifests: &[ManifestJson],
    uses: &[ScopeUse],
    read_source: &dyn Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let asked: Vec<(Option<&str>, Scope)> = uses
        .iter()
        .filter_map(|u| Some((u.field.as_deref(), Scope::parse(&u.scope).ok()?)))
        .collect();
    let mut findings = Vec::new();
    for manifest in manifests {
        let text = manifest.source.as_deref().and_then(read_source);
        for field in manifest.fields.iter().filter(|f| f.kind == "ApiKey") {
            let needs: Vec<&Scope> = asked
                .iter()
                .filter(|(name, _)| name.is_none_or(|name| name == field.name))
                .map(|(_, scope)| scope)
                .collect();
            for (environment, declared) in &field.scopes {
                let unneeded: Vec<&str> = declared
                    .iter()
                    .filter(|d| match Scope::parse(d) {
                        Ok(d) => !needs.iter().any(|n| d.covers(n)),
                        Err(_) => false,
                    })
                    .map(String::as_str)
                    .collect();
                if unneeded.is_empty() {
                    continue;
                }
                let mut finding = Finding::new(
                    UNUSED_SCOPE,
                    Level::Warning,
                    format!(
                        "`{}.{}` (`{}`) declares {} in {environment}, which no `require!`, \
                         `require(\"…\")` or `allows(\"…\")` in the crate's non-test code needs: \
                         remove {} from the declaration (least privilege)",
                        manifest.type_name,
                        field.name,
                        field.env,
                        unneeded
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if unneeded.len() == 1 { "it" } else { "them" },
                    ),
                );
                if let Some(source) = &manifest.source {
                    let line = text
                        .as_deref()
                        .and_then(|text| declaration_line(text, &field.env, unneeded[0]));
                    finding.file = Some(source.clone());
                    finding.line = Some(line.map_or(1, |l| l as u64));
                }
                findings.push(finding);
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
use clay_config::require;

fn export(clay: &Clay) -> Result<(), ScopeDenied> {
    clay_config::require!(clay.reader, "read:tables")?;
    let _ = require!(&clay.r#type, "admin:rows");
    if clay.writer.as_ref().is_some_and(|k| k.allows("write:limited")) {}
    clay.writer.as_ref().unwrap().require("write:rows")?;
    assert!(clay.reader.allows("read:people"));
    Ok(())
}

fn helper(key: &ApiKey) -> bool {
    key.require("read:everything").is_ok()
}

#[cfg(test)]
mod tests {
    fn t(clay: &Clay) { clay.reader.require("read:secret-test"); }
}

#[test]
fn in_a_test(clay: &Clay) { clay.reader.require("read:test-only"); }

#[cfg(all(test, feature = "x"))]
fn also_test(clay: &Clay) { clay.reader.require("read:also-test"); }

fn not_a_scope(clay: &Clay) { clay.reader.require(SCOPE); clay.reader.require_all("x:y"); }
"#;

    #[test]
    fn finds_every_form_and_skips_tests() {
        let uses = uses_in_source(SOURCE, "src/lib.rs").expect("parses");
        let found: Vec<(Option<&str>, &str, usize)> = uses
            .iter()
            .map(|u| (u.field.as_deref(), u.scope.as_str(), u.line))
            .collect();
        assert_eq!(
            found,
            [
                (Some("reader"), "read:tables", 5),
                (Some("type"), "admin:rows", 6),
                (None, "write:limited", 7),
                (Some("writer"), "write:rows", 8),
                (Some("reader"), "read:people", 9),
                (None, "read:everything", 14),
            ]
        );
    }

    #[test]
    fn a_broken_file_is_an_error_not_a_panic() {
        assert!(uses_in_source("fn (", "src/x.rs").is_err());
        assert!(uses_in_source("\u{0}\u{feff}", "src/x.rs").is_err());
        assert!(uses_in_source("", "src/x.rs").is_ok_and(|u| u.is_empty()));
    }
}
