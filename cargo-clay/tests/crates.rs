//! `cargo clay check`, `scopes` (the probe) and `audit`'s scope item on real crates that
//! depend on this workspace's clay-config. These build clay-config once, into a target
//! directory shared by the tests (`CARGO_TARGET_TMPDIR`).

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn target_dir() -> String {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("clay-fixtures")
        .to_string_lossy()
        .into_owned()
}

const GOOD: &str = r#"//! A service's config.
use clay_config::{ApiKey, ClayConfig, WebhookSecret};

pub mod config {
    use super::*;

    /// Keys of the service.
    #[derive(Debug, ClayConfig)]
    pub struct Clay {
        #[clay(env = "CLAY_READ_KEY", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
        pub reader: ApiKey,
        #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
        pub writer: Option<ApiKey>,
        #[clay(env = "CLAY_WEBHOOK_SECRET")]
        pub webhook_secret: WebhookSecret,
    }
}
"#;

const BAD: &str = r#"use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
pub struct Clay {
    #[clay(env = "CLAY_WRITE_KEY", scopes(development = ["write:*"], staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: ApiKey,
}
"#;

/// A crate depending on this workspace's clay-config, built with the workspace's lock file.
fn fixture_crate(name: &str, lib: &str) -> Repo {
    let repo = Repo::new();
    let clay_config = workspace().join("clay-config");
    repo.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\nclay-config = {{ path = {:?} }}\n",
            clay_config.to_string_lossy()
        ),
    );
    repo.write("src/lib.rs", lib);
    repo.write(".gitignore", "/target\n.env\n.env.local\n.env.*.local\n");
    if let Ok(lock) = std::fs::read(workspace().join("Cargo.lock")) {
        repo.write("Cargo.lock", lock);
    }
    repo.commit_all("a service");
    repo
}

fn in_crate(repo: &Repo, args: &[&str]) -> Run {
    let target = target_dir();
    cargo_clay_env(repo.path(), args, &[("CARGO_TARGET_DIR", target.as_str())])
}

