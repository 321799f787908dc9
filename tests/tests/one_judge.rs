//! One definition of a key, every surface agreeing: one table of values goes through the
//! derive's attribute check (clay-policy's `check`), the loader (as a key and as a setting), the
//! audit log's redactor and `cargo clay scan`'s built-in rules. On "does this value contain a
//! key" they agree row by row; a property test does the same on generated values.
//!
//! The high-entropy judgement (a long random token without a prefix) is separate: the derive's
//! attribute check applies it, the loader's settings and the scanner's key rules do not, the
//! redactor only when asked. The `entropy` column says which rows only it catches.

use cargo_clay::scan::SecretRules;
use clay_config::ClayConfig;
use clay_config::audit::Redactor;
use clay_config::policy::{
    EnvScopes, FieldDecl, FieldKind, KeyDefinition, KeyKind, Policy, Rule, check, contains_key,
    has_padding_or_control,
};
use clay_config_tests::Clay;
use proptest::prelude::*;

/// A value, whether it contains a key by the one definition, and whether only the
/// high-entropy judgement calls it a credential.
struct Row {
    value: String,
    key: bool,
    entropy_only: bool,
}

fn row(value: &str, key: bool) -> Row {
    Row {
        value: value.to_owned(),
        key,
        entropy_only: false,
    }
}

