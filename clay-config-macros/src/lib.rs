//! `#[derive(ClayConfig)]`: checks the scopes declared on a config struct against the
//! least-privilege table at build time, and fails the build at the exact token when one is
//! excessive.
//!
//! Use it through `clay_config::ClayConfig`; the attribute syntax is documented there and in
//! the README. Stages, one file each: [`attr`] parses `#[clay(...)]`, [`ast`] builds the model,
//! [`policy`] finds and reads the policy file, [`check`] runs clay-policy's check and puts each
//! finding on its token, [`expand`] generates the impl, [`dummy`] generates a stub impl beside
//! the errors. [`ctxt`] collects every error so one build shows them all.

mod ast;
mod attr;
mod check;
mod ctxt;
mod dummy;
mod expand;
mod export;
mod policy;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::policy::PolicyOutcome;

/// Derives `clay_config::ClayConfig`. See the `clay-config` crate for the attribute syntax.
#[proc_macro_derive(ClayConfig, attributes(clay))]
pub fn derive_clay_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

fn derive(input: &DeriveInput) -> proc_macro2::TokenStream {
    let ctxt = ctxt::Ctxt::new();
    let Some(container) = ast::Container::from_ast(&ctxt, input) else {
        let errors = ctxt.check().err().unwrap_or_default();
        return dummy::stub(&input.ident, None, errors);
    };
    let source_file = policy::call_site_file();
    let outcome = policy::resolve(
        &ctxt,
        container.attrs.policy.as_ref(),
        source_file.as_deref(),
    );
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
        (Ok(()), PolicyOutcome::Failed { .. }) => dummy::stub(&input.ident, tracked, Vec::new()),
        (Err(errors), _) => dummy::stub(&input.ident, tracked, errors),
    }
}
