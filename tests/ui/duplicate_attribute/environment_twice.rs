use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:tables"], prod = ["read:rows"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
