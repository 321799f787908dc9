//! Rebuild tracking: a crate whose struct passes its policy is built, the policy file is
//! tightened, and the next `cargo build` re-runs the derive and fails with `[excessive_scope]`
//! at the scope. Nothing in the crate's sources changes between the two builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn cargo_build(crate_dir: &Path, target_dir: &Path) -> Output {
    cargo_build_with(crate_dir, target_dir, &[])
}

fn cargo_build_with(crate_dir: &Path, target_dir: &Path, env: &[(&str, &Path)]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--message-format", "short"])
        .current_dir(crate_dir)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("run cargo build")
}

const LOOSE_POLICY: &str = r#"
[environments.production]
allow = ["read:tables", "read:people"]
"#;

const TIGHT_POLICY: &str = r#"
[environments.production]
allow = ["read:tables"]
"#;

const MAIN_RS: &str = r#"
use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
#[clay(policy = "clay-policy.toml")]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(production = ["read:people"]))]
    reader: Option<ApiKey>,
}

fn main() {
    println!("{}", Clay::manifest().policy.sha256());
}
"#;

/// A scratch binary crate using clay-config, with `main.rs` and `clay-policy.toml`.
fn scratch_crate(name: &str, main_rs: &str, policy: &str) -> tempfile::TempDir {
    let root = workspace_root();
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nclay-config = {{ path = {:?} }}\n\n[workspace]\n",
        root.join("clay-config")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::create_dir(dir.join("src")).expect("mkdir src");
    std::fs::write(dir.join("src/main.rs"), main_rs).expect("write main.rs");
    std::fs::write(dir.join("clay-policy.toml"), policy).expect("write policy");
    // The workspace's lock file keeps the scratch crate offline and on the same versions.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    scratch
}

/// A target dir of its own, kept between runs, so dependencies are built once.
fn scratch_target_dir() -> PathBuf {
    workspace_root().join("target").join("rebuild-tracking")
}

#[test]
fn tightening_the_policy_file_fails_the_next_build() {
    let scratch = scratch_crate("rebuild-probe", MAIN_RS, LOOSE_POLICY);
    let dir = scratch.path();
    let target_dir = scratch_target_dir();

    let first = cargo_build(dir, &target_dir);
    assert!(
        first.status.success(),
        "the loose policy should pass:\n{}",
        String::from_utf8_lossy(&first.stderr)
    );

    std::fs::write(dir.join("clay-policy.toml"), TIGHT_POLICY).expect("tighten policy");
    let second = cargo_build(dir, &target_dir);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "the tight policy must fail the build"
    );
    assert!(
        stderr.contains("[excessive_scope] scope `read:people` exceeds the least-privilege table for `production` (allows: read:tables; clay-policy.toml)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("src/main.rs:7:"),
        "the error points at the scope: {stderr}"
    );

    // Loosening again makes it pass again: the failed build left the file tracked.
    std::fs::write(dir.join("clay-policy.toml"), LOOSE_POLICY).expect("loosen policy");
    let third = cargo_build(dir, &target_dir);
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

#[test]
fn the_derive_exports_declarations_for_cargo_clay() {
    let scratch = scratch_crate("export-probe", MAIN_RS, LOOSE_POLICY);
    let exported = tempfile::tempdir().expect("temp dir");
    let build = cargo_build_with(
        scratch.path(),
        &scratch_target_dir(),
        &[("CLAY_MANIFEST_DIR", exported.path())],
    );
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    // One file per struct and target.
    let files: Vec<_> = std::fs::read_dir(exported.path())
        .expect("the export directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert!(
        name.starts_with("export-probe.bin-export-probe.Clay.") && name.ends_with(".json"),
        "{name}"
    );
    let json = std::fs::read_to_string(&files[0]).expect("the derive wrote the manifest");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["crate"], "export-probe", "{json}");
    assert_eq!(value["type"], "Clay", "{json}");
    assert_eq!(value["target"], "bin export-probe", "{json}");
    // Where the struct is: its file (absolute) and the line of its name.
    let source = value["source"].as_str().unwrap_or_default();
    assert!(
        source.starts_with('/') && source.ends_with("src/main.rs"),
        "{json}"
    );
    let struct_line = MAIN_RS
        .lines()
        .position(|l| l.contains("struct Clay"))
        .map(|i| i + 1)
        .expect("the struct");
    assert_eq!(value["line"], struct_line, "{json}");
    assert_eq!(value["policy"]["name"], "clay-policy.toml", "{json}");
    let path = value["policy"]["path"].as_str().unwrap_or_default();
    assert!(
        path.starts_with('/') && path.ends_with("clay-policy.toml"),
        "the resolved, absolute path: {json}"
    );
    // The policy's environments, in the policy's order (not alphabetical).
    assert_eq!(
        value["environments"],
        serde_json::json!(["development", "staging", "production"]),
        "{json}"
    );
    assert_eq!(
        value["fields"],
        serde_json::json!([{
            "name": "reader",
            "env": "CLAY_READ_KEY",
            "kind": "ApiKey",
            "optional": true,
            "public": false,
            "scopes": {"production": ["read:people"]}
        }]),
        "{json}"
    );
}

/// `MAIN_RS` without the attribute: the policy in force is found, not named.
fn main_rs_without_attribute() -> String {
    MAIN_RS.replace("#[clay(policy = \"clay-policy.toml\")]\n", "")
}

#[test]
fn a_policy_at_the_crate_root_is_in_force_without_an_attribute() {
    let main_rs = main_rs_without_attribute();
    let scratch = scratch_crate("crate-root-policy", &main_rs, LOOSE_POLICY);
    let dir = scratch.path();
    let target_dir = scratch_target_dir();
    let first = cargo_build(dir, &target_dir);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // The found file is tracked like a named one: tightening it fails the next build.
    std::fs::write(dir.join("clay-policy.toml"), TIGHT_POLICY).expect("tighten policy");
    let second = cargo_build(dir, &target_dir);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains("[excessive_scope] scope `read:people` exceeds the least-privilege table for `production` (allows: read:tables; clay-policy.toml)"),
        "{stderr}"
    );
}

#[test]
fn a_policy_at_the_workspace_root_is_in_force_for_its_members() {
    let root = workspace_root();
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[workspace]\nmembers = [\"svc\"]\nresolver = \"3\"\n",
    )
    .expect("write workspace manifest");
    std::fs::write(dir.join("clay-policy.toml"), TIGHT_POLICY).expect("write policy");
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let member = dir.join("svc");
    std::fs::create_dir_all(member.join("src")).expect("mkdir");
    std::fs::write(
        member.join("Cargo.toml"),
        format!(
            "[package]\nname = \"workspace-policy\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nclay-config = {{ path = {:?} }}\n",
            root.join("clay-config")
        ),
    )
    .expect("write member manifest");
    std::fs::write(member.join("src/main.rs"), main_rs_without_attribute()).expect("main.rs");
    let build = cargo_build(&member, &scratch_target_dir());
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(!build.status.success(), "{stderr}");
    assert!(
        stderr.contains("[excessive_scope] scope `read:people` exceeds the least-privilege table for `production` (allows: read:tables;"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&dir.join("clay-policy.toml").display().to_string()),
        "the message names the workspace policy: {stderr}"
    );
}
