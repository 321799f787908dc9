//! On errors: a stub impl beside them, so that uses of the struct (`Clay::load()`) add no
//! secondary errors and the user sees only the real ones.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub(crate) fn stub(
    input: &DeriveInput,
    tracked_policy: Option<&str>,
    errors: Vec<syn::Error>,
) -> TokenStream {
    let ident = &input.ident;
    let require_support = require_support(input);
    let errors = errors.into_iter().map(syn::Error::into_compile_error);
    // Keep the policy file an input even when the build fails, so fixing it re-runs the derive.
    let tracking = tracked_policy.map(|path| {
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    });
    quote! {
        #(#errors)*
        #tracking
        #require_support
        #[automatically_derived]
        impl ::clay_config::ClayConfig for #ident {
            fn manifest() -> &'static ::clay_config::Manifest {
                ::core::unimplemented!("the #[derive(ClayConfig)] above reported errors")
            }
            fn __build(
                _: &mut ::clay_config::__private::Loader,
            ) -> ::core::option::Option<Self> {
                ::core::option::Option::None
            }
            fn __visit_api_keys(
                &mut self,
                _: &mut dyn ::core::ops::FnMut(&mut ::clay_config::ApiKey),
            ) {
            }
        }
    }
}

/// `require!`'s hidden items for every named field, each declaring every scope: a call site
/// of a struct whose derive failed reports nothing of its own (the derive's errors say what
/// to fix), while a call on a field that does not exist still fails.
fn require_support(input: &DeriveInput) -> TokenStream {
    let Data::Struct(data) = &input.data else {
        return TokenStream::new();
    };
    let Fields::Named(named) = &data.fields else {
        return TokenStream::new();
    };
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let items = named.named.iter().enumerate().filter_map(|(index, field)| {
        let method = crate::require::key_method(field.ident.as_ref()?);
        let vis = &field.vis;
        Some(quote! {
            #[automatically_derived]
            impl #ident {
                #[doc(hidden)]
                #[allow(dead_code)]
                #vis fn #method(&self) -> ::clay_config::__private::KeyField<Self, #index> {
                    ::clay_config::__private::KeyField::new("")
                }
            }
            #[automatically_derived]
            impl<S> ::clay_config::__private::Declares<#index, S> for #ident {}
        })
    });
    quote!(#(#items)*)
}
