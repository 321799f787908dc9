use clay_config::{ApiKey, ClayConfig, Secret, WebhookSecret};

/// The documented example on the built-in table.
#[derive(ClayConfig, Debug)]
pub struct Clay {
    /// Reads enrichment tables.
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    pub reader: ApiKey,

    /// Writes rows; no key at all in development.
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,

    #[clay(env = "CLAY_WEBHOOK_SECRET")]
    pub webhook_secret: WebhookSecret,

    #[clay(env = "CLAY_SECRET")]
    pub secret: Option<Secret>,

    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    pub base_url: String,

    #[clay(env = "CLAY_TIMEOUT_SECS", default = 30)]
    pub timeout_secs: u64,

    #[clay(env = "CLAY_REGION")]
    pub region: Option<String>,
}

fn main() {
    let manifest = Clay::manifest();
    assert_eq!(manifest.fields.len(), 7);
    assert!(manifest.policy.is_builtin());
}
