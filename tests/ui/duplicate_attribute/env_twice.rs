use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:tables"]))]
    #[clay(env = "CLAY_READER_KEY")]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
