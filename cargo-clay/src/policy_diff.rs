//! `cargo clay policy diff [REV]`: what a change to the policy grants and takes away.
//!
//! The policy in force in the working tree is found as for every command (clay-policy's
//! `find_policy`: the crate root's `clay-policy.toml`, else the workspace root's, else the
//! built-in table). The same file is read at `REV` (`git show REV:path`); when it did not
//! exist there, the built-in table was in force at `REV` as far as this command can tell (a
//! file elsewhere that was in force then and is gone now is not looked for).
//!
//! Per environment it reports the `allow` scopes that widen (granted now, not covered by the
//! old list) or narrow, and the flags: `wildcards`, `live_keys`, `separate_read_write`
//! (turning a guard off widens); an environment added widens, one removed narrows. Globally:
//! rotation ages (longer widens) and `[keys]` (`require_prefix` off widens; a changed prefix
//! counts as widening, for a reviewer to look at). It also checks the crate's declarations
//! against the new policy with clay-policy's `check`, as the derive will, and lists what it
//! would reject. Exit status 1 when anything widens.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use clay_policy::{EnvScopes, FieldDecl, FieldKind, Policy};
use serde::Serialize;
use serde_json::json;

use crate::scopes::ManifestJson;
use crate::{Error, Outcome, util};

/// Output formats of `policy diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Human-readable.
    Text,
    /// Machine-readable.
    Json,
    /// A pull-request comment.
    Markdown,
}

/// Arguments of `cargo clay policy diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The git revision to compare the working tree's policy against.
    #[arg(default_value = "HEAD", value_name = "REV")]
    pub rev: String,
    /// The crate's `Cargo.toml`; default: the nearest one from the current directory.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Read the declarations from this JSON file (as `cargo clay scopes --manifest-json`)
    /// instead of from the derive during `cargo check`.
    #[arg(long, value_name = "FILE")]
    pub manifest_json: Option<PathBuf>,
    /// The policy file, when the crate names one in `#[clay(policy = "…")]` (relative to the
    /// current directory); default: the policy in force for the crate.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Do not check the crate's declarations against the new policy (no build).
    #[arg(long, conflicts_with = "manifest_json")]
    pub no_declarations: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

/// Which way a change moves the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Grants more: a reviewer's signal.
    Widens,
    /// Grants less.
    Narrows,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::Widens => "widens",
            Direction::Narrows => "narrows",
        }
    }
}

/// One change between the two policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The environment, or `None` for `[rotation]` and `[keys]`.
    pub environment: Option<String>,
    /// What changed: `allow`, `wildcards`, `live_keys`, `separate_read_write`,
    /// `environment`, `rotation.max_age_days`, `keys.live_prefix`, ….
    pub setting: String,
    /// The value at the revision (for `allow`, the scope taken away, or empty).
    pub before: String,
    /// The value in the working tree (for `allow`, the scope added, or empty).
    pub after: String,
    /// Widens or narrows.
    pub direction: Direction,
}

/// A declaration the new policy rejects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The config struct.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The rule, e.g. `excessive_scope`.
    pub rule: String,
    /// `[rule] message`, as the derive will report it.
    pub message: String,
    /// False when the old policy rejected it too.
    pub new: bool,
}

