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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--message-format", "short"])
        .current_dir(crate_dir)
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

#[test]
fn tightening_the_policy_file_fails_the_next_build() {
    let root = workspace_root();
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    let manifest = format!(
        "[package]\nname = \"rebuild-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nclay-config = {{ path = {:?} }}\n\n[workspace]\n",
        root.join("clay-config")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::create_dir(dir.join("src")).expect("mkdir src");
    std::fs::write(dir.join("src/main.rs"), MAIN_RS).expect("write main.rs");
    std::fs::write(dir.join("clay-policy.toml"), LOOSE_POLICY).expect("write policy");
    // The workspace's lock file keeps the scratch crate offline and on the same versions.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    // A target dir of its own, kept between runs, so dependencies are built once.
    let target_dir = root.join("target").join("rebuild-tracking");

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
