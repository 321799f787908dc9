//! `require!` on scopes that some environment's declaration covers: wildcards, a scope declared
//! only in staging, value and reference receivers, `ApiKey` and `Option<ApiKey>`, a function
//! taking the config, and a macro passing the config through.
use clay_config::{ApiKey, ClayConfig, ScopeDenied};

#[derive(ClayConfig)]
#[clay(policy = "tests/ui/policies/require.toml")]
pub struct Clay {
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:tables.*"], production = ["read:tables.rows"]))]
    pub reader: ApiKey,
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,
    #[clay(env = "CLAY_ADMIN_KEY", scopes(staging = ["*:tables"]))]
    pub r#type: Option<ApiKey>,
}

fn reader(clay: &Clay) -> Result<&ApiKey, ScopeDenied> {
    // `read:*` in development covers it.
    clay_config::require!(clay.reader, "read:people")
}

fn limited(clay: &Clay) -> Result<&ApiKey, ScopeDenied> {
    // Declared only in staging: any environment counts at build time.
    clay_config::require!(clay.writer, "write:limited")
}

macro_rules! rows {
    ($clay:expr) => {
        clay_config::require!($clay.reader, "read:tables.rows.*")
    };
}

fn main() {
    let staging = Clay::load_from([
        ("CLAY_ENV", "staging"),
        ("CLAY_READ_KEY", "sk_test_0123456789abcdefghijklmn"),
        ("CLAY_WRITE_KEY", "sk_test_nmlkjihgfedcba9876543210"),
        ("CLAY_ADMIN_KEY", "sk_test_abcdefghijklmn0123456789"),
    ])
    .unwrap();
    assert!(limited(&staging).is_ok());
    assert!(reader(&staging).is_err());
    assert!(rows!(staging).is_ok());
    assert!(rows!(&&staging).is_ok());
    assert!(clay_config::require!(staging.r#type, "delete:tables").is_ok());
    assert!(clay_config::require!(Box::new(&staging).reader, "read:tables.rows").is_ok());

    let development = Clay::load_from([("CLAY_READ_KEY", "sk_test_0123456789abcdefghijklmn")]).unwrap();
    let denied = limited(&development).unwrap_err();
    assert!(denied.is_key_absent());
    assert_eq!(denied.var(), "CLAY_WRITE_KEY");
    let key: &ApiKey = reader(&development).unwrap();
    assert_eq!(key.var(), "CLAY_READ_KEY");
}
