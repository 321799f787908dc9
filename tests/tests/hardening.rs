//! The loader against hostile and careless input: padded keys, keys read from files
//! (`<VAR>_FILE`), keys pasted into settings or into the loader's own variables, files that are
//! not regular files, and warnings that must reach a service without a `tracing` subscriber.

use std::path::Path;
use std::process::Command;

use clay_config::{ClayConfig, LoadError};
use clay_config_tests::{Clay, days_ago};

const TEST_READ: &str = "sk_test_reader0123456789abcdefghij";
const LIVE_READ: &str = "sk_live_reader0123456789abcdefghij";
const LIVE_WRITE: &str = "sk_live_writer0123456789abcdefghij";
const HOOK: &str = "whsec_c2VjcmV0LXdlYmhvb2sta2V5LXZhbHVl";

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn development(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    with(
        owned(&[("CLAY_READ_KEY", TEST_READ), ("CLAY_WEBHOOK_SECRET", HOOK)]),
        extra,
    )
}

fn production(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let issued = days_ago(10);
    with(
        owned(&[
            ("CLAY_ENV", "production"),
            ("CLAY_READ_KEY", LIVE_READ),
            ("CLAY_WRITE_KEY", LIVE_WRITE),
            ("CLAY_WEBHOOK_SECRET", HOOK),
            ("CLAY_READ_KEY_ISSUED_AT", &issued),
            ("CLAY_WRITE_KEY_ISSUED_AT", &issued),
        ]),
        extra,
    )
}

/// `base` with `extra` set (an empty value removes the variable).
fn with(mut base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        base.retain(|(key, _)| key != k);
        if !v.is_empty() {
            base.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    base
}

fn error_of(result: Result<Clay, LoadError>) -> String {
    result.expect_err("expected a load error").to_string()
}

// ---- padding ----

#[test]
fn padded_keys_and_secrets_are_refused_without_showing_them() {
    for padded in [
        format!(" {LIVE_READ}"),
        format!("{LIVE_READ}\n"),
        format!("{LIVE_READ}\r\n"),
        format!("\t{LIVE_READ}"),
        format!("\u{feff}{LIVE_READ}"),
        format!("{LIVE_READ}\u{0}"),
    ] {
        // A live key in development, padded: refused for the padding (and it could never pass
        // as a test key either).
        let err =
            Clay::load_from(development(&[("CLAY_READ_KEY", &padded)])).expect_err("padded key");
        let text = err.to_string();
        assert!(err.mentions("CLAY_READ_KEY"), "{text}");
        assert!(
            text.contains("whitespace or a control character"),
            "{padded:?}: {text}"
        );
        assert!(!text.contains("reader0123"), "{text}");

        let err = error_of(Clay::load_from(development(&[(
            "CLAY_WEBHOOK_SECRET",
            &format!("{HOOK}\n"),
        )])));
        assert!(
            err.contains("`CLAY_WEBHOOK_SECRET` contains whitespace"),
            "{err}"
        );
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}

#[test]
fn a_trailing_newline_does_not_make_two_keys_distinct() {
    let err = error_of(Clay::load_from(production(&[(
        "CLAY_WRITE_KEY",
        &format!("{LIVE_READ}\n"),
    )])));
    assert!(
        err.contains("`CLAY_WRITE_KEY` contains whitespace"),
        "{err}"
    );
}

// ---- <VAR>_FILE ----

fn write_secret(dir: &Path, name: &str, content: &str, mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write secret file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    path.display().to_string()
}

#[test]
fn keys_are_read_from_files_without_one_trailing_newline() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in [
        ("lf", format!("{TEST_READ}\n")),
        ("crlf", format!("{TEST_READ}\r\n")),
        ("bare", TEST_READ.to_owned()),
    ] {
        let path = write_secret(dir.path(), name, &content, 0o600);
        let loaded = Clay::load_from_with_report(development(&[
            ("CLAY_READ_KEY", ""),
            ("CLAY_READ_KEY_FILE", &path),
        ]))
        .expect("loads from the file");
        assert_eq!(loaded.config.reader.expose_secret(), TEST_READ, "{name}");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
    // Only one newline goes: a second one is padding.
    let path = write_secret(dir.path(), "two", &format!("{TEST_READ}\n\n"), 0o600);
    let err = error_of(Clay::load_from(development(&[
        ("CLAY_READ_KEY", ""),
        ("CLAY_READ_KEY_FILE", &path),
    ])));
    assert!(err.contains("`CLAY_READ_KEY` contains whitespace"), "{err}");
    assert!(!err.contains("reader0123"), "{err}");
}

#[test]
fn secret_files_readable_by_others_warn_and_both_sources_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_secret(dir.path(), "hook", HOOK, 0o644);
    let loaded = Clay::load_from_with_report(development(&[
        ("CLAY_WEBHOOK_SECRET", ""),
        ("CLAY_WEBHOOK_SECRET_FILE", &path),
    ]))
    .expect("loads");
    assert_eq!(loaded.config.webhook_secret.expose_secret(), HOOK);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("readable by group or others (mode 644)")),
        "{warnings:?}"
    );

    let err = error_of(Clay::load_from(development(&[(
        "CLAY_WEBHOOK_SECRET_FILE",
        &path,
    )])));
    assert!(
        err.contains("`CLAY_WEBHOOK_SECRET` and `CLAY_WEBHOOK_SECRET_FILE` are both set"),
        "{err}"
    );
}

