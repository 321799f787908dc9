use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_WRITE_KEY", scopes(development = ["write:*"], staging = ["write:limited"], production = ["write:rows"]))]
    writer: ApiKey,
}

fn main() {
    let _ = Clay::load();
}
