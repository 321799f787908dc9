use clay_config::ClayConfig;

#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "CLAY_SIGNING_PUBLIC_KEY", public = true)]
    signing_public_key: String,
}

fn main() {
    let _ = Clay::load();
}
