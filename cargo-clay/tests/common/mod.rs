//! Helpers shared by the integration tests: fixture repositories, running the binary, SARIF
//! validation. Keys are assembled at run time so that this repository holds none.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A live key (assembled, so that the test source itself holds no key).
pub fn live_key() -> String {
    format!("sk_{}_{}", "live", "4eC39HqLyjWDarjtT1zdp7dcQ9x2")
}

/// A second live key.
pub fn live_key_2() -> String {
    format!("sk_{}_{}", "live", "Zz81QwErTy0uIoPaSdFgHjKl77mN")
}

/// A test key.
pub fn test_key() -> String {
    format!("sk_{}_{}", "test", "Lm3Nb7Vc0Xz5Qa9Ws2Ed4Rf6Tg8Y")
}

/// A second test key.
pub fn test_key_2() -> String {
    format!("sk_{}_{}", "test", "Pp4Oo8Ii1Uu5Yy9Tt3Rr7Ee2Ww6Q")
}

/// A webhook secret.
pub fn webhook_secret() -> String {
    format!("whsec_{}", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
}

/// A random-looking token (for the assignment rule).
pub fn random_token() -> String {
    ["q8Zr1vLx", "0PaW3mTn", "7YbKc2Ud9Qe"].concat()
}

/// SHA-256 hex, as findings show fingerprints.
pub fn fingerprint(secret: &str) -> String {
    cargo_clay::report::sha256_hex(secret.as_bytes())
}

/// A git repository in a temporary directory.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// `git init` with `main` as the branch.
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A plain directory, not a repository.
    pub fn plain() -> Repo {
        Repo {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file, creating its directories.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(full, contents).expect("write fixture file");
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.dir.path().join(path)).expect("remove fixture file");
    }

    /// Runs git with a fixed identity; its trimmed standard output.
    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(self.dir.path())
            .args([
                "-c",
                "user.name=Fixture",
                "-c",
                "user.email=fixture@example.com",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Runs git with `input` on its standard input; its trimmed standard output.
    pub fn git_stdin(&self, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = Command::new("git")
            .arg("-C")
            .arg(self.dir.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to git");
        let output = child.wait_with_output().expect("wait for git");
        assert!(output.status.success(), "git {args:?} failed");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// `git add -A && git commit`; the new commit's hash.
    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// What the binary did.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| unreachable!("not JSON ({e}): {}", self.stdout))
    }

    /// Asserts that neither stream contains any of `secrets`.
    pub fn assert_hides(&self, secrets: &[String]) {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret.as_str()) && !self.stderr.contains(secret.as_str()),
                "output contains a secret:\n{}\n{}",
                self.stdout,
                self.stderr
            );
        }
    }
}

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-clay"))
}

/// Runs `cargo-clay clay ARGS` in `dir`, as cargo would.
pub fn cargo_clay(dir: &Path, args: &[&str]) -> Run {
    cargo_clay_env(dir, args, &[])
}

/// [`cargo_clay`] with extra environment variables.
pub fn cargo_clay_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(bin());
    command.arg("clay").args(args).current_dir(dir);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run cargo-clay");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Validates `sarif` against the vendored OASIS SARIF 2.1.0 schema and GitHub's needs.
pub fn assert_valid_sarif(sarif: &Value) {
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(schema_path).expect("read the vendored schema"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    // What GitHub code scanning needs beyond the schema.
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for rule in rules {
        for key in ["id", "shortDescription", "fullDescription", "help"] {
            assert!(!rule[key].is_null(), "rule without {key}: {rule}");
        }
    }
    for result in run["results"].as_array().expect("results") {
        let id = result["ruleId"].as_str().expect("ruleId");
        assert!(rules.iter().any(|r| r["id"] == id), "undeclared rule {id}");
        assert!(result["level"].is_string());
        assert!(result["message"]["text"].is_string());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            !uri.starts_with('/') && !uri.contains(':'),
            "not repo-relative: {uri}"
        );
        assert!(location["region"]["startLine"].as_u64().expect("startLine") >= 1);
        assert!(result["partialFingerprints"].is_object());
    }
}
