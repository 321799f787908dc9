//! Parsing `#[clay(...)]`: every key with its span, duplicates and unknown keys reported at
//! their token, and parsing goes on after an error so one build shows them all.

use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Ident, Lit, LitStr, Token};

use clay_policy::Rule;

use crate::ctxt::Ctxt;

/// A string from an attribute, with the span of its literal.
#[derive(Clone)]
pub(crate) struct Spanned {
    pub(crate) text: String,
    pub(crate) span: Span,
}

impl Spanned {
    fn from_lit(lit: &LitStr) -> Self {
        Spanned {
            text: lit.value(),
            span: lit.span(),
        }
    }
}

/// `#[clay(...)]` on the struct.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) policy: Option<Spanned>,
}

/// `#[clay(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) env: Option<Spanned>,
    pub(crate) default: Option<Spanned>,
    pub(crate) scopes: Option<ScopesAttr>,
    /// The `public` flag, by its span: a setting named like a secret whose value is public.
    pub(crate) public: Option<Span>,
    /// `env = …` was given but unusable (already reported): no `missing_env` on top.
    pub(crate) env_broken: bool,
    /// `scopes…` was given but unusable (already reported): no `missing_scopes` on top.
    pub(crate) scopes_broken: bool,
    /// `public` was given with a value (already reported): no `secret_as_setting` on top.
    pub(crate) public_broken: bool,
}

/// `scopes(development = ["read:*"], production = ["read:tables"])`.
pub(crate) struct ScopesAttr {
    pub(crate) keyword: Span,
    pub(crate) lists: Vec<EnvList>,
}

/// `production = ["read:tables"]`.
pub(crate) struct EnvList {
    pub(crate) environment: Spanned,
    pub(crate) scopes: Vec<Spanned>,
    /// An entry was not a string (already reported): an empty list is not a second error.
    pub(crate) broken: bool,
}

const CONTAINER_KEYS: &[&str] = &["policy"];
const FIELD_KEYS: &[&str] = &["env", "scopes", "default", "public"];

/// Parses the struct's `#[clay(...)]` attributes.
pub(crate) fn container_attrs(ctxt: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut parsed = ContainerAttrs::default();
    for attr in clay_attrs(ctxt, attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("policy") {
                let value = string_value(ctxt, &meta, "policy", Rule::PolicyFile)?;
                set_once(
                    ctxt,
                    &mut parsed.policy,
                    value,
                    &meta,
                    "policy",
                    "the struct",
                );
            } else {
                unknown_key(
                    ctxt,
                    &meta,
                    CONTAINER_KEYS,
                    FIELD_KEYS,
                    "the struct",
                    "a field",
                )?;
            }
            Ok(())
        });
        if let Err(err) = result {
            ctxt.syn_error(err, Rule::UnknownAttribute);
        }
    }
    parsed
}

/// Parses one field's `#[clay(...)]` attributes.
pub(crate) fn field_attrs(ctxt: &Ctxt, field_name: &str, attrs: &[Attribute]) -> FieldAttrs {
    let mut parsed = FieldAttrs::default();
    let owner = format!("`{field_name}`");
    for attr in clay_attrs(ctxt, attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("env") {
                let value = string_value(ctxt, &meta, "env", Rule::InvalidEnvName)?;
                parsed.env_broken |= value.is_none();
                set_once(ctxt, &mut parsed.env, value, &meta, "env", &owner);
            } else if meta.path.is_ident("default") {
                let value = default_value(ctxt, &meta)?;
                set_once(ctxt, &mut parsed.default, value, &meta, "default", &owner);
            } else if meta.path.is_ident("scopes") {
                let keyword = meta
                    .path
                    .segments
                    .first()
                    .map_or_else(Span::call_site, |s| s.ident.span());
                let lists = scopes_value(ctxt, &meta)?;
                parsed.scopes_broken |= lists.is_none();
                let value = lists.map(|lists| ScopesAttr { keyword, lists });
                set_once(ctxt, &mut parsed.scopes, value, &meta, "scopes", &owner);
            } else if meta.path.is_ident("public") {
                let value = flag_value(ctxt, &meta, "public")?;
                parsed.public_broken |= value.is_none();
                set_once(ctxt, &mut parsed.public, value, &meta, "public", &owner);
            } else {
                unknown_key(
                    ctxt,
                    &meta,
                    FIELD_KEYS,
                    CONTAINER_KEYS,
                    "a field",
                    "the struct",
                )?;
            }
            Ok(())
        });
        if let Err(err) = result {
            ctxt.syn_error(err, Rule::UnknownAttribute);
        }
    }
    parsed
}

