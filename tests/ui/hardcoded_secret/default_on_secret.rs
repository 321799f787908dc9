use clay_config::{ClayConfig, Secret};

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_SECRET", default = "changeme")]
    secret: Secret,
}

fn main() {
    let _ = Clay::load();
}
