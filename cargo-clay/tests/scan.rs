//! `cargo clay scan`: fixture repositories, each built by the test, one per blind spot.

mod common;

use common::*;
use serde_json::Value;

fn findings(run: &Run) -> Vec<Value> {
    run.json()["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find<'a>(findings: &'a [Value], file: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["file"] == file).collect()
}

fn fingerprints(findings: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = findings
        .iter()
        .filter_map(|f| f["fingerprint"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// Runs `scan ARGS --format json`, expecting findings; returns them.
fn scan_json(repo: &Repo, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let run = cargo_clay(repo.path(), &all);
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&every_secret());
    findings(&run)
}

fn every_secret() -> Vec<String> {
    vec![
        live_key(),
        live_key_2(),
        test_key(),
        test_key_2(),
        webhook_secret(),
        random_token(),
    ]
}

fn utf16le(text: &str) -> Vec<u8> {
    [
        vec![0xff, 0xfe],
        text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
    ]
    .concat()
}

fn utf16be(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

// ---------------------------------------------------------------------------------------------
// The working tree.

#[test]
fn tracked_files_are_scanned_whatever_the_ignore_files_say() {
    let repo = Repo::new();
    repo.write("config/prod.env", format!("CLAY_API_KEY={}\n", live_key()));
    repo.write("docs/notes.txt", format!("test key {}\n", test_key()));
    repo.commit_all("config");
    // Ignored after the commit, by .gitignore, by a `.ignore` that hides everything, and by
    // the repository's excludes file.
    repo.write(".gitignore", "*.env\n");
    repo.write(".ignore", "*\n");
    repo.write("excludes", "docs/\n");
    repo.git(&["config", "core.excludesFile", "excludes"]);
    repo.commit_all("ignore them");
    // Untracked: ignored ones are not part of the tree, the others are.
    repo.write("local.env", format!("CLAY_API_KEY={}\n", live_key_2()));
    repo.write("new.txt", format!("{}\n", webhook_secret()));

    let found = scan_json(&repo, &[]);
    let files: Vec<&str> = found.iter().filter_map(|f| f["file"].as_str()).collect();
    assert_eq!(
        files,
        ["config/prod.env", "docs/notes.txt", "new.txt"],
        "{found:#?}"
    );
    assert_eq!(find(&found, "config/prod.env")[0]["rule"], "live_key");
    assert_eq!(find(&found, "config/prod.env")[0]["origin"], "tree");
}

#[test]
fn outside_git_every_file_is_scanned() {
    let dir = Repo::plain();
    dir.write(".gitignore", "*\n");
    dir.write(".ignore", "*\n");
    dir.write("target/out.txt", live_key());
    dir.write(".hidden/k", test_key());
    let found = scan_json(&dir, &[]);
    let files: Vec<&str> = found.iter().filter_map(|f| f["file"].as_str()).collect();
    assert_eq!(files, [".hidden/k", "target/out.txt"]);
}

#[test]
fn binary_and_utf16_files() {
    let repo = Repo::new();
    let mut binary = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    binary.extend_from_slice(live_key().as_bytes());
    binary.extend_from_slice(b"\x00\x00");
    // A generic assignment in binary content is not reported (text only) …
    binary.extend_from_slice(format!("API_TOKEN={}\x00", random_token()).as_bytes());
    // … but a UTF-16 string inside it is read.
    binary.extend(utf16be(&format!(" {} ", test_key())));
    repo.write("assets/app.bin", binary);
    repo.write(
        "win/settings.ini",
        utf16le(&format!("[a]\r\nx=1\r\nCLAY_API_KEY={}\r\n", test_key_2())),
    );
    repo.write(
        "win/be.txt",
        [
            vec![0xfe, 0xff],
            utf16be(&format!("line\nAPI_TOKEN = {}\n", random_token())),
        ]
        .concat(),
    );
    let found = scan_json(&repo, &[]);
    let bin = find(&found, "assets/app.bin");
    let mut rules: Vec<&str> = bin.iter().filter_map(|f| f["rule"].as_str()).collect();
    rules.sort_unstable();
    assert_eq!(rules, ["live_key", "test_key"], "{found:#?}");
    let ini = find(&found, "win/settings.ini");
    assert_eq!(ini.len(), 1, "{found:#?}");
    assert_eq!(ini[0]["rule"], "test_key");
    assert_eq!(ini[0]["line"], 3);
    assert_eq!(ini[0]["fingerprint"], fingerprint(&test_key_2()));
    // UTF-16 text (big-endian, with a byte order mark) gets the generic rule too.
    let be = find(&found, "win/be.txt");
    assert_eq!(be.len(), 1, "{found:#?}");
    assert_eq!(be[0]["rule"], "high_entropy_assignment");
    assert_eq!(be[0]["line"], 2);
}

#[test]
fn every_secret_on_a_line_is_a_finding() {
    let repo = Repo::new();
    repo.write(
        "deploy.sh",
        format!(
            "export DB_PASSWORD_TOKEN={} CLAY_API_KEY={} HOOK={}\n",
            random_token(),
            live_key(),
            webhook_secret()
        ),
    );
    let found = scan_json(&repo, &[]);
    let mut rules: Vec<&str> = found.iter().filter_map(|f| f["rule"].as_str()).collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        ["high_entropy_assignment", "live_key", "webhook_secret"]
    );
    assert!(found.iter().all(|f| f["line"] == 1));
}

#[test]
fn clay_allow_counts_only_in_a_comment() {
    let repo = Repo::new();
    repo.write(
        "src/lib.rs",
        format!(
            "const A: &str = \"{}\"; // clay:allow (revoked test key)\n\
             const B: &str = \"{} clay:allow\";\n\
             const C: [&str; 2] = [\"{}\", \"clay:allow\"];\n",
            test_key(),
            live_key(),
            live_key_2()
        ),
    );
    repo.write(
        "conf.yaml",
        format!("key: {}  # clay:allow\n", test_key_2()),
    );
    repo.write(
        "q.sql",
        format!("SELECT '{}' -- clay:allow\n", webhook_secret()),
    );
    let found = scan_json(&repo, &[]);
    let lines: Vec<(String, u64)> = found
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("src/lib.rs".to_owned(), 2), ("src/lib.rs".to_owned(), 3)],
        "{found:#?}"
    );
}

#[test]
fn allow_list_file() {
    let repo = Repo::new();
    repo.write(
        "a.env.example",
        format!("STRIPE_SECRET={}\n", random_token()),
    );
    repo.commit_all("examples");
    let found = scan_json(&repo, &["--history"]);
    assert_eq!(found.len(), 2, "tree and history: {found:#?}");
    assert!(found.iter().all(|f| f["rule"] == "high_entropy_assignment"));

    repo.write(
        ".clay-scan-ignore",
        format!(
            "# a documented example\n{}  a.env.example\n",
            fingerprint(&random_token())
        ),
    );
    let run = cargo_clay(repo.path(), &["scan", "--history", "--format", "json"]);
    assert_eq!(run.status, 0, "{run:?}");

    // A line that is not a fingerprint is a usage error, and is not echoed.
    repo.write(".clay-scan-ignore", format!("{}\n", live_key()));
    let run = cargo_clay(repo.path(), &["scan"]);
    assert_eq!(run.status, 2, "{run:?}");
    run.assert_hides(&[live_key()]);
    assert!(run.stderr.contains(".clay-scan-ignore:1"), "{}", run.stderr);
}

#[test]
fn hostile_names_are_escaped_in_text_and_kept_in_json() {
    let repo = Repo::new();
    let name = "x\r\x1b[2Kscan: no findings\x1b[8m.txt";
    repo.write(name, format!("{}\n", live_key()));
    repo.write("new\nline.txt", format!("{}\n", test_key()));
    let text = cargo_clay(repo.path(), &["scan"]);
    assert_eq!(text.status, 1, "{text:?}");
    text.assert_hides(&every_secret());
    assert!(
        !text.stdout.contains('\r') && !text.stdout.contains('\x1b'),
        "{:?}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("x\\r\\x1b[2Kscan: no findings\\x1b[8m.txt:1:1: error[live_key]"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("new\\nline.txt:1:1:"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.ends_with("scan: 2 findings\n"),
        "{}",
        text.stdout
    );
    // JSON keeps the names as they are.
    let found = scan_json(&repo, &[]);
    assert_eq!(find(&found, name).len(), 1);
    assert_eq!(find(&found, "new\nline.txt").len(), 1);
}

#[cfg(unix)]
#[test]
fn fifos_symlinks_and_huge_files() {
    let repo = Repo::plain();
    let outside = Repo::plain();
    outside.write("secret.txt", live_key());
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        repo.path().join("link.txt"),
    )
    .expect("symlink");
    let fifo = repo.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // 20 MB of lines, then a key: streamed, found, on the right line.
    let mut big = "filler line without secrets\n".repeat(750_000);
    big.push_str(&format!("last = \"{}\"\n", test_key()));
    repo.write("big.txt", &big);
    // 12 MB without a single newline, the key at the end.
    let mut long = "a ".repeat(6_000_000);
    long.push_str(&webhook_secret());
    repo.write("long.txt", &long);

    let run = cargo_clay(repo.path(), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    let found = findings(&run);
    assert_eq!(find(&found, "big.txt").len(), 1, "{found:#?}");
    assert_eq!(find(&found, "big.txt")[0]["line"], 750_001);
    assert_eq!(find(&found, "long.txt").len(), 1, "{found:#?}");
    assert_eq!(
        find(&found, "long.txt")[0]["fingerprint"],
        fingerprint(&webhook_secret())
    );
    assert!(
        find(&found, "link.txt").is_empty(),
        "links are not followed: {found:#?}"
    );
    assert!(
        run.stderr.contains("pipe: not a regular file (a FIFO)"),
        "{}",
        run.stderr
    );
}

#[test]
fn subdirectory_paths_are_repository_relative() {
    let repo = Repo::new();
    repo.write(
        "src/live.rs",
        format!("const K: &str = \"{}\";\n", live_key()),
    );
    repo.write("README.md", format!("{}\n", test_key()));
    let run = cargo_clay(&repo.path().join("src"), &["scan", "--format", "json"]);
    assert_eq!(run.status, 1, "{run:?}");
    let found = findings(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["file"], "src/live.rs");
    assert_eq!(found[0]["column"], 18);
}

#[test]
fn clean_repository_exits_zero() {
    let repo = Repo::new();
    repo.write(
        "src/main.rs",
        "fn main() { let key = std::env::var(\"CLAY_API_KEY\"); }\n// sk_live_*** and sk_live_<your-key-here>, sk_live_xxxxxxxxxxxx\n",
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
    let dir = Repo::plain();
    let missing = dir.path().join("missing");
    let run = cargo_clay(dir.path(), &["scan", missing.to_str().expect("utf-8 path")]);
    assert_eq!(run.status, 2, "{run:?}");
    // History, the index or a range outside a repository.
    for args in [
        &["scan", "--history"][..],
        &["scan", "--staged"],
        &["scan", "--history", "a..b"],
    ] {
        let run = cargo_clay(dir.path(), args);
        assert_eq!(run.status, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("git"), "{}", run.stderr);
    }
    // A range that is not one, or that would be an option.
    let repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit_all("a");
    for range in ["nope..main", "--all"] {
        let run = cargo_clay(repo.path(), &["scan", &format!("--history={range}")]);
        assert_eq!(run.status, 2, "{range}: {run:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The policy can add, never remove.

#[test]
fn a_repository_policy_adds_prefixes_and_never_removes_the_builtins() {
    let repo = Repo::new();
    repo.write(
        "clay-policy.toml",
        "[environments.production]\nallow = [\"read:tables\"]\n\n[keys]\nlive_prefix = \"clay_live_\"\ntest_prefix = \"clay_test_\"\n",
    );
    let custom = format!("clay_{}_{}", "live", "AbCdEfGh12");
    repo.write("a.txt", format!("{custom}\n{}\n", live_key()));
    let found = scan_json(&repo, &[]);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().all(|f| f["rule"] == "live_key"));
    assert_eq!(fingerprints(&found), {
        let mut expected = vec![fingerprint(&custom), fingerprint(&live_key())];
        expected.sort();
        expected
    });
}

#[test]
fn policy_scan_rules_are_added_and_checked() {
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
    let found = findings(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["rule"], "internal_token");
    assert_eq!(found[0]["line"], 2);
    // The capture group is the secret.
    assert_eq!(
        found[0]["fingerprint"],
        fingerprint("Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm")
    );
    let sarif = cargo_clay(repo.path(), &["scan", "--format", "sarif"]);
    assert!(
        sarif.stdout.contains("An internal service token."),
        "{sarif:?}"
    );

    // Invalid, empty-matching, oversized or built-in-shadowing rules fail the run (exit 2).
    let huge = "a".repeat(5000);
    for (pattern, id, message) in [
        ("itk_([", "broken", "invalid pattern"),
        ("x*", "broken", "matches the empty string"),
        ("(?:[A-Za-z0-9]{1000}){1000}", "broken", "too large"),
        (huge.as_str(), "broken", "too large"),
        ("sk_live_x", "live_key", "built-in"),
    ] {
        repo.write(
            "clay-policy.toml",
            format!("[environments.production]\nallow = []\n\n[[scan.rules]]\nid = \"{id}\"\npattern = '{pattern}'\n"),
        );
        let run = cargo_clay(repo.path(), &["scan"]);
        assert_eq!(run.status, 2, "{pattern}: {run:?}");
        assert!(
            run.stderr.contains(&format!("rule `{id}`")) && run.stderr.contains(message),
            "{run:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// History.

#[test]
fn history_finds_what_git_log_p_hides() {
    let repo = Repo::new();
    repo.write("README.md", "# service\n");
    // A file git treats as binary by attribute, and one with a NUL byte.
    repo.write(".gitattributes", "*.dat -diff\n");
    repo.write("keys.dat", format!("{}\n", live_key()));
    repo.write(
        "blob.bin",
        [b"\x00\x01".as_slice(), test_key().as_bytes()].concat(),
    );
    repo.write(
        "win.txt",
        utf16le(&format!("CLAY_API_KEY={}\r\n", test_key_2())),
    );
    let added = repo.commit_all("data files");
    repo.remove("keys.dat");
    repo.remove("blob.bin");
    repo.remove("win.txt");
    repo.commit_all("remove them");

    let found = scan_json(&repo, &["--history-only"]);
    for (file, rule, secret) in [
        ("keys.dat", "live_key", live_key()),
        ("blob.bin", "test_key", test_key()),
        ("win.txt", "test_key", test_key_2()),
    ] {
        let hits = find(&found, file);
        assert_eq!(hits.len(), 1, "{file}: {found:#?}");
        assert_eq!(hits[0]["rule"], rule);
        assert_eq!(hits[0]["origin"], "history");
        assert_eq!(hits[0]["commit"], added.as_str());
        assert_eq!(hits[0]["fingerprint"], fingerprint(&secret));
    }
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[test]
fn history_reads_messages_tags_and_every_stash_entry() {
    let repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.git(&["add", "-A"]);
    repo.git(&[
        "commit",
        "-q",
        "-m",
        &format!("configure\n\nused {} to test", live_key()),
    ]);
    let with_message = repo.git(&["rev-parse", "HEAD"]);
    // An annotated tag's message, and a tag that points straight at a blob.
    repo.git(&[
        "tag",
        "-a",
        "v1",
        "-m",
        &format!("release\n\ntoken {}", test_key()),
    ]);
    let blob = repo.git_stdin(
        &["hash-object", "-w", "--stdin"],
        &format!("{}\n", webhook_secret()),
    );
    repo.git(&["tag", "blob-tag", &blob]);
    // Two stash entries: the older holds a key, the newer does not.
    repo.write("a.txt", format!("a\n{}\n", live_key_2()));
    repo.git(&["stash", "push", "-q", "-m", "first"]);
    repo.write("a.txt", "a\nclean\n");
    repo.git(&["stash", "push", "-q", "-m", "second"]);
    assert_eq!(repo.git(&["stash", "list"]).lines().count(), 2);

    let found = scan_json(&repo, &["--history-only"]);
    let by_origin =
        |origin: &str| -> Vec<&Value> { found.iter().filter(|f| f["origin"] == origin).collect() };
    let message = by_origin("commit_message");
    assert_eq!(message.len(), 1, "{found:#?}");
    assert_eq!(message[0]["commit"], with_message.as_str());
    assert_eq!(message[0]["line"], 3);
    assert_eq!(message[0]["fingerprint"], fingerprint(&live_key()));
    let tag = by_origin("tag_message");
    assert_eq!(tag.len(), 1, "{found:#?}");
    assert!(
        tag[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tag `v1`")),
        "{found:#?}"
    );
    assert_eq!(tag[0]["fingerprint"], fingerprint(&test_key()));
    let history = by_origin("history");
    assert_eq!(
        fingerprints(&history.iter().map(|v| (*v).clone()).collect::<Vec<_>>()),
        {
            let mut expected = vec![fingerprint(&webhook_secret()), fingerprint(&live_key_2())];
            expected.sort();
            expected
        },
        "{found:#?}"
    );
    let stashed = history
        .iter()
        .find(|f| f["fingerprint"] == fingerprint(&live_key_2()))
        .expect("the older stash entry");
    assert_eq!(stashed["file"], "a.txt");
    assert!(by_origin("unreachable").is_empty(), "{found:#?}");
}

#[test]
fn history_reads_notes_remote_refs_and_tags_of_trees() {
    let repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit_all("start");
    // A note on the commit.
    repo.git(&[
        "notes",
        "add",
        "-m",
        &format!("deployed with {}", live_key()),
    ]);
    // A commit only a remote-tracking ref reaches.
    repo.git(&["checkout", "-q", "-b", "gone"]);
    repo.write("b.txt", format!("{}\n", test_key()));
    let remote = repo.commit_all("pushed, then the branch was deleted here");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["update-ref", "refs/remotes/origin/gone", &remote]);
    repo.git(&["branch", "-q", "-D", "gone"]);
    // A tag that points straight at a tree.
    let blob = repo.git_stdin(
        &["hash-object", "-w", "--stdin"],
        &format!("{}\n", webhook_secret()),
    );
    let tree = repo.git_stdin(&["mktree"], &format!("100644 blob {blob}\tin-tree.txt\n"));
    repo.git(&["tag", "tree-tag", &tree]);

    let found = scan_json(&repo, &["--history-only"]);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|f| f["origin"] == "history"), "{found:#?}");
    assert_eq!(find(&found, "b.txt")[0]["commit"], remote.as_str());
    assert_eq!(find(&found, "in-tree.txt").len(), 1, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|f| f["fingerprint"] == fingerprint(&live_key())),
        "the note: {found:#?}"
    );
}

#[test]
fn history_reports_unreachable_objects() {
    let repo = Repo::new();
    repo.write("a.txt", format!("a\n{}\n", live_key()));
    repo.commit_all("oops");
    // Amended away: the old blob and commit are reachable from no ref (only the reflog).
    repo.write("a.txt", "a\n");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "--amend", "-m", "clean"]);
    // A blob written and never committed.
    let dangling = repo.git_stdin(
        &["hash-object", "-w", "--stdin"],
        &format!("{}\n", test_key()),
    );
    let found = scan_json(&repo, &["--history-only"]);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found.iter().all(|f| f["origin"] == "unreachable"),
        "{found:#?}"
    );
    let dangling_finding = found
        .iter()
        .find(|f| f["object"] == dangling.as_str())
        .expect("the dangling blob");
    assert_eq!(dangling_finding["rule"], "test_key");
    assert!(
        dangling_finding["message"]
            .as_str()
            .is_some_and(|m| m.contains("unreachable blob")),
        "{dangling_finding}"
    );
}

#[test]
fn each_blob_once_and_each_secret_once() {
    let repo = Repo::new();
    repo.write(
        "src/config.rs",
        format!("// v1\nconst K: &str = \"{}\";\n", live_key()),
    );
    let first = repo.commit_all("add the key");
    for i in 2..6 {
        repo.write(
            "src/config.rs",
            format!("// v{i}\nconst K: &str = \"{}\";\n", live_key()),
        );
        repo.commit_all(&format!("v{i}"));
    }
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write(
        "notes/side.txt",
        format!("webhook\nsecret: {}\n", webhook_secret()),
    );
    let side = repo.commit_all("side branch only");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("src/config.rs", "// v6\n");
    repo.commit_all("remove the key");

    let found = scan_json(&repo, &["--history-only"]);
    assert_eq!(found.len(), 2, "{found:#?}");
    let key = &find(&found, "src/config.rs")[0];
    assert_eq!(
        key["commit"],
        first.as_str(),
        "the oldest commit that added it"
    );
    assert_eq!(key["line"], 2);
    assert_eq!(find(&found, "notes/side.txt")[0]["commit"], side.as_str());

    // With the working tree: the tree finding and the history finding.
    repo.write(
        "src/live.rs",
        format!("// oops\nconst K: &str = \"{}\";\n", live_key_2()),
    );
    let found = scan_json(&repo, &["--history"]);
    assert_eq!(found.len(), 3, "{found:#?}");
    let tree = find(&found, "src/live.rs");
    assert_eq!(tree[0]["origin"], "tree");
    assert!(tree[0].get("commit").is_none());
}

#[test]
fn history_scans_what_a_merge_itself_added() {
    let repo = Repo::new();
    repo.write("README.md", "# service\n");
    repo.write("src/config.rs", "// config\n");
    let base = repo.commit_all("start");
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

    for args in [
        vec!["--history-only"],
        vec!["--history", &format!("{base}..main")],
    ] {
        let run = cargo_clay(
            repo.path(),
            &[&["scan"][..], &args[..], &["--format", "json"]].concat(),
        );
        assert_eq!(run.status, 1, "{args:?}: {run:?}");
        let found: Vec<Value> = findings(&run)
            .into_iter()
            .filter(|f| f["origin"] != "tree")
            .collect();
        assert_eq!(found.len(), 1, "{args:?}: {found:#?}");
        assert_eq!(found[0]["file"], "src/config.rs");
        assert_eq!(found[0]["line"], 2);
        assert_eq!(found[0]["commit"], merge.as_str());
    }
}

#[test]
fn a_range_scans_only_its_commits_each_finding_once() {
    let repo = Repo::new();
    repo.write("old.txt", format!("{}\n", live_key()));
    repo.commit_all("before the range");
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["checkout", "-q", "-b", "pr"]);
    repo.write(".gitattributes", "*.dat -diff\n");
    repo.write("new.dat", format!("x\n{}\n", test_key()));
    let added = repo.commit_all("add a key");
    repo.write("new.dat", "x\n");
    repo.commit_all("remove it");
    repo.write("new.dat", format!("x\n{}\n", test_key()));
    repo.commit_all("add it again");
    repo.write("b.txt", utf16le(&format!("k={}\n", webhook_secret())));
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", &format!("msg {}", test_key_2())]);

    let run = cargo_clay(
        repo.path(),
        &[
            "scan",
            "--history",
            &format!("{base}..pr"),
            "--format",
            "json",
        ],
    );
    assert_eq!(run.status, 1, "{run:?}");
    let found: Vec<Value> = findings(&run)
        .into_iter()
        .filter(|f| f["origin"] != "tree")
        .collect();
    let dat = find(&found, "new.dat");
    assert_eq!(dat.len(), 1, "once, from the first commit: {found:#?}");
    assert_eq!(dat[0]["commit"], added.as_str());
    assert_eq!(dat[0]["line"], 2);
    assert_eq!(find(&found, "b.txt").len(), 1, "{found:#?}");
    assert!(
        find(&found, "old.txt").is_empty(),
        "not in the range: {found:#?}"
    );
    assert_eq!(
        found
            .iter()
            .filter(|f| f["origin"] == "commit_message")
            .count(),
        1,
        "{found:#?}"
    );
    // `--history DIR` is a directory, not a range.
    let run = cargo_clay(
        std::path::Path::new("/"),
        &[
            "scan",
            "--history",
            repo.path().to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(!findings(&run).is_empty());
}

// ---------------------------------------------------------------------------------------------
// The index.

#[test]
fn staged_scans_exactly_what_the_next_commit_holds() {
    let repo = Repo::new();
    repo.write("src/a.rs", "// a\n");
    repo.commit_all("start");
    // Staged with a key, then the working copy cleaned without staging: still committed.
    repo.write(
        "src/a.rs",
        format!("// a\nconst K: &str = \"{}\";\n", live_key()),
    );
    repo.git(&["add", "src/a.rs"]);
    repo.write("src/a.rs", "// a\n");
    // In the working tree only, not staged: not part of the next commit.
    repo.write("src/b.rs", format!("const K: &str = \"{}\";\n", test_key()));
    // Staged UTF-16 and binary content.
    repo.write(
        "c.bin",
        [b"\x00".as_slice(), webhook_secret().as_bytes()].concat(),
    );
    repo.git(&["add", "c.bin"]);

    let found = scan_json(&repo, &["--staged"]);
    let files: Vec<&str> = found.iter().filter_map(|f| f["file"].as_str()).collect();
    assert_eq!(files, ["c.bin", "src/a.rs"], "{found:#?}");
    assert!(found.iter().all(|f| f["origin"] == "staged"));
    assert_eq!(find(&found, "src/a.rs")[0]["line"], 2);

    repo.git(&["reset", "-q"]);
    let run = cargo_clay(repo.path(), &["scan", "--staged"]);
    assert_eq!(run.status, 0, "{run:?}");
}

#[test]
fn text_and_sarif_never_show_the_key() {
    let repo = Repo::new();
    repo.write(
        "src/config.rs",
        format!("// c\n// x\nfn k() {{ \"{}\" }}\n", live_key()),
    );
    let added = repo.commit_all("add config");
    repo.remove("src/config.rs");
    repo.commit_all("remove the key");
    repo.write(
        "src/live.rs",
        format!("const K: &str = \"{}\";\n", live_key_2()),
    );

    let text = cargo_clay(repo.path(), &["scan", "--history"]);
    assert_eq!(text.status, 1);
    text.assert_hides(&every_secret());
    assert!(text.stdout.contains("src/config.rs:3:"), "{}", text.stdout);
    assert!(text.stdout.contains(&added), "{}", text.stdout);
    assert!(text.stdout.contains("scan: 2 findings"), "{}", text.stdout);

    let sarif = cargo_clay(repo.path(), &["scan", "--history", "--format", "sarif"]);
    assert_eq!(sarif.status, 1);
    sarif.assert_hides(&every_secret());
    let value = sarif.json();
    assert_valid_sarif(&value);
    let results = value["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 2);
    let deleted = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/config.rs"
        })
        .expect("the deleted key's result");
    assert_eq!(deleted["ruleId"], "live_key");
    assert_eq!(
        deleted["partialFingerprints"]["clayFinding/v1"],
        fingerprint(&live_key())
    );
    assert_eq!(deleted["properties"]["commit"], added.as_str());
}
