//! `#[derive(ClayConfig)]`: checks the scopes declared on a config struct against the
//! least-privilege table at build time, and fails the build at the exact token when one is
//! excessive.
//!
//! Use it through `clay_config::ClayConfig`; the attribute syntax is documented there and in
//! the README. Stages, one file each: `attr` parses `#[clay(...)]`, `ast` builds the model,
//! `policy` finds and reads the policy file, `check` runs clay-policy's check and puts each
//! finding on its token, `expand` generates the impl, `dummy` generates a stub impl beside
//! the errors. `ctxt` collects every error so one build shows them all.

mod ast;
mod attr;
mod check;
mod ctxt;
mod dummy;
mod expand;
mod export;
mod policy;
mod require;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::policy::PolicyOutcome;

/// Derives `clay_config::ClayConfig`. See the `clay-config` crate for the attribute syntax.
///
/// A setting (any field that is not `ApiKey`, `Secret` or `WebhookSecret`) whose variable name
/// ends in `_KEY`, `_SECRET`, `_TOKEN`, `_PASSWORD`, `_PASSWD`, `_PWD`, `_CREDENTIALS` or
/// `_PRIVATE_KEY` fails the build with `[secret_as_setting]`: declare it `Secret` or
/// `WebhookSecret`, or mark it `#[clay(env = "...", public)]` when its value really is public
/// (a public key, a key id). `public` is a bare flag and applies to settings only.
#[proc_macro_derive(ClayConfig, attributes(clay))]
pub fn derive_clay_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

/// `clay_config::require!(config.field, "action:resource")`: see the `clay-config` crate.
#[proc_macro]
pub fn require(input: TokenStream) -> TokenStream {
    require::expand(input.into()).into()
}

fn derive(input: &DeriveInput) -> proc_macro2::TokenStream {
    let ctxt = ctxt::Ctxt::new();
    let Some(container) = ast::Container::from_ast(&ctxt, input) else {
        let errors = ctxt.check().err().unwrap_or_default();
        return dummy::stub(input, None, errors);
    };
    let outcome = policy::resolve(&ctxt, container.attrs.policy.as_ref());
    let (policy, tracked) = match &outcome {
        PolicyOutcome::Resolved(resolved) => (Some(&*resolved.policy), resolved.path.as_deref()),
        PolicyOutcome::Failed { path } => (None, path.as_deref()),
    };
    check::check(&ctxt, &container, policy);
    match (ctxt.check(), &outcome) {
        (Ok(()), PolicyOutcome::Resolved(resolved)) => {
            export::export(&container, resolved);
            expand::expand(&container, resolved)
        }
        (Ok(()), PolicyOutcome::Failed { .. }) => dummy::stub(input, tracked, Vec::new()),
        (Err(errors), PolicyOutcome::Resolved(resolved)) => {
            // The declarations are exported even when the policy rejects them: `cargo clay
            // policy diff` lists what a new policy would reject.
            export::export(&container, resolved);
            dummy::stub(input, tracked, errors)
        }
        (Err(errors), PolicyOutcome::Failed { .. }) => dummy::stub(input, tracked, errors),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Pieces of attribute syntax, valid and not, for the derive to chew on.
    const PIECES: &[&str] = &[
        "env",
        "scopes",
        "default",
        "policy",
        "public",
        "scope",
        "=",
        "=",
        ",",
        ",",
        "\"CLAY_KEY\"",
        "\"CLAY_API_TOKEN\"",
        "\"clay-key\"",
        "\"read:*\"",
        "\"write:rows\"",
        "\"Read:x\"",
        "\"read:**\"",
        "\"\"",
        "\"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"",
        "42",
        "true",
        "1.5",
        "development",
        "prod",
        "qa",
        "\"eu-west\"",
        "r#type",
        "::",
        "-",
        "\"missing.toml\"",
    ];

    /// Token soup with balanced delimiters, so that most of it reaches the derive.
    fn soup() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(PIECES).prop_map(str::to_owned);
        piece.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|p| p.join(" ")),
                prop::collection::vec(inner.clone(), 0..6)
                    .prop_map(|p| format!("({})", p.join(" "))),
                prop::collection::vec(inner, 0..6).prop_map(|p| format!("[{}]", p.join(" "))),
            ]
        })
    }

    fn field_type() -> impl Strategy<Value = &'static str> {
        prop::sample::select(
            &[
                "ApiKey",
                "Option<ApiKey>",
                "Secret",
                "Option<WebhookSecret>",
                "String",
                "u16",
                "Vec<ApiKey>",
                "&'static str",
                "Option<Option<ApiKey>>",
                "(u8, u8)",
            ][..],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the attributes say, the derive answers with code or errors, never a panic.
        #[test]
        fn the_derive_never_panics(
            container in soup(),
            first in soup(),
            second in soup(),
            first_type in field_type(),
            second_type in field_type(),
        ) {
            let source = format!(
                "#[clay({container})] struct Config {{ #[clay({first})] a: {first_type}, #[clay({second})] b: {second_type}, }}"
            );
            if let Ok(input) = syn::parse_str::<syn::DeriveInput>(&source) {
                let output = super::derive(&input);
                prop_assert!(!output.is_empty());
                // A pasted key never reaches the output: not in an error, not in generated code.
                let text = output.to_string();
                prop_assert!(!text.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{}", text);
            }
        }
    }
}
