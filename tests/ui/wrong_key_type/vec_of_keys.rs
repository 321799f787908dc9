use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_KEYS", scopes(production = ["read:tables"]))]
    keys: Vec<ApiKey>,
    #[clay(env = "CLAY_NAME")]
    name: &'static str,
}

fn main() {
    let _ = Clay::load();
}
