//! No leaks, proven: for random secrets, nothing the crate prints (`Debug` of the config and of
//! each key, `LoadError` and warning `Display`/`Debug`, `tracing` output) contains the secret
//! or any 8-character window of it.
//!
//! Windows that lie entirely inside the policy's public key prefix (`sk_live_`, `sk_test_`) are
//! not secret and are skipped: messages name the prefix on purpose ("a live key (sk_live_…)").

use clay_config::ClayConfig;
use clay_config_tests::{Clay, with_captured_tracing};
use proptest::prelude::*;

fn assert_no_window(output: &str, secret: &str, prefix_len: usize) {
    let bytes = secret.as_bytes();
    for start in 0..bytes.len().saturating_sub(7) {
        if start + 8 <= prefix_len {
            continue;
        }
        let window = &secret[start..start + 8];
        assert!(
            !output.contains(window),
            "window {window:?} of a secret appears in:\n{output}"
        );
    }
}

/// Everything a load prints: the result's Debug and Display, warnings, and tracing output.
fn everything_printed(vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let ((), traced) = with_captured_tracing(|| {
        match Clay::load_from(vars.iter().cloned()) {
            Ok(clay) => {
                out.push_str(&format!(
                    "{clay:?}\n{:?}\n{:?}\n{:?}\n",
                    clay.reader, clay.webhook_secret, clay.secret
                ));
                if let Some(writer) = &clay.writer {
                    out.push_str(&format!("{writer:?}\n"));
                    if let Err(denied) = writer.require("admin:everything") {
                        out.push_str(&format!("{denied}\n{denied:?}\n"));
                    }
                }
            }
            Err(err) => out.push_str(&format!("{err}\n{err:?}\n")),
        }
        if let Ok(loaded) = Clay::load_from_with_report(vars.iter().cloned()) {
            for warning in &loaded.warnings {
                out.push_str(&format!("{warning}\n{warning:?}\n"));
            }
        }
    });
    out.push_str(&traced);
    out
}

fn body() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{24,48}"
}

fn var(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_successful_load_prints_no_secret(read in body(), write in body(), hook in body(), other in body()) {
        let (read, write, other) = (format!("sk_live_{read}"), format!("sk_live_{write}"), format!("s3cr3t-{other}"));
        let hook = format!("whsec_{hook}");
        let old = "2020-01-01".to_owned();
        // Staging would refuse live keys; production with an old write key is an error, so use
        // production with fresh dates for success and with old dates for errors below.
        let vars = vec![
            var("CLAY_ENV", "production"),
            var("CLAY_READ_KEY", &read),
            var("CLAY_WRITE_KEY", &write),
            var("CLAY_WEBHOOK_SECRET", &hook),
            var("CLAY_SECRET", &other),
        ];
        let printed = everything_printed(&vars);
        prop_assert!(printed.contains("CLAY_READ_KEY"), "{}", printed);
        for (secret, prefix) in [(&read, 8), (&write, 8), (&hook, 6), (&other, 0)] {
            assert_no_window(&printed, secret, prefix);
        }
        let mut failing = vars.clone();
        failing.push(var("CLAY_READ_KEY_ISSUED_AT", &old));
        failing.push(var("CLAY_WRITE_KEY", &read)); // same value twice
        let printed = everything_printed(&failing);
        prop_assert!(printed.contains("hold the same value"), "{}", printed);
        assert_no_window(&printed, &read, 8);
    }

    #[test]
    fn refusals_and_warnings_print_no_secret(read in body(), hook in body()) {
        let live = format!("sk_live_{read}");
        let test = format!("sk_test_{read}");
        let hook = format!("whsec_{hook}");
        // A live key in development, a test key in production: both refused by prefix.
        for vars in [
            vec![var("CLAY_READ_KEY", &live), var("CLAY_WEBHOOK_SECRET", &hook)],
            vec![var("CLAY_ENV", "production"), var("CLAY_READ_KEY", &test), var("CLAY_WRITE_KEY", &live), var("CLAY_WEBHOOK_SECRET", &hook)],
            // A key set where it has no scopes.
            vec![var("CLAY_READ_KEY", &test), var("CLAY_WRITE_KEY", &live), var("CLAY_WEBHOOK_SECRET", &hook)],
            // Overdue in staging: a warning, emitted through tracing by load().
            vec![var("CLAY_ENV", "staging"), var("CLAY_READ_KEY", &test), var("CLAY_READ_KEY_ISSUED_AT", "2020-01-01"), var("CLAY_WEBHOOK_SECRET", &hook)],
            // A key pasted into the loader's own variables by mistake.
            vec![var("CLAY_ENV", &live), var("CLAY_READ_KEY", &test), var("CLAY_WEBHOOK_SECRET", &hook)],
            vec![var("CLAY_CONFIG", &live), var("CLAY_POLICY", &hook), var("CLAY_READ_KEY", &test), var("CLAY_READ_KEY_ISSUED_AT", &live), var("CLAY_WEBHOOK_SECRET", &hook)],
        ] {
            let printed = everything_printed(&vars);
            assert_no_window(&printed, &live, 8);
            assert_no_window(&printed, &test, 8);
            assert_no_window(&printed, &hook, 6);
        }
    }
}
