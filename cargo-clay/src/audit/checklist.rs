//! The checklist items judged from the working tree's keys, the derive's findings, and what the
//! Rust code does ([`crate::source`]): keys in environment variables, minimal scopes, webhook
//! signatures validated, audit logging enabled, excessive scopes.

use std::path::Path;

use super::ids::{AUDIT_LOGGING, EXCESSIVE, KEYS_IN_ENV, MINIMAL_SCOPES, WEBHOOKS};
use super::{Item, Status};
use crate::report::{Finding, Format};
use crate::scan::{self, SecretFinding};
use crate::source::{Call, CallKind, Code};
use crate::{Error, check, util};

/// "API keys in environment variables": no key in the working tree.
pub fn keys_in_env(tree: &[SecretFinding]) -> Item {
    let mut item = Item::new(KEYS_IN_ENV, "API keys in environment variables");
    for secret in tree {
        let mut finding = scan::to_finding(secret);
        finding.message = format!(
            "{} literal in a tracked or trackable file (sha256 {}…): load it from an \
             environment variable instead",
            secret.rule,
            &secret.fingerprint[..12]
        );
        item.fail_with(finding);
    }
    if tree.is_empty() {
        item.add(
            Status::Pass,
            "no key literal in the working tree (every tracked file, and the untracked ones git \
             does not ignore)",
        );
    }
    item
}

/// "Minimal scopes per environment": the derive's findings, from `cargo check`. Also returns
/// those findings, for "Excessive scopes".
pub fn minimal_scopes(root: &Path, no_check: bool) -> (Item, Vec<Finding>) {
    let mut item = Item::new(MINIMAL_SCOPES, "Minimal scopes per environment");
    if no_check {
        item.add(Status::Warn, "not checked (--no-check)");
        return (item, Vec::new());
    }
    if !root.join("Cargo.toml").is_file() {
        item.add(
            Status::Warn,
            "no Cargo.toml here: run `cargo clay check` in the crate that declares the keys",
        );
        return (item, Vec::new());
    }
    let check_args = check::Args {
        manifest_path: Some(root.join("Cargo.toml")),
        all_targets: false,
        workspace: false,
        format: Format::Text,
    };
    let base = util::git_toplevel(root).unwrap_or_else(|| root.to_path_buf());
    match check::run_cargo_check(&check_args, Some(&base)) {
        Ok(result) => {
            for finding in &result.findings {
                // The message already starts with `[rule]`.
                item.fail_with(finding.clone());
            }
            if result.findings.is_empty() {
                if result.success {
                    item.add(
                        Status::Pass,
                        "`cargo check` passes: every declared scope is within the policy",
                    );
                } else {
                    item.add(
                        Status::Warn,
                        format!(
                            "`cargo check` failed with {} error(s) that are not clay-config's: \
                             scopes could not be confirmed",
                            result.other_errors.len()
                        ),
                    );
                }
            }
            (item, result.findings)
        }
        Err(error) => {
            item.add(
                Status::Warn,
                format!("could not run `cargo check`: {error}"),
            );
            (item, Vec::new())
        }
    }
}

/// A call of a webhook verifier's check: `.verify(headers, body)` or
/// `.verify_at(headers, body, at)`, or the same through the type's path.
fn is_verify_call(call: &Call) -> bool {
    match call.kind {
        CallKind::Method => {
            (call.name() == "verify" && call.args == 2)
                || (call.name() == "verify_at" && call.args == 3)
        }
        CallKind::Function => {
            call.path.iter().any(|s| s == "WebhookVerifier")
                && matches!(call.name(), "verify" | "verify_at")
        }
        CallKind::Macro => false,
    }
}

