//! A child process for the end-to-end tests that need a real process environment: the `.env`
//! file, non-UTF-8 values, and warnings printed to stderr by `load()`.
//!
//! `CLAY_TEST_CHILD=report` loads with `load_with_report` and prints the outcome and each
//! warning on stdout; `CLAY_TEST_CHILD=load` calls `load()`, which prints warnings itself (on
//! stderr without a `tracing` subscriber, through `tracing` with one: `CLAY_TEST_TRACING=1`
//! installs a fmt subscriber writing to stdout).

use clay_config::ClayConfig;
use clay_config_tests::Clay;

fn main() {
    let mode = std::env::var("CLAY_TEST_CHILD").unwrap_or_default();
    if mode == "load" {
        let load = Clay::load;
        let result = if std::env::var_os("CLAY_TEST_TRACING").is_some() {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(std::io::stdout)
                .with_ansi(false)
                .finish();
            tracing::subscriber::with_default(subscriber, load)
        } else {
            load()
        };
        match result {
            Ok(config) => println!("CHILD load OK reader={}", config.reader.fingerprint()),
            Err(err) => println!("CHILD load ERR {err}"),
        }
        return;
    }
    match Clay::load_with_report() {
        Ok(loaded) => {
            println!(
                "CHILD {mode} OK env={} reader={} hook={}",
                loaded.environment,
                loaded.config.reader.fingerprint(),
                loaded.config.webhook_secret.fingerprint()
            );
            for warning in &loaded.warnings {
                println!("CHILD WARNING {warning}");
            }
        }
        Err(err) => println!("CHILD {mode} ERR {err}"),
    }
}
