//! The runtime rules: environment-bound keys with a custom `[keys]` table, rotation
//! age, the `CLAY_CONFIG` settings file, `.env` in development only, the `CLAY_POLICY` re-check,
//! non-UTF-8 values, and warnings returned and emitted through `tracing`.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use clay_config::{ApiKey, ClayConfig, LoadError, Loaded};
use clay_config_tests::{Clay, days_ago, with_captured_tracing};

/// A struct checked against `ui/policies/require_prefix.toml` (custom prefixes, 30-day rotation).
#[derive(ClayConfig, Debug)]
#[clay(policy = "ui/policies/require_prefix.toml")]
struct Strict {
    #[clay(env = "STRICT_READ_KEY", scopes(development = ["read:*"], production = ["read:tables"]))]
    reader: Option<ApiKey>,
}

const LIVE_READ: &str = "sk_live_reader0123456789abcdefghij";
const LIVE_WRITE: &str = "sk_live_writer0123456789abcdefghij";
const TEST_READ: &str = "sk_test_reader0123456789abcdefghij";
const HOOK: &str = "whsec_c2VjcmV0LXdlYmhvb2sta2V5LXZhbHVl";

fn production(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let fresh = days_ago(1);
    let mut vars: Vec<(String, String)> = [
        ("CLAY_ENV", "production"),
        ("CLAY_READ_KEY", LIVE_READ),
        ("CLAY_WRITE_KEY", LIVE_WRITE),
        ("CLAY_WEBHOOK_SECRET", HOOK),
        ("CLAY_READ_KEY_ISSUED_AT", fresh.as_str()),
        ("CLAY_WRITE_KEY_ISSUED_AT", fresh.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    vars
}

fn staging(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = production(&[
        ("CLAY_ENV", "staging"),
        ("CLAY_READ_KEY", TEST_READ),
        ("CLAY_WRITE_KEY", "sk_test_writer0123456789abcdefghij"),
    ]);
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    vars
}

fn load(vars: Vec<(String, String)>) -> Result<Loaded<Clay>, LoadError> {
    Clay::load_from_with_report(vars)
}

fn messages(err: &LoadError) -> Vec<String> {
    err.problems().iter().map(ToString::to_string).collect()
}

fn warnings<T>(loaded: &Loaded<T>) -> Vec<String> {
    loaded.warnings.iter().map(ToString::to_string).collect()
}

fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path.to_str().expect("utf-8 temp path").to_owned()
}

// ---- environment-bound keys with the policy's own [keys] table ----

#[test]
fn custom_prefixes_and_require_prefix() {
    let err = Strict::load_from([("STRICT_READ_KEY", "sk_test_reader0123456789abcdefghij")])
        .expect_err("neither prefix, require_prefix = true");
    assert!(
        err.to_string().contains(
            "`STRICT_READ_KEY` is neither a live key (clay_live_…) nor a test key (clay_test_…), and the policy sets `require_prefix = true`"
        ),
        "{err}"
    );
    let err = Strict::load_from([("STRICT_READ_KEY", "clay_live_reader0123456789abcdef")])
        .expect_err("live key in development");
    assert!(
        err.to_string()
            .contains("holds a live key (clay_live_…) in development"),
        "{err}"
    );
    let strict = Strict::load_from([("STRICT_READ_KEY", "clay_test_reader0123456789abcdef")])
        .expect("a test key in development");
    assert!(strict.reader.expect("present").allows("read:x"));
}

// ---- rotation age ----

#[test]
fn overdue_key_is_an_error_in_production() {
    let old = days_ago(120);
    let err = load(production(&[("CLAY_READ_KEY_ISSUED_AT", &old)])).expect_err("overdue");
    let text = messages(&err).join("\n");
    assert!(
        text.contains("`CLAY_READ_KEY` was issued 120 days ago, past the 90-day rotation limit"),
        "{text}"
    );
}

#[test]
fn overdue_key_is_a_warning_elsewhere() {
    let old = days_ago(120);
    let loaded = load(staging(&[("CLAY_READ_KEY_ISSUED_AT", &old)])).expect("staging loads");
    let warnings = warnings(&loaded);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("issued 120 days ago, past the 90-day rotation limit"));
    assert_eq!(loaded.warnings[0].var(), Some("CLAY_READ_KEY"));
}

#[test]
fn key_near_its_limit_gets_a_warning() {
    let old = days_ago(80);
    let loaded = load(production(&[("CLAY_WRITE_KEY_ISSUED_AT", &old)])).expect("loads");
    assert_eq!(
        warnings(&loaded),
        ["`CLAY_WRITE_KEY` was issued 80 days ago: schedule rotation before day 90"]
    );
}