/// The `#[clay]` attributes; `#[clay]` and `#[clay = …]` are reported, not parsed.
fn clay_attrs<'a>(ctxt: &Ctxt, attrs: &'a [Attribute]) -> Vec<&'a Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("clay"))
        .filter(|attr| match &attr.meta {
            syn::Meta::List(_) => true,
            other => {
                ctxt.error_spanned_by(
                    other,
                    Rule::UnknownAttribute,
                    "expected `#[clay(...)]`, e.g. `#[clay(env = \"CLAY_READ_KEY\")]`",
                );
                false
            }
        })
        .collect()
}

/// Records `value` unless the key was already given, in which case the second is reported.
fn set_once<T>(
    ctxt: &Ctxt,
    slot: &mut Option<T>,
    value: Option<T>,
    meta: &ParseNestedMeta<'_>,
    key: &str,
    owner: &str,
) {
    let Some(value) = value else { return };
    if slot.is_some() {
        ctxt.error_spanned_by(
            &meta.path,
            Rule::DuplicateAttribute,
            format_args!("`{key}` is given twice for {owner}: keep one"),
        );
    } else {
        *slot = Some(value);
    }
}

fn unknown_key(
    ctxt: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    known: &[&str],
    elsewhere: &[&str],
    here: &str,
    there: &str,
) -> syn::Result<()> {
    let path = &meta.path;
    let name = path.get_ident().map_or_else(
        || quote::quote!(#path).to_string().replace(' ', ""),
        Ident::to_string,
    );
    let keys = clay_policy::Policy::builtin().keys();
    let message = if clay_policy::looks_like_credential(&name, keys) {
        ctxt.error_spanned_by(
            &meta.path,
            Rule::HardcodedSecret,
            "this attribute key looks like a key: keys come only from environment variables",
        );
        skip_value(meta.input)?;
        return Ok(());
    } else if elsewhere.contains(&name.as_str()) {
        format!("`{name}` goes on {there}, not on {here}")
    } else {
        format!(
            "unknown attribute `{name}` on {here} (expected: {}){}",
            known.join(", "),
            clay_policy::did_you_mean(&name, known.iter().copied())
        )
    };
    ctxt.error_spanned_by(&meta.path, Rule::UnknownAttribute, message);
    skip_value(meta.input)
}

/// Takes the tokens up to the next top-level comma (an unusable value, to report and move
/// past).
fn take_value(input: ParseStream<'_>) -> syn::Result<proc_macro2::TokenStream> {
    let mut tokens = proc_macro2::TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        tokens.extend([input.parse::<TokenTree>()?]);
    }
    Ok(tokens)
}

/// Skips `= value` or `(...)` up to the next top-level comma.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    take_value(input).map(drop)
}

/// `key = "string"`; anything else is reported under `rule` and skipped.
fn string_value(
    ctxt: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: &str,
    rule: Rule,
) -> syn::Result<Option<Spanned>> {
    let input = match meta.value() {
        Ok(input) => input,
        Err(_) => {
            ctxt.error_spanned_by(
                &meta.path,
                rule,
                format_args!("`{key}` takes a string: `{key} = \"…\"`"),
            );
            skip_value(meta.input)?;
            return Ok(None);
        }
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return Ok(Some(Spanned::from_lit(&lit)));
    }
    let start = input.span();
    let tokens = take_value(input)?;
    if tokens.is_empty() {
        ctxt.error_at(
            start,
            rule,
            format_args!("`{key}` takes a string: `{key} = \"…\"`"),
        );
    } else {
        ctxt.error_spanned_by(
            tokens,
            rule,
            format_args!("`{key}` takes a string literal: `{key} = \"…\"`"),
        );
    }
    Ok(None)
}

