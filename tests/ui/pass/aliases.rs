use clay_config::{ApiKey, ClayConfig};

/// `dev`, `stage` and `prod` stand for the full names, in attributes as in `CLAY_ENV`.
#[derive(ClayConfig)]
pub struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(dev = ["read:*"], stage = ["read:*"], prod = ["read:tables"]))]
    pub reader: ApiKey,
    #[clay(env = "CLAY_WRITE_KEY", scopes(r#prod = ["write:rows"]))]
    pub writer: Option<ApiKey>,
}

fn main() {
    let manifest = Clay::manifest();
    assert_eq!(manifest.fields[0].scopes_in("production"), ["read:tables"]);
    assert_eq!(manifest.fields[0].scopes_in("development"), ["read:*"]);
    assert_eq!(manifest.fields[1].scopes_in("production"), ["write:rows"]);
}
