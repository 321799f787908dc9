use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_API_KEY", scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
    #[clay(env = "CLAY_API_KEY", scopes(production = ["write:rows"]))]
    writer: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
