use clay_config::{ApiKey, ClayConfig};

/// A policy path relative to this crate's root (`tests/`). Under trybuild the compiled crate is a
/// scratch crate, and the derive finds the file relative to the crate of this source file.
#[derive(ClayConfig)]
#[clay(policy = "ui/policies/custom.toml")]
pub struct Clay {
    #[clay(env = "CLAY_WRITE_KEY", scopes(qa = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,
}

fn main() {
    assert_eq!(Clay::manifest().policy.name(), "ui/policies/custom.toml");
}
