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
