//! `cargo clay scopes --unused` on a real crate that depends on this workspace's clay-config:
//! the declarations come from the derive, the uses from the crate's source. And the other end:
//! `cargo clay check` reports a `require!` of an undeclared scope at its literal.

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

const CONFIG: &str = r#"use clay_config::{ApiKey, ClayConfig, ScopeDenied};

#[derive(Debug, ClayConfig)]
#[clay(policy = "clay-policy.toml")]
pub struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(development = ["read:*"], staging = ["read:tables", "read:people"], production = ["read:tables"]))]
    pub reader: ApiKey,
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    pub writer: Option<ApiKey>,
}
"#;

const POLICY: &str = r#"[environments.development]
allow = ["read:*"]

[environments.staging]
allow = ["read:*", "write:limited"]

[environments.production]
allow = ["read:tables", "write:rows"]
"#;

/// Uses `read:tables` and `write:rows`; `read:people` and `write:limited` only in tests.
const USES: &str = r#"
pub fn export(clay: &Clay) -> Result<(), ScopeDenied> {
    clay_config::require!(clay.reader, "read:tables")?;
    clay.writer.as_ref().map(|_| ()).ok_or_else(|| unreachable!())?;
    let _ = clay_config::require!(clay.writer, "write:rows")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn people(clay: &super::Clay) {
        let _ = clay.reader.require("read:people");
        let _ = clay.writer.as_ref().map(|w| w.allows("write:limited"));
    }
}
"#;

fn fixture(name: &str, lib: &str) -> Repo {
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
    repo.write("clay-policy.toml", POLICY);
    repo.write("src/lib.rs", lib);
    repo.write(".gitignore", "/target\n");
    if let Ok(lock) = std::fs::read(workspace().join("Cargo.lock")) {
        repo.write("Cargo.lock", lock);
    }
    repo
}

fn unused(repo: &Repo, format: &str) -> Run {
    let target = target_dir();
    cargo_clay_env(
        repo.path(),
        &["scopes", "--unused", "--format", format],
        &[("CARGO_TARGET_DIR", target.as_str())],
    )
}

#[test]
fn reports_what_no_code_needs_and_nothing_when_all_is_needed() {
    let repo = fixture(
        "fixture_unused",
        &format!(
            "{CONFIG}{USES}\npub fn development(clay: &Clay) -> bool {{ clay.reader.allows(\"read:anything\") }}\n"
        ),
    );
    let run = unused(&repo, "json");
    assert_eq!(run.status, 1, "{run:?}");
    let findings = run.json()["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let messages: Vec<&str> = findings
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    // `read:people` in staging: only a test asks for it. `read:*` is needed by `read:tables`.
    assert!(
        messages[0]
            .starts_with("`Clay.reader` (`CLAY_READ_KEY`) declares `read:people` in staging"),
        "{messages:#?}"
    );
    assert!(
        messages[1]
            .starts_with("`Clay.writer` (`CLAY_WRITE_KEY`) declares `write:limited` in staging"),
        "{messages:#?}"
    );
    assert!(
        findings
            .iter()
            .all(|f| f["rule"] == "unused_scope" && f["file"] == "src/lib.rs")
    );
    // Each at the line that declares it.
    assert_eq!(findings[0]["line"], 6);
    assert_eq!(findings[1]["line"], 8);

    let sarif = unused(&repo, "sarif");
    assert_eq!(sarif.status, 1, "{sarif:?}");
    let value = sarif.json();
    assert_valid_sarif(&value);
    assert_eq!(
        value["runs"][0]["results"].as_array().map(Vec::len),
        Some(2)
    );

    let text = unused(&repo, "text");
    assert_eq!(text.status, 1);
    assert!(
        text.stdout.contains("declares `read:people` in staging"),
        "{}",
        text.stdout
    );

    // Once the code needs them, nothing is unused.
    repo.write(
        "src/lib.rs",
        format!(
            "{CONFIG}{USES}\npub fn staging(clay: &Clay) -> bool {{\n    \
             clay.reader.allows(\"read:people\") && clay_config::require!(clay.writer, \"write:limited\").is_ok()\n}}\n"
        ),
    );
    let clean = unused(&repo, "json");
    assert_eq!(clean.status, 0, "{clean:?}");
    assert_eq!(clean.json()["findings"], serde_json::json!([]));
}

#[test]
fn a_source_file_that_does_not_parse_is_an_error() {
    // Not a module of the crate, so it builds; its uses are still unknown.
    let repo = fixture("fixture_unused_broken", CONFIG);
    repo.write("src/orphan.rs", "fn main( {");
    let run = unused(&repo, "json");
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("src/orphan.rs"), "{}", run.stderr);
}

#[test]
fn check_reports_an_undeclared_scope_at_the_literal() {
    let lib = format!(
        "{CONFIG}\npub fn purge(clay: &Clay) -> Result<&ApiKey, ScopeDenied> {{\n    clay_config::require!(clay.writer, \"delete:rows\")\n}}\n"
    );
    let repo = fixture("fixture_undeclared", &lib);
    let target = target_dir();
    let run = cargo_clay_env(
        repo.path(),
        &["check", "--format", "json"],
        &[("CARGO_TARGET_DIR", target.as_str())],
    );
    assert_eq!(run.status, 1, "{run:?}");
    let findings = run.json()["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["rule"], "undeclared_scope");
    assert_eq!(finding["file"], "src/lib.rs");
    let (line, column) = lib
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("\"delete:rows\"").map(|c| (i + 1, c + 1)))
        .expect("the literal");
    assert_eq!(
        (finding["line"].clone(), finding["column"].clone()),
        (line.into(), column.into())
    );
    assert!(
        finding["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("[undeclared_scope] no environment declares a scope of `writer` that covers `delete:rows`")),
        "{finding}"
    );
}
