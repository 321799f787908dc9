use clay_config::{ApiKey, ClayConfig};

/// A custom policy file with a `qa` environment and a catalog.
#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/custom.toml")]
pub struct Clay {
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:tables"], qa = ["read:tables.people"], production = ["read:tables"]))]
    pub reader: ApiKey,

    #[clay(env = "CLAY_WRITE_KEY", scopes(qa = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,
}

fn main() {
    let manifest = Clay::manifest();
    assert_eq!(manifest.policy.name(), "tests/ui/policies/custom.toml");
    assert_eq!(manifest.fields[0].scopes_in("qa"), ["read:tables.people"]);
}
