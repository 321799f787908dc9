use clay_config::{ApiKey, ClayConfig, WebhookSecret};

#[derive(ClayConfig)]
struct Clay {
    webhook_secret: WebhookSecret,
    #[clay(scopes(production = ["read:tables"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
