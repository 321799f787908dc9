use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:*"]))]
    reader: ApiKey,
}

fn main() {
    let _ = Clay::load();
}
