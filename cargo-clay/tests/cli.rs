//! The command line itself, `policy`, `audit-log verify` and `scopes --manifest-json`.

mod common;

use std::sync::Arc;

use clay_config::ApiKey;
use clay_config::audit::{AuditEntry, AuditLog, AuditSink, Durability, FileSink};
use clay_config::policy::ScopeSet;
use common::*;
use serde_json::json;

#[test]
fn usage_errors_exit_two_and_help_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = cargo_clay(dir.path(), &["--help"]);
    assert_eq!(run.status, 0, "{run:?}");
    for command in [
        "check",
        "scopes",
        "policy",
        "scan",
        "audit",
        "verify-key",
        "audit-log",
    ] {
        assert!(run.stdout.contains(command), "{command} missing from help");
    }
    assert_eq!(cargo_clay(dir.path(), &["frobnicate"]).status, 2);
    assert_eq!(
        cargo_clay(dir.path(), &["scan", "--format", "xml"]).status,
        2
    );
    assert_eq!(cargo_clay(dir.path(), &[]).status, 2);
    assert_eq!(cargo_clay(dir.path(), &["audit-log", "verify"]).status, 2);
    // Without the `clay` cargo passes, as a plain binary.
    let output = std::process::Command::new(bin())
        .args(["policy", "--default"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn policy_default_round_trips() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = cargo_clay(dir.path(), &["policy", "--default"]);
    assert_eq!(run.status, 0, "{run:?}");
    let parsed = clay_policy::Policy::from_toml(&run.stdout, "printed").expect("valid TOML policy");
    let builtin = clay_policy::Policy::builtin();
    assert_eq!(
        parsed.environment_names().collect::<Vec<_>>(),
        builtin.environment_names().collect::<Vec<_>>()
    );
    assert_eq!(parsed.rotation(), builtin.rotation());
}

#[test]
fn policy_in_force() {
    let repo = Repo::plain();
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n",
    );
    repo.write(
        "clay-policy.toml",
        "[environments.qa]\nallow = [\"read:tables.*\"]\n\n[rotation]\nmax_age_days = 30\nwarn_age_days = 20\n",
    );
    repo.write("src/nested/x.txt", "");
    // From a subdirectory: the crate root's file.
    let run = cargo_clay(&repo.path().join("src/nested"), &["policy"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("[environments.qa]"), "{}", run.stdout);
    assert!(run.stdout.contains("max_age_days = 30"));
    // --default ignores it.
    let run = cargo_clay(repo.path(), &["policy", "--default"]);
    assert!(!run.stdout.contains("[environments.qa]"));
    // An invalid file: every problem with line:column, exit 2.
    repo.write(
        "bad.toml",
        "[environments.production]\nallow = [\"read:tables\"]\nwildcard = true\n",
    );
    let run = cargo_clay(repo.path(), &["policy", "--policy", "bad.toml"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("bad.toml:3:1"), "{}", run.stderr);
}

#[test]
fn audit_log_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("audit.log");
    let sink = FileSink::open(&path, Durability::None).expect("open the log");
    for user in ["u-1", "u-2", "u-3"] {
        sink.write(&AuditEntry::builder("clay.api.call").user_id(user).build())
            .expect("write");
    }
    drop(sink);
    let file = path.to_str().expect("utf-8 path");
    let run = cargo_clay(dir.path(), &["audit-log", "verify", file]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(
        run.stdout.contains("ok: 3 entries verified"),
        "{}",
        run.stdout
    );

    let text = std::fs::read_to_string(&path).expect("read the log");
    std::fs::write(&path, text.replacen("u-2", "u-9", 1)).expect("tamper");
    let run = cargo_clay(dir.path(), &["audit-log", "verify", file]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stdout.contains("line 2"), "{}", run.stdout);
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", file, "--format", "json"],
    );
    assert_eq!(run.status, 1);
    let value = run.json();
    assert_eq!(value["ok"], false);
    assert_eq!(value["entries"], 1);
    assert_eq!(value["findings"][0]["line"], 2);
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", "audit.log", "--format", "sarif"],
    );
    assert_eq!(run.status, 1);
    assert_valid_sarif(&run.json());

    let run = cargo_clay(dir.path(), &["audit-log", "verify", "no-such.log"]);
    assert_eq!(run.status, 2, "{run:?}");
}

