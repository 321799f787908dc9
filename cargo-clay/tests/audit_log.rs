//! `cargo clay audit-log keygen` and `cargo clay audit-log verify FILE... [--public-key KEY]
//! [--head SEQ:HASH]`.

mod common;

use std::path::Path;

use clay_config::Secret;
use clay_config::audit::{AuditEntry, AuditSink, Durability, FileSink, SigningKey, VerifyingKey};
use common::*;
use sha2::{Digest, Sha256};

fn entry(n: usize) -> AuditEntry {
    AuditEntry::builder("clay.api.call")
        .user_id(format!("u-{n}"))
        .metadata("n", n)
        .build()
}

/// `keygen` in `dir`: the signing key read back from its file, and the public key printed.
fn keygen(dir: &Path, file: &str) -> (SigningKey, String) {
    let run = cargo_clay(dir, &["audit-log", "keygen", file]);
    assert_eq!(run.status, 0, "{run:?}");
    let text = std::fs::read_to_string(dir.join(file)).expect("the key file");
    let key = SigningKey::from_secret(&Secret::new(text)).expect("a signing key");
    (key, run.stdout.trim().to_owned())
}

/// A closed log of `n` entries, signed by `key` every 10 lines.
fn signed_log(path: &Path, key: SigningKey, n: usize) {
    let sink = FileSink::open(path, Durability::None)
        .expect("opens")
        .signed(key, 10);
    for i in 1..=n {
        sink.write(&entry(i)).expect("writes");
    }
    sink.close().expect("closes");
}

/// Recomputes every `seq`, `prev` and `hash`, from the documented format alone: what anyone
/// who can write the file can do after editing it.
fn rechain(path: &Path) {
    let text = std::fs::read_to_string(path).expect("reads");
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let entry = &line[..line.rfind(",\"seq\":").expect("a chain line")];
        let body = format!("{entry},\"seq\":{},\"prev\":\"{prev}\"}}", i + 1);
        let hash: String = Sha256::new()
            .chain_update(prev.as_bytes())
            .chain_update(body.as_bytes())
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push_str(&format!(
            "{},\"hash\":\"{hash}\"}}\n",
            &body[..body.len() - 1]
        ));
        prev = hash;
    }
    std::fs::write(path, out).expect("writes");
}

#[test]
fn keygen_writes_a_private_key_file_0600_and_prints_the_public_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, printed) = keygen(dir.path(), "audit.key");
    let public: VerifyingKey = printed.parse().expect("stdout is the public key");
    assert_eq!(public, key.verifying_key());
    assert_eq!(printed.lines().count(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("audit.key"))
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The private key is in the file only: not on stdout or stderr.
    let text = std::fs::read_to_string(dir.path().join("audit.key")).expect("reads");
    let secret_hex = text.trim().rsplit(':').next().expect("hex").to_owned();
    assert!(!printed.contains(&secret_hex));

    // Never overwrites, and says why.
    let run = cargo_clay(dir.path(), &["audit-log", "keygen", "audit.key"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("exists"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("audit.key")).expect("reads"),
        text
    );
    // Not even through a symlink to somewhere else.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("link"))
            .expect("symlink");
        let run = cargo_clay(dir.path(), &["audit-log", "keygen", "link"]);
        assert_eq!(run.status, 2, "{run:?}");
        assert!(!dir.path().join("elsewhere").exists());
    }
    // The default file name.
    let run = cargo_clay(dir.path(), &["audit-log", "keygen"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(dir.path().join("clay-audit-signing.key").exists());
    // A directory that does not exist: an I/O error, exit 2.
    let run = cargo_clay(dir.path(), &["audit-log", "keygen", "no/such/dir/key"]);
    assert_eq!(run.status, 2, "{run:?}");
}

#[test]
fn verify_with_the_public_key_finds_a_rechained_edit_that_the_chain_misses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, public) = keygen(dir.path(), "audit.key");
    let log = dir.path().join("audit.log");
    signed_log(&log, key, 25);

    let run = cargo_clay(dir.path(), &["audit-log", "verify", "audit.log"]);
    assert_eq!(run.status, 0, "{run:?}");
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", "audit.log", "--public-key", &public],
    );
    assert_eq!(run.status, 0, "{run:?}");
    assert!(
        run.stdout.contains("3 checkpoint(s) signed"),
        "{}",
        run.stdout
    );

    let text = std::fs::read_to_string(&log).expect("reads");
    std::fs::write(&log, text.replacen("\"u-3\"", "\"u-9\"", 1)).expect("edits");
    rechain(&log);
    let run = cargo_clay(dir.path(), &["audit-log", "verify", "audit.log"]);
    assert_eq!(run.status, 0, "the chain alone is fooled: {run:?}");
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", "audit.log", "--public-key", &public],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stdout.contains("line 11"), "{}", run.stdout);
    assert!(
        run.stdout.contains("checkpoint signs seq 10"),
        "{}",
        run.stdout
    );

    let run = cargo_clay(
        dir.path(),
        &[
            "audit-log",
            "verify",
            "audit.log",
            "--public-key",
            &public,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.status, 1);
    let value = run.json();
    assert_eq!(value["ok"], false);
    assert_eq!(value["signed"], true);
    assert_eq!(value["checkpoints"], 0);
    assert_eq!(value["findings"][0]["line"], 11);
    let run = cargo_clay(
        dir.path(),
        &[
            "audit-log",
            "verify",
            "audit.log",
            "--public-key",
            &public,
            "--format",
            "sarif",
        ],
    );
    assert_eq!(run.status, 1);
    assert_valid_sarif(&run.json());
}