/// Every change from `old` to `new`, environments in the new policy's order.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut changes = Vec::new();
    let change =
        |environment: Option<&str>, setting: &str, before: String, after: String, direction| {
            Change {
                environment: environment.map(str::to_owned),
                setting: setting.to_owned(),
                before,
                after,
                direction,
            }
        };
    for env in new.environments() {
        let name = env.name();
        let Some(before) = old.environment(name) else {
            changes.push(change(
                Some(name),
                "environment",
                String::new(),
                format!("added (allows: {})", env.allow()),
                Direction::Widens,
            ));
            continue;
        };
        for scope in env.allow() {
            if !before.allow().allows(scope) {
                changes.push(change(
                    Some(name),
                    "allow",
                    String::new(),
                    scope.to_string(),
                    Direction::Widens,
                ));
            }
        }
        for scope in before.allow() {
            if !env.allow().allows(scope) {
                changes.push(change(
                    Some(name),
                    "allow",
                    scope.to_string(),
                    String::new(),
                    Direction::Narrows,
                ));
            }
        }
        // `true` grants more for the first two; for separate_read_write `true` is the guard.
        for (setting, was, is, true_widens) in [
            ("wildcards", before.wildcards(), env.wildcards(), true),
            ("live_keys", before.live_keys(), env.live_keys(), true),
            (
                "separate_read_write",
                before.separate_read_write(),
                env.separate_read_write(),
                false,
            ),
        ] {
            if was != is {
                let direction = if is == true_widens {
                    Direction::Widens
                } else {
                    Direction::Narrows
                };
                changes.push(change(
                    Some(name),
                    setting,
                    was.to_string(),
                    is.to_string(),
                    direction,
                ));
            }
        }
    }
    for env in old.environments() {
        if new.environment(env.name()).is_none() {
            changes.push(change(
                Some(env.name()),
                "environment",
                format!("removed (allowed: {})", env.allow()),
                String::new(),
                Direction::Narrows,
            ));
        }
    }
    let (was, is) = (old.rotation(), new.rotation());
    for (setting, was, is) in [
        ("rotation.max_age_days", was.max_age_days, is.max_age_days),
        (
            "rotation.warn_age_days",
            was.warn_age_days,
            is.warn_age_days,
        ),
    ] {
        if was != is {
            let direction = if is > was {
                Direction::Widens
            } else {
                Direction::Narrows
            };
            changes.push(change(
                None,
                setting,
                was.to_string(),
                is.to_string(),
                direction,
            ));
        }
    }
    let (was, is) = (old.keys(), new.keys());
    for (setting, was, is) in [
        ("keys.live_prefix", &was.live_prefix, &is.live_prefix),
        ("keys.test_prefix", &was.test_prefix, &is.test_prefix),
    ] {
        if was != is {
            changes.push(change(
                None,
                setting,
                was.clone(),
                is.clone(),
                Direction::Widens,
            ));
        }
    }
    if was.require_prefix != is.require_prefix {
        let direction = if is.require_prefix {
            Direction::Narrows
        } else {
            Direction::Widens
        };
        changes.push(change(
            None,
            "keys.require_prefix",
            was.require_prefix.to_string(),
            is.require_prefix.to_string(),
            direction,
        ));
    }
    changes
}

/// The declarations of `manifest` in clay-policy's form.
fn declarations(manifest: &ManifestJson) -> Vec<FieldDecl> {
    manifest
        .fields
        .iter()
        .map(|field| {
            let kind = match field.kind.as_str() {
                "ApiKey" => FieldKind::ApiKey,
                "Secret" => FieldKind::Secret,
                "WebhookSecret" => FieldKind::WebhookSecret,
                _ => FieldKind::Setting,
            };
            FieldDecl {
                name: field.name.clone(),
                kind,
                optional: field.optional,
                env: Some(field.env.clone()),
                scopes: (kind == FieldKind::ApiKey).then(|| {
                    field
                        .scopes
                        .iter()
                        .map(|(environment, scopes)| EnvScopes {
                            environment: environment.clone(),
                            scopes: scopes.clone(),
                        })
                        .collect()
                }),
                default: None,
                public: field.public,
            }
        })
        .collect()
}

/// What `new` rejects of the declarations, each marked new when `old` accepted it.
pub fn rejections(manifests: &[ManifestJson], old: &Policy, new: &Policy) -> Vec<Rejection> {
    let mut rejected = Vec::new();
    for manifest in manifests {
        let fields = declarations(manifest);
        let before: BTreeSet<String> = clay_policy::check(&fields, old)
            .iter()
            .map(|f| format!("{:?} {}", f.site, f.rule))
            .collect();
        for finding in clay_policy::check(&fields, new) {
            rejected.push(Rejection {
                type_name: manifest.type_name.clone(),
                rule: finding.rule.name().to_owned(),
                message: finding.to_string(),
                new: !before.contains(&format!("{:?} {}", finding.site, finding.rule)),
            });
        }
    }
    rejected
}

