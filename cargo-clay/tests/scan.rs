//! `cargo clay scan`: fixture repositories with keys in files and history.

mod common;

use common::*;
use serde_json::Value;

/// A repository with every case of the issue:
/// - a live key committed in `src/config.rs` line 3, then the file deleted;
/// - a webhook secret on a side branch only (`notes/side.txt` line 2);
/// - a binary file holding a test key (never reported);
/// - a false positive allow-listed by fingerprint (`docs/example.md`) and one by `clay:allow`;
/// - an ignored `.env` with a key (not part of the tree);
/// - an uncommitted live key in `src/live.rs` line 2 (the working tree).
struct Fixture {
    repo: Repo,
    added: String,
    side: String,
}

fn fixture() -> Fixture {
    let repo = Repo::new();
    repo.write(".gitignore", ".env\n");
    repo.write("README.md", "# service\n");
    repo.write(
        "src/config.rs",
        format!(
            "// config\nfn key() -> &'static str {{\n    \"{}\"\n}}\n",
            live_key()
        ),
    );
    let added = repo.commit_all("add config");
    repo.remove("src/config.rs");
    repo.commit_all("remove the key");

    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write(
        "notes/side.txt",
        format!("webhook setup\nsecret: {}\n", webhook_secret()),
    );
    let side = repo.commit_all("side branch only");
    repo.git(&["checkout", "-q", "main"]);

    let mut binary = b"\x7fELF\x00\x01".to_vec();
    binary.extend_from_slice(test_key().as_bytes());
    repo.write("assets/blob.bin", binary);
    repo.write(
        "docs/example.md",
        format!("Example:\n\n    API_TOKEN = \"{}\"\n", random_token()),
    );
    repo.write(
        ".clay-scan-ignore",
        format!(
            "# documented example token\n{}  docs/example.md\n",
            fingerprint(&random_token())
        ),
    );
    repo.write(
        "tests/fixture.rs",
        format!(
            "const KEY: &str = \"{}\"; // clay:allow (a revoked test key)\n",
            test_key_2()
        ),
    );
    repo.commit_all("docs and fixtures");

    repo.write(".env", format!("CLAY_API_KEY={}\n", live_key_2()));
    repo.write(
        "src/live.rs",
        format!("// oops\nconst K: &str = \"{}\";\n", live_key_2()),
    );
    Fixture { repo, added, side }
}

fn secrets() -> Vec<String> {
    vec![
        live_key(),
        live_key_2(),
        test_key(),
        test_key_2(),
        webhook_secret(),
        random_token(),
    ]
}

