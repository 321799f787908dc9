//! `cargo clay policy diff [REV]` on real git repositories: the policy committed at a revision
//! against the working tree's.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const COMMITTED: &str = r#"[environments.development]
allow = ["read:*"]

[environments.staging]
allow = ["read:*", "write:limited"]

[environments.production]
allow = ["read:tables", "write:rows"]

[rotation]
max_age_days = 90
warn_age_days = 75
"#;

/// `write:*` in production, wildcards and mixed keys allowed there, a longer rotation.
const WIDER: &str = r#"[environments.development]
allow = ["read:*"]

[environments.staging]
allow = ["read:*", "write:limited"]

[environments.production]
allow = ["read:tables", "write:*"]
wildcards = true
separate_read_write = false

[rotation]
max_age_days = 180
warn_age_days = 75
"#;

/// `write:rows` gone from production, live keys refused in staging (already), nothing wider.
const NARROWER: &str = r#"[environments.development]
allow = ["read:*"]

[environments.staging]
allow = ["read:*"]

[environments.production]
allow = ["read:tables"]

[rotation]
max_age_days = 60
warn_age_days = 45
"#;

fn repo_with_policy(policy: &str) -> Repo {
    let repo = Repo::new();
    repo.write("clay-policy.toml", policy);
    repo.commit_all("the policy");
    repo
}

fn changes(run: &Run) -> Vec<(String, String, String, String, String)> {
    let value = run.json();
    value["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let text = |key: &str| match &c[key] {
                Value::String(s) => s.clone(),
                Value::Null => "-".to_owned(),
                other => other.to_string(),
            };
            (
                text("direction"),
                text("environment"),
                text("setting"),
                text("before"),
                text("after"),
            )
        })
        .collect()
}

fn row(
    direction: &str,
    env: &str,
    setting: &str,
    before: &str,
    after: &str,
) -> (String, String, String, String, String) {
    (
        direction.to_owned(),
        env.to_owned(),
        setting.to_owned(),
        before.to_owned(),
        after.to_owned(),
    )
}