#[test]
fn a_wrong_or_malformed_public_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, _) = keygen(dir.path(), "a.key");
    let (_, other_public) = keygen(dir.path(), "b.key");
    signed_log(&dir.path().join("audit.log"), key, 12);
    let run = cargo_clay(
        dir.path(),
        &[
            "audit-log",
            "verify",
            "audit.log",
            "--public-key",
            &other_public,
        ],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stdout.contains("does not verify with public key"),
        "{}",
        run.stdout
    );

    for bad in ["clay-audit-ed25519-public:00", "not-a-key", ""] {
        let run = cargo_clay(
            dir.path(),
            &["audit-log", "verify", "audit.log", "--public-key", bad],
        );
        assert_eq!(run.status, 2, "{bad}: {run:?}");
        assert!(run.stderr.contains("--public-key"), "{}", run.stderr);
    }
    // The private key where the public one belongs: refused, never echoed.
    let private = std::fs::read_to_string(dir.path().join("a.key")).expect("reads");
    let run = cargo_clay(
        dir.path(),
        &[
            "audit-log",
            "verify",
            "audit.log",
            "--public-key",
            private.trim(),
        ],
    );
    assert_eq!(run.status, 2, "{run:?}");
    run.assert_hides(&[private.trim().rsplit(':').next().expect("hex").to_owned()]);
}

#[test]
fn head_finds_a_log_cut_short_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("audit.log");
    let sink = FileSink::open(&log, Durability::None).expect("opens");
    for i in 1..=8 {
        sink.write(&entry(i)).expect("writes");
    }
    let head = sink.current_head().expect("head").to_string();
    drop(sink);
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", "audit.log", "--head", &head],
    );
    assert_eq!(run.status, 0, "{run:?}");

    let text = std::fs::read_to_string(&log).expect("reads");
    let cut: String = text.lines().take(6).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, cut).expect("cuts");
    assert_eq!(
        cargo_clay(dir.path(), &["audit-log", "verify", "audit.log"]).status,
        0
    );
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", "audit.log", "--head", &head],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stdout.contains("cut short"), "{}", run.stdout);

    for bad in ["8", "x:00", "8:ABC"] {
        let run = cargo_clay(
            dir.path(),
            &["audit-log", "verify", "audit.log", "--head", bad],
        );
        assert_eq!(run.status, 2, "{bad}: {run:?}");
    }
}

#[test]
fn rotated_files_in_order_a_directory_and_a_missing_file_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let sink = FileSink::open(logs.join("audit.log"), Durability::None)
        .expect("opens")
        .max_bytes(1500);
    for i in 1..=40 {
        sink.write(&entry(i)).expect("writes");
    }
    drop(sink);
    assert!(logs.join("audit.log.4").exists());
    for args in [
        vec!["audit-log", "verify", "logs"],
        vec!["audit-log", "verify", "logs/audit.log"],
        vec![
            "audit-log",
            "verify",
            "logs/audit.log.1",
            "logs/audit.log.2",
            "logs/audit.log.3",
        ],
    ] {
        let run = cargo_clay(dir.path(), &args);
        assert_eq!(run.status, 0, "{args:?}: {run:?}");
        assert!(run.stdout.contains(" files"), "{}", run.stdout);
    }
    std::fs::remove_file(logs.join("audit.log.2")).expect("removes");
    let run = cargo_clay(dir.path(), &["audit-log", "verify", "logs"]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stdout.contains("`audit.log.2` is missing"),
        "{}",
        run.stdout
    );
    let run = cargo_clay(
        dir.path(),
        &["audit-log", "verify", "logs", "--format", "json"],
    );
    assert_eq!(run.status, 1);
    let value = run.json();
    assert!(
        value["findings"][0]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("audit.log.3")),
        "{value}"
    );
}