/// "Webhook signatures validated": non-test code verifies deliveries. It passes when the code
/// uses the axum `VerifiedBody` extractor, or calls `verify`/`verify_at` (with a webhook
/// verifier's arguments) and names `WebhookVerifier` outside `use` items. It fails when a
/// `WebhookSecret` or `WebhookVerifier` is declared or imported but nothing verifies; it warns
/// when there is no sign of webhooks at all.
pub fn webhooks(code: &Code) -> Item {
    let mut item = Item::new(WEBHOOKS, "Webhook signatures validated");
    if let Some(extractor) = code.mentions().iter().find(|m| m.has("VerifiedBody")) {
        item.add_at(
            Status::Pass,
            "the axum `VerifiedBody` extractor verifies every delivery before the handler runs",
            &extractor.site.file,
            extractor.site.line,
        );
        return item;
    }
    let verify = code.calls().iter().find(|c| is_verify_call(c));
    match (verify, code.names("WebhookVerifier")) {
        (Some(call), true) => {
            item.add_at(
                Status::Pass,
                format!("a `WebhookVerifier` checks signatures (`{}`)", call.name()),
                &call.site.file,
                call.site.line,
            );
            return item;
        }
        (Some(call), false) => {
            item.add_at(
                Status::Warn,
                format!(
                    "`{}` is called, but no non-test code names `WebhookVerifier`: the call \
                     may not verify webhook signatures",
                    call.name()
                ),
                &call.site.file,
                call.site.line,
            );
        }
        (None, _) => {}
    }
    let declared = code
        .first_mention("WebhookSecret")
        .or_else(|| code.first_mention("WebhookVerifier"))
        .or_else(|| code.first_mention("VerifiedBody"));
    match declared {
        Some(mention) => item.add_at(
            Status::Fail,
            format!(
                "`{}` is declared or imported, but no non-test code verifies a delivery: call \
                 `WebhookVerifier::verify` (or use the axum `VerifiedBody` extractor) before \
                 acting on any webhook",
                ["WebhookSecret", "WebhookVerifier", "VerifiedBody"]
                    .into_iter()
                    .find(|name| mention.has(name))
                    .unwrap_or("WebhookSecret")
            ),
            &mention.site.file,
            mention.site.line,
        ),
        None if item.evidence.is_empty() => {
            item.add(
                Status::Warn,
                "no `WebhookSecret`, `WebhookVerifier` or `VerifiedBody` in the Rust sources: if \
                 the service receives webhooks, verify their signatures",
            );
        }
        None => {}
    }
    item
}

/// A call that records audit entries: `.record(entry)`, or `.attach(&mut config)` /
/// `.attach_key(&mut key)`, which record every later scope use.
fn is_recording_call(call: &Call) -> bool {
    call.kind == CallKind::Method
        && call.args == 1
        && matches!(call.name(), "record" | "attach" | "attach_key")
}

/// "Audit logging enabled": non-test code names `AuditLog` (outside `use` items) and records
/// entries with it.
pub fn audit_logging(code: &Code) -> Item {
    let mut item = Item::new(AUDIT_LOGGING, "Audit logging enabled");
    let record = code.calls().iter().find(|c| is_recording_call(c));
    match (record, code.names("AuditLog")) {
        (Some(call), true) => item.add_at(
            Status::Pass,
            format!("an `AuditLog` records entries (`{}`)", call.name()),
            &call.site.file,
            call.site.line,
        ),
        (None, true) => {
            let mention = code.first_mention("AuditLog");
            let message = "an `AuditLog` is named but no non-test code records an entry: call \
                           `record`, or `attach` it to the loaded config so every scope use is \
                           recorded";
            match mention {
                Some(m) => item.add_at(Status::Fail, message, &m.site.file, m.site.line),
                None => {
                    item.add(Status::Fail, message);
                }
            }
        }
        (_, false) => {
            item.add(
                Status::Fail,
                "no non-test code records to an `AuditLog`: record API use with \
                 clay_config::audit::AuditLog (a file sink keeps a tamper-evident chain)",
            );
        }
    }
    item
}

