//! Rust sources read as code: the one place `cargo clay` reads Rust, with syn.
//!
//! [`Code::read`] parses every non-test `.rs` file under a directory and records what the code
//! *does*: calls (method calls, function calls, macro invocations, each with its file, line and
//! column, its string-literal arguments and, for a method, the receiver's last name) and the
//! paths it names outside `use` items. Comments, doc comments and string contents are not code,
//! and `use` lines are kept apart ([`Code::imports`]), so a type that is only imported, or only
//! named in a message, is not "used".
//!
//! What counts as test code, and is skipped:
//! - files under a `tests/`, `benches/` or `examples/` directory (cargo's test, bench and
//!   example targets; examples are documentation, not the service), and anything under
//!   `target/`;
//! - items marked `#[cfg(test)]` (also inside `all(…)`, or in `any(…)` where every branch is
//!   test-only), and functions marked `#[test]` or `#[…::test]` (`#[tokio::test]`).
//!
//! Code inside a macro invocation is visited when the invocation's arguments parse as
//! comma-separated expressions (`println!`, `assert!`, `vec!`, …); other macro bodies are
//! opaque. A file that does not parse, is larger than [`MAX_SOURCE_BYTES`], or nests deeper
//! than syn can safely parse is skipped with a note.
//!
//! ```
//! use cargo_clay::source::{CallKind, Code};
//!
//! let code = Code::from_source("src/main.rs", r#"
//!     use clay_config::webhook::WebhookVerifier; // only imported
//!     fn handle(v: &WebhookVerifier, h: &HeaderMap, body: &[u8]) {
//!         // v.verify(h, body) in a comment is not a call
//!         let note = "v.verify(h, body)";
//!         v.verify(h, body).ok();
//!     }
//!     #[cfg(test)]
//!     mod tests { fn t() { x.verify_at(a, b, c); } }
//! "#).expect("parses");
//! let methods: Vec<&str> = code.calls().iter().filter(|c| c.kind == CallKind::Method).map(|c| c.name()).collect();
//! assert_eq!(methods, ["ok", "verify"]); // outer calls first; none from the comment, string or test
//! let verify = code.calls().iter().find(|c| c.name() == "verify").expect("found");
//! assert_eq!(verify.receiver.as_deref(), Some("v"));
//! assert_eq!((verify.site.line, verify.args), (6, 2));
//! assert!(code.names("WebhookVerifier"));
//! assert_eq!(code.imports().len(), 1);
//! ```

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, Lit, Meta, Token};

use crate::util;

/// The largest source file read, in bytes.
pub const MAX_SOURCE_BYTES: u64 = 2 << 20;
/// The deepest nesting of brackets, or longest run of operators, a file may have: syn parses
/// by recursion, and deeper input could exhaust the stack.
const MAX_NESTING: usize = 256;
/// The stack of the thread that parses (ample for [`MAX_NESTING`] levels).
const PARSE_STACK: usize = 64 << 20;

/// A place in a source file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// The file, as the caller named it (repository-relative with `/` separators for
    /// [`Code::read`]).
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
}

/// How something is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// `receiver.method(args)`.
    Method,
    /// `path::to::function(args)`.
    Function,
    /// `path::to::name!(args)`.
    Macro,
}

/// One call in non-test code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Where (the method's name, the function's or macro's path).
    pub site: Site,
    /// How it is called.
    pub kind: CallKind,
    /// The method's name, or the segments of the function's or macro's path.
    pub path: Vec<String>,
    /// For a method call, the last name of the receiver: `v` for `v.verify(…)`, `verifier`
    /// for `self.verifier.verify(…)`, `get` for `state.get().verify(…)`; `None` when it has
    /// none (a literal, a closure).
    pub receiver: Option<String>,
    /// The number of arguments (for a macro, of those that parse as expressions).
    pub args: usize,
    /// For each argument, its value when it is a string literal.
    pub literal_args: Vec<Option<String>>,
}