fn manifest_json() -> serde_json::Value {
    json!({"manifests": [{
        "type": "Clay",
        "policy": {"name": "built-in table", "sha256": "00"},
        "environments": ["development", "staging", "production"],
        "fields": [
            {"name": "reader", "env": "CLAY_READ_KEY", "kind": "ApiKey", "optional": false,
             "scopes": {"development": ["read:tables", "read:people"],
                        "staging": ["read:*"], "production": ["read:tables"]}},
            {"name": "writer", "env": "CLAY_WRITE_KEY", "kind": "ApiKey", "optional": true,
             "scopes": {"staging": ["write:limited"], "production": ["write:rows"]}},
            {"name": "base_url", "env": "CLAY_BASE_URL", "kind": "setting", "optional": false,
             "scopes": {}}
        ]
    }]})
}

#[test]
fn scopes_from_manifest_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, manifest_json().to_string()).expect("write");
    let file = manifest.to_str().expect("utf-8 path");
    let run = cargo_clay(dir.path(), &["scopes", "--manifest-json", file]);
    assert_eq!(run.status, 0, "{run:?}");
    let table = &run.stdout;
    assert!(table.contains("Clay (policy: built-in table)"), "{table}");
    let header = table.lines().nth(1).unwrap_or_default();
    assert!(
        header.contains("key") && header.contains("development") && header.contains("production")
    );
    let writer = table
        .lines()
        .find(|l| l.contains("CLAY_WRITE_KEY"))
        .unwrap_or_default();
    assert!(
        writer.contains("writer?") && writer.contains("write:limited") && writer.contains(" - ")
    );
    assert!(!table.contains("CLAY_BASE_URL"), "settings are not keys");

    let run = cargo_clay(
        dir.path(),
        &["scopes", "--manifest-json", file, "--format", "json"],
    );
    assert_eq!(run.status, 0);
    assert_eq!(
        run.json()["manifests"][0]["fields"][1]["scopes"]["production"][0],
        "write:rows"
    );
}

#[test]
fn scopes_never_used_according_to_the_audit_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, manifest_json().to_string()).expect("write");
    let log_path = dir.path().join("audit.log");
    let log = AuditLog::builder()
        .sink(Arc::new(
            FileSink::open(&log_path, Durability::None).expect("open"),
        ))
        .build();
    let mut reader = ApiKey::new(
        "CLAY_READ_KEY",
        test_key(),
        "development",
        ScopeSet::parse(["read:tables", "read:people"]).expect("scopes"),
    );
    log.attach_key(&mut reader);
    reader.require("read:tables").expect("granted");
    log.flush().expect("flush");
    let args = [
        "scopes",
        "--manifest-json",
        manifest.to_str().expect("utf-8"),
        "--usage",
        log_path.to_str().expect("utf-8"),
    ];
    let run = cargo_clay(dir.path(), &args);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&[test_key()]);
    let unused: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("[unused_scope]"))
        .collect();
    // Only development was seen in the log; only `read:people` went unused there.
    assert_eq!(unused.len(), 1, "{}", run.stdout);
    assert!(unused[0].contains("read:people") && unused[0].contains("development"));
    assert!(!unused[0].contains("read:tables,"));

    let mut sarif_args = args.to_vec();
    sarif_args.extend(["--format", "sarif"]);
    let run = cargo_clay(dir.path(), &sarif_args);
    assert_eq!(run.status, 1);
    assert_valid_sarif(&run.json());
}

#[test]
fn the_schema_rejects_invalid_sarif() {
    // The validation in the other tests means something: a result without a message fails.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/sarif-schema-2.1.0.json"),
        )
        .expect("schema"),
    )
    .expect("json");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let bad = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
        "results": [{"ruleId": "r"}]}]});
    assert!(!validator.is_valid(&bad));
    let good = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
        "results": [{"ruleId": "r", "message": {"text": "t"}}]}]});
    assert!(validator.is_valid(&good));
}
