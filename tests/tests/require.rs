//! `require!` at run time: the same answers as `ApiKey::require`, and a refusal for an absent
//! `Option<ApiKey>` that names the variable and never the value.

use clay_config::{ApiKey, ClayConfig, ScopeDenied};
use clay_config_tests::Clay;

const READ_KEY: &str = "sk_live_0123456789abcdefghijklmn";
const WRITE_KEY: &str = "sk_live_nmlkjihgfedcba9876543210";

fn production() -> Clay {
    Clay::load_from([
        ("CLAY_ENV", "production"),
        ("CLAY_READ_KEY", READ_KEY),
        ("CLAY_WRITE_KEY", WRITE_KEY),
        ("CLAY_WEBHOOK_SECRET", "whsec_dGVzdHNlY3JldA=="),
    ])
    .expect("a valid production config")
}

fn reader_for_people(clay: &Clay) -> Result<&ApiKey, ScopeDenied> {
    clay_config::require!(clay.reader, "read:people")
}

#[test]
fn agrees_with_require_on_a_loaded_key() {
    let clay = production();
    let key = clay_config::require!(clay.reader, "read:tables").expect("granted");
    assert_eq!(key.var(), "CLAY_READ_KEY");
    assert!(std::ptr::eq(key, &clay.reader));
    let by_reference = &clay;
    assert!(clay_config::require!(by_reference.writer, "write:rows").is_ok());

    // Declared for development and staging (`read:*`), not granted in production.
    let denied = reader_for_people(&clay).expect_err("not granted in production");
    assert_eq!(Err(denied), clay.reader.require("read:people").map(|_| ()));
}

#[test]
fn an_absent_optional_key_is_refused_by_name() {
    let development = Clay::load_from([
        ("CLAY_READ_KEY", "sk_test_0123456789abcdefghijklmn"),
        ("CLAY_WEBHOOK_SECRET", "whsec_dGVzdHNlY3JldA=="),
    ])
    .expect("a valid development config");
    assert!(development.writer.is_none());
    let denied = clay_config::require!(development.writer, "write:limited")
        .expect_err("no writer key in development");
    assert!(denied.is_key_absent());
    assert_eq!(denied.var(), "CLAY_WRITE_KEY");
    assert_eq!(denied.scope(), "write:limited");
    assert_eq!(
        denied.to_string(),
        "`CLAY_WRITE_KEY` may not be used for `write:limited`: no key is set for it in this environment"
    );
    // A present key's refusal is not an absent one.
    assert!(
        !reader_for_people(&production())
            .expect_err("denied")
            .is_key_absent()
    );
}

#[test]
fn refusals_never_show_a_value() {
    let clay = production();
    let denied = reader_for_people(&clay).expect_err("denied");
    for shown in [denied.to_string(), format!("{denied:?}")] {
        assert!(
            !shown.contains(READ_KEY) && !shown.contains("0123456789"),
            "{shown}"
        );
    }
}
