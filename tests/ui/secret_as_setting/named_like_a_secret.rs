use clay_config::ClayConfig;

// Settings whose variables are named like secrets: their values would print through `Debug`.
#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_WEBHOOK_SECRET")]
    webhook_secret: String,
    #[clay(env = "STRIPE_API_KEY")]
    stripe_key: Option<String>,
    #[clay(env = "GITHUB_TOKEN")]
    github_token: String,
    #[clay(env = "DB_PASSWORD", default = "postgres")]
    db_password: String,
    #[clay(env = "SMTP_PASSWD")]
    smtp_passwd: String,
    #[clay(env = "REDIS_PWD")]
    redis_pwd: String,
    #[clay(env = "GCP_CREDENTIALS")]
    gcp_credentials: String,
    #[clay(env = "DEPLOY_PRIVATE_KEY")]
    deploy_key: String,
    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    base_url: String,
}

fn main() {
    let _ = Clay::load();
}