/// A bare flag such as `public`; `public = …` or `public(…)` is reported and skipped.
fn flag_value(ctxt: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Option<Span>> {
    let span = meta
        .path
        .segments
        .first()
        .map_or_else(Span::call_site, |s| s.ident.span());
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(Some(span));
    }
    ctxt.error_spanned_by(
        &meta.path,
        Rule::UnknownAttribute,
        format_args!("`{key}` is a flag and takes no value: write `{key}` alone"),
    );
    skip_value(meta.input)?;
    Ok(None)
}

/// `default = "…"`; a number or boolean literal is accepted as its text (`default = 30`).
fn default_value(ctxt: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Spanned>> {
    let input = meta.value()?;
    if input.peek(Lit) && !input.peek(LitStr) {
        let lit: Lit = input.parse()?;
        let text = match &lit {
            Lit::Int(int) => Some(int.base10_digits().to_owned()),
            Lit::Float(float) => Some(float.base10_digits().to_owned()),
            Lit::Bool(boolean) => Some(boolean.value.to_string()),
            _ => None,
        };
        return Ok(match text {
            Some(text) => Some(Spanned {
                text,
                span: lit.span(),
            }),
            None => {
                ctxt.error_spanned_by(
                    &lit,
                    Rule::UnknownAttribute,
                    "`default` takes a string, number or boolean literal",
                );
                None
            }
        });
    }
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return Ok(Some(Spanned::from_lit(&lit)));
    }
    ctxt.error_spanned_by(
        take_value(input)?,
        Rule::UnknownAttribute,
        "`default` takes a string, number or boolean literal: `default = \"…\"`",
    );
    Ok(None)
}

/// `scopes(env = ["…", …], …)`. Environment names are identifiers or strings
/// (`"eu-west" = [...]`).
fn scopes_value(ctxt: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Vec<EnvList>>> {
    const SHAPE: &str = "expected `scopes(environment = [\"action:resource\", …], …)`";
    if !meta.input.peek(syn::token::Paren) {
        ctxt.error_spanned_by(&meta.path, Rule::MalformedScope, SHAPE);
        skip_value(meta.input)?;
        return Ok(None);
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let mut lists = Vec::new();
    while !content.is_empty() {
        let environment = if content.peek(LitStr) {
            let lit: LitStr = content.parse()?;
            Spanned::from_lit(&lit)
        } else if content.peek(Ident::peek_any) {
            let ident = Ident::parse_any(&content)?;
            Spanned {
                text: ident.unraw().to_string(),
                span: ident.span(),
            }
        } else {
            let token: TokenTree = content.parse()?;
            ctxt.error_spanned_by(token, Rule::MalformedScope, SHAPE);
            skip_value(&content)?;
            skip_comma(&content)?;
            continue;
        };
        // A key pasted as an environment name is reported here, before any message repeats it.
        if clay_policy::looks_like_credential(
            &environment.text,
            clay_policy::Policy::builtin().keys(),
        ) {
            ctxt.error_at(
                environment.span,
                Rule::HardcodedSecret,
                "an environment name in `scopes(...)` looks like a key: name an environment of the policy, keep keys in environment variables",
            );
            skip_value(&content)?;
            skip_comma(&content)?;
            continue;
        }
        if content.parse::<Token![=]>().is_err() || !content.peek(syn::token::Bracket) {
            ctxt.error_at(
                environment.span,
                Rule::MalformedScope,
                format_args!(
                    "the scopes of `{}` are a list: `{} = [\"read:tables\"]`",
                    environment.text, environment.text
                ),
            );
            skip_value(&content)?;
            skip_comma(&content)?;
            continue;
        }
        let list;
        syn::bracketed!(list in content);
        let mut scopes = Vec::new();
        let mut broken = false;
        while !list.is_empty() {
            if list.peek(LitStr) {
                let lit: LitStr = list.parse()?;
                scopes.push(Spanned::from_lit(&lit));
            } else {
                ctxt.error_spanned_by(
                    take_value(&list)?,
                    Rule::MalformedScope,
                    "a scope is a string literal such as \"read:tables\"",
                );
                broken = true;
            }
            skip_comma(&list)?;
        }
        lists.push(EnvList {
            environment,
            scopes,
            broken,
        });
        skip_comma(&content)?;
    }
    Ok(Some(lists))
}

fn skip_comma(input: ParseStream<'_>) -> syn::Result<()> {
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok(())
}
