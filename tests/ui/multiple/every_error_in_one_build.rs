use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(development = ["write:*"], staging = ["read:*"], production = ["read:*"]))]
    reader: ApiKey,
    #[clay(env = "CLAY_READ_KEY", scopes(prodution = ["read:tables"]))]
    writer: Option<ApiKey>,
    #[clay(env = "clay_base_url", defualt = "https://api.clay.com")]
    base_url: String,
}

fn main() {
    let _ = Clay::load();
}
