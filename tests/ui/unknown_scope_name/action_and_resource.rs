use clay_config::{ApiKey, ClayConfig};

// An unknown action and an unknown resource in one literal: one error naming both.
#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/custom.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["raed:tabels"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
