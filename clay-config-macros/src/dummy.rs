//! On errors: a stub impl beside them, so that uses of the struct (`Clay::load()`) add no
//! secondary errors and the user sees only the real ones.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

pub(crate) fn stub(
    ident: &Ident,
    tracked_policy: Option<&str>,
    errors: Vec<syn::Error>,
) -> TokenStream {
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