impl Call {
    /// The method's name, or the last segment of the path.
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }
}

/// A path named in non-test code (a type, an expression, a pattern), or in a `use` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// Where (its last segment).
    pub site: Site,
    /// The segments (`["clay_config", "webhook", "WebhookVerifier"]`); for a `use` item, the
    /// segments up to each imported name.
    pub path: Vec<String>,
}

impl Mention {
    /// The last segment.
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// True when a segment is `name`.
    pub fn has(&self, name: &str) -> bool {
        self.path.iter().any(|s| s == name)
    }
}

/// What the non-test code of some Rust files does.
#[derive(Debug, Clone, Default)]
pub struct Code {
    calls: Vec<Call>,
    mentions: Vec<Mention>,
    imports: Vec<Mention>,
    notes: Vec<String>,
}

impl Code {
    /// Reads every non-test `.rs` file under `root` (the files `cargo clay scan` would scan:
    /// in git, the tracked ones and the untracked ones not ignored), naming them `prefix` and
    /// the path relative to `root`. Files that cannot be read or parsed are skipped with a
    /// note ([`Code::notes`]).
    pub fn read(root: &Path, prefix: &str) -> Code {
        let root = root.to_path_buf();
        let prefix = prefix.to_owned();
        // One parser thread, with a stack to match the nesting allowed, for every file.
        let parsed = std::thread::Builder::new()
            .stack_size(PARSE_STACK)
            .spawn(move || Code::read_here(&root, &prefix));
        match parsed.map(std::thread::JoinHandle::join) {
            Ok(Ok(code)) => code,
            Ok(Err(_)) => Code {
                notes: vec!["the Rust parser failed".to_owned()],
                ..Code::default()
            },
            Err(error) => Code {
                notes: vec![format!("could not start a parser thread: {error}")],
                ..Code::default()
            },
        }
    }

    fn read_here(root: &Path, prefix: &str) -> Code {
        let mut code = Code::default();
        let files = match rust_files(root) {
            Ok((files, notes)) => {
                code.notes.extend(notes);
                files
            }
            Err(error) => {
                code.notes.push(error.to_string());
                return code;
            }
        };
        for relative in files {
            let shown = format!("{prefix}{}", util::slash_path(&relative));
            let source =
                match crate::scan::tree::read_small_file(&root.join(&relative), MAX_SOURCE_BYTES) {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) => continue,
                    Err(error) => {
                        code.notes.push(format!("{error}: not read as Rust"));
                        continue;
                    }
                };
            let Ok(source) = String::from_utf8(source) else {
                code.notes
                    .push(format!("{shown}: not UTF-8, not read as Rust"));
                continue;
            };
            match parse_source(&shown, &source) {
                Ok(file) => code.extend(file),
                Err(message) => code.notes.push(message),
            }
        }
        code
    }

    /// Parses one file's `source`, naming it `file` in sites. An error (naming the file and
    /// where) when it does not parse or is too deeply nested to parse safely.
    pub fn from_source(file: &str, source: &str) -> Result<Code, String> {
        let file_name = file.to_owned();
        let source = source.to_owned();
        std::thread::Builder::new()
            .stack_size(PARSE_STACK)
            .spawn(move || parse_source(&file_name, &source))
            .map_err(|e| format!("{file}: could not start a parser thread: {e}"))?
            .join()
            .map_err(|_| format!("{file}: the parser failed"))?
    }

    /// Every call, file by file, in the order the code is walked (an outer call before the
    /// calls in its receiver and arguments).
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// Every path named outside `use` items.
    pub fn mentions(&self) -> &[Mention] {
        &self.mentions
    }

    /// Every name imported by a `use` item.
    pub fn imports(&self) -> &[Mention] {
        &self.imports
    }

    /// Files skipped, and why.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// True when non-test code names `name` (as any segment of a path: `WebhookVerifier` in
    /// `WebhookVerifier::new`) outside `use` items.
    pub fn names(&self, name: &str) -> bool {
        self.mentions.iter().any(|m| m.has(name))
    }

    /// The first place non-test code names `name`, outside `use` items, else in a `use` item.
    pub fn first_mention(&self, name: &str) -> Option<&Mention> {
        self.mentions
            .iter()
            .find(|m| m.has(name))
            .or_else(|| self.imports.iter().find(|m| m.has(name)))
    }

    fn extend(&mut self, other: Code) {
        self.calls.extend(other.calls);
        self.mentions.extend(other.mentions);
        self.imports.extend(other.imports);
        self.notes.extend(other.notes);
    }
}

