use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(development = ["readtables", ":tables", "read:", "Read:tables", "read: tables", "read:**"]))]
    reader: Option<ApiKey>,
}

fn main() {
    let _ = Clay::load();
}
