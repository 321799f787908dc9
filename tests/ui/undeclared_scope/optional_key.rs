use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    writer: Option<ApiKey>,
}

fn main() {
    let clay = Clay::load().unwrap();
    let _ = clay_config::require!(clay.writer, "write:tables");
}
