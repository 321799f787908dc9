use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/custom.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(qa = ["read:tables.people"], production = ["read:tables.people"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
