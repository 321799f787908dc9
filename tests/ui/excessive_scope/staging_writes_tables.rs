use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:tables"], production = ["write:rows"]))]
    writer: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
