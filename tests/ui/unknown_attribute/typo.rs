use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(polcy = "clay-policy.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scope(production = ["read:tables"]), scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
    #[clay(env = "CLAY_BASE_URL", policy = "x.toml")]
    base_url: String,
}

fn main() {
    let _ = Clay::load();
}