#[test]
fn check_reports_the_derive_findings_with_their_position() {
    let repo = fixture_crate("fixture_bad", BAD);
    let manifest = repo.path().join("Cargo.toml");
    let manifest = manifest.to_str().expect("utf-8 path");
    let run = in_crate(
        &repo,
        &["check", "--manifest-path", manifest, "--format", "json"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    let findings = run.json()["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["rule"], "excessive_scope");
    assert_eq!(finding["file"], "src/lib.rs");
    let (line, column) = BAD
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("[\"write:*\"]").map(|c| (i + 1, c + 2)))
        .expect("the scope literal");
    assert_eq!(finding["line"], line);
    assert_eq!(finding["column"], column);
    assert!(
        finding["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[excessive_scope] scope `write:*` exceeds"),
        "{finding}"
    );

    let text = in_crate(&repo, &["check", "--manifest-path", manifest]);
    assert_eq!(text.status, 1);
    assert!(
        text.stdout.contains(&format!(
            "src/lib.rs:{line}:{column}: error[excessive_scope]"
        )),
        "{}",
        text.stdout
    );
    let sarif = in_crate(
        &repo,
        &["check", "--manifest-path", manifest, "--format", "sarif"],
    );
    assert_eq!(sarif.status, 1);
    let value = sarif.json();
    assert_valid_sarif(&value);
    assert_eq!(value["runs"][0]["results"][0]["ruleId"], "excessive_scope");
    assert_eq!(
        value["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .map(Vec::len),
        Some(clay_policy::Rule::ALL.len())
    );

    // The audit's "minimal scopes" item is the same finding.
    let audit = in_crate(&repo, &["audit", "--no-history", "--format", "json"]);
    assert_eq!(audit.status, 1, "{audit:?}");
    let report = audit.json();
    let scopes = report["checklist"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == "minimal_scopes"))
        .cloned()
        .expect("the scopes item");
    assert_eq!(scopes["status"], "fail");
    assert_eq!(scopes["evidence"][0]["file"], "src/lib.rs");
    assert_eq!(scopes["evidence"][0]["line"], line);
}

#[test]
fn check_and_scopes_on_a_clean_crate() {
    let repo = fixture_crate("fixture_good", GOOD);
    let manifest = repo.path().join("Cargo.toml");
    let manifest = manifest.to_str().expect("utf-8 path");
    let run = in_crate(&repo, &["check", "--manifest-path", manifest]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("check: no findings"));

    // The default: the derive's own export during `cargo check`.
    let run = in_crate(
        &repo,
        &["scopes", "--manifest-path", manifest, "--format", "json"],
    );
    assert_eq!(run.status, 0, "{run:?}");
    let value = run.json();
    assert_eq!(
        value["manifests"].as_array().map(Vec::len),
        Some(1),
        "{value:#}"
    );
    let exported = &value["manifests"][0];
    assert_eq!(exported["type"], "Clay");
    assert_eq!(exported["crate"], "fixture_good");
    assert_eq!(exported["source"], "src/lib.rs");
    assert_eq!(exported["policy"]["name"], "built-in table");
    assert_eq!(exported["fields"][0]["env"], "CLAY_READ_KEY");
    assert_eq!(
        exported["fields"][0]["scopes"]["production"],
        serde_json::json!(["read:tables"])
    );
    assert_eq!(exported["fields"][1]["optional"], true);
    assert_eq!(exported["fields"][2]["kind"], "WebhookSecret");
    // Twice in a row: the derive runs again although nothing changed.
    let again = in_crate(
        &repo,
        &["scopes", "--manifest-path", manifest, "--format", "json"],
    );
    assert_eq!(again.json()["manifests"], value["manifests"]);

    // The probe gives the same declarations, and the policy's environments.
    let run = in_crate(
        &repo,
        &[
            "scopes",
            "--probe",
            "--manifest-path",
            manifest,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.status, 0, "{run:?}");
    let value = run.json();
    let probed = &value["manifests"][0];
    assert_eq!(probed["fields"], exported["fields"]);
    assert_eq!(probed["source"], "src/lib.rs");
    assert_eq!(
        probed["environments"],
        serde_json::json!(["development", "staging", "production"])
    );

    // From inside the crate, as `cargo clay scopes`.
    let table = in_crate(&repo, &["scopes"]);
    assert_eq!(table.status, 0, "{table:?}");
    let reader_row = table
        .stdout
        .lines()
        .find(|l| l.contains("CLAY_READ_KEY"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        reader_row.contains("read:*") && reader_row.contains("read:tables"),
        "{}",
        table.stdout
    );
}

#[test]
fn scopes_of_a_binary_crate() {
    let repo = fixture_crate("fixture_bin", "");
    repo.remove("src/lib.rs");
    repo.write(
        "src/main.rs",
        "use clay_config::{ApiKey, ClayConfig};\n\n#[derive(ClayConfig)]\n#[allow(dead_code)]\nstruct Svc {\n    \
         #[clay(env = \"SVC_KEY\", scopes(development = [\"read:*\"], staging = [\"read:*\"], production = [\"read:rows\"]))]\n    \
         key: ApiKey,\n}\n\nfn main() {}\n",
    );
    let run = in_crate(&repo, &["scopes", "--format", "json"]);
    assert_eq!(run.status, 0, "{run:?}");
    let value = run.json();
    assert_eq!(value["manifests"][0]["type"], "Svc");
    assert_eq!(value["manifests"][0]["source"], "src/main.rs");
    assert_eq!(
        value["manifests"][0]["fields"][0]["scopes"]["production"],
        serde_json::json!(["read:rows"])
    );
    // The probe needs a library, and says so.
    let run = in_crate(&repo, &["scopes", "--probe"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("--manifest-json"), "{}", run.stderr);
}

/// `main.rs` of a crate with two binaries, both declaring a `Svc` that reads `SVC_KEY`.
const MAIN_SVC: &str = r#"use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[allow(dead_code)]
struct Svc {
    #[clay(env = "SVC_KEY", scopes(development = ["read:*"], staging = ["read:tables", "read:rows"], production = ["read:tables", "read:rows"]))]
    key: ApiKey,
}

fn main() {}
"#;

/// `src/bin/other.rs`: the same struct name and variable, other scopes, another line.
const OTHER_SVC: &str = r#"//! Another binary.

use clay_config::{ApiKey, ClayConfig};

/// Its own config.
#[derive(ClayConfig)]
#[allow(dead_code)]
struct Svc {
    #[clay(env = "SVC_KEY", scopes(staging = ["read:tables", "read:people"], production = ["read:tables", "read:people"]))]
    key: Option<ApiKey>,
}

fn main() {}
"#;

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("the needle is in the text")
}

#[test]
fn scopes_usage_places_each_struct_in_its_own_file_in_policy_order() {
    use clay_config::ApiKey;
    use clay_config::audit::{AuditLog, Durability, FileSink};
    use clay_config::policy::ScopeSet;
    use std::sync::Arc;

    let repo = fixture_crate("fixture_bins", "");
    repo.remove("src/lib.rs");
    repo.write("src/main.rs", MAIN_SVC);
    repo.write("src/bin/other.rs", OTHER_SVC);
    repo.commit_all("two binaries");

    // The service ran in staging and production and only ever read tables.
    let log_dir = tempfile::tempdir().expect("temp dir");
    let log_path = log_dir.path().join("audit.log");
    let log = AuditLog::builder()
        .sink(Arc::new(
            FileSink::open(&log_path, Durability::None).expect("open"),
        ))
        .build();
    for environment in ["staging", "production"] {
        let mut key = ApiKey::new(
            "SVC_KEY",
            test_key(),
            environment,
            ScopeSet::parse(["read:tables"]).expect("scopes"),
        );
        log.attach_key(&mut key);
        key.require("read:tables").expect("granted");
    }
    log.flush().expect("flush");
    let log_arg = log_path.to_str().expect("utf-8 path");

    let run = in_crate(&repo, &["scopes", "--usage", log_arg, "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    let value = run.json();
    let main_line = line_of(MAIN_SVC, "struct Svc");
    let other_line = line_of(OTHER_SVC, "struct Svc");
    let manifests = value["manifests"].as_array().cloned().unwrap_or_default();
    let places: Vec<(String, u64, String)> = manifests
        .iter()
        .map(|m| {
            (
                m["source"].as_str().unwrap_or_default().to_owned(),
                m["line"].as_u64().unwrap_or_default(),
                m["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (
                "src/bin/other.rs".to_owned(),
                other_line as u64,
                "bin other".to_owned()
            ),
            (
                "src/main.rs".to_owned(),
                main_line as u64,
                "bin fixture_bins".to_owned()
            ),
        ],
        "{value:#}"
    );

    // Each unused scope at its own struct, environments in the policy's order.
    let findings = value["findings"].as_array().cloned().unwrap_or_default();
    let got: Vec<(String, u64, bool, bool)> = findings
        .iter()
        .map(|f| {
            let message = f["message"].as_str().unwrap_or_default();
            (
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
                message.contains(" in staging,"),
                message.contains("bin other") || message.contains("bin fixture_bins"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("src/bin/other.rs".to_owned(), other_line as u64, true, true),
            (
                "src/bin/other.rs".to_owned(),
                other_line as u64,
                false,
                true
            ),
            ("src/main.rs".to_owned(), main_line as u64, true, true),
            ("src/main.rs".to_owned(), main_line as u64, false, true),
        ],
        "{findings:#?}"
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("read:people") && m.contains("bin other")),
        "{findings:#?}"
    );
    assert!(
        findings[2]["message"]
            .as_str()
            .is_some_and(|m| m.contains("read:rows") && m.contains("bin fixture_bins")),
        "{findings:#?}"
    );

    // The table: one label per struct, columns in the policy's order.
    let table = in_crate(&repo, &["scopes"]);
    assert_eq!(table.status, 0, "{table:?}");
    assert!(
        table
            .stdout
            .contains(&format!("Svc [src/main.rs:{main_line}, bin fixture_bins]")),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains(&format!("Svc [src/bin/other.rs:{other_line}, bin other]")),
        "{}",
        table.stdout
    );
    let header = table
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("key "))
        .unwrap_or_default();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["key", "variable", "development", "staging", "production"],
        "{}",
        table.stdout
    );
}

#[test]
fn check_gives_one_finding_per_bad_scope() {
    // `read:*` is a wildcard and outside the table; `raed:tables` is outside the table and not
    // a read. Two bad scopes, two findings: no excessive_scope on the wildcard, no
    // redundant_scope blaming the good `read:tables`, no mixed_read_write from the typo.
    let lib = r#"use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
pub struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:*", "read:tables", "raed:tables"]))]
    pub reader: Option<ApiKey>,
}
"#;
    let repo = fixture_crate("fixture_two_bad_scopes", lib);
    repo.write(
        "clay-policy.toml",
        "[environments.production]\nallow = [\"read:tables\"]\n",
    );
    repo.commit_all("a policy");
    let manifest = repo.path().join("Cargo.toml");
    let manifest = manifest.to_str().expect("utf-8 path");
    let run = in_crate(
        &repo,
        &["check", "--manifest-path", manifest, "--format", "json"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    let findings = run.json()["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let line = line_of(lib, "raed:tables");
    let column_of = |literal: &str| {
        lib.lines()
            .nth(line - 1)
            .and_then(|l| l.find(literal))
            .map(|c| c + 1)
            .expect("the literal")
    };
    let got: Vec<(String, u64, u64)> = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
                f["column"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "wildcard_scope".to_owned(),
                line as u64,
                column_of("\"read:*\"") as u64
            ),
            (
                "excessive_scope".to_owned(),
                line as u64,
                column_of("\"raed:tables\"") as u64
            ),
        ],
        "{findings:#?}"
    );
    assert!(
        findings[1]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("did you mean `read:tables`?")),
        "{findings:#?}"
    );
}
