//! The parsed model of a config struct: every field with its kind and its attributes, every
//! value with its span.

use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type, Visibility};

use clay_policy::{FieldKind, Rule};

use crate::attr::{self, ContainerAttrs, FieldAttrs};
use crate::ctxt::Ctxt;

/// A `#[derive(ClayConfig)]` struct.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: ContainerAttrs,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    /// The field's visibility, given to the hidden items `require!` reaches it through.
    pub(crate) vis: &'a Visibility,
    /// The type as written.
    pub(crate) ty: &'a Type,
    /// The type inside `Option<…>`, or `ty`.
    pub(crate) value_ty: &'a Type,
    pub(crate) kind: FieldKind,
    pub(crate) optional: bool,
    /// The type could not be classified (already reported).
    pub(crate) type_broken: bool,
    pub(crate) attrs: FieldAttrs,
}

impl<'a> Container<'a> {
    /// Builds the model; shape problems go to `ctxt`. `None` when there is no struct to model.
    pub(crate) fn from_ast(ctxt: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let attrs = attr::container_attrs(ctxt, &input.attrs);
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                other => {
                    ctxt.error_spanned_by(
                        other,
                        Rule::UnknownAttribute,
                        "#[derive(ClayConfig)] needs a struct with named fields: each field is read from its own variable",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                ctxt.error_at(
                    data.enum_token.span,
                    Rule::UnknownAttribute,
                    "#[derive(ClayConfig)] needs a struct with named fields, not an enum",
                );
                return None;
            }
            Data::Union(data) => {
                ctxt.error_at(
                    data.union_token.span,
                    Rule::UnknownAttribute,
                    "#[derive(ClayConfig)] needs a struct with named fields, not a union",
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            ctxt.error_spanned_by(
                &input.generics,
                Rule::UnknownAttribute,
                "#[derive(ClayConfig)] does not support generic structs: each field's type decides how it is loaded",
            );
        }
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                let attrs = attr::field_attrs(ctxt, &ident.to_string(), &field.attrs);
                let shape = classify(&field.ty);
                if let Some(problem) = &shape.problem {
                    ctxt.error_spanned_by(&field.ty, Rule::WrongKeyType, problem);
                }
                Some(Field {
                    ident,
                    vis: &field.vis,
                    ty: &field.ty,
                    value_ty: shape.value_ty,
                    kind: shape.kind,
                    optional: shape.optional,
                    type_broken: shape.problem.is_some(),
                    attrs,
                })
            })
            .collect();
        Some(Container {
            ident: &input.ident,
            attrs,
            fields,
        })
    }
}

struct Shape<'a> {
    value_ty: &'a Type,
    kind: FieldKind,
    optional: bool,
    problem: Option<String>,
}

const SECRET_TYPES: [(&str, FieldKind); 3] = [
    ("ApiKey", FieldKind::ApiKey),
    ("Secret", FieldKind::Secret),
    ("WebhookSecret", FieldKind::WebhookSecret),
];

/// Decides what a field holds from its type: `ApiKey`, `Secret`, `WebhookSecret`, each
/// optionally in `Option<…>`; anything else is a setting.
fn classify(ty: &Type) -> Shape<'_> {
    let (optional, value_ty) = match option_inner(ty) {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    let mut shape = Shape {
        value_ty,
        kind: FieldKind::Setting,
        optional,
        problem: None,
    };
    if option_inner(value_ty).is_some() {
        shape.problem = Some("`Option<Option<…>>` cannot be loaded: use one `Option`".to_owned());
        return shape;
    }
    if let Some(kind) = secret_kind(value_ty) {
        shape.kind = kind;
        return shape;
    }
    let tokens = quote::quote!(#value_ty).to_string();
    if let Some((name, _)) = SECRET_TYPES.iter().find(|(name, _)| {
        tokens
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|word| word == *name)
    }) {
        shape.problem = Some(format!(
            "`{}` cannot be loaded: declare `{name}` or `Option<{name}>` (one key per variable)",
            tokens.replace(' ', "")
        ));
        return shape;
    }
    if !matches!(value_ty, Type::Path(_) | Type::Paren(_) | Type::Group(_)) {
        shape.problem = Some(
            "a setting must be an owned type that implements `FromStr` (`String`, `u16`, `bool`, …); keys are `ApiKey`, `Secret` or `WebhookSecret`"
                .to_owned(),
        );
    }
    shape
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// `T` for `Option<T>` (also `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty)?;
    if segment.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

fn secret_kind(ty: &Type) -> Option<FieldKind> {
    let segment = last_segment(ty)?;
    if !segment.arguments.is_none() {
        return None;
    }
    SECRET_TYPES
        .iter()
        .find(|(name, _)| segment.ident == name)
        .map(|(_, kind)| *kind)
}