#[test]
fn the_policy_sets_the_rotation_ages() {
    let old = days_ago(25);
    let loaded = Strict::load_from_with_report([
        ("STRICT_READ_KEY", "clay_test_reader0123456789abcdef"),
        ("STRICT_READ_KEY_ISSUED_AT", old.as_str()),
    ])
    .expect("loads with a warning");
    assert!(warnings(&loaded)[0].contains("schedule rotation before day 30"));
}

#[test]
fn missing_issue_date_in_production_is_a_warning() {
    let mut vars = production(&[]);
    vars.retain(|(k, _)| k != "CLAY_WRITE_KEY_ISSUED_AT");
    let loaded = load(vars).expect("loads");
    let warnings = warnings(&loaded);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("age unknown: schedule rotation"),
        "{warnings:?}"
    );
    assert_eq!(loaded.warnings[0].var(), Some("CLAY_WRITE_KEY_ISSUED_AT"));
    // Not in development.
    let loaded =
        Clay::load_from_with_report([("CLAY_READ_KEY", TEST_READ), ("CLAY_WEBHOOK_SECRET", HOOK)])
            .expect("development");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn bad_or_future_issue_dates_are_errors() {
    for (value, expected) in [
        (
            "2026-13-45",
            "`CLAY_READ_KEY_ISSUED_AT` is not a date: expected YYYY-MM-DD",
        ),
        ("last tuesday", "is not a date"),
        ("2026-10-01T08:00:00", "a date and time without an offset"),
        ("2999-01-01", "is in the future"),
        ("2999-01-01T00:00:00Z", "is in the future"),
    ] {
        let err = load(production(&[("CLAY_READ_KEY_ISSUED_AT", value)])).expect_err(value);
        assert!(err.mentions("CLAY_READ_KEY_ISSUED_AT"), "{err}");
        assert!(err.to_string().contains(expected), "{value}: {err}");
        // The value is never echoed: it may be a secret pasted into the wrong variable.
        assert!(!err.to_string().contains(value), "{err}");
    }
    let rfc3339 = format!("{}T08:30:00+02:00", days_ago(3));
    load(production(&[("CLAY_READ_KEY_ISSUED_AT", &rfc3339)])).expect("RFC 3339 accepted");
}

// ---- settings file ----

#[test]
fn settings_precedence_variable_then_environment_table_then_default_then_attribute() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "clay.toml",
        "[default]\nbase_url = \"https://default.example\"\ntimeout_secs = 10\n\n[production]\nbase_url = \"https://production.example\"\n",
    );
    // The environment table beats [default]; [default] beats the attribute.
    let clay = load(production(&[("CLAY_CONFIG", &file)]))
        .expect("loads")
        .config;
    assert_eq!(clay.base_url, "https://production.example");
    assert_eq!(clay.timeout_secs, 10);
    // The variable beats the file.
    let clay = load(production(&[
        ("CLAY_CONFIG", &file),
        ("CLAY_BASE_URL", "https://var.example"),
    ]))
    .expect("loads")
    .config;
    assert_eq!(clay.base_url, "https://var.example");
    // No environment table: [default].
    let clay = load(staging(&[("CLAY_CONFIG", &file)]))
        .expect("loads")
        .config;
    assert_eq!(clay.base_url, "https://default.example");
    // No file: the attribute's default.
    let clay = load(staging(&[])).expect("loads").config;
    assert_eq!(clay.base_url, "https://api.clay.com");
    assert_eq!(clay.timeout_secs, 30);
}

#[test]
fn alias_tables_in_the_settings_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "clay.toml",
        "[prod]\nbase_url = \"https://prod.example\"\n",
    );
    let clay = load(production(&[("CLAY_CONFIG", &file)]))
        .expect("loads")
        .config;
    assert_eq!(clay.base_url, "https://prod.example");
}

