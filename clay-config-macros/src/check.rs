//! Runs clay-policy's check on the parsed model and puts each finding on its token.

use proc_macro2::Span;

use clay_policy::{EnvScopes, FieldDecl, Policy, Rule, Site};

use crate::ast::Container;
use crate::ctxt::Ctxt;

/// The rules whose verdict depends on the policy; skipped when the policy file is unusable so
/// that only real problems are shown.
const POLICY_RULES: [Rule; 6] = [
    Rule::ExcessiveScope,
    Rule::WildcardScope,
    Rule::MixedReadWrite,
    Rule::UnknownScopeName,
    Rule::UnknownEnvironment,
    Rule::WrongKeyType,
];

/// The declarations in clay-policy's form.
pub(crate) fn declarations(container: &Container<'_>) -> Vec<FieldDecl> {
    container
        .fields
        .iter()
        .map(|field| FieldDecl {
            name: field.ident.to_string(),
            kind: field.kind,
            optional: field.optional,
            env: field.attrs.env.as_ref().map(|env| env.text.clone()),
            scopes: field.attrs.scopes.as_ref().map(|scopes| {
                scopes
                    .lists
                    .iter()
                    .map(|list| EnvScopes {
                        environment: list.environment.text.clone(),
                        scopes: list.scopes.iter().map(|s| s.text.clone()).collect(),
                    })
                    .collect()
            }),
            default: field.attrs.default.as_ref().map(|d| d.text.clone()),
            public: field.attrs.public.is_some(),
        })
        .collect()
}

/// Checks the declarations against `policy` (`None`: the policy file was unusable, so only the
/// rules that do not depend on it are reported, judged with the built-in table's key prefixes).
pub(crate) fn check(ctxt: &Ctxt, container: &Container<'_>, policy: Option<&Policy>) {
    let decls = declarations(container);
    let findings = clay_policy::check(&decls, policy.unwrap_or_else(|| Policy::builtin()));
    for finding in findings {
        if policy.is_none() && POLICY_RULES.contains(&finding.rule) {
            continue;
        }
        if is_consequence(container, &finding) {
            continue;
        }
        if let Site::FieldType { field } = finding.site
            && let Some(field) = container.fields.get(field)
        {
            ctxt.error_message_spanned(field.ty, &finding);
            continue;
        }
        ctxt.error_message_at(site_span(container, finding.site), &finding);
    }
}

/// True for a finding that only restates a problem already reported while parsing (a
/// `missing_env` after an unusable `env = 42`, an empty list after `[read]`).
fn is_consequence(container: &Container<'_>, finding: &clay_policy::Finding) -> bool {
    let field_of = |site: Site| match site {
        Site::Field { field }
        | Site::FieldType { field }
        | Site::EnvVar { field }
        | Site::Default { field }
        | Site::ScopesAttr { field }
        | Site::Environment { field, .. }
        | Site::Scope { field, .. }
        | Site::Public { field } => container.fields.get(field),
    };
    let Some(field) = field_of(finding.site) else {
        return false;
    };
    match (finding.rule, finding.site) {
        (Rule::MissingEnv, _) => field.attrs.env_broken,
        (Rule::MissingScopes, Site::Field { .. }) => field.attrs.scopes_broken,
        (Rule::MissingScopes, Site::Environment { environment, .. }) => field
            .attrs
            .scopes
            .as_ref()
            .and_then(|s| s.lists.get(environment))
            .is_some_and(|list| list.broken),
        (Rule::WrongKeyType, Site::Public { .. }) => false,
        (Rule::WrongKeyType, _) => field.type_broken || field.attrs.scopes_broken,
        // A type that could not be classified is already reported at the type, and an unusable
        // `public` at the flag: neither is a setting to re-type.
        (Rule::SecretAsSetting, _) => field.type_broken || field.attrs.public_broken,
        _ => false,
    }
}

fn site_span(container: &Container<'_>, site: Site) -> Span {
    let field = |index: usize| container.fields.get(index);
    let list = |f: usize, e: usize| {
        field(f)
            .and_then(|field| field.attrs.scopes.as_ref())
            .and_then(|scopes| scopes.lists.get(e))
    };
    let span = match site {
        Site::Field { field: f } | Site::FieldType { field: f } => field(f).map(|f| f.ident.span()),
        Site::EnvVar { field: f } => field(f).and_then(|f| f.attrs.env.as_ref().map(|e| e.span)),
        Site::Default { field: f } => {
            field(f).and_then(|f| f.attrs.default.as_ref().map(|d| d.span))
        }
        Site::ScopesAttr { field: f } => {
            field(f).and_then(|f| f.attrs.scopes.as_ref().map(|s| s.keyword))
        }
        Site::Environment {
            field: f,
            environment: e,
        } => list(f, e).map(|l| l.environment.span),
        Site::Scope {
            field: f,
            environment: e,
            scope: s,
        } => list(f, e).and_then(|l| l.scopes.get(s)).map(|s| s.span),
        Site::Public { field: f } => field(f).and_then(|f| f.attrs.public),
    };
    span.unwrap_or_else(|| container.ident.span())
}
