//! End to end: derived configs loaded with `load_from` in each environment, and every loading
//! loading rule.

use clay_config::{ClayConfig, LoadError};
use clay_config_tests::{Clay, days_ago};

const TEST_READ: &str = "sk_test_reader0123456789abcdefghij";
const TEST_WRITE: &str = "sk_test_writer0123456789abcdefghij";
const LIVE_READ: &str = "sk_live_reader0123456789abcdefghij";
const LIVE_WRITE: &str = "sk_live_writer0123456789abcdefghij";
const HOOK: &str = "whsec_c2VjcmV0LXdlYmhvb2sta2V5LXZhbHVl";

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn production(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let issued = days_ago(10);
    let mut all = vars(&[
        ("CLAY_ENV", "production"),
        ("CLAY_READ_KEY", LIVE_READ),
        ("CLAY_WRITE_KEY", LIVE_WRITE),
        ("CLAY_WEBHOOK_SECRET", HOOK),
        ("CLAY_READ_KEY_ISSUED_AT", &issued),
        ("CLAY_WRITE_KEY_ISSUED_AT", &issued),
    ]);
    for (k, v) in extra {
        all.retain(|(key, _)| key != k);
        all.push(((*k).to_owned(), (*v).to_owned()));
    }
    all
}

fn error_of(result: Result<Clay, LoadError>) -> LoadError {
    result.expect_err("expected a load error")
}

#[test]
fn development_is_the_default_and_least_privileged() {
    let clay = Clay::load_from([("CLAY_READ_KEY", TEST_READ), ("CLAY_WEBHOOK_SECRET", HOOK)])
        .expect("development loads");
    assert_eq!(clay.reader.environment(), "development");
    assert_eq!(clay.reader.scopes().to_string(), "read:*");
    assert!(clay.reader.allows("read:tables.people"));
    assert!(!clay.reader.allows("write:rows"));
    assert!(clay.writer.is_none());
    assert!(clay.secret.is_none());
    assert_eq!(clay.base_url, "https://api.clay.com");
    assert_eq!(clay.timeout_secs, 30);
    assert_eq!(clay.region, None);
    assert_eq!(clay.reader.expose_secret(), TEST_READ);
    assert_eq!(clay.webhook_secret.expose_secret(), HOOK);
    assert_eq!(clay.webhook_secret.var(), Some("CLAY_WEBHOOK_SECRET"));
}

#[test]
fn staging_grants_the_staging_scopes() {
    let clay = Clay::load_from([
        ("CLAY_ENV", "staging"),
        ("CLAY_READ_KEY", TEST_READ),
        ("CLAY_WRITE_KEY", TEST_WRITE),
        ("CLAY_WEBHOOK_SECRET", HOOK),
        ("CLAY_REGION", "eu"),
    ])
    .expect("staging loads");
    let writer = clay.writer.as_ref().expect("writer in staging");
    assert_eq!(writer.scopes().to_string(), "write:limited");
    assert!(writer.require("write:limited").is_ok());
    assert!(writer.require("write:rows").is_err());
    assert_eq!(clay.region.as_deref(), Some("eu"));
}

#[test]
fn production_grants_only_the_production_scopes() {
    let clay = Clay::load_from(production(&[("CLAY_BASE_URL", "https://eu.clay.example")]))
        .expect("production loads");
    assert_eq!(clay.reader.scopes().to_string(), "read:tables");
    assert!(clay.reader.allows("read:tables"));
    assert!(!clay.reader.allows("read:people"));
    let writer = clay.writer.as_ref().expect("writer in production");
    let denied = writer
        .require("read:tables")
        .expect_err("writer cannot read");
    assert_eq!(
        denied.to_string(),
        "`CLAY_WRITE_KEY` may not be used for `read:tables` in `production` (granted: write:rows)"
    );
    assert_eq!(denied.var(), "CLAY_WRITE_KEY");
    assert_eq!(denied.scope(), "read:tables");
    assert_eq!(denied.environment(), "production");
    assert_eq!(clay.base_url, "https://eu.clay.example");
}

