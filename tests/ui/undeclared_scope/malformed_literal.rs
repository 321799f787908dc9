use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    reader: ApiKey,
}

fn main() {
    let clay = Clay::load().unwrap();
    let _ = clay_config::require!(clay.reader, "Read:tables");
    let _ = clay_config::require!(clay.reader, "read:**");
    let _ = clay_config::require!(clay.reader, "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    let _ = clay_config::require!(clay.reader, read_tables);
    let _ = clay_config::require!(clay, "read:tables");
}