/// Parses one file on the current thread (which must have [`PARSE_STACK`] of stack).
fn parse_source(file: &str, source: &str) -> Result<Code, String> {
    let tokens: TokenStream = source.parse().map_err(|e: proc_macro2::LexError| {
        format!("{file}:{}: not valid Rust: {e}", line_of(e.span()))
    })?;
    if let Some(span) = too_deep(&tokens) {
        return Err(format!(
            "{file}:{}: nested deeper than {MAX_NESTING} levels, not read as Rust",
            line_of(span)
        ));
    }
    let ast = syn::parse_file(source).map_err(|e| {
        let start = e.span().start();
        format!(
            "{file}:{}:{}: not valid Rust: {e}",
            start.line,
            start.column + 1
        )
    })?;
    let mut visitor = Visitor {
        file,
        code: Code::default(),
    };
    visitor.visit_file(&ast);
    Ok(visitor.code)
}

/// The non-test `.rs` files under `root`, relative to it, and notes about files left out.
pub fn rust_files(root: &Path) -> Result<(Vec<PathBuf>, Vec<String>), crate::Error> {
    let (files, notes) = crate::scan::tree::list_files(root)?;
    let files = files
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter(|path| {
            !path.components().any(|c| {
                matches!(
                    c.as_os_str().to_str(),
                    Some("tests" | "benches" | "examples" | "target")
                )
            })
        })
        .collect();
    Ok((files, notes))
}

fn line_of(span: Span) -> usize {
    span.start().line
}

/// Where the token tree first nests deeper than [`MAX_NESTING`] groups, or holds a run of more
/// than [`MAX_NESTING`] consecutive operators or repeated keywords (`!!!!…x`, `return return …`),
/// the inputs that make a recursive parser recurse as deep. Walked without recursion.
fn too_deep(tokens: &TokenStream) -> Option<Span> {
    let mut stack = vec![tokens.clone().into_iter()];
    let mut run = 0usize;
    let mut last_ident = String::new();
    while let Some(top) = stack.last_mut() {
        let Some(token) = top.next() else {
            stack.pop();
            continue;
        };
        match token {
            TokenTree::Group(group) => {
                run = 0;
                if stack.len() >= MAX_NESTING {
                    return Some(group.span());
                }
                stack.push(group.stream().into_iter());
            }
            TokenTree::Punct(punct) => {
                run = if matches!(punct.as_char(), ';' | ',') {
                    0
                } else {
                    run + 1
                };
                if run > MAX_NESTING {
                    return Some(punct.span());
                }
            }
            TokenTree::Ident(ident) => {
                let name = ident.to_string();
                run = if name == last_ident { run + 1 } else { 0 };
                if run > MAX_NESTING {
                    return Some(ident.span());
                }
                last_ident = name;
            }
            TokenTree::Literal(_) => run = 0,
        }
    }
    None
}

/// True when `attrs` make an item test-only: `#[test]`, `#[…::test]`, or a `#[cfg(…)]` that
/// holds only when testing.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        path.is_ident("cfg")
            && attr
                .parse_args::<Meta>()
                .is_ok_and(|meta| cfg_test_only(&meta))
    })
}