fn findings(run: &Run) -> Vec<Value> {
    run.json()["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find<'a>(findings: &'a [Value], file: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["file"] == file).collect()
}

#[test]
fn working_tree_only() {
    let f = fixture();
    let run = cargo_clay(f.repo.path(), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&secrets());
    let findings = findings(&run);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let live = &findings[0];
    assert_eq!(live["rule"], "live_key");
    assert_eq!(live["file"], "src/live.rs");
    assert_eq!(live["line"], 2);
    assert_eq!(live["column"], 18);
    assert!(live.get("commit").is_none());
    assert_eq!(live["fingerprint"], fingerprint(&live_key_2()));
}

#[test]
fn history_finds_deleted_and_side_branch_keys() {
    let f = fixture();
    let run = cargo_clay(f.repo.path(), &["scan", "--history", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&secrets());
    let findings = findings(&run);
    assert_eq!(findings.len(), 3, "{findings:#?}");

    let deleted = find(&findings, "src/config.rs");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["rule"], "live_key");
    assert_eq!(deleted[0]["line"], 3);
    assert_eq!(deleted[0]["commit"], f.added.as_str());
    assert_eq!(deleted[0]["fingerprint"], fingerprint(&live_key()));

    let side = find(&findings, "notes/side.txt");
    assert_eq!(side.len(), 1);
    assert_eq!(side[0]["rule"], "webhook_secret");
    assert_eq!(side[0]["line"], 2);
    assert_eq!(side[0]["commit"], f.side.as_str());

    let tree = find(&findings, "src/live.rs");
    assert_eq!(tree.len(), 1);
    assert!(tree[0].get("commit").is_none());

    // Binary, allow-listed and ignored files: nowhere.
    for file in [
        "assets/blob.bin",
        "docs/example.md",
        "tests/fixture.rs",
        ".env",
    ] {
        assert!(find(&findings, file).is_empty(), "{file} reported");
    }
}

#[test]
fn history_only() {
    let f = fixture();
    let run = cargo_clay(
        f.repo.path(),
        &["scan", "--history-only", "--format", "json"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    let findings = findings(&run);
    let files: Vec<&str> = findings.iter().filter_map(|f| f["file"].as_str()).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&"src/config.rs") && files.contains(&"notes/side.txt"));
}

#[test]
fn text_and_sarif_never_show_the_key() {
    let f = fixture();
    let text = cargo_clay(f.repo.path(), &["scan", "--history"]);
    assert_eq!(text.status, 1);
    text.assert_hides(&secrets());
    assert!(text.stdout.contains("src/config.rs:3:"), "{}", text.stdout);
    assert!(text.stdout.contains(&f.added), "{}", text.stdout);
    assert!(text.stdout.contains("scan: 3 findings"), "{}", text.stdout);

    let sarif = cargo_clay(f.repo.path(), &["scan", "--history", "--format", "sarif"]);
    assert_eq!(sarif.status, 1);
    sarif.assert_hides(&secrets());
    let value = sarif.json();
    assert_valid_sarif(&value);
    let results = value["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 3);
    let deleted = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/config.rs"
        })
        .expect("the deleted key's result");
    assert_eq!(deleted["ruleId"], "live_key");
    assert_eq!(deleted["level"], "error");
    assert_eq!(
        deleted["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(
        deleted["partialFingerprints"]["clayFinding/v1"],
        fingerprint(&live_key())
    );
    assert_eq!(deleted["properties"]["commit"], f.added.as_str());
}

#[test]
fn allow_list_and_inline_allow() {
    let repo = Repo::new();
    repo.write(
        "a.env.example",
        format!("STRIPE_SECRET={}\n", random_token()),
    );
    repo.write("b.txt", format!("key {} # clay:allow\n", test_key()));
    repo.commit_all("examples");
    let run = cargo_clay(repo.path(), &["scan", "--history", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    let findings = findings(&run);
    assert!(
        findings.iter().all(|f| f["file"] == "a.env.example"),
        "{findings:#?}"
    );
    assert_eq!(findings.len(), 2, "tree and history: {findings:#?}");
    assert_eq!(findings[0]["rule"], "high_entropy_assignment");

    repo.write(
        ".clay-scan-ignore",
        format!("{}\n", fingerprint(&random_token())),
    );
    let run = cargo_clay(repo.path(), &["scan", "--history", "--format", "json"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(findings_of(&run).is_empty());

    // A line that is not a fingerprint is a usage error, and is not echoed.
    repo.write(".clay-scan-ignore", format!("{}\n", live_key()));
    let run = cargo_clay(repo.path(), &["scan"]);
    assert_eq!(run.status, 2, "{run:?}");
    run.assert_hides(&[live_key()]);
    assert!(run.stderr.contains(".clay-scan-ignore:1"), "{}", run.stderr);
}

fn findings_of(run: &Run) -> Vec<Value> {
    findings(run)
}

#[test]
fn clean_repository_exits_zero() {
    let repo = Repo::new();
    repo.write(
        "src/main.rs",
        "fn main() { let key = std::env::var(\"CLAY_API_KEY\"); }\n",
    );
    repo.commit_all("clean");
    let run = cargo_clay(repo.path(), &["scan", "--history"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("scan: no findings"));
    let sarif = cargo_clay(repo.path(), &["scan", "--format", "sarif"]);
    assert_eq!(sarif.status, 0);
    assert_valid_sarif(&sarif.json());
}

#[test]
fn errors_exit_two() {
    let repo = Repo::plain();
    let missing = repo.path().join("missing");
    let run = cargo_clay(
        repo.path(),
        &["scan", missing.to_str().expect("utf-8 path")],
    );
    assert_eq!(run.status, 2, "{run:?}");
    // History outside a repository.
    let run = cargo_clay(repo.path(), &["scan", "--history"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("git"), "{}", run.stderr);
    // Outside git, the tree is still scanned.
    repo.write("k.txt", live_key());
    let run = cargo_clay(repo.path(), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(findings(&run)[0]["file"], "k.txt");
}

#[test]
fn subdirectory_paths_are_repository_relative() {
    let f = fixture();
    let run = cargo_clay(&f.repo.path().join("src"), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(findings(&run)[0]["file"], "src/live.rs");
}

#[test]
fn policy_prefixes_are_used() {
    let repo = Repo::new();
    repo.write(
        "clay-policy.toml",
        "[environments.production]\nallow = [\"read:tables\"]\n\n[keys]\nlive_prefix = \"ck_live_\"\ntest_prefix = \"ck_test_\"\n",
    );
    let custom = format!("ck_{}_{}", "live", "AbCdEfGhIjKlMnOpQrStUvWx12");
    repo.write("a.txt", format!("{custom}\n"));
    let run = cargo_clay(repo.path(), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&[custom]);
    assert_eq!(findings(&run)[0]["rule"], "live_key");
}

#[test]
fn policy_scan_rules_are_added() {
    let repo = Repo::new();
    repo.write(
        "clay-policy.toml",
        "[environments.production]\nallow = [\"read:tables\"]\n\n[[scan.rules]]\nid = \"internal_token\"\npattern = \"itk_([A-Za-z0-9]{32})\"\ndescription = \"An internal service token.\"\n",
    );
    let token = format!("itk_{}", "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm");
    repo.write(
        "deploy/values.yaml",
        format!("service:\n  token: {token}\n"),
    );
    let run = cargo_clay(repo.path(), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(std::slice::from_ref(&token));
    let findings = findings(&run);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["rule"], "internal_token");
    assert_eq!(findings[0]["file"], "deploy/values.yaml");
    assert_eq!(findings[0]["line"], 2);
    // The capture group is the secret: its fingerprint is of the body without `itk_`.
    assert_eq!(
        findings[0]["fingerprint"],
        fingerprint("Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm")
    );
    let sarif = cargo_clay(repo.path(), &["scan", "--format", "sarif"]);
    assert!(
        sarif.stdout.contains("An internal service token."),
        "the rule's description reaches SARIF: {sarif:?}"
    );
    // A pattern that does not compile is a usage error naming the rule.
    repo.write(
        "clay-policy.toml",
        "[environments.production]\nallow = []\n\n[[scan.rules]]\nid = \"broken\"\npattern = \"itk_([\"\n",
    );
    let run = cargo_clay(repo.path(), &["scan"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(
        run.stderr.contains("rule `broken`: invalid pattern"),
        "{run:?}"
    );
}

#[test]
fn history_scans_what_a_merge_itself_added() {
    let repo = Repo::new();
    repo.write("README.md", "# service\n");
    repo.write("src/config.rs", "// config\n");
    repo.commit_all("start");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/feature.rs", "// feature\n");
    repo.commit_all("feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("docs/notes.md", "notes\n");
    repo.commit_all("notes");
    // An "evil" merge: the key exists in neither parent, only in the merge commit.
    repo.git(&["merge", "-q", "--no-ff", "--no-commit", "feature"]);
    repo.write(
        "src/config.rs",
        format!("// config\nconst KEY: &str = \"{}\";\n", live_key()),
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "merge feature"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    repo.write("src/config.rs", "// config\n");
    repo.commit_all("remove the key");

    let run = cargo_clay(repo.path(), &["scan", "--history-only", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&[live_key()]);
    let findings = findings(&run);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["rule"], "live_key");
    assert_eq!(findings[0]["file"], "src/config.rs");
    assert_eq!(findings[0]["line"], 2);
    assert_eq!(findings[0]["commit"], merge.as_str());
}
