use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    reader: ApiKey,
}

fn main() {
    let clay = Clay::load().unwrap();
    let _ = clay_config::require!(clay.reader, "write:rows");
}
