use clay_config::{ApiKey, ClayConfig};

// No catalog: `raed:tables` is one mistake (excessive, with the near miss), not also a write
// beside a read (mixed_read_write).
#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/tight.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:tables", "raed:tables"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
