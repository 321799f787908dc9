use clay_config::{ApiKey, ClayConfig, Secret};

// `public` is for settings: a key or a secret is never shown, so it cannot be public.
#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_SECRET", public)]
    secret: Secret,
    #[clay(env = "CLAY_READ_KEY", public, scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