#[test]
fn secrets_in_the_settings_file_are_refused_with_their_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "clay.toml",
        "[default]\ntimeout_secs = 5\n\n[production]\nreader = \"sk_live_pasted0123456789abcdefghij\"\nCLAY_WEBHOOK_SECRET = \"x\"\nbase_url = \"sk_live_pasted0123456789abcdefghij\"\n",
    );
    let err = load(production(&[("CLAY_CONFIG", &file)])).expect_err("secrets in file");
    let text = messages(&err);
    assert_eq!(text.len(), 3, "{text:?}");
    assert_eq!(
        text[0],
        format!(
            "`CLAY_CONFIG` {file}:5:1: `reader` is a secret (ApiKey `reader`): secrets come from environment variables, not from the settings file"
        )
    );
    // The position is kept typed, not only in the text.
    let lines: Vec<usize> = err
        .problems()
        .iter()
        .filter_map(|p| p.location().map(|l| l.line))
        .collect();
    assert_eq!(lines, [5, 6, 7]);
    assert!(
        text[1].starts_with(&format!(
            "`CLAY_CONFIG` {file}:6:1: `CLAY_WEBHOOK_SECRET` is a secret"
        )),
        "{text:?}"
    );
    assert!(
        text[2].starts_with(&format!(
            "`CLAY_CONFIG` {file}:7:1: the value of `base_url` contains a key"
        )),
        "{text:?}"
    );
    assert!(!err.to_string().contains("pasted0123"), "{err}");
}

#[test]
fn bad_settings_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (write_file(dir.path(), "empty.toml", "\n"), "is empty".to_owned()),
        (write_file(dir.path(), "broken.toml", "[default\nbase_url = 1\n"), ":1:9: ".to_owned()),
        (
            write_file(dir.path(), "unknown.toml", "[default]\nbase_ur = \"x\"\n"),
            ":2:1: unknown setting `base_ur` (settings of `Clay`: base_url, timeout_secs, region); did you mean `base_url`?".to_owned(),
        ),
        (
            write_file(dir.path(), "byvar.toml", "[default]\nCLAY_BASE_URL = \"x\"\n"),
            "settings are keyed by field name: use `base_url`".to_owned(),
        ),
        (
            write_file(dir.path(), "env.toml", "[prodution]\nbase_url = \"x\"\n"),
            ":1:1: `[prodution]` is not an environment of the built-in table; did you mean `production`?".to_owned(),
        ),
        (
            write_file(
                dir.path(),
                "twice.toml",
                "[production]\nbase_url = \"a\"\n[prod]\nbase_url = \"b\"\n",
            ),
            ":3:1: `[prod]` names `production` a second time: keep one table per environment"
                .to_owned(),
        ),
        (
            write_file(dir.path(), "array.toml", "[default]\nbase_url = [1]\n"),
            "`base_url` must be a string, number, boolean or date".to_owned(),
        ),
        (
            write_file(dir.path(), "flat.toml", "base_url = \"x\"\n"),
            "`base_url` is not a table".to_owned(),
        ),
        (
            dir.path().to_str().expect("utf-8").to_owned(),
            "it is a directory, not a regular file".to_owned(),
        ),
        (
            dir.path().join("nope.toml").to_str().expect("utf-8").to_owned(),
            "names no file".to_owned(),
        ),
    ];
    for (path, expected) in cases {
        let err = load(production(&[("CLAY_CONFIG", &path)])).expect_err(&path);
        assert!(err.mentions("CLAY_CONFIG"), "{err}");
        assert!(
            err.to_string().contains(&expected),
            "{path}: expected {expected:?} in\n{err}"
        );
    }
}

// ---- runtime policy ----

#[test]
fn a_tighter_runtime_policy_refuses_what_was_compiled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = write_file(
        dir.path(),
        "ops.toml",
        "[environments.production]\nallow = [\"read:tables\"]\n",
    );
    let err = load(production(&[("CLAY_POLICY", &policy)])).expect_err("write:rows refused");
    assert_eq!(
        messages(&err),
        [format!(
            "[excessive_scope] scope `write:rows` exceeds the least-privilege table for `production` (allows: read:tables; {policy}) (runtime policy from `CLAY_POLICY`; key `CLAY_WRITE_KEY`)"
        )]
    );
    assert!(err.mentions("CLAY_WRITE_KEY"));
    // The same file says nothing about staging, which keeps the built-in row: staging loads.
    load(staging(&[("CLAY_POLICY", &policy)])).expect("staging is unaffected");
}

#[test]
fn a_looser_runtime_policy_never_widens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = write_file(
        dir.path(),
        "loose.toml",
        "[environments.production]\nallow = [\"*:*\"]\nwildcards = true\nseparate_read_write = false\n",
    );
    let clay = load(production(&[("CLAY_POLICY", &policy)]))
        .expect("loads")
        .config;
    assert_eq!(clay.reader.scopes().to_string(), "read:tables");
    assert!(!clay.reader.allows("read:people"));
}

