//! `require!(config.field, "action:resource")`: the scope checked against the field's
//! declarations by the type checker, then asked of the key at run time.
//!
//! This macro cannot see the struct, so it meets the derive halfway, through names and types:
//! the derive gives every key field a hidden method ([`key_method`]) returning a
//! `KeyField<Struct, INDEX>`, and implements `Declares<INDEX, S>` for every scope `S` the field
//! declares, each spelled as a type by [`scope_type`]. Here every scope that would cover the
//! asked one is spelled the same way and probed; `clay_config::__private` explains the probe.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::{Error, LitStr};

use clay_policy::{Policy, Rule, Scope, looks_like_credential};

/// The hidden method the derive generates for key field `field`.
pub(crate) fn key_method(field: &Ident) -> Ident {
    format_ident!("__clay_key_{}", field.unraw(), span = field.span())
}

/// A scope's text as a type: its bytes in big-endian 16-byte chunks, zero-padded (no scope
/// byte is zero, so padding never makes two scopes equal).
pub(crate) fn scope_type(text: &str) -> TokenStream {
    let mut spelled = quote!(::clay_config::__private::End);
    let chunks: Vec<u128> = text
        .as_bytes()
        .chunks(16)
        .map(|chunk| {
            let mut bytes = [0u8; 16];
            bytes[..chunk.len()].copy_from_slice(chunk);
            u128::from_be_bytes(bytes)
        })
        .collect();
    for chunk in chunks.into_iter().rev() {
        let literal = proc_macro2::Literal::u128_suffixed(chunk);
        spelled = quote!(::clay_config::__private::Chunk<{ #literal }, #spelled>);
    }
    spelled
}

/// Expands `require!`; errors become `compile_error!`s at their token.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match parse(input).and_then(|call| generate(&call)) {
        Ok(tokens) => tokens,
        Err(error) => error.into_compile_error(),
    }
}

struct Call {
    /// The config expression, `config` in `config.field`.
    config: TokenStream,
    field: Ident,
    scope: LitStr,
}

const USAGE: &str = "expected `require!(config.field, \"action:resource\")`";