#[test]
fn a_secret_file_that_is_not_a_small_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let big = write_secret(dir.path(), "big", &"a".repeat(70 * 1024), 0o600);
    let err = error_of(Clay::load_from(development(&[
        ("CLAY_READ_KEY", ""),
        ("CLAY_READ_KEY_FILE", &big),
    ])));
    assert!(err.contains("larger than 64 KiB"), "{err}");

    let err = error_of(Clay::load_from(development(&[
        ("CLAY_READ_KEY", ""),
        ("CLAY_READ_KEY_FILE", "/dev/zero"),
    ])));
    assert!(err.contains("a device, not a regular file"), "{err}");

    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let err = error_of(Clay::load_from(development(&[
        ("CLAY_READ_KEY", ""),
        ("CLAY_READ_KEY_FILE", &fifo.display().to_string()),
    ])));
    assert!(err.contains("a FIFO, not a regular file"), "{err}");

    // A path that names nothing is not echoed: it may be a pasted secret.
    let err = error_of(Clay::load_from(development(&[
        ("CLAY_READ_KEY", ""),
        ("CLAY_READ_KEY_FILE", "hunter2-the-password"),
    ])));
    assert!(err.contains("`CLAY_READ_KEY_FILE` names no file"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // A key pasted where the path goes is refused and not shown.
    let err = error_of(Clay::load_from(development(&[
        ("CLAY_READ_KEY", ""),
        ("CLAY_READ_KEY_FILE", TEST_READ),
    ])));
    assert!(err.contains("looks like a key"), "{err}");
    assert!(!err.contains("reader0123"), "{err}");
}

#[test]
fn a_key_file_where_the_key_has_no_scopes_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_secret(dir.path(), "writer", TEST_READ, 0o600);
    let err = error_of(Clay::load_from(development(&[(
        "CLAY_WRITE_KEY_FILE",
        &path,
    )])));
    assert!(err.contains("has no scopes in `development`"), "{err}");
}

// ---- keys in settings and in the loader's own variables ----