#[test]
fn a_wider_working_tree_policy_exits_1_and_says_what_widens() {
    let repo = repo_with_policy(COMMITTED);
    repo.write("clay-policy.toml", WIDER);
    let run = cargo_clay(repo.path(), &["policy", "diff", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(run.json()["widens"], true);
    assert_eq!(run.json()["old"], "HEAD:clay-policy.toml");
    assert_eq!(
        changes(&run),
        [
            // `write:*` covers `write:rows`: nothing narrows.
            row("widens", "production", "allow", "", "write:*"),
            row("widens", "production", "wildcards", "false", "true"),
            row(
                "widens",
                "production",
                "separate_read_write",
                "true",
                "false"
            ),
            row("widens", "-", "rotation.max_age_days", "90", "180"),
        ]
    );

    let text = cargo_clay(repo.path(), &["policy", "diff"]);
    assert_eq!(text.status, 1);
    assert!(
        text.stdout.contains("widens   production   allow"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("4 changes widen the policy"),
        "{}",
        text.stdout
    );

    let markdown = cargo_clay(
        repo.path(),
        &["policy", "diff", "HEAD", "--format", "markdown"],
    );
    assert_eq!(markdown.status, 1);
    assert!(
        markdown.stdout.starts_with("### clay-config policy diff"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("| **widens** | `production` | `allow` | – | `write:*` |"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("**4 changes widen what keys may do.**")
    );

    // Committed, the same policy is no change at HEAD, and the old one is at HEAD~1.
    repo.commit_all("wider");
    let same = cargo_clay(repo.path(), &["policy", "diff", "--format", "json"]);
    assert_eq!(same.status, 0, "{same:?}");
    assert!(changes(&same).is_empty());
    let against_parent = cargo_clay(
        repo.path(),
        &["policy", "diff", "HEAD~1", "--format", "json"],
    );
    assert_eq!(against_parent.status, 1);
    assert_eq!(changes(&against_parent).len(), 4);
}

#[test]
fn a_named_policy_file_is_compared_at_the_revision() {
    let repo = Repo::new();
    repo.write("config/tight.toml", COMMITTED);
    repo.commit_all("a policy named by the attribute");
    repo.write("config/tight.toml", WIDER);
    let run = cargo_clay(
        repo.path(),
        &[
            "policy",
            "diff",
            "--policy",
            "config/tight.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(run.json()["old"], "HEAD:config/tight.toml");
    assert_eq!(changes(&run).len(), 4, "{}", run.stdout);
}

#[test]
fn a_narrower_policy_exits_0() {
    let repo = repo_with_policy(COMMITTED);
    repo.write("clay-policy.toml", NARROWER);
    let run = cargo_clay(repo.path(), &["policy", "diff", "--format", "json"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(run.json()["widens"], false);
    assert_eq!(
        changes(&run),
        [
            row("narrows", "staging", "allow", "write:limited", ""),
            row("narrows", "production", "allow", "write:rows", ""),
            row("narrows", "-", "rotation.max_age_days", "90", "60"),
            row("narrows", "-", "rotation.warn_age_days", "75", "45"),
        ]
    );
}

#[test]
fn a_policy_new_in_the_working_tree_is_compared_with_the_built_in_table() {
    let repo = Repo::new();
    repo.write("README.md", "a service\n");
    repo.commit_all("no policy yet");
    repo.write("clay-policy.toml", WIDER);
    let run = cargo_clay(repo.path(), &["policy", "diff", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.json()["old"].as_str().is_some_and(
            |old| old.starts_with("built-in table (clay-policy.toml does not exist at HEAD)")
        ),
        "{}",
        run.stdout
    );
    assert!(changes(&run).contains(&row("widens", "production", "wildcards", "false", "true")));
}

#[test]
fn bad_revisions_and_broken_policies_are_usage_errors() {
    let repo = repo_with_policy(COMMITTED);
    let run = cargo_clay(repo.path(), &["policy", "diff", "no-such-rev"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(
        run.stderr.contains("`no-such-rev` is not a git revision"),
        "{}",
        run.stderr
    );

    let option = cargo_clay(
        repo.path(),
        &["policy", "diff", "--upload-pack=touch /tmp/x"],
    );
    assert_eq!(option.status, 2, "{option:?}");

    repo.write(
        "clay-policy.toml",
        "[environments.production]\nallow = [\"read:tables\"]\nunknown = 1\n",
    );
    let broken = cargo_clay(repo.path(), &["policy", "diff"]);
    assert_eq!(broken.status, 2, "{broken:?}");
    assert!(
        broken.stderr.contains("clay-policy.toml"),
        "{}",
        broken.stderr
    );

    let plain = Repo::plain();
    plain.write("clay-policy.toml", COMMITTED);
    let outside = cargo_clay(plain.path(), &["policy", "diff"]);
    assert_eq!(outside.status, 2, "{outside:?}");
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

#[test]
fn lists_the_declarations_the_new_policy_rejects() {
    let repo = repo_with_policy(COMMITTED);
    repo.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"fixture_policy_diff\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\nclay-config = {{ path = {:?} }}\n",
            workspace().join("clay-config").to_string_lossy()
        ),
    );
    repo.write(
        "src/lib.rs",
        r#"use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
pub struct Clay {
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,
}
"#,
    );
    repo.write(".gitignore", "/target\n");
    if let Ok(lock) = std::fs::read(workspace().join("Cargo.lock")) {
        repo.write("Cargo.lock", lock);
    }
    repo.commit_all("a service");
    repo.write("clay-policy.toml", NARROWER);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clay-fixtures");
    let run = cargo_clay_env(
        repo.path(),
        &["policy", "diff", "--format", "json"],
        &[("CARGO_TARGET_DIR", target.to_str().expect("utf-8 path"))],
    );
    assert_eq!(run.status, 0, "{run:?}");
    let rejected = run.json()["rejected"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rules: Vec<(&str, bool)> = rejected
        .iter()
        .map(|r| (r["rule"].as_str().unwrap_or_default(), r["new"] == true))
        .collect();
    assert_eq!(
        rules,
        [("excessive_scope", true), ("excessive_scope", true)],
        "{rejected:#?}"
    );
    let messages: Vec<&str> = rejected
        .iter()
        .filter_map(|r| r["message"].as_str())
        .collect();
    for scope in ["write:limited", "write:rows"] {
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with(&format!("[excessive_scope] scope `{scope}` exceeds"))),
            "{messages:#?}"
        );
    }
    let text = cargo_clay_env(
        repo.path(),
        &["policy", "diff", "--no-declarations"],
        &[("CARGO_TARGET_DIR", target.to_str().expect("utf-8 path"))],
    );
    assert_eq!(text.status, 0);
    assert!(
        !text.stdout.contains("declarations the new policy rejects"),
        "{}",
        text.stdout
    );
}
