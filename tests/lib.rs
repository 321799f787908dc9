//! Tests of clay-config across crates: `tests/ui/**` (trybuild, one folder per rule),
//! `tests/*.rs` (end-to-end loading, rebuild tracking). Nothing here is public API; the helpers
//! below are shared by the end-to-end tests.

use std::sync::{Arc, Mutex};

use clay_config::{ApiKey, ClayConfig, Secret, WebhookSecret};

/// The example config of the docs, with two more settings: what the end-to-end tests load.
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

    /// An optional shared secret.
    #[clay(env = "CLAY_SECRET")]
    pub secret: Option<Secret>,

    /// A setting with a string default.
    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    pub base_url: String,

    /// A setting with a number default.
    #[clay(env = "CLAY_TIMEOUT_SECS", default = 30)]
    pub timeout_secs: u64,

    /// An optional setting.
    #[clay(env = "CLAY_REGION")]
    pub region: Option<String>,
}

/// The date `days` days before today (UTC), as `YYYY-MM-DD`: an `_ISSUED_AT` value.
pub fn days_ago(days: i64) -> String {
    clay_config::policy::utc_date(clay_config::policy::now_unix_seconds() - days * 24 * 60 * 60)
}

/// Runs `f` with a `tracing` fmt subscriber installed and returns what it wrote.
pub fn with_captured_tracing<T>(f: impl FnOnce() -> T) -> (T, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let bytes = captured.0.lock().map(|b| b.clone()).unwrap_or_default();
    (result, String::from_utf8_lossy(&bytes).into_owned())
}

/// A writer that keeps what is written, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every Rust block of the README compiles and runs: the README is a doctest of this crate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
