//! Finding, reading and tracking the policy file.
//!
//! Which policy is in force is clay-policy's `find_policy`, the rule `cargo clay` uses too: the
//! attribute's file (relative to the crate root, `CARGO_MANIFEST_DIR`, or absolute), else
//! `clay-policy.toml` in the crate root, else in the workspace root, else the built-in table. The file is read once per expansion and parsed once per
//! distinct content per compiler process: fifty structs naming one policy parse it once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clay_policy::{Policy, PolicyError, Rule};

use crate::attr::Spanned;
use crate::ctxt::Ctxt;

/// The policy a struct is checked against.
pub(crate) struct ResolvedPolicy {
    pub(crate) policy: Arc<Policy>,
    /// The name shown in messages and kept in the manifest: the path as written.
    pub(crate) name: String,
    /// The absolute path, for `include_bytes!` (rebuild tracking); `None` for the built-in table.
    pub(crate) path: Option<String>,
}

/// The outcome of resolving `#[clay(policy = …)]`.
pub(crate) enum PolicyOutcome {
    Resolved(ResolvedPolicy),
    /// The file could not be used (already reported); `path` is still tracked when it exists,
    /// so fixing the file re-runs the derive.
    Failed {
        path: Option<String>,
    },
}

type CacheEntry = (PathBuf, Vec<u8>, Result<Arc<Policy>, PolicyError>);

/// Parsed policies of this compiler process, keyed by path and checked against the bytes just
/// read, so an edited file is never served stale (rust-analyzer keeps the process alive).
static CACHE: Mutex<Vec<CacheEntry>> = Mutex::new(Vec::new());

pub(crate) fn resolve(ctxt: &Ctxt, attr: Option<&Spanned>) -> PolicyOutcome {
    if let Some(attr) = attr
        && clay_policy::looks_like_credential(&attr.text, Policy::builtin().keys())
    {
        ctxt.error_at(
            attr.span,
            Rule::HardcodedSecret,
            "the policy path looks like a key: name the policy file here, keep keys in environment variables",
        );
        return PolicyOutcome::Failed { path: None };
    }
    let crate_root =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    // The one rule of which policy is in force, shared with `cargo clay`.
    let location = clay_policy::find_policy(&crate_root, attr.map(|a| a.text.as_str()));
    let Some(path) = location.path() else {
        return PolicyOutcome::Resolved(ResolvedPolicy {
            policy: Arc::new(Policy::builtin().clone()),
            name: location.shown().to_owned(),
            path: None,
        });
    };
    let shown = location.shown().to_owned();
    // Errors about a file found by convention (no attribute) go on the derive itself.
    let span = attr.map_or_else(proc_macro2::Span::call_site, |a| a.span);
    let bytes = match clay_policy::read_bounded(path, clay_policy::MAX_POLICY_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(err) => {
            let hint = if attr.is_some() {
                " (the path is relative to the crate root, CARGO_MANIFEST_DIR)"
            } else {
                ""
            };
            ctxt.error_at(
                span,
                Rule::PolicyFile,
                format_args!("cannot read policy file `{shown}`: {err}{hint}"),
            );
            return PolicyOutcome::Failed { path: None };
        }
    };
    let tracked = Some(path.display().to_string());
    let Ok(text) = std::str::from_utf8(&bytes) else {
        ctxt.error_at(
            span,
            Rule::PolicyFile,
            format_args!("policy file `{shown}` is not valid UTF-8"),
        );
        return PolicyOutcome::Failed { path: tracked };
    };
    match parse_cached(path, &bytes, text, &shown) {
        Ok(policy) => PolicyOutcome::Resolved(ResolvedPolicy {
            policy,
            name: shown,
            path: tracked,
        }),
        Err(err) => {
            for problem in err.problems() {
                ctxt.error_at(span, Rule::PolicyFile, problem);
            }
            PolicyOutcome::Failed { path: tracked }
        }
    }
}

fn parse_cached(
    path: &Path,
    bytes: &[u8],
    text: &str,
    name: &str,
) -> Result<Arc<Policy>, PolicyError> {
    // A poisoned lock only means another expansion panicked; the cache is then skipped.
    let mut cache = CACHE.lock().ok();
    if let Some(cache) = cache.as_deref()
        && let Some((_, _, result)) = cache
            .iter()
            .find(|(cached_path, cached_bytes, _)| cached_path == path && cached_bytes == bytes)
    {
        return result.clone();
    }
    let result = Policy::from_toml(text, name).map(Arc::new);
    if let Some(cache) = cache.as_deref_mut() {
        cache.retain(|(cached_path, _, _)| cached_path != path);
        cache.push((path.to_path_buf(), bytes.to_vec(), result.clone()));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parse_per_distinct_content() {
        let path = Path::new("/nonexistent/cache-test/clay-policy.toml");
        let text = "[environments.production]\nallow = [\"read:tables\"]\n";
        let first = parse_cached(path, text.as_bytes(), text, "p.toml").expect("valid");
        let again = parse_cached(path, text.as_bytes(), text, "p.toml").expect("valid");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second expansion reuses the parse"
        );
        let edited = text.replace("tables", "rows");
        let changed = parse_cached(path, edited.as_bytes(), &edited, "p.toml").expect("valid");
        assert!(
            !Arc::ptr_eq(&first, &changed),
            "an edited file is parsed again"
        );
        let production = changed.environment("production").expect("production");
        assert!(production.allow().allows_str("read:rows"));
    }
}
