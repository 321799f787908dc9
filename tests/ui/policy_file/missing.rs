use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/does-not-exist.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
