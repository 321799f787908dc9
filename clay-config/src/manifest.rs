//! What a derived config declares, kept in the binary: fields, variables, scopes, policy.

use std::sync::OnceLock;

use clay_policy::{EnvScopes, FieldDecl, FieldKind, Policy};

/// Everything `#[derive(ClayConfig)]` checked: every field, its variable, its kind, its scopes
/// per environment, and the policy it was checked against. Returned by
/// [`ClayConfig::manifest`](crate::ClayConfig::manifest).
#[derive(Debug)]
pub struct Manifest {
    /// The struct's name.
    pub type_name: &'static str,
    /// The fields, in declaration order.
    pub fields: &'static [FieldManifest],
    /// The policy the declarations were checked against at build time.
    pub policy: PolicyManifest,
}

/// One declared field.
#[derive(Debug, Clone, Copy)]
pub struct FieldManifest {
    /// The field's name.
    pub name: &'static str,
    /// The variable it is read from.
    pub env: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// True for `Option<…>`.
    pub optional: bool,
    /// Scopes per environment (canonical names), for `ApiKey` fields.
    pub scopes: &'static [EnvironmentScopes],
    /// The attribute's `default`, for settings.
    pub default: Option<&'static str>,
    /// `#[clay(public)]`: a setting named like a secret whose value is public.
    pub public: bool,
}

/// The scopes of one key in one environment.
#[derive(Debug, Clone, Copy)]
pub struct EnvironmentScopes {
    /// The environment's canonical name.
    pub environment: &'static str,
    /// The declared scopes.
    pub scopes: &'static [&'static str],
}

/// The policy a config was checked against: its name, SHA-256, and text.
#[derive(Debug)]
pub struct PolicyManifest {
    name: &'static str,
    text: Option<&'static [u8]>,
    parsed: OnceLock<Result<Policy, String>>,
    /// Computed here, at run time, so the derive needs no SHA-256 on the host.
    sha256: OnceLock<String>,
}

impl PolicyManifest {
    /// The built-in table. Used by generated code.
    #[doc(hidden)]
    pub const fn builtin() -> Self {
        PolicyManifest {
            name: "built-in table",
            text: None,
            parsed: OnceLock::new(),
            sha256: OnceLock::new(),
        }
    }

    /// A policy file, included in the binary. Used by generated code.
    #[doc(hidden)]
    pub const fn file(name: &'static str, text: &'static [u8]) -> Self {
        PolicyManifest {
            name,
            text: Some(text),
            parsed: OnceLock::new(),
            sha256: OnceLock::new(),
        }
    }

    /// The policy's name: `built-in table`, or the path as written in `#[clay(policy = …)]`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// SHA-256 of the policy's text (the file as included, or
    /// [`BUILTIN_POLICY_TOML`](clay_policy::BUILTIN_POLICY_TOML)), lowercase hex.
    pub fn sha256(&self) -> &str {
        self.sha256.get_or_init(|| {
            use sha2::{Digest, Sha256};
            use std::fmt::Write as _;
            let text = self
                .text
                .unwrap_or(clay_policy::BUILTIN_POLICY_TOML.as_bytes());
            Sha256::digest(text)
                .iter()
                .fold(String::new(), |mut hex, b| {
                    let _ = write!(hex, "{b:02x}");
                    hex
                })
        })
    }

    /// True for the built-in table.
    pub fn is_builtin(&self) -> bool {
        self.text.is_none()
    }

    /// The policy's text.
    pub fn text(&self) -> &'static str {
        match self.text {
            None => clay_policy::BUILTIN_POLICY_TOML,
            // Checked to be UTF-8 by the derive.
            Some(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
        }
    }

    /// The parsed policy (parsed once, on first use). It was valid at build time, so an error
    /// here means the binary mixes incompatible versions of clay-policy.
    pub fn policy(&self) -> Result<&Policy, &str> {
        self.parsed
            .get_or_init(|| match self.text {
                None => Ok(Policy::builtin().clone()),
                Some(_) => Policy::from_toml(self.text(), self.name).map_err(|e| e.to_string()),
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

impl Manifest {
    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldManifest> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The declarations in clay-policy's form, for [`clay_policy::check`].
    pub fn declarations(&self) -> Vec<FieldDecl> {
        self.fields
            .iter()
            .map(|f| FieldDecl {
                name: f.name.to_owned(),
                kind: f.kind,
                optional: f.optional,
                env: Some(f.env.to_owned()),
                scopes: (f.kind == FieldKind::ApiKey).then(|| {
                    f.scopes
                        .iter()
                        .map(|s| EnvScopes {
                            environment: s.environment.to_owned(),
                            scopes: s.scopes.iter().map(|&s| s.to_owned()).collect(),
                        })
                        .collect()
                }),
                default: f.default.map(str::to_owned),
                public: f.public,
            })
            .collect()
    }
}

impl FieldManifest {
    /// The declared scopes in `environment` (canonical name), empty when none.
    pub fn scopes_in(&self, environment: &str) -> &'static [&'static str] {
        self.declared_in(environment).map_or(&[], |s| s.scopes)
    }

    /// The declaration for `environment` (canonical name), when the field has scopes there.
    pub fn declared_in(&self, environment: &str) -> Option<&'static EnvironmentScopes> {
        self.scopes.iter().find(|s| s.environment == environment)
    }
}
