use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_KEY", scopes(production = ["read:tables", "write:rows"]))]
    key: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
