//! `cargo clay audit`: the checklist over fixture repositories.

mod common;

use common::*;
use serde_json::Value;

fn item<'a>(report: &'a Value, section: &str, id: &str) -> &'a Value {
    report[section]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| unreachable!("no item {id} in {report:#}"))
}

fn evidence(item: &Value) -> Vec<Value> {
    item["evidence"].as_array().cloned().unwrap_or_default()
}

/// A tracked `.env` (committed, then untracked: in history only), a tracked
/// `config/.env.local`, a `.gitignore` without `.env.*.local`, staging and production sharing
/// a (test) key, and in production a key issued 332 days before `--today`.
fn bad_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.write(
        ".gitignore",
        ".env\n.env.local\n.env.staging\n.env.production\n",
    );
    repo.write(".env", format!("CLAY_API_KEY={}\n", test_key()));
    repo.git(&["add", "-f", ".env"]);
    let env_commit = repo.commit_all("commit .env by mistake");
    repo.git(&["rm", "-q", "--cached", ".env"]);
    repo.write("config/.env.local", "CLAY_BASE_URL=http://localhost\n");
    repo.git(&["add", "-f", "config/.env.local"]);
    repo.commit_all("untrack .env, track config/.env.local");
    let shared = test_key_2();
    repo.write(
        ".env.staging",
        format!("CLAY_API_KEY={shared}\nCLAY_API_KEY_ISSUED_AT=2026-11-01\n"),
    );
    repo.write(
        ".env.production",
        format!("# prod\nCLAY_API_KEY={shared}\nCLAY_API_KEY_ISSUED_AT=2026-01-01\n"),
    );
    (repo, env_commit)
}

#[test]
fn failing_checklist_with_evidence() {
    let (repo, env_commit) = bad_repo();
    let run = cargo_clay(
        repo.path(),
        &["audit", "--format", "json", "--today", "2026-11-29"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&[test_key(), test_key_2()]);
    let report = run.json();
    assert_eq!(report["failed"], true);

    let ignored = item(&report, "checklist", "env_files_ignored");
    assert_eq!(ignored["status"], "fail");
    let missing: Vec<String> = evidence(ignored)
        .iter()
        .filter(|e| e["level"] == "error")
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("`.env.*.local`"), "{missing:?}");

    let committed = item(&report, "checklist", "env_files_never_committed");
    assert_eq!(committed["status"], "fail");
    let committed = evidence(committed);
    assert!(
        committed
            .iter()
            .any(|e| e["file"] == ".env" && e["commit"] == env_commit.as_str()),
        "{committed:#?}"
    );
    assert!(
        committed
            .iter()
            .any(|e| e["file"] == "config/.env.local" && e.get("commit").is_none()),
        "{committed:#?}"
    );

    let distinct = item(&report, "checklist", "distinct_keys_per_environment");
    assert_eq!(distinct["status"], "fail");
    let distinct = evidence(distinct);
    let shared = distinct
        .iter()
        .find(|e| e["fingerprint"].is_string())
        .expect("the shared key");
    assert_eq!(shared["fingerprint"], fingerprint(&test_key_2()));
    // A test key in production fails too, as it would when the service loads it.
    assert!(
        distinct.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("a test key in production"))),
        "{distinct:#?}"
    );
    let message = shared["message"].as_str().unwrap_or_default();
    assert!(message.contains(".env.staging") && message.contains(".env.production"));

    let age = item(&report, "checklist", "key_age");
    assert_eq!(age["status"], "fail");
    let age = evidence(age);
    let old = age
        .iter()
        .find(|e| e["file"] == ".env.production")
        .expect("the production key's age");
    assert_eq!(old["line"], 3);
    assert!(
        old["message"]
            .as_str()
            .unwrap_or_default()
            .contains("332 days")
    );
    let fresh = age
        .iter()
        .find(|e| e["file"] == ".env.staging")
        .expect("staging");
    assert_eq!(fresh["level"], "note");

    // No Cargo.toml: scopes are a warning, not a failure.
    assert_eq!(
        item(&report, "checklist", "minimal_scopes")["status"],
        "warn"
    );
    assert_eq!(
        item(&report, "checklist", "audit_logging_enabled")["status"],
        "fail"
    );

    // The error table: the key committed in `.env` is an exposed key, found by git scanning.
    let exposed = item(&report, "error_handling", "exposed_api_key");
    assert_eq!(exposed["status"], "fail");
    assert_eq!(exposed["mitigation"], "Rotate immediately");
    assert!(
        evidence(exposed)
            .iter()
            .any(|e| e["file"] == ".env" && e["commit"] == env_commit.as_str())
    );
    let rotation = item(&report, "error_handling", "missing_rotation");
    assert_eq!(rotation["status"], "fail");
    assert_eq!(rotation["detection"], "Key age check");
}

