//! placeholder
use proc_macro::TokenStream;
/// placeholder
#[proc_macro_derive(ClayConfig, attributes(clay))]
pub fn derive(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
