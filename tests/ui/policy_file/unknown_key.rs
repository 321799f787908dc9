use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/unknown_key.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