#[test]
fn text_and_sarif() {
    let (repo, _) = bad_repo();
    let text = cargo_clay(repo.path(), &["audit", "--today", "2026-11-29"]);
    assert_eq!(text.status, 1, "{text:?}");
    text.assert_hides(&[test_key(), test_key_2()]);
    for line in [
        "FAIL  `.env` files in `.gitignore`",
        "FAIL  Different keys for dev/staging/prod",
        "FAIL  Exposed API key | Git scanning | Rotate immediately",
        "Missing rotation | Key age check | Schedule rotation",
    ] {
        assert!(
            text.stdout.contains(line),
            "missing {line:?} in\n{}",
            text.stdout
        );
    }
    let sarif = cargo_clay(
        repo.path(),
        &["audit", "--format", "sarif", "--today", "2026-11-29"],
    );
    assert_eq!(sarif.status, 1);
    sarif.assert_hides(&[test_key(), test_key_2()]);
    assert_valid_sarif(&sarif.json());
}

#[test]
fn passing_checklist() {
    let repo = Repo::new();
    repo.write(
        ".gitignore",
        ".env\n.env.local\n.env.*.local\n.env.*\n!.env.example\n",
    );
    repo.write(
        ".env.example",
        "CLAY_API_KEY=sk_live_xxxxxxxxxxxx\nCLAY_WEBHOOK_SECRET=\n",
    );
    repo.write("src/main.rs", SERVICE);
    repo.commit_all("clean service");
    repo.write(
        ".env.development",
        format!(
            "CLAY_API_KEY={}\nCLAY_API_KEY_ISSUED_AT=2026-11-01\n",
            test_key()
        ),
    );
    repo.write(
        ".env.production",
        format!(
            "CLAY_API_KEY={}\nCLAY_API_KEY_ISSUED_AT=2026-11-01T09:00:00Z\n",
            live_key()
        ),
    );
    let run = cargo_clay(
        repo.path(),
        &[
            "audit",
            "--format",
            "json",
            "--today",
            "2026-11-29",
            "--no-check",
        ],
    );
    assert_eq!(run.status, 0, "{run:?}");
    run.assert_hides(&[test_key(), live_key()]);
    let report = run.json();
    for id in [
        "keys_in_env_vars",
        "env_files_ignored",
        "env_files_never_committed",
        "distinct_keys_per_environment",
        "webhook_signatures_validated",
        "audit_logging_enabled",
        "key_age",
    ] {
        assert_eq!(
            item(&report, "checklist", id)["status"],
            "pass",
            "{id}: {report:#}"
        );
    }
    assert_eq!(
        item(&report, "checklist", "minimal_scopes")["status"],
        "warn"
    );
    assert_eq!(
        item(&report, "error_handling", "exposed_api_key")["status"],
        "pass"
    );
    let webhook = &evidence(item(&report, "checklist", "webhook_signatures_validated"))[0];
    assert_eq!(webhook["file"], "src/main.rs");
    assert_eq!(webhook["line"], 12);
    let audit = &evidence(item(&report, "checklist", "audit_logging_enabled"))[0];
    assert_eq!(audit["file"], "src/main.rs");
    assert_eq!(audit["line"], 8);
}

