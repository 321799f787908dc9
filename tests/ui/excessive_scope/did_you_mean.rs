use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/tight.toml")]
struct Clay {
    // A near miss of the allow list is suggested; another resource is not.
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:tabels"]))]
    reader: Option<ApiKey>,
    #[clay(env = "CLAY_ROWS_KEY", scopes(production = ["read:rows"]))]
    rows: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
