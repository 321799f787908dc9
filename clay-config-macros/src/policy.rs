//! Finding, reading and tracking the policy file.
//!
//! The path in `#[clay(policy = "…")]` is relative to the crate root (`CARGO_MANIFEST_DIR`);
//! an absolute path is used as it is. The file is read once per expansion and parsed once per
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

pub(crate) fn resolve(
    ctxt: &Ctxt,
    attr: Option<&Spanned>,
    source_file: Option<&Path>,
) -> PolicyOutcome {
    let Some(attr) = attr else {
        return PolicyOutcome::Resolved(ResolvedPolicy {
            policy: Arc::new(Policy::builtin().clone()),
            name: "built-in table".to_owned(),
            path: None,
        });
    };
    if clay_policy::looks_like_credential(&attr.text, Policy::builtin().keys()) {
        ctxt.error_at(
            attr.span,
            Rule::HardcodedSecret,
            "the policy path looks like a key: name the policy file here, keep keys in environment variables",
        );
        return PolicyOutcome::Failed { path: None };
    }
    let path = resolve_path(&attr.text, source_file);
    let shown = path.display().to_string();
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            let reason = match err.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                _ if path.is_dir() => "it is a directory".to_owned(),
                _ => err.to_string(),
            };
            ctxt.error_at(
                attr.span,
                Rule::PolicyFile,
                format_args!(
                    "cannot read policy file `{shown}`: {reason} (the path is relative to the crate root, CARGO_MANIFEST_DIR)"
                ),
            );
            return PolicyOutcome::Failed { path: None };
        }
    };
    let tracked = Some(shown.clone());
    let Ok(text) = std::str::from_utf8(&bytes) else {
        ctxt.error_at(
            attr.span,
            Rule::PolicyFile,
            format_args!("policy file `{shown}` is not valid UTF-8"),
        );
        return PolicyOutcome::Failed { path: tracked };
    };
    match parse_cached(&path, &bytes, text, &attr.text) {
        Ok(policy) => PolicyOutcome::Resolved(ResolvedPolicy {
            policy,
            name: attr.text.clone(),
            path: tracked,
        }),
        Err(err) => {
            for problem in err.problems() {
                ctxt.error_at(
                    attr.span,
                    Rule::PolicyFile,
                    format_args!(
                        "{shown}:{}:{}: {}",
                        problem.line, problem.column, problem.message
                    ),
                );
            }
            PolicyOutcome::Failed { path: tracked }
        }
    }
}

/// The crate root joined with the path as written. When no file is there, the same relative
/// path under the crate that holds the deriving source file is tried: under trybuild the
/// compiled crate is a scratch crate in `target/tests/trybuild/`, while the case's source file
/// (and its fixtures) stay in the real crate.
fn resolve_path(written: &str, source_file: Option<&Path>) -> PathBuf {
    let written = Path::new(written);
    if written.is_absolute() {
        return written.to_path_buf();
    }
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    let primary = root.join(written);
    if primary.exists() {
        return primary;
    }
    source_file
        .and_then(|file| {
            file.ancestors()
                .skip(1)
                .find(|dir| dir.join("Cargo.toml").is_file())
        })
        .map(|source_root| source_root.join(written))
        .filter(|candidate| candidate.exists())
        .unwrap_or(primary)
}

/// The file the derive's input was read from, when the compiler knows it (Rust 1.88+).
pub(crate) fn call_site_file() -> Option<PathBuf> {
    // Outside a compiler (the crate's own tests) there is no call site to ask.
    if !proc_macro::is_available() {
        return None;
    }
    proc_macro::Span::call_site().local_file()
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
    fn falls_back_to_the_crate_of_the_source_file() {
        let real = tempfile_dir("real");
        std::fs::write(real.join("Cargo.toml"), "[package]\n").expect("write");
        std::fs::create_dir_all(real.join("ui/cases")).expect("mkdir");
        std::fs::create_dir_all(real.join("ui/policies")).expect("mkdir");
        std::fs::write(real.join("ui/policies/p.toml"), "").expect("write");
        let source = real.join("ui/cases/case.rs");
        let found = resolve_path("ui/policies/p.toml", Some(&source));
        assert_eq!(found, real.join("ui/policies/p.toml"));
        let missing = resolve_path("ui/policies/nope.toml", Some(&source));
        assert!(missing.ends_with("ui/policies/nope.toml") && !missing.starts_with(&real));
        let _ = std::fs::remove_dir_all(&real);
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clay-macros-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

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
