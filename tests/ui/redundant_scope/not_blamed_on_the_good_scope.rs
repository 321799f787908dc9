use clay_config::{ApiKey, ClayConfig};

// `read:*` is the error: `read:tables` is not "already covered" by it.
#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/tight.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:*", "read:tables"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