#[test]
fn aliases_select_environments() {
    let clay = Clay::load_from(production(&[("CLAY_ENV", "prod")])).expect("prod alias");
    assert_eq!(clay.reader.environment(), "production");
    let clay = Clay::load_from([
        ("CLAY_ENV", "dev"),
        ("CLAY_READ_KEY", TEST_READ),
        ("CLAY_WEBHOOK_SECRET", HOOK),
    ])
    .expect("dev alias");
    assert_eq!(clay.reader.environment(), "development");
}

#[test]
fn unknown_environment_lists_the_valid_names() {
    let err = error_of(Clay::load_from(production(&[("CLAY_ENV", "prodution")])));
    let text = err.to_string();
    // The value is not echoed: an unknown name may be a secret pasted into the wrong variable.
    assert!(!text.contains("prodution"), "{text}");
    assert!(text.contains("value not shown"), "{text}");
    assert!(text.contains("did you mean `production`"), "{text}");
    assert!(text.contains("development, staging, production"), "{text}");
    assert!(err.mentions("CLAY_ENV"));
}

#[test]
fn environment_with_spaces_or_capitals_is_refused_with_a_hint() {
    for raw in ["Production ", "production ", "PRODUCTION"] {
        let err = error_of(Clay::load_from(production(&[("CLAY_ENV", raw)])));
        let text = err.to_string();
        assert!(
            text.contains("did you mean `production`"),
            "{raw:?}: {text}"
        );
        assert!(text.contains("no surrounding spaces"), "{raw:?}: {text}");
    }
}

#[test]
fn every_missing_variable_is_reported_at_once() {
    let err = error_of(Clay::load_from(vars(&[("CLAY_ENV", "production")])));
    for var in ["CLAY_READ_KEY", "CLAY_WRITE_KEY", "CLAY_WEBHOOK_SECRET"] {
        assert!(err.mentions(var), "{var} missing from {err}");
    }
    assert_eq!(err.problems().len(), 3, "{err}");
    assert!(err.to_string().contains("3 problems"), "{err}");
}

#[test]
fn a_key_without_scopes_here_must_not_be_set() {
    let err = error_of(Clay::load_from([
        ("CLAY_READ_KEY", TEST_READ),
        ("CLAY_WRITE_KEY", TEST_WRITE),
        ("CLAY_WEBHOOK_SECRET", HOOK),
    ]));
    let text = err.to_string();
    assert!(
        text.contains("`CLAY_WRITE_KEY` is set, but `writer` has no scopes in `development`"),
        "{text}"
    );
}

#[test]
fn live_keys_only_where_the_policy_allows_them() {
    let err = error_of(Clay::load_from([
        ("CLAY_READ_KEY", LIVE_READ),
        ("CLAY_WEBHOOK_SECRET", HOOK),
    ]));
    assert!(
        err.to_string()
            .contains("a live key (sk_live_…) in development"),
        "{err}"
    );
    let err = error_of(Clay::load_from(production(&[("CLAY_READ_KEY", TEST_READ)])));
    assert!(
        err.to_string()
            .contains("holds a test key (sk_test_…) in production"),
        "{err}"
    );
    // Other key formats are accepted unless the policy sets `require_prefix`.
    let clay = Clay::load_from([
        ("CLAY_READ_KEY", "clay-key-0123456789abcdef"),
        ("CLAY_WEBHOOK_SECRET", HOOK),
    ])
    .expect("unprefixed key accepted");
    assert!(clay.reader.allows("read:x"));
}

#[test]
fn two_keys_with_one_value_are_refused() {
    let err = error_of(Clay::load_from(production(&[(
        "CLAY_WRITE_KEY",
        LIVE_READ,
    )])));
    let text = err.to_string();
    assert!(
        text.contains("`CLAY_READ_KEY` and `CLAY_WRITE_KEY` hold the same value"),
        "{text}"
    );
    assert!(!text.contains(LIVE_READ), "{text}");
}