/// True when a `cfg` predicate can hold only when testing.
fn cfg_test_only(meta: &Meta) -> bool {
    match meta {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) => {
            let Ok(nested) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            else {
                return false;
            };
            if list.path.is_ident("all") {
                nested.iter().any(cfg_test_only)
            } else if list.path.is_ident("any") {
                !nested.is_empty() && nested.iter().all(cfg_test_only)
            } else {
                false
            }
        }
        Meta::NameValue(_) => false,
    }
}

struct Visitor<'a> {
    file: &'a str,
    code: Code,
}

impl Visitor<'_> {
    fn site(&self, span: Span) -> Site {
        let start = span.start();
        Site {
            file: self.file.to_owned(),
            line: start.line as u64,
            column: start.column as u64 + 1,
        }
    }

    fn literal_args<'e>(args: impl Iterator<Item = &'e Expr>) -> Vec<Option<String>> {
        args.map(|arg| match arg {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(text) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .collect()
    }

    fn use_tree(&mut self, tree: &syn::UseTree, path: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(p) => {
                path.push(p.ident.to_string());
                self.use_tree(&p.tree, path);
                path.pop();
            }
            syn::UseTree::Name(name) => self.import(path, &name.ident),
            syn::UseTree::Rename(rename) => self.import(path, &rename.ident),
            syn::UseTree::Glob(_) => {}
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, path);
                }
            }
        }
    }

    fn import(&mut self, path: &[String], ident: &proc_macro2::Ident) {
        let mut full = path.to_vec();
        full.push(ident.to_string());
        let site = self.site(ident.span());
        self.code.imports.push(Mention { site, path: full });
    }
}

