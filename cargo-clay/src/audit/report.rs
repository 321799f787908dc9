//! The audit as text (for people, control characters escaped), JSON and SARIF.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::ids::{
    AUDIT_LOGGING, DISTINCT_KEYS, ENV_IGNORED, ENV_UNTRACKED, EXCESSIVE, EXPOSED, KEY_AGE,
    KEYS_IN_ENV, MINIMAL_SCOPES, ROTATION, WEBHOOKS,
};
use super::{Audit, Item, Status};
use crate::report::{Level, Report, RuleInfo, escape_text};

/// The rules of the audit report: one per item and row.
pub fn rules() -> Vec<RuleInfo> {
    vec![
        RuleInfo::new(
            KEYS_IN_ENV,
            "API keys in environment variables.",
            "A key literal in a source or config file is shared with everyone who can read the repository. Keys belong in environment variables (Clay's security practice, step 1).",
            "Move the key to an environment variable, rotate it, and load it with clay-config.",
        ),
        RuleInfo::new(
            ENV_IGNORED,
            "`.env` files in `.gitignore`.",
            "`.env`, `.env.local` and `.env.*.local` hold keys and must be ignored by git.",
            "Add `.env`, `.env.local` and `.env.*.local` to .gitignore.",
        ),
        RuleInfo::new(
            ENV_UNTRACKED,
            "`.env` files never committed.",
            "An env file (`.env`, `.env.*`) that is tracked now, or was committed once, exposes its keys to everyone with the history; only `.env.example`, `.env.sample` and `.env.template` holding placeholders may be committed.",
            "`git rm --cached` the file, ignore it, and rotate every key it held.",
        ),
        RuleInfo::new(
            DISTINCT_KEYS,
            "Different keys for dev/staging/prod.",
            "One key shared by two environments lets a development machine act on production.",
            "Create one key per environment (and per service account).",
        ),
        RuleInfo::new(
            MINIMAL_SCOPES,
            "Minimal scopes per environment.",
            "The declared scopes must stay within the least-privilege table (`cargo clay check`).",
            "Reduce the declaration as the derive's message says.",
        ),
        RuleInfo::new(
            WEBHOOKS,
            "Webhook signatures validated.",
            "A webhook secret that no verifier uses means deliveries are trusted unverified: non-test code must call `verify`/`verify_at` on a `WebhookVerifier` or use the axum `VerifiedBody` extractor.",
            "Verify every delivery with clay_config::webhook::WebhookVerifier.",
        ),
        RuleInfo::new(
            AUDIT_LOGGING,
            "Audit logging enabled.",
            "Without an audit log that records entries there is no record of what each key did.",
            "Record API use with clay_config::audit::AuditLog.",
        ),
        RuleInfo::new(
            KEY_AGE,
            "Key age.",
            "Keys older than the policy's rotation age must be rotated.",
            "Rotate the key and update `<VAR>_ISSUED_AT`.",
        ),
        RuleInfo::new(
            EXPOSED,
            "Exposed API key (git scanning).",
            "A key in a file, in any commit of any ref or stash entry, in a commit or tag message, or in an unreachable object is exposed.",
            "Rotate immediately.",
        ),
        RuleInfo::new(
            EXCESSIVE,
            "Excessive scopes (audit logs).",
            "Scopes beyond the table, or granted and never used, widen what a leaked key can do.",
            "Reduce permissions.",
        ),
        RuleInfo::new(
            ROTATION,
            "Missing rotation (key age check).",
            "A key past its rotation age has been exposed to more people and systems than a fresh one.",
            "Schedule rotation.",
        ),
    ]
}

/// The audit as a report: every evidence line of every item (pass items as notes).
pub fn to_report(audit: &Audit) -> Report {
    let mut report = Report::new("audit", rules());
    report.fallback_file = ".gitignore".to_owned();
    let items: Vec<&Item> = audit
        .checklist
        .iter()
        .chain(audit.errors.iter().map(|r| &r.item))
        .collect();
    report.findings = items
        .iter()
        .flat_map(|item| {
            item.evidence
                .iter()
                .filter(|f| f.level != Level::Note)
                .cloned()
        })
        .collect();
    let item_json = |item: &Item| {
        json!({
            "id": item.id,
            "title": item.title,
            "status": item.status.as_str(),
            "evidence": item.evidence,
        })
    };
    report.json_extra.insert(
        "root".into(),
        Value::String(audit.root.display().to_string()),
    );
    report.json_extra.insert(
        "checklist".into(),
        Value::Array(audit.checklist.iter().map(item_json).collect()),
    );
    report.json_extra.insert(
        "error_handling".into(),
        Value::Array(
            audit
                .errors
                .iter()
                .map(|row| {
                    let mut value = item_json(&row.item);
                    value["detection"] = json!(row.detection);
                    value["mitigation"] = json!(row.mitigation);
                    value
                })
                .collect(),
        ),
    );
    report
        .json_extra
        .insert("failed".into(), Value::Bool(audit.failed()));
    report
}

/// The audit as text: each item's verdict and evidence, control characters escaped.
pub fn text(audit: &Audit) -> String {
    let mut out = String::new();
    let item_text = |out: &mut String, item: &Item, extra: &str| {
        let _ = writeln!(
            out,
            "  {:<4}  {}{extra}",
            item.status.as_str().to_uppercase(),
            item.title
        );
        for evidence in &item.evidence {
            let location = evidence.location_text();
            let commit = evidence
                .commit
                .as_deref()
                .map(|c| format!(" [commit {}]", escape_text(c)))
                .unwrap_or_default();
            let message = escape_text(&evidence.message);
            if location.is_empty() {
                let _ = writeln!(out, "          {message}{commit}");
            } else {
                let _ = writeln!(
                    out,
                    "          {}: {message}{commit}",
                    escape_text(&location)
                );
            }
        }
    };
    let _ = writeln!(
        out,
        "Security checklist ({}):",
        escape_text(&audit.root.display().to_string())
    );
    for item in &audit.checklist {
        item_text(&mut out, item, "");
    }
    let _ = writeln!(out, "\nError handling (issue | detection | mitigation):");
    for row in &audit.errors {
        item_text(
            &mut out,
            &row.item,
            &format!(" | {} | {}", row.detection, row.mitigation),
        );
    }
    let all: Vec<&Item> = audit
        .checklist
        .iter()
        .chain(audit.errors.iter().map(|r| &r.item))
        .collect();
    let count = |s: Status| all.iter().filter(|i| i.status == s).count();
    let _ = writeln!(
        out,
        "\naudit: {} failed, {} warnings, {} passed",
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass)
    );
    out
}