#[test]
fn empty_or_blank_secrets_are_refused() {
    for blank in ["", "   ", "\t\n"] {
        let err = error_of(Clay::load_from(production(&[(
            "CLAY_WEBHOOK_SECRET",
            blank,
        )])));
        assert!(
            err.to_string().contains("`CLAY_WEBHOOK_SECRET` is empty"),
            "{err}"
        );
    }
}

#[test]
fn settings_are_parsed_with_from_str() {
    let err = error_of(Clay::load_from(production(&[(
        "CLAY_TIMEOUT_SECS",
        "soon",
    )])));
    let text = err.to_string();
    assert!(
        text.contains("setting `timeout_secs` from `CLAY_TIMEOUT_SECS` is not a valid `u64`"),
        "{text}"
    );
    let clay = Clay::load_from(production(&[("CLAY_TIMEOUT_SECS", "5")])).expect("valid");
    assert_eq!(clay.timeout_secs, 5);
}

#[test]
fn nothing_secret_reaches_debug_or_errors() {
    let clay =
        Clay::load_from(production(&[("CLAY_SECRET", "hunter2hunter2hunter2")])).expect("loads");
    let shown = format!("{clay:?}");
    for secret in [LIVE_READ, LIVE_WRITE, HOOK, "hunter2"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("CLAY_READ_KEY"), "{shown}");
    let err = error_of(Clay::load_from(production(&[
        ("CLAY_ENV", "development"),
        ("CLAY_WRITE_KEY", LIVE_READ),
    ])));
    assert!(!err.to_string().contains("reader0123456789"), "{err}");
    assert!(!format!("{err:?}").contains("reader0123456789"), "{err:?}");
}

#[test]
fn manifest_lists_every_declaration() {
    let manifest = Clay::manifest();
    assert_eq!(manifest.type_name, "Clay");
    assert_eq!(manifest.fields.len(), 7);
    let reader = manifest.field("reader").expect("reader");
    assert_eq!(reader.env, "CLAY_READ_KEY");
    assert_eq!(reader.scopes_in("production"), ["read:tables"]);
    assert!(manifest.policy.is_builtin());
    assert_eq!(manifest.policy.sha256().len(), 64);
    let findings = clay_config::policy::check(
        &manifest.declarations(),
        manifest.policy.policy().expect("policy"),
    );
    assert!(findings.is_empty(), "{findings:?}");
}

/// The webhook secret a config loads verifies deliveries, through the re-exported `http` types.
#[test]
fn a_loaded_webhook_secret_verifies_a_delivery() {
    use clay_config::webhook::http::{HeaderMap, HeaderValue};
    use clay_config::webhook::{Scheme, WebhookVerifier, clay_hex};

    let clay = Clay::load_from([("CLAY_READ_KEY", TEST_READ), ("CLAY_WEBHOOK_SECRET", HOOK)])
        .expect("development loads");
    let body = br#"{"event":"row.created"}"#;
    let signature = clay_hex::sign(&clay.webhook_secret, body).expect("sign");
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-clay-signature",
        HeaderValue::from_str(&signature).expect("header"),
    );
    let verifier = WebhookVerifier::new(Scheme::ClayHex, clay.webhook_secret.clone());
    assert!(verifier.verify(&headers, body).is_ok());
    assert!(verifier.verify(&headers, b"tampered").is_err());
}

/// The separate-accounts rule is about API keys; other secrets are not compared.
#[test]
fn only_api_keys_are_compared_for_shared_values() {
    let clay = Clay::load_from([
        ("CLAY_READ_KEY", TEST_READ),
        ("CLAY_WEBHOOK_SECRET", HOOK),
        ("CLAY_SECRET", HOOK),
    ])
    .expect("a secret may equal the webhook secret");
    assert_eq!(
        clay.secret.as_ref().map(|s| s.fingerprint()),
        Some(clay.webhook_secret.fingerprint())
    );
}
