//! Code generation for a struct that passed every check.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use clay_policy::FieldKind;

use crate::ast::Container;
use crate::policy::ResolvedPolicy;

pub(crate) fn expand(container: &Container<'_>, policy: &ResolvedPolicy) -> TokenStream {
    let ident = container.ident;
    let type_name = ident.to_string();
    let manifest_fields = container.fields.iter().map(manifest_field);
    let policy_manifest = policy_manifest(policy);

    let field_names: Vec<_> = container.fields.iter().map(|f| f.ident).collect();
    let reads = container.fields.iter().enumerate().map(|(index, field)| {
        let name = field.ident;
        let value_ty = field.value_ty;
        let call = match (field.kind, field.optional) {
            (FieldKind::ApiKey, false) => quote!(loader.api_key(#index)),
            (FieldKind::ApiKey, true) => quote!(loader.optional_api_key(#index)),
            (FieldKind::Secret, false) => quote!(loader.secret(#index)),
            (FieldKind::Secret, true) => quote!(loader.optional_secret(#index)),
            (FieldKind::WebhookSecret, false) => quote!(loader.webhook_secret(#index)),
            (FieldKind::WebhookSecret, true) => quote!(loader.optional_webhook_secret(#index)),
            // Spanned at the type, so a type without `FromStr` is reported where it is written.
            (FieldKind::Setting, false) => {
                quote_spanned!(value_ty.span()=> loader.setting::<#value_ty>(#index))
            }
            (FieldKind::Setting, true) => {
                quote_spanned!(value_ty.span()=> loader.optional_setting::<#value_ty>(#index))
            }
        };
        quote!(let #name = #call;)
    });
    // One exit for all fields (a single `match` on a tuple of the reads), not one `?` per
    // field inside the struct expression: each `?` is an early return with its own set of
    // values to drop, which makes the compiler's work grow much faster than the field count.
    let assemble = if field_names.is_empty() {
        quote!(::core::option::Option::Some(Self {}))
    } else {
        quote! {
            match (#(#field_names,)*) {
                (#(::core::option::Option::Some(#field_names),)*) => {
                    ::core::option::Option::Some(Self { #(#field_names,)* })
                }
                _ => ::core::option::Option::None,
            }
        }
    };
    let visits = container
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::ApiKey)
        .map(|field| {
            let name = field.ident;
            if field.optional {
                quote!(if let ::core::option::Option::Some(key) = &mut self.#name { visit(key); })
            } else {
                quote!(visit(&mut self.#name);)
            }
        });

    let require_support = require_support(container);

    quote! {
        #require_support

        #[automatically_derived]
        impl ::clay_config::ClayConfig for #ident {
            fn manifest() -> &'static ::clay_config::Manifest {
                static MANIFEST: ::clay_config::Manifest = ::clay_config::Manifest {
                    type_name: #type_name,
                    fields: &[#(#manifest_fields),*],
                    policy: #policy_manifest,
                };
                &MANIFEST
            }

            fn __build(
                loader: &mut ::clay_config::__private::Loader,
            ) -> ::core::option::Option<Self> {
                // Every field is read before any is unwrapped, so one load reports every problem.
                #(#reads)*
                #assemble
            }

            fn __visit_api_keys(
                &mut self,
                visit: &mut dyn ::core::ops::FnMut(&mut ::clay_config::ApiKey),
            ) {
                let _ = &visit;
                #(#visits)*
            }
        }
    }
}

/// What `require!` reaches a key field through: a hidden method per key field, with the
/// field's visibility, and `Declares` for every scope it declares in any environment.
fn require_support(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let keys: Vec<_> = container
        .fields
        .iter()
        .enumerate()
        .filter(|(_, field)| field.kind == FieldKind::ApiKey)
        .collect();
    if keys.is_empty() {
        return TokenStream::new();
    }
    let methods = keys.iter().map(|(index, field)| {
        let method = crate::require::key_method(field.ident);
        let vis = field.vis;
        let var = field.attrs.env.as_ref().map_or("", |e| e.text.as_str());
        quote! {
            #[doc(hidden)]
            #[allow(dead_code)]
            #[inline]
            #vis fn #method(&self) -> ::clay_config::__private::KeyField<Self, #index> {
                ::clay_config::__private::KeyField::new(#var)
            }
        }
    });
    let declarations = keys.iter().flat_map(|(index, field)| {
        let mut declared: Vec<String> = field
            .attrs
            .scopes
            .iter()
            .flat_map(|s| &s.lists)
            .flat_map(|list| &list.scopes)
            .filter_map(|scope| clay_policy::Scope::parse(&scope.text).ok())
            .map(|scope| scope.as_str().to_owned())
            .collect();
        declared.sort();
        declared.dedup();
        declared.into_iter().map(move |scope| {
            let spelled = crate::require::scope_type(&scope);
            quote! {
                #[automatically_derived]
                impl ::clay_config::__private::Declares<#index, #spelled> for #ident {}
            }
        })
    });
    quote! {
        #[automatically_derived]
        impl #ident {
            #(#methods)*
        }
        #(#declarations)*
    }
}

fn manifest_field(field: &crate::ast::Field<'_>) -> TokenStream {
    let name = field.ident.to_string();
    let env = field
        .attrs
        .env
        .as_ref()
        .map(|e| e.text.clone())
        .unwrap_or_default();
    let kind = match field.kind {
        FieldKind::ApiKey => quote!(ApiKey),
        FieldKind::Secret => quote!(Secret),
        FieldKind::WebhookSecret => quote!(WebhookSecret),
        FieldKind::Setting => quote!(Setting),
    };
    let optional = field.optional;
    let public = field.attrs.public.is_some();
    let scopes = field.attrs.scopes.iter().flat_map(|s| &s.lists).map(|list| {
        let environment = clay_policy::canonical_environment(&list.environment.text);
        let scopes = list.scopes.iter().map(|s| &s.text);
        quote!(::clay_config::EnvironmentScopes { environment: #environment, scopes: &[#(#scopes),*] })
    });
    let default = match &field.attrs.default {
        Some(default) => {
            let text = &default.text;
            quote!(::core::option::Option::Some(#text))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::clay_config::FieldManifest {
            name: #name,
            env: #env,
            kind: ::clay_config::policy::FieldKind::#kind,
            optional: #optional,
            scopes: &[#(#scopes),*],
            default: #default,
            public: #public,
        }
    }
}

fn policy_manifest(policy: &ResolvedPolicy) -> TokenStream {
    match &policy.path {
        // `include_bytes!` makes the policy file an input of the crate: editing it re-runs
        // this derive on the next build.
        Some(path) => {
            let name = &policy.name;
            quote!(::clay_config::PolicyManifest::file(#name, ::core::include_bytes!(#path)))
        }
        None => quote!(::clay_config::PolicyManifest::builtin()),
    }
}
