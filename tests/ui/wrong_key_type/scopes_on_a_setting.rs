use clay_config::ClayConfig;

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_BASE_URL", scopes(production = ["read:tables"]))]
    base_url: String,
}

fn main() {
    let _ = Clay::load();
}
