//! What [`require!`](crate::require!) expands to: the run-time [`ApiKey::require`], and a
//! question the type checker answers at build time, "does some declaration of this field cover
//! the asked scope?".
//!
//! The derive implements [`Declares<FIELD, S>`] on the config struct for every scope `S` a key
//! field declares in any environment, each scope spelled as a type ([`Chunk`]s of its bytes).
//! `require!` spells every scope that would cover the asked one
//! ([`Scope::covering_scopes`](crate::policy::Scope::covering_scopes), a short list), asks for
//! each whether the struct declares it ([`Probe`]: a method that exists only when the impl does,
//! with a fallback that answers [`No`]), folds the answers with [`Or`], and requires the result
//! to be [`Yes`] through a trait whose `#[diagnostic::on_unimplemented]` message is the
//! `[undeclared_scope]` error, placed on the scope literal. All of it is types: `cargo check`
//! reports it, and nothing of it runs.

use std::marker::PhantomData;

use crate::{ApiKey, ScopeDenied};

/// The key field `FIELD` (its index in the struct) of config type `C`, as returned by the
/// hidden method the derive generates for it. Carries the variable for refusals of an absent
/// `Option<ApiKey>`.
pub struct KeyField<C, const FIELD: usize> {
    var: &'static str,
    config: PhantomData<fn() -> C>,
}

impl<C, const FIELD: usize> KeyField<C, FIELD> {
    /// The field read from `var`.
    #[inline]
    pub const fn new(var: &'static str) -> Self {
        KeyField {
            var,
            config: PhantomData,
        }
    }

    /// [`ApiKey::require`] on the field's key; for an absent `Option<ApiKey>`,
    /// [`ScopeDenied::key_absent`].
    #[inline]
    pub fn require<'key, K: FieldKey + ?Sized>(
        &self,
        key: &'key K,
        scope: &str,
    ) -> Result<&'key ApiKey, ScopeDenied> {
        key.require_for(self.var, scope)
    }
}

/// The two shapes a key field has: `ApiKey` and `Option<ApiKey>`.
pub trait FieldKey {
    /// The key, if present and granted `scope`.
    fn require_for(&self, var: &'static str, scope: &str) -> Result<&ApiKey, ScopeDenied>;
}

impl FieldKey for ApiKey {
    #[inline]
    fn require_for(&self, _: &'static str, scope: &str) -> Result<&ApiKey, ScopeDenied> {
        self.require(scope)
    }
}

impl FieldKey for Option<ApiKey> {
    #[inline]
    fn require_for(&self, var: &'static str, scope: &str) -> Result<&ApiKey, ScopeDenied> {
        match self {
            Some(key) => key.require(scope),
            None => Err(ScopeDenied::key_absent(var, scope)),
        }
    }
}

/// Implemented by the derive: field `FIELD` of the implementing struct declares the scope
/// spelled `Scope` in at least one environment.
pub trait Declares<const FIELD: usize, Scope> {}

/// Sixteen bytes of a scope's text, big-endian, zero-padded; `Rest` spells the rest.
pub struct Chunk<const BYTES: u128, Rest>(PhantomData<Rest>);

/// The end of a spelled scope.
pub struct End;

/// The answer "declared".
pub struct Yes;

/// The answer "not declared".
pub struct No;

/// Type-level `or` of two answers.
pub trait Or<B> {
    /// `Yes` when either is.
    type Out;
    /// The answer's value.
    fn out() -> Self::Out;
}

impl<B> Or<B> for Yes {
    type Out = Yes;
    #[inline]
    fn out() -> Yes {
        Yes
    }
}

impl Or<Yes> for No {
    type Out = Yes;
    #[inline]
    fn out() -> Yes {
        Yes
    }
}

impl Or<No> for No {
    type Out = No;
    #[inline]
    fn out() -> No {
        No
    }
}

/// `a or b`.
#[inline]
pub fn or<A: Or<B>, B>(_: A, _: B) -> A::Out {
    A::out()
}

/// Does the field `F` (a [`KeyField`]) declare the scope spelled `S`? Ask with
/// `(&&Probe::<_, S>::new(&field)).answer()`: [`ProbeDeclared`] answers [`Yes`] when the impl
/// exists, and method resolution falls back to [`ProbeUndeclared`]'s [`No`] when it does not.
pub struct Probe<F, S>(PhantomData<fn() -> (F, S)>);

impl<F, S> Probe<F, S> {
    /// A probe for `field`'s type.
    #[inline]
    pub fn new(_field: &F) -> Self {
        Probe(PhantomData)
    }
}

/// The answer when the struct declares the scope.
pub trait ProbeDeclared {
    /// [`Yes`].
    fn answer(&self) -> Yes;
}

impl<C, const FIELD: usize, S> ProbeDeclared for &Probe<KeyField<C, FIELD>, S>
where
    C: Declares<FIELD, S>,
{
    #[inline]
    fn answer(&self) -> Yes {
        Yes
    }
}

/// The fallback answer.
pub trait ProbeUndeclared {
    /// [`No`].
    fn answer(&self) -> No;
}

impl<F, S> ProbeUndeclared for Probe<F, S> {
    #[inline]
    fn answer(&self) -> No {
        No
    }
}