/// The policy in force at `rev`: the file `location` names, read from git; the built-in
/// table when `location` is the built-in table or the file is not in `rev`. Returns the
/// policy and how to name it.
fn policy_at(
    dir: &Path,
    rev: &str,
    location: &clay_policy::PolicyLocation,
) -> Result<(Policy, String), Error> {
    if util::git_output(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .is_none()
    {
        return Err(Error::Usage(format!(
            "`{rev}` is not a git revision of the repository at {}",
            dir.display()
        )));
    }
    let Some(path) = location.path() else {
        return Ok((Policy::builtin().clone(), "built-in table".to_owned()));
    };
    let top = util::git_toplevel(dir)
        .ok_or_else(|| Error::Usage(format!("{}: not in a git work tree", dir.display())))?;
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let relative = util::relative_to(&absolute, &top);
    let object = format!("{rev}:{relative}");
    match util::git_output(dir, &["cat-file", "-e", &object]) {
        None => Ok((
            Policy::builtin().clone(),
            format!("built-in table ({relative} does not exist at {rev})"),
        )),
        Some(_) => {
            // The size first: a huge blob is refused before it is read into memory.
            let size = util::git_output(dir, &["cat-file", "-s", &object])
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if size > clay_policy::MAX_POLICY_FILE_BYTES {
                return Err(Error::Usage(format!(
                    "{object}: larger than {} bytes",
                    clay_policy::MAX_POLICY_FILE_BYTES
                )));
            }
            let bytes = util::git(dir)
                .args(["cat-file", "blob", &object])
                .output()
                .map_err(|e| Error::io("could not run git", e))?;
            if !bytes.status.success() {
                return Err(Error::Usage(format!("{object}: not a file")));
            }
            let text = String::from_utf8(bytes.stdout)
                .map_err(|_| Error::Usage(format!("{object}: not UTF-8")))?;
            let policy = Policy::from_toml(&text, object.clone())
                .map_err(|e| Error::Usage(e.to_string()))?;
            Ok((policy, object))
        }
    }
}

/// Runs `cargo clay policy diff`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let dir = match util::crate_dir(args.manifest_path.as_deref()) {
        Ok(dir) => dir,
        // Outside a crate: the repository's policy at the current directory, no declarations.
        Err(_) if args.manifest_path.is_none() => util::dir_arg(None)?,
        Err(error) => return Err(error),
    };
    let location = match &args.policy {
        Some(path) => {
            let written = path
                .to_str()
                .ok_or_else(|| Error::Usage("the policy path is not valid UTF-8".to_owned()))?;
            clay_policy::find_policy(&util::dir_arg(None)?, Some(written))
        }
        None => clay_policy::find_policy(&dir, None),
    };
    let new = location.load().map_err(|e| Error::Usage(e.to_string()))?;
    let new_name = location.shown().to_owned();
    let (old, old_name) = policy_at(&dir, &args.rev, &location)?;
    let changes = diff(&old, &new);
    let manifests = if args.no_declarations {
        Vec::new()
    } else if let Some(path) = &args.manifest_json {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
        crate::scopes::parse_manifests(&text)
            .map_err(|e| Error::Usage(format!("{}: not a manifest list: {e}", path.display())))?
    } else if dir.join("Cargo.toml").is_file() {
        // A build that fails is expected here when the new policy rejects a declaration; the
        // derive exports the declarations all the same. Any other failure leaves them unknown.
        let (manifests, failure) =
            crate::scopes::export_even_if_rejected(Some(&dir.join("Cargo.toml")))?;
        if let Some(stderr) = failure
            && manifests.is_empty()
        {
            return Err(Error::Usage(format!(
                "`cargo check` failed before the declarations could be read \
                 (--no-declarations compares the policies alone):\n{stderr}"
            )));
        }
        manifests
    } else {
        Vec::new()
    };
    let rejected = rejections(&manifests, &old, &new);
    let widens = changes.iter().any(|c| c.direction == Direction::Widens);
    let text = match args.format {
        DiffFormat::Json => {
            let value = json!({
                "rev": args.rev,
                "old": old_name,
                "new": new_name,
                "widens": widens,
                "changes": changes,
                "rejected": rejected,
            });
            let mut text =
                serde_json::to_string_pretty(&value).map_err(|e| Error::Io(e.to_string()))?;
            text.push('\n');
            text
        }
        DiffFormat::Text => to_text(&args.rev, &old_name, &new_name, &changes, &rejected),
        DiffFormat::Markdown => to_markdown(&args.rev, &old_name, &new_name, &changes, &rejected),
    };
    out.write_all(text.as_bytes())?;
    Ok(Outcome::from_found(widens))
}

fn place(change: &Change) -> &str {
    change.environment.as_deref().unwrap_or("(all)")
}

fn shown_value(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}

fn to_text(rev: &str, old: &str, new: &str, changes: &[Change], rejected: &[Rejection]) -> String {
    let mut out = format!("policy at {rev}: {old}\npolicy in the working tree: {new}\n\n");
    if changes.is_empty() {
        out.push_str("no change to what the policy allows\n");
    }
    for change in changes {
        let _ = writeln!(
            out,
            "{:<8} {:<12} {:<22} {} -> {}",
            change.direction.word(),
            place(change),
            change.setting,
            shown_value(&change.before),
            shown_value(&change.after)
        );
    }
    if !rejected.is_empty() {
        out.push_str("\ndeclarations the new policy rejects:\n");
        for rejection in rejected {
            let _ = writeln!(
                out,
                "  {}{}: {}",
                rejection.type_name,
                if rejection.new {
                    ""
                } else {
                    " (already rejected)"
                },
                rejection.message
            );
        }
    }
    let widening = changes
        .iter()
        .filter(|c| c.direction == Direction::Widens)
        .count();
    let _ = writeln!(
        out,
        "\n{widening} change{} widen{} the policy",
        if widening == 1 { "" } else { "s" },
        if widening == 1 { "s" } else { "" }
    );
    out
}

