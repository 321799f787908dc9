use clay_config::{ClayConfig, Secret};

/// Variables named like secrets whose values are public are marked `public`.
#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_SIGNING_PUBLIC_KEY", public)]
    signing_public_key: String,
    #[clay(public, env = "CLAY_ACCESS_KEY")]
    access_key_id: Option<String>,
    #[clay(env = "CLAY_WEBHOOK_SECRET")]
    webhook_secret: Secret,
    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    base_url: String,
}

fn main() {
    let manifest = Clay::manifest();
    let public: Vec<bool> = manifest.fields.iter().map(|f| f.public).collect();
    assert_eq!(public, [true, true, false, false]);
}