/// "Excessive scopes": the derive's findings and, with an audit log, scopes granted but never
/// used.
pub fn excessive_scopes(
    check_findings: &[Finding],
    usage: Option<&Path>,
    scopes_status: Status,
) -> Result<Item, Error> {
    let mut item = Item::new(EXCESSIVE, "Excessive scopes");
    for finding in check_findings {
        item.fail_with(finding.clone());
    }
    match usage {
        Some(log) => {
            let usage =
                clay_config::audit::scope_usage(log).map_err(|e| Error::Io(e.to_string()))?;
            let log_name = log.display().to_string();
            for key in usage.keys() {
                let unused = key.unused_granted();
                if !unused.is_empty() {
                    item.add_at(
                        Status::Warn,
                        format!(
                            "`{}` in {} was granted {} but never used them (audit log): \
                             remove them from the declaration",
                            key.var(),
                            key.environment(),
                            unused.join(", ")
                        ),
                        &log_name,
                        1,
                    );
                }
            }
            if item.evidence.is_empty() {
                item.add(
                    Status::Pass,
                    "every granted scope was used according to the audit log",
                );
            }
        }
        None if item.evidence.is_empty() => {
            if scopes_status == Status::Pass {
                item.add(
                    Status::Pass,
                    "every declaration is within the policy; give --usage AUDIT_LOG to also \
                     find granted scopes that are never used",
                );
            } else {
                item.add(
                    Status::Warn,
                    "the declarations could not be checked (see \"Minimal scopes\"); give \
                     --usage AUDIT_LOG to find granted scopes that are never used",
                );
            }
        }
        None => {}
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(source: &str) -> Code {
        Code::from_source("src/main.rs", source).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn webhook_item_needs_a_verification() {
        let pass = |source: &str| webhooks(&code(source)).status == Status::Pass;
        assert!(pass(
            "fn h(v: &WebhookVerifier, h: &HeaderMap, b: &[u8]) { v.verify(h, b).ok(); }"
        ));
        assert!(pass(
            "fn h(v: Arc<WebhookVerifier>) { v.verify_at(&h, &b, now)?; }"
        ));
        assert!(pass(
            "async fn receive(VerifiedBody(body): VerifiedBody) {}"
        ));
        for source in [
            "use clay_config::webhook::WebhookVerifier;\nfn main() {}",
            "fn main() { let v = WebhookVerifier::new(s, k); }",
            "fn main() { let v = WebhookVerifier::new(s, k); } // v.verify(h, b)",
            "fn main() { let v = WebhookVerifier::new(s, k); let m = \"v.verify(h, b)\"; }",
            "struct C { s: WebhookSecret }\n#[cfg(test)] mod t { fn f() { v.verify(h, b); } }",
            "use x::VerifiedBody; fn main() {}",
        ] {
            assert_eq!(webhooks(&code(source)).status, Status::Fail, "{source}");
        }
        assert_eq!(webhooks(&code("fn main() {}")).status, Status::Warn);
        // A `verify` of something else, with no verifier anywhere: not a pass.
        assert_ne!(
            webhooks(&code("fn f() { jwt.verify(t, k); }")).status,
            Status::Pass
        );
    }

    #[test]
    fn audit_item_needs_a_recorded_entry() {
        let status = |source: &str| audit_logging(&code(source)).status;
        assert_eq!(
            status("fn main() { let log = AuditLog::open(p, d)?; log.record(entry)?; }"),
            Status::Pass
        );
        assert_eq!(
            status("fn main() { let log = AuditLog::builder().build(); log.attach(&mut cfg); }"),
            Status::Pass
        );
        for source in [
            "use clay_config::audit::AuditLog;\nfn main() {}",
            "fn main() { let log = AuditLog::builder().build(); }",
            "fn main() { let log = AuditLog::builder().build(); } // log.record(e)",
            "fn main() { let log = AuditLog::open(p, d); }\n#[test] fn t() { log.record(e); }",
        ] {
            assert_eq!(status(source), Status::Fail, "{source}");
        }
    }
}