/// The last name of a receiver expression.
fn receiver_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        Expr::Field(field) => match &field.member {
            syn::Member::Named(name) => Some(name.to_string()),
            syn::Member::Unnamed(_) => receiver_name(&field.base),
        },
        Expr::MethodCall(call) => Some(call.method.to_string()),
        Expr::Call(call) => receiver_name(&call.func),
        Expr::Reference(reference) => receiver_name(&reference.expr),
        Expr::Paren(paren) => receiver_name(&paren.expr),
        Expr::Unary(unary) => receiver_name(&unary.expr),
        Expr::Try(expr) => receiver_name(&expr.expr),
        Expr::Await(expr) => receiver_name(&expr.base),
        Expr::Index(index) => receiver_name(&index.expr),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::ExternCrate(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::ForeignMod(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::TraitAlias(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Union(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => return visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        if let syn::Item::Use(item) = item {
            self.use_tree(&item.tree, &mut Vec::new());
            return;
        }
        visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            visit::visit_impl_item_fn(self, item);
        }
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if !is_test_only(&item.attrs) {
            visit::visit_trait_item_fn(self, item);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let test_only = match stmt {
            syn::Stmt::Local(local) => is_test_only(&local.attrs),
            syn::Stmt::Macro(mac) => is_test_only(&mac.attrs),
            _ => false,
        };
        if !test_only {
            visit::visit_stmt(self, stmt);
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let site = self.site(call.method.span());
        self.code.calls.push(Call {
            site,
            kind: CallKind::Method,
            path: vec![call.method.to_string()],
            receiver: receiver_name(&call.receiver),
            args: call.args.len(),
            literal_args: Self::literal_args(call.args.iter()),
        });
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(path) = &*call.func
            && let Some(last) = path.path.segments.last()
        {
            let site = self.site(last.ident.span());
            self.code.calls.push(Call {
                site,
                kind: CallKind::Function,
                path: path
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect(),
                receiver: None,
                args: call.args.len(),
                literal_args: Self::literal_args(call.args.iter()),
            });
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let Some(last) = mac.path.segments.last() else {
            return;
        };
        let site = self.site(last.ident.span());
        let args = mac
            .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            .ok();
        self.code.calls.push(Call {
            site,
            kind: CallKind::Macro,
            path: mac
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
            receiver: None,
            args: args.as_ref().map_or(0, Punctuated::len),
            literal_args: args
                .as_ref()
                .map(|args| Self::literal_args(args.iter()))
                .unwrap_or_default(),
        });
        visit::visit_macro(self, mac);
        for arg in args.iter().flatten() {
            self.visit_expr(arg);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(last) = path.segments.last() {
            let site = self.site(last.ident.span());
            self.code.mentions.push(Mention {
                site,
                path: path.segments.iter().map(|s| s.ident.to_string()).collect(),
            });
        }
        visit::visit_path(self, path);
    }

    fn visit_attribute(&mut self, _: &'ast Attribute) {
        // Attributes (docs, derives, lints) are not code that runs.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(source: &str) -> Vec<(String, u64)> {
        let code = Code::from_source("lib.rs", source).unwrap_or_else(|e| unreachable!("{e}"));
        code.calls()
            .iter()
            .map(|c| (c.name().to_owned(), c.site.line))
            .collect()
    }

    #[test]
    fn test_code_is_skipped() {
        let source = "fn live() { a.record(e); }\n\
                      #[cfg(test)] mod tests { fn t() { b.record(e); } }\n\
                      #[test] fn t2() { c.record(e); }\n\
                      #[tokio::test] async fn t3() { d.record(e); }\n\
                      #[cfg(all(test, unix))] fn t4() { e.record(e); }\n\
                      #[cfg(any(test, feature = \"x\"))] fn maybe() { f.record(e); }\n\
                      #[cfg(not(test))] fn prod() { g.record(e); }\n\
                      impl S { #[test] fn t5() { h.record(e); } fn m() { i.record(e); } }\n";
        let lines: Vec<u64> = calls(source).into_iter().map(|(_, line)| line).collect();
        assert_eq!(lines, [1, 6, 7, 8]);
    }

    #[test]
    fn macros_strings_and_comments() {
        let source = "fn f() {\n\
                      // v.verify(h, b)\n\
                      /// v.verify(h, b)\n\
                      let s = \"v.verify(h, b)\";\n\
                      println!(\"{}\", v.verify(h, b).is_ok());\n\
                      }\n";
        let found = calls(source);
        assert!(found.contains(&("verify".to_owned(), 5)), "{found:?}");
        assert_eq!(found.iter().filter(|(n, _)| n == "verify").count(), 1);
        let code = Code::from_source(
            "lib.rs",
            "fn f() { require!(c.reader, \"read:tables\"); k.allows(\"write:x\"); }",
        )
        .unwrap_or_default();
        let literals: Vec<_> = code
            .calls()
            .iter()
            .map(|c| c.literal_args.clone())
            .collect();
        assert_eq!(
            literals,
            [
                vec![None, Some("read:tables".to_owned())],
                vec![Some("write:x".to_owned())]
            ]
        );
    }

    #[test]
    fn hostile_sources_are_notes_not_crashes() {
        let deep = format!(
            "fn f() {{ {}x{} }}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(Code::from_source("deep.rs", &deep).is_err());
        let unary = format!("fn f() {{ {}x; }}", "!".repeat(100_000));
        assert!(Code::from_source("unary.rs", &unary).is_err());
        let returns = format!("fn f() {{ {}x; }}", "return ".repeat(100_000));
        assert!(Code::from_source("ret.rs", &returns).is_err());
        // Right under the limits: parsed, on the parser's stack.
        let ok = format!("fn f() {{ {}x{}; }}", "!(".repeat(120), ")".repeat(120));
        assert!(Code::from_source("ok.rs", &ok).is_ok());
        let ok = format!("fn f() {{ {}x{}; }}", "(".repeat(250), ")".repeat(250));
        assert!(Code::from_source("ok.rs", &ok).is_ok());
        let ok = format!("fn f() {{ {}x; }}", "-".repeat(250));
        assert!(Code::from_source("ok.rs", &ok).is_ok());
        assert!(Code::from_source("bad.rs", "fn (").is_err());
        assert!(Code::from_source("bad.rs", "\"unterminated").is_err());
    }
}