#[test]
fn a_broken_runtime_policy_is_a_load_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = write_file(
        dir.path(),
        "bad.toml",
        "[environments.production]\nalow = []\n",
    );
    let err = load(production(&[("CLAY_POLICY", &policy)])).expect_err("invalid policy");
    assert!(
        err.to_string()
            .contains(&format!("`CLAY_POLICY` {policy}:2:1: ")),
        "{err}"
    );
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().expect("utf-8");
    let err = load(production(&[("CLAY_POLICY", missing)])).expect_err("missing policy");
    assert!(err.to_string().contains("names no file"), "{err}");
    assert!(!err.to_string().contains("missing.toml"), "{err}");
}

// ---- tracing ----

#[test]
fn load_emits_each_warning_through_tracing() {
    let old = days_ago(80);
    let (clay, output) =
        with_captured_tracing(|| Clay::load_from(production(&[("CLAY_READ_KEY_ISSUED_AT", &old)])));
    let clay = clay.expect("loads");
    assert_eq!(clay.reader.environment(), "production");
    assert!(output.contains("WARN"), "{output}");
    assert!(
        output.contains("`CLAY_READ_KEY` was issued 80 days ago: schedule rotation before day 90"),
        "{output}"
    );
    assert!(!output.contains("reader0123"), "{output}");
}

// ---- the process environment: .env and non-UTF-8 values, in a child process ----

/// Runs the `clay-load-child` helper binary with exactly the given environment and working
/// directory; returns its stdout.
fn run_child(mode: &str, dir: &Path, env: &[(&str, &std::ffi::OsStr)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clay-load-child"));
    command
        .current_dir(dir)
        .env_clear()
        .env("CLAY_TEST_CHILD", mode);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run the child");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dotenv_is_read_in_development_without_overriding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut dotenv = std::fs::File::create(dir.path().join(".env")).expect(".env");
    writeln!(
        dotenv,
        "CLAY_READ_KEY={TEST_READ}\nCLAY_WEBHOOK_SECRET=from-dotenv-file-value"
    )
    .expect("write");
    // The variable set in the environment wins over .env.
    let out = run_child("dev", dir.path(), &[("CLAY_WEBHOOK_SECRET", HOOK.as_ref())]);
    let reader = clay_config::Fingerprint::of(TEST_READ);
    let hook = clay_config::Fingerprint::of(HOOK);
    assert!(
        out.contains(&format!(
            "CHILD dev OK env=development reader={reader} hook={hook}"
        )),
        "{out}"
    );
}

#[test]
fn dotenv_is_ignored_with_a_warning_outside_development() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(".env"),
        format!("CLAY_READ_KEY={LIVE_READ}\n"),
    )
    .expect(".env");
    let fresh = days_ago(1);
    let out = run_child(
        "prod",
        dir.path(),
        &[
            ("CLAY_ENV", "production".as_ref()),
            ("CLAY_WRITE_KEY", LIVE_WRITE.as_ref()),
            ("CLAY_WEBHOOK_SECRET", HOOK.as_ref()),
            ("CLAY_WRITE_KEY_ISSUED_AT", fresh.as_ref()),
        ],
    );
    // CLAY_READ_KEY only exists in .env, which production does not read.
    assert!(out.contains("missing `CLAY_READ_KEY`"), "{out}");
    let out = run_child(
        "prod",
        dir.path(),
        &[
            ("CLAY_ENV", "production".as_ref()),
            ("CLAY_READ_KEY", LIVE_READ.as_ref()),
            ("CLAY_WRITE_KEY", LIVE_WRITE.as_ref()),
            ("CLAY_WEBHOOK_SECRET", HOOK.as_ref()),
            ("CLAY_READ_KEY_ISSUED_AT", fresh.as_ref()),
            ("CLAY_WRITE_KEY_ISSUED_AT", fresh.as_ref()),
        ],
    );
    assert!(out.contains("CHILD prod OK env=production"), "{out}");
    assert!(
        out.contains("CHILD WARNING `.env` found in the working directory and ignored"),
        "{out}"
    );
}

#[test]
fn a_non_utf8_value_names_its_variable() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = std::ffi::OsStr::from_bytes(b"sk_test_\xff\xfe0123456789abcdefghij");
    let out = run_child(
        "utf8",
        dir.path(),
        &[
            ("CLAY_READ_KEY", bad),
            ("CLAY_WEBHOOK_SECRET", HOOK.as_ref()),
        ],
    );
    assert!(out.contains("`CLAY_READ_KEY` is not valid UTF-8"), "{out}");
    assert!(
        !out.contains("missing `CLAY_READ_KEY`"),
        "reported once: {out}"
    );
}
