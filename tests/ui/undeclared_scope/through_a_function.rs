use clay_config::{ApiKey, ClayConfig, ScopeDenied};

#[derive(ClayConfig)]
pub struct Clay {
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    pub reader: ApiKey,
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,
}

fn config() -> &'static Clay {
    static CLAY: std::sync::OnceLock<Clay> = std::sync::OnceLock::new();
    CLAY.get_or_init(|| Clay::load().unwrap())
}

pub fn export(clay: &Clay) -> Result<&ApiKey, ScopeDenied> {
    // Reading is declared; writing goes through the other key.
    clay_config::require!(clay.reader, "write:limited")
}

pub fn purge() -> Result<(), ScopeDenied> {
    clay_config::require!(config().writer, "admin:rows")?;
    Ok(())
}

fn main() {
    let _ = export(config());
    let _ = purge();
}