fn table() -> Vec<Row> {
    let mut rows = vec![
        row("sk_live_4eC39HqLyjWDarjtT1zdp7dc", true),
        row("sk_test_4eC39HqLyjWDarjtT1zdp7dc", true),
        row("sk_live_abcd1234efgh", true),
        row("sk_test_abcd1234", true),
        row(" sk_live_abcd1234efgh", true),
        row("sk_live_abcd1234efgh\n", true),
        row("\u{feff}sk_live_abcd1234efgh", true),
        row("Bearer sk_live_abcd1234efgh", true),
        row("https://api.clay.com/?key=sk_test_abcd1234efgh", true),
        row("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true),
        row("prefixsk_live_abcd1234efgh", true),
        row("sk_live_***", false),
        row("sk_live_<your-key-here>", false),
        row("sk_live_xxxxxxxxxxxx", false),
        row("sk_live_", false),
        row("sk_test_abc123", false),
        row("whsec_", false),
        row("550e8400-e29b-41d4-a716-446655440000", false),
        row("https://api.clay.com/v1/tables", false),
        row("enrichment", false),
        row("read:tables", false),
        row("/tmp/x-12345/settings", false),
        row("CLAY_WEBHOOK_SECRET_PRODUCTION", false),
    ];
    rows.push(Row {
        value: "q8Zr1vLx0PaW3mTn7YbKc2Ud".to_owned(),
        key: false,
        entropy_only: true,
    });
    rows
}

/// The derive: a setting's `default` holding the value is `hardcoded_secret`.
fn derive_flags(value: &str) -> bool {
    let field = FieldDecl {
        name: "label".into(),
        kind: FieldKind::Setting,
        optional: false,
        env: Some("CLAY_LABEL".into()),
        scopes: None,
        default: Some(value.into()),
        public: false,
    };
    check(&[field], Policy::builtin())
        .iter()
        .any(|f| f.rule == Rule::HardcodedSecret)
}

/// The derive: a scope literal holding the value is `hardcoded_secret`.
fn derive_flags_scope(value: &str) -> bool {
    let field = FieldDecl {
        name: "reader".into(),
        kind: FieldKind::ApiKey,
        optional: true,
        env: Some("CLAY_READ_KEY".into()),
        scopes: Some(vec![EnvScopes {
            environment: "development".into(),
            scopes: vec![value.into()],
        }]),
        default: None,
        public: false,
    };
    check(&[field], Policy::builtin())
        .iter()
        .any(|f| f.rule == Rule::HardcodedSecret)
}

/// The loader: the value as a setting is refused as holding a key.
fn loader_refuses_setting(value: &str) -> bool {
    let result = Clay::load_from([
        ("CLAY_READ_KEY", "sk_test_reader0123456789abcdefghij"),
        (
            "CLAY_WEBHOOK_SECRET",
            "whsec_c2VjcmV0LXdlYmhvb2sta2V5LXZhbHVl",
        ),
        ("CLAY_REGION", value),
    ]);
    match result {
        Ok(_) => false,
        Err(err) => {
            let text = err.to_string();
            assert!(
                !text.contains(value.trim()) || value.trim().is_empty(),
                "the loader echoed {value:?}: {text}"
            );
            text.contains("contains a key")
        }
    }
}

/// The redactor: the text changes.
fn redactor_redacts(value: &str) -> bool {
    let mut text = value.to_owned();
    Redactor::default().redact_string(&mut text);
    text != value
}

/// The scanner: a built-in key rule fires.
fn scanner_finds(rules: &SecretRules, value: &str) -> bool {
    let mut found = false;
    rules.find_all(value.as_bytes(), false, |hit| {
        found |= !rules.rules()[hit.rule].key_prefixes.is_empty();
    });
    found
}

#[test]
fn every_surface_agrees_on_every_row() {
    let rules = SecretRules::new(Policy::builtin().keys()).expect("the built-in rules");
    let definition = KeyDefinition::builtin();
    let mut disagreements = Vec::new();
    for row in table() {
        let value = row.value.as_str();
        let surfaces = [
            ("definition", definition.contains_key(value)),
            (
                "contains_key",
                contains_key(value, Policy::builtin().keys()),
            ),
            ("loader (setting)", loader_refuses_setting(value)),
            ("redactor", redactor_redacts(value)),
            ("scanner", scanner_finds(&rules, value)),
        ];
        for (surface, verdict) in surfaces {
            if verdict != row.key {
                disagreements.push(format!("{surface} says {verdict} for {value:?}"));
            }
        }
        // The derive applies both judgements: a key, or a high-entropy token.
        let derive_expected = row.key || row.entropy_only;
        if derive_flags(value) != derive_expected {
            disagreements.push(format!("derive (default) disagrees on {value:?}"));
        }
        // A scope literal is judged the same way (a malformed one is still reported, but as
        // hardcoded_secret only when it holds a credential).
        if value.trim() == value && derive_flags_scope(value) != derive_expected {
            disagreements.push(format!("derive (scope) disagrees on {value:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn padded_keys_are_refused_by_the_loader_as_keys() {
    for row in table().iter().filter(|r| r.key) {
        let value = row.value.as_str();
        // As a key value in development: refused when padded or when a live key is in it
        // anywhere (glued or embedded); a value holding only test keys loads.
        let result = Clay::load_from([
            ("CLAY_READ_KEY", value),
            (
                "CLAY_WEBHOOK_SECRET",
                "whsec_c2VjcmV0LXdlYmhvb2sta2V5LXZhbHVl",
            ),
        ]);
        let holds_live = KeyDefinition::builtin()
            .find_keys(value.as_bytes())
            .any(|found| found.kind == KeyKind::Live);
        let expected_ok = !has_padding_or_control(value) && !holds_live;
        assert_eq!(result.is_ok(), expected_ok, "{value:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Generated values: keys with any body, padding, surrounding text; the definition, the
    /// redactor and the scanner agree on each.
    #[test]
    fn generated_values_get_one_verdict(
        // No `:` or `=`: a `token=…` assignment is the redactor's separate, name-based rule.
        before in "[ a-zA-Z/?&\t]{0,6}",
        prefix in prop::sample::select(&["sk_live_", "sk_test_", "whsec_", "sk_", ""][..]),
        body in "[A-Za-z0-9*<>_+/-]{0,14}",
        after in "[ ,;\n\r]{0,3}",
    ) {
        let value = format!("{before}{prefix}{body}{after}");
        let rules = SecretRules::new(Policy::builtin().keys()).expect("the built-in rules");
        let key = KeyDefinition::builtin().contains_key(&value);
        prop_assert_eq!(redactor_redacts(&value), key, "redactor on {:?}", value);
        prop_assert_eq!(scanner_finds(&rules, &value), key, "scanner on {:?}", value);
        if !value.contains(['\n', '\r', '\t']) {
            prop_assert_eq!(loader_refuses_setting(&value), key, "loader on {:?}", value);
        }
    }
}