/// Splits at the last top-level comma (a trailing one allowed), so the config expression may
/// be anything, commas inside groups included, without parsing Rust expressions.
fn parse(input: TokenStream) -> syn::Result<Call> {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    if matches!(tokens.last(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
        tokens.pop();
    }
    let comma = tokens
        .iter()
        .rposition(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .ok_or_else(|| Error::new(Span::call_site(), USAGE))?;
    let literal: TokenStream = tokens[comma + 1..].iter().cloned().collect();
    let scope: LitStr = syn::parse2(literal.clone()).map_err(|_| {
        Error::new_spanned(
            &literal,
            "the scope must be a string literal, `\"action:resource\"`, so the build can check it",
        )
    })?;
    let mut expr = tokens[..comma].to_vec();
    // A macro argument may arrive wrapped in an invisible group (`$config:expr`): unwrap it.
    if let [TokenTree::Group(group)] = expr.as_slice()
        && group.delimiter() == Delimiter::None
    {
        expr = group.stream().into_iter().collect();
    }
    let field = match expr.as_slice() {
        [base @ .., TokenTree::Punct(dot), TokenTree::Ident(field)]
            if dot.as_char() == '.' && !base.is_empty() =>
        {
            field.clone()
        }
        _ => {
            let expr: TokenStream = expr.iter().cloned().collect();
            return Err(Error::new_spanned(
                expr,
                "expected a key field, `config.field`, before the scope",
            ));
        }
    };
    let config = expr[..expr.len() - 2].iter().cloned().collect();
    Ok(Call {
        config,
        field,
        scope,
    })
}

fn generate(call: &Call) -> syn::Result<TokenStream> {
    let text = call.scope.value();
    let asked = Scope::parse(&text).map_err(|error| {
        // The same wording as the derive's; a pasted key is never echoed into the build log.
        let shown = if looks_like_credential(&text, Policy::builtin().keys()) {
            "(not shown: it looks like a key)".to_owned()
        } else {
            format!("`{}`", text.escape_debug())
        };
        Error::new(
            call.scope.span(),
            format!(
                "[{}] malformed scope {shown}: {error}",
                Rule::MalformedScope.name()
            ),
        )
    })?;
    let field = &call.field;
    let method = key_method(field);
    let span = call.scope.span();
    let probes = asked.covering_scopes().into_iter().map(|covering| {
        let spelled = scope_type(covering.as_str());
        quote! {
            let answer = ::clay_config::__private::or(
                answer,
                (&&::clay_config::__private::Probe::<_, #spelled>::new(field)).answer(),
            );
        }
    });
    let message = format!(
        "[{}] no environment declares a scope of `{}` that covers `{}`",
        Rule::UndeclaredScope.name(),
        field.unraw(),
        asked
    );
    let label = format!("`{}` is not declared for `{}`", asked, field.unraw());
    let note = format!(
        "declare `{asked}` (or a scope that covers it) for `{}` in `#[clay(scopes(...))]` where it is needed, \
         or ask for a scope the field declares; `cargo clay scopes` lists them",
        field.unraw()
    );
    let asserted = quote_spanned!(span=> declared(answer));
    let config = Group::new(Delimiter::Parenthesis, call.config.clone());
    let scope = &call.scope;
    Ok(quote! {
        match &#config {
            __clay_config => {
                let __clay_field = __clay_config.#method();
                // Type checking only: the closure is never called, so nothing of it runs.
                let _ = || {
                    let field = &__clay_field;
                    #[allow(unused_imports)]
                    use ::clay_config::__private::{ProbeDeclared as _, ProbeUndeclared as _};
                    #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
                    trait ScopeIsDeclared {}
                    impl ScopeIsDeclared for ::clay_config::__private::Yes {}
                    fn declared<T: ScopeIsDeclared>(_: T) {}
                    let answer = ::clay_config::__private::No;
                    #(#probes)*
                    #asserted;
                };
                __clay_field.require(&__clay_config.#field, #scope)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(input: &str) -> String {
        let tokens: TokenStream = input.parse().expect("tokens");
        expand(tokens).to_string()
    }

    #[test]
    fn hostile_arguments_are_errors_never_panics() {
        for input in [
            "",
            ",",
            "config",
            "config.reader",
            "config.reader,",
            "\"read:x\"",
            ", \"read:x\"",
            ".reader, \"read:x\"",
            "config.0, \"read:x\"",
            "config.reader, \"read:x\", \"write:y\"",
            "config.reader, read_x",
            "config.reader, b\"read:x\"",
            "config.reader, \"\"",
            "config.reader, \"read:\u{202e}x\"",
        ] {
            let output = expand_str(input);
            assert!(output.contains("compile_error"), "{input}: {output}");
        }
    }

    #[test]
    fn a_pasted_key_is_never_echoed() {
        let output = expand_str("config.reader, \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"");
        assert!(output.contains("[malformed_scope]"), "{output}");
        assert!(!output.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{output}");
    }

    #[test]
    fn a_valid_call_probes_every_covering_scope() {
        let output = expand_str("(*cfg).reader, \"read:tables.rows\",");
        assert!(!output.contains("compile_error"), "{output}");
        assert!(output.contains("__clay_key_reader"), "{output}");
        // read:tables.rows, read:*, read:tables.*, and the same three with `*`.
        assert_eq!(output.matches("Probe ::").count(), 6, "{output}");
    }

    #[test]
    fn scopes_spell_distinct_types_across_chunk_boundaries() {
        let scopes = [
            "read:abcdefghijk",  // 16 bytes: one full chunk
            "read:abcdefghijkl", // 17 bytes: a second chunk
            "read:abcdefghij",
            "read:abcdefghijk.*",
        ];
        let spelled: Vec<String> = scopes.iter().map(|s| scope_type(s).to_string()).collect();
        for (i, a) in spelled.iter().enumerate() {
            for b in &spelled[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(spelled[0].matches("Chunk").count(), 1);
        assert_eq!(spelled[1].matches("Chunk").count(), 2);
    }
}
