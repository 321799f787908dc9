use clay_config::ClayConfig;

// Any setting type: a numeric PIN in `_PWD` or a `u64` in `_TOKEN` is still read as a secret.
#[derive(ClayConfig)]
struct Clay {
    #[clay(env = "VAULT_PWD")]
    vault_pin: u32,
    #[clay(env = "LICENSE_KEY")]
    license: u64,
}

fn main() {
    let _ = Clay::load();
}