#[test]
fn a_setting_holding_a_key_is_refused_from_every_source() {
    for value in [
        LIVE_READ.to_owned(),
        format!("Bearer {LIVE_READ}"),
        format!("https://api.clay.com/?key={LIVE_READ}"),
        format!(" {LIVE_READ}"),
    ] {
        let err = error_of(Clay::load_from(development(&[("CLAY_BASE_URL", &value)])));
        assert!(err.contains("contains a key (value not shown)"), "{err}");
        assert!(!err.contains("reader0123"), "{err}");
        let err = error_of(Clay::load_from(development(&[("CLAY_REGION", &value)])));
        assert!(err.contains("setting `region`"), "{err}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = dir.path().join("settings.toml");
    std::fs::write(&settings, format!("[default]\nregion = \"{LIVE_READ}\"\n")).expect("write");
    let err = error_of(Clay::load_from(development(&[(
        "CLAY_CONFIG",
        &settings.display().to_string(),
    )])));
    assert!(!err.contains("reader0123"), "{err}");
    assert!(err.contains("key"), "{err}");
    // Ordinary values stay: a hash, an id, a URL.
    let clay = Clay::load_from(development(&[
        ("CLAY_REGION", "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"),
        ("CLAY_BASE_URL", "https://eu.api.clay.com/v1"),
    ]))
    .expect("ordinary settings load");
    assert_eq!(
        clay.region.as_deref(),
        Some("4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b")
    );
}

#[test]
fn the_loaders_own_variables_never_echo_a_pasted_secret() {
    for var in ["CLAY_ENV", "CLAY_READ_KEY_ISSUED_AT"] {
        for pasted in ["hunter2", "correct-horse-battery", TEST_READ] {
            let err = error_of(Clay::load_from(development(&[(var, pasted)])));
            assert!(!err.contains(pasted), "{var}={pasted}: {err}");
            assert!(err.contains(var), "{err}");
        }
    }
    for var in ["CLAY_CONFIG", "CLAY_POLICY"] {
        let err = error_of(Clay::load_from(development(&[(var, "hunter2")])));
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("names no file"), "{err}");
        // A path is a path, not a key.
        let err = error_of(Clay::load_from(development(&[(
            var,
            "/tmp/x-12345/settings",
        )])));
        assert!(!err.contains("looks like a key"), "{err}");
    }
}

#[test]
fn settings_and_policy_files_that_are_not_regular_files_fail_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let fifo = fifo.display().to_string();
    for var in ["CLAY_CONFIG", "CLAY_POLICY"] {
        let err = error_of(Clay::load_from(development(&[(var, &fifo)])));
        assert!(err.contains("a FIFO, not a regular file"), "{var}: {err}");
        let err = error_of(Clay::load_from(development(&[(var, "/dev/zero")])));
        assert!(err.contains("a device, not a regular file"), "{var}: {err}");
    }
    let big = dir.path().join("big.toml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(1 << 20))).expect("write");
    let err = error_of(Clay::load_from(development(&[(
        "CLAY_POLICY",
        &big.display().to_string(),
    )])));
    assert!(err.contains("larger than 1 MiB"), "{err}");
}

// ---- warnings reach a service without a subscriber ----

fn run_load(env: &[(&str, &str)], tracing: bool) -> (String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_clay-load-child"));
    command
        .current_dir(dir.path())
        .env_clear()
        .env("CLAY_TEST_CHILD", "load");
    if tracing {
        command.env("CLAY_TEST_TRACING", "1");
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("run the child");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn load_prints_warnings_on_stderr_without_a_subscriber_and_through_tracing_with_one() {
    let fresh = days_ago(1);
    let env = [
        ("CLAY_ENV", "production"),
        ("CLAY_READ_KEY", LIVE_READ),
        ("CLAY_WRITE_KEY", LIVE_WRITE),
        ("CLAY_WRITE_KEY_ISSUED_AT", fresh.as_str()),
        ("CLAY_WEBHOOK_SECRET", HOOK),
    ];
    let (stdout, stderr) = run_load(&env, false);
    assert!(stdout.contains("CHILD load OK"), "{stdout}\n{stderr}");
    let expected =
        "clay-config: warning: `CLAY_READ_KEY` has no `CLAY_READ_KEY_ISSUED_AT`: age unknown";
    assert!(stderr.contains(expected), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line per warning: {stderr}");
    assert!(!stderr.contains("reader0123"), "{stderr}");

    let (stdout, stderr) = run_load(&env, true);
    assert!(!stderr.contains("clay-config: warning"), "{stderr}");
    assert!(stdout.contains("WARN"), "{stdout}");
    assert!(
        stdout.contains("`CLAY_READ_KEY` has no `CLAY_READ_KEY_ISSUED_AT`"),
        "{stdout}"
    );
}

#[test]
fn a_runtime_policy_holding_keys_never_echoes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[environments.development]\nallow = [\"read:*\", \"{LIVE_READ}\"]\n\n[environments.{LIVE_WRITE}]\nallow = [\"read:*\"]\n"
        ),
    )
    .expect("write");
    let err = Clay::load_from(development(&[(
        "CLAY_POLICY",
        &policy.display().to_string(),
    )]))
    .expect_err("an invalid runtime policy");
    let text = err.to_string();
    assert!(
        !text.contains("reader0123") && !text.contains("writer0123"),
        "{text}"
    );
    assert!(text.contains("<looks like a key, not shown>"), "{text}");
    // Each problem keeps its position.
    let lines: Vec<usize> = err
        .problems()
        .iter()
        .filter_map(|p| p.location().map(|l| l.line))
        .collect();
    assert_eq!(lines, [2, 4], "{text}");
}