/// A service that verifies webhooks and records audit entries (in non-test code).
const SERVICE: &str = "use clay_config::audit::{AuditEntry, AuditLog, Durability};
use clay_config::webhook::{Scheme, WebhookVerifier};
use clay_config::WebhookSecret;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = AuditLog::open(\"audit.log\", Durability::batched())?;
    let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(\"from-env\"));
    log.record(AuditEntry::builder(\"clay.api.call\").build())?;
    Ok(())
}
fn handle(verifier: &WebhookVerifier, headers: &http::HeaderMap, body: &[u8]) -> bool {
    verifier.verify(headers, body).is_ok()
}
";

/// The text line of an item: `PASS  title`, `FAIL  title`, …
fn status_line<'a>(text: &'a str, title: &str) -> &'a str {
    text.lines()
        .find(|line| {
            line.trim_start()
                .get(6..)
                .is_some_and(|rest| rest.starts_with(title))
        })
        .unwrap_or_else(|| unreachable!("no line for {title:?} in\n{text}"))
}

fn audit_text(repo: &Repo) -> Run {
    let run = cargo_clay(
        repo.path(),
        &["audit", "--no-check", "--today", "2026-11-29"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    run.assert_hides(&[
        live_key(),
        live_key_2(),
        test_key(),
        test_key_2(),
        webhook_secret(),
    ]);
    run
}

#[test]
fn a_tracked_file_ignored_later_still_fails_keys_in_env_vars() {
    let repo = Repo::new();
    repo.write("src/main.rs", SERVICE);
    repo.write("config/prod.env", format!("CLAY_API_KEY={}\n", live_key()));
    repo.commit_all("config");
    repo.write(".gitignore", ".env\n.env.local\n.env.*.local\n*.env\n");
    repo.write(".ignore", "*\n");
    repo.commit_all("ignore");
    let run = audit_text(&repo);
    let line = status_line(&run.stdout, "API keys in environment variables");
    assert!(line.trim_start().starts_with("FAIL"), "{}", run.stdout);
    assert!(
        run.stdout.contains("config/prod.env:1:14"),
        "{}",
        run.stdout
    );
}

#[test]
fn keys_only_in_history_fail_exposed_api_key() {
    let repo = Repo::new();
    repo.write("src/main.rs", SERVICE);
    repo.write(".gitignore", ".env\n.env.local\n.env.*.local\n");
    repo.write(".gitattributes", "*.dat -diff\n");
    repo.write("keys.dat", format!("{}\n", live_key()));
    repo.write(
        "utf16.txt",
        format!("k={}\n", test_key())
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>(),
    );
    repo.commit_all("data");
    repo.remove("keys.dat");
    repo.remove("utf16.txt");
    repo.git(&["add", "-A"]);
    repo.git(&[
        "commit",
        "-q",
        "-m",
        &format!("cleanup (was {})", webhook_secret()),
    ]);
    let run = audit_text(&repo);
    let line = status_line(&run.stdout, "Exposed API key");
    assert!(line.trim_start().starts_with("FAIL"), "{}", run.stdout);
    for expected in ["keys.dat:1:1", "utf16.txt:1:3", "message of commit"] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    // The tree holds no key now.
    assert!(
        status_line(&run.stdout, "API keys in environment variables")
            .trim_start()
            .starts_with("PASS"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_committed_env_production_fails() {
    let repo = Repo::new();
    repo.write("src/main.rs", SERVICE);
    repo.write(".gitignore", ".env\n.env.local\n.env.*.local\n");
    repo.write(".env.production", format!("CLAY_API_KEY={}\n", live_key()));
    repo.commit_all("production settings");
    let run = audit_text(&repo);
    let line = status_line(&run.stdout, "`.env` files never committed");
    assert!(line.trim_start().starts_with("FAIL"), "{}", run.stdout);
    assert!(
        run.stdout.contains("`.env.production` is tracked by git"),
        "{}",
        run.stdout
    );

    // Untracked again, it stays in history.
    repo.git(&["rm", "-q", "--cached", ".env.production"]);
    repo.write(
        ".gitignore",
        ".env\n.env.local\n.env.*.local\n.env.production\n",
    );
    repo.commit_all("untrack");
    let run = audit_text(&repo);
    let line = status_line(&run.stdout, "`.env` files never committed");
    assert!(line.trim_start().starts_with("FAIL"), "{}", run.stdout);
    assert!(
        run.stdout.contains("`.env.production` was committed in"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_example_env_file_with_a_real_key_fails() {
    let repo = Repo::new();
    repo.write("src/main.rs", SERVICE);
    repo.write(".gitignore", ".env\n.env.local\n.env.*.local\n");
    repo.write(".env.example", format!("CLAY_API_KEY={}\n", test_key()));
    repo.commit_all("example");
    let run = audit_text(&repo);
    let line = status_line(&run.stdout, "`.env` files never committed");
    assert!(line.trim_start().starts_with("FAIL"), "{}", run.stdout);
    assert!(run.stdout.contains("not a placeholder"), "{}", run.stdout);
}

#[test]
fn an_imported_verifier_does_not_validate_webhooks() {
    for source in [
        "use clay_config::webhook::WebhookVerifier;\nfn main() {}\n",
        "use clay_config::webhook::{Scheme, WebhookVerifier};\n\
         fn main() {\n    let v = WebhookVerifier::new(Scheme::Stripe, s);\n    // v.verify(&headers, &body)\n    let doc = \"v.verify(&headers, &body)\";\n}\n\
         #[cfg(test)]\nmod tests {\n    fn t() { v.verify(&h, &b).unwrap(); }\n}\n",
    ] {
        let repo = Repo::new();
        repo.write(".gitignore", ".env\n.env.local\n.env.*.local\n");
        repo.write("src/main.rs", source);
        repo.write("tests/it.rs", "fn t() { v.verify(&h, &b).unwrap(); }\n");
        repo.commit_all("service");
        let run = audit_text(&repo);
        let line = status_line(&run.stdout, "Webhook signatures validated");
        assert!(
            line.trim_start().starts_with("FAIL"),
            "{source}\n{}",
            run.stdout
        );
        let line = status_line(&run.stdout, "Audit logging enabled");
        assert!(
            line.trim_start().starts_with("FAIL"),
            "{source}\n{}",
            run.stdout
        );
    }
}

#[test]
fn live_key_outside_production_and_webhook_without_verifier() {
    let repo = Repo::new();
    repo.write(".gitignore", ".env*\n");
    repo.write(
        "src/lib.rs",
        "pub struct C { pub s: clay_config::WebhookSecret }\n",
    );
    repo.commit_all("init");
    repo.write(".env.development", format!("CLAY_API_KEY={}\n", live_key()));
    let run = cargo_clay(repo.path(), &["audit", "--format", "json", "--no-check"]);
    assert_eq!(run.status, 1, "{run:?}");
    let report = run.json();
    let distinct = item(&report, "checklist", "distinct_keys_per_environment");
    assert_eq!(distinct["status"], "fail");
    assert!(
        evidence(distinct)[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("live key in development")
    );
    let webhooks = item(&report, "checklist", "webhook_signatures_validated");
    assert_eq!(webhooks["status"], "fail");
    assert_eq!(evidence(webhooks)[0]["file"], "src/lib.rs");
}

#[test]
fn not_a_repository() {
    let repo = Repo::plain();
    repo.write("README.md", "nothing\n");
    let run = cargo_clay(repo.path(), &["audit", "--format", "json", "--no-check"]);
    assert_eq!(run.status, 1, "{run:?}");
    let report = run.json();
    assert_eq!(
        item(&report, "checklist", "env_files_ignored")["status"],
        "warn"
    );
}
