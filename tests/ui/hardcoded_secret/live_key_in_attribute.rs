use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "sk_live_4eC39HqLyjWDarjtT1zdp7dc", scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
    #[clay(env = "CLAY_WRITE_KEY", scopes(production = ["sk_test_4eC39HqLyjWDarjtT1zdp7dc"]))]
    writer: Option<ApiKey>,
    #[clay(env = "CLAY_BASE_URL", default = "sk_live_4eC39HqLyjWDarjtT1zdp7dc")]
    base_url: String,
}

fn main() {
    let _ = Clay::load();
}
