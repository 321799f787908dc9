//! An error accumulator: every problem of a struct is reported in one build, not one per build.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

use clay_policy::Rule;

/// Collects errors while the derive runs; [`Ctxt::check`] hands them all back.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt::default()
    }

    /// An error spanning `tokens`, its message prefixed with `[rule]`.
    pub(crate) fn error_spanned_by<T: ToTokens>(
        &self,
        tokens: T,
        rule: Rule,
        message: impl Display,
    ) {
        self.push(syn::Error::new_spanned(
            tokens.into_token_stream(),
            format!("[{rule}] {message}"),
        ));
    }

    /// An error at `span`, its message prefixed with `[rule]`.
    pub(crate) fn error_at(&self, span: Span, rule: Rule, message: impl Display) {
        self.push(syn::Error::new(span, format!("[{rule}] {message}")));
    }

    /// An error whose message is already complete (a finding's `[rule] message`).
    pub(crate) fn error_message_at(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// A parse error from syn, prefixed with the rule it belongs to unless it already has one.
    pub(crate) fn syn_error(&self, error: syn::Error, rule: Rule) {
        for single in error {
            let message = single.to_string();
            if message.starts_with('[') {
                self.push(single);
            } else {
                self.push(syn::Error::new(
                    single.span(),
                    format!("[{rule}] {message}"),
                ));
            }
        }
    }

    /// An error spanning `tokens` whose message is already complete.
    pub(crate) fn error_message_spanned<T: ToTokens>(&self, tokens: T, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// All errors, in the order they were found.
    pub(crate) fn check(self) -> Result<(), Vec<syn::Error>> {
        let errors = self.errors.into_inner();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
