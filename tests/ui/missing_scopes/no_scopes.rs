use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY")]
    reader: ApiKey,
}

fn main() {
    let _ = Clay::load();
}
