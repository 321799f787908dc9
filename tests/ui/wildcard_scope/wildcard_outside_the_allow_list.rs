use clay_config::{ApiKey, ClayConfig};

// `read:*` in a production that allows `read:tables` only: one finding, the most specific.
#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/tight.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:*"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
