use clay_config::ClayConfig;

/// The generated assembly has its edge cases: no field at all, and a one-element tuple.
#[derive(ClayConfig)]
struct Empty {}

#[derive(ClayConfig)]
struct One {
    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    base_url: String,
}

fn main() {
    assert!(Empty::load_from([("CLAY_ENV", "development")]).is_ok());
    let one = One::load_from([("CLAY_ENV", "development")]).expect("loads");
    assert_eq!(one.base_url, "https://api.clay.com");
}
