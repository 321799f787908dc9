use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/custom.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["raed:tables"], qa = ["read:tables.poeple"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