/// Markdown cells: `|` and line breaks would break the table.
fn cell(text: &str) -> String {
    let text = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    if text.is_empty() {
        "–".to_owned()
    } else {
        format!("`{text}`")
    }
}

fn to_markdown(
    rev: &str,
    old: &str,
    new: &str,
    changes: &[Change],
    rejected: &[Rejection],
) -> String {
    let widening = changes
        .iter()
        .filter(|c| c.direction == Direction::Widens)
        .count();
    let mut out = String::from("### clay-config policy diff\n\n");
    let _ = writeln!(
        out,
        "Policy at `{}` ({}) → working tree ({}).\n",
        rev.replace('`', "'"),
        old.replace('|', "\\|"),
        new.replace('|', "\\|")
    );
    if widening > 0 {
        let _ = writeln!(
            out,
            "**{widening} change{} widen{} what keys may do.**\n",
            if widening == 1 { "" } else { "s" },
            if widening == 1 { "s" } else { "" }
        );
    }
    if changes.is_empty() {
        out.push_str("No change to what the policy allows.\n");
    } else {
        out.push_str("| | environment | setting | before | after |\n|---|---|---|---|---|\n");
        for change in changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                match change.direction {
                    Direction::Widens => "**widens**",
                    Direction::Narrows => "narrows",
                },
                cell(place(change)),
                cell(&change.setting),
                cell(&change.before),
                cell(&change.after)
            );
        }
    }
    if !rejected.is_empty() {
        out.push_str("\n**Declarations the new policy rejects** (the build will fail):\n\n");
        for rejection in rejected {
            let _ = writeln!(
                out,
                "- `{}`{}: {}",
                rejection.type_name,
                if rejection.new {
                    ""
                } else {
                    " (already rejected)"
                },
                rejection.message.replace('\n', " ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::from_toml(text, "test").expect("a valid policy")
    }

    #[test]
    fn wider_scopes_and_dropped_guards_widen() {
        let old = policy(
            "[environments.production]\nallow = [\"read:tables\", \"write:rows\"]\n\
             [rotation]\nmax_age_days = 90\nwarn_age_days = 75\n",
        );
        let new = policy(
            "[environments.production]\nallow = [\"read:*\"]\nwildcards = true\nseparate_read_write = false\n\
             [environments.qa]\nallow = [\"read:tables\"]\n\
             [rotation]\nmax_age_days = 120\nwarn_age_days = 60\n\
             [keys]\nlive_prefix = \"ck_live_\"\n",
        );
        let changes = diff(&old, &new);
        let found: Vec<(Option<&str>, &str, &str, &str, Direction)> = changes
            .iter()
            .filter(|c| !matches!(c.environment.as_deref(), Some("development" | "staging")))
            .map(|c| {
                (
                    c.environment.as_deref(),
                    c.setting.as_str(),
                    c.before.as_str(),
                    c.after.as_str(),
                    c.direction,
                )
            })
            .collect();
        use Direction::*;
        let expected: Vec<(Option<&str>, &str, &str, &str, Direction)> = vec![
            (Some("production"), "allow", "", "read:*", Widens),
            (Some("production"), "allow", "write:rows", "", Narrows),
            (Some("production"), "wildcards", "false", "true", Widens),
            (
                Some("production"),
                "separate_read_write",
                "true",
                "false",
                Widens,
            ),
            (
                Some("qa"),
                "environment",
                "",
                "added (allows: read:tables)",
                Widens,
            ),
            (None, "rotation.max_age_days", "90", "120", Widens),
            (None, "rotation.warn_age_days", "75", "60", Narrows),
            (None, "keys.live_prefix", "sk_live_", "ck_live_", Widens),
        ];
        assert_eq!(found, expected);
    }

    #[test]
    fn the_same_policy_has_no_change_and_narrowing_is_not_widening() {
        let old = policy("[environments.production]\nallow = [\"read:tables\", \"write:rows\"]\n");
        assert!(diff(&old, &old).is_empty());
        let narrower =
            policy("[environments.production]\nallow = [\"read:tables\"]\nlive_keys = false\n");
        let changes = diff(&old, &narrower);
        assert!(!changes.is_empty());
        assert!(
            changes.iter().all(|c| c.direction == Direction::Narrows),
            "{changes:?}"
        );
        // And back: the same changes widen.
        assert!(
            diff(&narrower, &old)
                .iter()
                .all(|c| c.direction == Direction::Widens)
        );
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "`a\\|b c`");
        assert_eq!(cell(""), "–");
    }
}
