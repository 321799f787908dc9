use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:tables.*"], staging = ["read:tables.*"], production = ["read:tables.rows"]))]
    reader: ApiKey,
}

fn main() {
    let clay = Clay::load().unwrap();
    let clay = &clay;
    // `read:tables.*` covers what lies below `tables`, not `tables` itself.
    let _ = clay_config::require!(clay.reader, "read:tables");
}
