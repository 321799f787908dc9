//! Quick start: a config checked against the built-in least-privilege table at build time,
//! loaded for the environment `CLAY_ENV` names (development when unset), printing what each
//! key may do there.
//!
//! ```sh
//! cargo run -p clay-config --example quickstart
//! CLAY_ENV=production cargo run -p clay-config --example quickstart
//! ```
//!
//! Without the variables set, the example supplies demo test keys so it runs anywhere; in
//! your service, `Clay::load()` reads them from the environment.

use clay_config::{ApiKey, ClayConfig, Secret, WebhookSecret};

/// The service's Clay configuration. Change `production = ["read:tables"]` to
/// `production = ["read:*"]` and the build fails with `[wildcard_scope]`.
#[derive(ClayConfig, Debug)]
pub struct Clay {
    /// Reads enrichment tables.
    #[clay(env = "CLAY_READ_KEY",
           scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    pub reader: ApiKey,

    /// Writes rows; no key at all in development.
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,

    /// Verifies incoming webhooks.
    #[clay(env = "CLAY_WEBHOOK_SECRET")]
    pub webhook_secret: WebhookSecret,

    /// Optional shared secret.
    #[clay(env = "CLAY_SECRET")]
    pub secret: Option<Secret>,

    /// A non-secret setting: parsed with `FromStr` from its variable, else the default.
    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    pub base_url: String,
}

fn main() {
    let environment = std::env::var("CLAY_ENV").unwrap_or_else(|_| "development".to_owned());
    let live = clay_config::policy::canonical_environment(&environment) == "production";
    // Demo values, used only for variables the environment does not set.
    let demo_key = |name: &str| {
        let prefix = if live { "sk_live_" } else { "sk_test_" };
        format!("{prefix}demo{name}0123456789abcdefghij")
    };
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    let mut default = |var: &str, value: String| {
        if std::env::var_os(var).is_none() {
            vars.push((var.to_owned(), value));
        }
    };
    default("CLAY_READ_KEY", demo_key("reader"));
    if environment != "development" && environment != "dev" {
        default("CLAY_WRITE_KEY", demo_key("writer"));
    }
    default(
        "CLAY_WEBHOOK_SECRET",
        "whsec_ZGVtby13ZWJob29rLXNlY3JldA==".to_owned(),
    );
    if live {
        default("CLAY_READ_KEY_ISSUED_AT", today());
        default("CLAY_WRITE_KEY_ISSUED_AT", today());
    }

    let loaded = match Clay::load_from_with_report(vars) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    let clay = &loaded.config;
    let manifest = Clay::manifest();
    println!(
        "environment: {} (policy: {}, sha256 {})",
        loaded.environment,
        manifest.policy.name(),
        &manifest.policy.sha256()[..12]
    );
    print_key("reader", Some(&clay.reader));
    print_key("writer", clay.writer.as_ref());
    println!("base_url: {}", clay.base_url);
    for warning in &loaded.warnings {
        println!("warning: {warning}");
    }
    match clay.reader.require("write:rows") {
        Ok(_) => println!("reader may write rows"),
        Err(denied) => println!("refused: {denied}"),
    }
    println!("{:?}", clay.reader);
}

fn print_key(name: &str, key: Option<&ApiKey>) {
    match key {
        Some(key) => println!("{name}: {} may use {}", key.var(), key.scopes()),
        None => println!("{name}: no key in this environment"),
    }
}

fn today() -> String {
    clay_config::policy::utc_date(clay_config::policy::now_unix_seconds())
}
