use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "clay-read-key", scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
    #[clay(env = "CLAY_ENV")]
    environment: String,
    #[clay(env = 42)]
    port: u16,
}

fn main() {
    let _ = Clay::load();
}
