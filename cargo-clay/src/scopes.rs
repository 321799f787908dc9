//! `cargo clay scopes`: the declared scopes per key and environment; with `--usage AUDIT_LOG`,
//! the declared scopes the audit log never saw used.
//!
//! The declarations are read from what the derive itself produced, never re-parsed from the
//! `#[clay(...)]` attributes (one parser: the derive's). Three ways in:
//!
//! - **Export** (the default, any crate): the derive writes each struct's declarations as JSON
//!   into `CLAY_MANIFEST_DIR` when that variable is set. This command sets it and runs
//!   `cargo check` in a target directory of its own (`target/clay-scopes`), after cleaning the
//!   crate's own artifacts there so that the derive runs again (dependencies stay built).
//! - **Probe** (`--probe`, crates with a library target): a tiny binary crate is generated under
//!   the crate's target directory; it depends on the crate and on the same clay-config, and
//!   prints `<T as ClayConfig>::manifest()` of each `pub` struct that derives `ClayConfig`
//!   (found by looking for `#[derive(… ClayConfig …)]` before `pub struct Name`;
//!   `--type path::Name` names them instead). It also gives the policy's environments.
//! - **JSON** (`--manifest-json FILE`): the same JSON, written by the service itself;
//!   `cargo-clay/README.md` has the hook that prints it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use clay_policy::Scope;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::report::{Finding, Format, Level, Report, RuleInfo};
use crate::{Error, Outcome, util};

/// Arguments of `cargo clay scopes`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The crate's `Cargo.toml`; default: the nearest one from the current directory.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Read the declarations from this JSON file (see cargo-clay/README.md) instead of building a probe.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["manifest_path", "types"])]
    pub manifest_json: Option<PathBuf>,
    /// Read the declarations through a generated probe crate that depends on the library
    /// (instead of the derive's export during `cargo check`).
    #[arg(long)]
    pub probe: bool,
    /// With `--probe`: the config types, as paths in the library (`config::Clay`); default:
    /// every `pub` struct deriving `ClayConfig`.
    #[arg(long = "type", value_name = "PATH", requires = "probe")]
    pub types: Vec<String>,
    /// An audit log (clay-config's file sink): report the declared scopes it never saw used.
    #[arg(long, value_name = "AUDIT_LOG")]
    pub usage: Option<PathBuf>,
    /// Report the declared scopes that no `require!`, `require("…")` or `allows("…")` in the
    /// crate's non-test code needs (exit status 1 when there are any).
    #[arg(long)]
    pub unused: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What one derived config declares (the JSON of the derive's export, of the probe and of
/// `--manifest-json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestJson {
    /// The package that declares it, when known (the derive's export says).
    #[serde(rename = "crate", default, skip_serializing_if = "Option::is_none")]
    pub krate: Option<String>,
    /// The struct's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The policy it was checked against.
    #[serde(default)]
    pub policy: PolicyJson,
    /// The policy's environments, in order.
    #[serde(default)]
    pub environments: Vec<String>,
    /// The fields.
    pub fields: Vec<FieldJson>,
    /// The source file the struct is in, when known (for locations in reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The line of the struct in `source`, when known (the derive's export says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The compilation target that declares it, `lib` or `bin NAME`, when known (the derive's
    /// export says): a struct of a module shared by two binaries is listed once per binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl ManifestJson {
    /// The environments of the table's columns: the policy's, in the policy's order, then any
    /// other that a field names.
    pub fn environment_order(&self) -> Vec<String> {
        let mut environments = self.environments.clone();
        for field in &self.fields {
            for environment in field.scopes.keys() {
                if !environments.contains(environment) {
                    environments.push(environment.clone());
                }
            }
        }
        environments
    }

    /// `src/main.rs:5, bin svc`: where the struct is and which target declares it, as far as
    /// known.
    pub fn location_label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(source) = &self.source {
            parts.push(match self.line {
                Some(line) => format!("{source}:{line}"),
                None => source.clone(),
            });
        }
        if let Some(target) = &self.target {
            parts.push(target.clone());
        }
        parts.join(", ")
    }
}

/// The policy of a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyJson {
    /// `built-in table` or the file as named in `#[clay(policy = …)]`.
    #[serde(default)]
    pub name: String,
    /// SHA-256 of its text.
    #[serde(default)]
    pub sha256: String,
}

/// One field of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldJson {
    /// The field's name.
    pub name: String,
    /// Its variable.
    pub env: String,
    /// `ApiKey`, `Secret`, `WebhookSecret` or `setting`.
    pub kind: String,
    /// `Option<…>`.
    #[serde(default)]
    pub optional: bool,
    /// Scopes per environment, for keys.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<String>>,
    /// `#[clay(public)]`: a setting named like a secret that really is public.
    #[serde(default)]
    pub public: bool,
}

/// The id of the `--usage` finding.
pub const UNUSED_SCOPE: &str = "unused_scope";

/// Reads manifests from JSON: `{"manifests": [...]}`, a list, or one manifest.
pub fn parse_manifests(text: &str) -> Result<Vec<ManifestJson>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let list = match value {
        Value::Object(mut object) if object.contains_key("manifests") => {
            object.remove("manifests").unwrap_or(Value::Null)
        }
        Value::Array(_) => value,
        other => Value::Array(vec![other]),
    };
    serde_json::from_value(list).map_err(|e| e.to_string())
}

/// The declarations, by the probe or from `--manifest-json`.
pub fn manifests(args: &Args) -> Result<Vec<ManifestJson>, Error> {
    if let Some(path) = &args.manifest_json {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
        return parse_manifests(&text)
            .map_err(|e| Error::Usage(format!("{}: not a manifest list: {e}", path.display())));
    }
    if args.probe {
        return probe(args.manifest_path.as_deref(), &args.types);
    }
    export(args.manifest_path.as_deref())
}

/// The variable that asks the derive to export its declarations (clay-config-macros).
pub const MANIFEST_DIR_VAR: &str = "CLAY_MANIFEST_DIR";

/// The export: see the module documentation.
fn export(manifest_path: Option<&Path>) -> Result<Vec<ManifestJson>, Error> {
    let (manifests, failure) = export_even_if_rejected(manifest_path)?;
    match failure {
        Some(stderr) => Err(Error::Usage(format!(
            "`cargo check` failed, so some declarations may be missing; `cargo clay check` \
             shows clay-config's errors:\n{stderr}"
        ))),
        None => Ok(manifests),
    }
}

/// The export, and `cargo check`'s standard error when the build failed. The derive exports
/// a struct's declarations even when the policy rejects them, so a build that fails only on
/// clay-config's own checks still yields every declaration.
pub(crate) fn export_even_if_rejected(
    manifest_path: Option<&Path>,
) -> Result<(Vec<ManifestJson>, Option<String>), Error> {
    let crate_dir = util::crate_dir(manifest_path)?;
    let manifest = crate_dir.join("Cargo.toml");
    let metadata = cargo_metadata(&manifest)?;
    let wanted = std::fs::canonicalize(&manifest).unwrap_or(manifest.clone());
    let packages: Vec<&Value> = metadata["packages"]
        .as_array()
        .map_or(Vec::new(), |p| p.iter().collect());
    // The package at the manifest, or every member of a virtual workspace.
    let selected: Vec<String> = match packages.iter().find(|p| {
        p["manifest_path"]
            .as_str()
            .is_some_and(|m| std::fs::canonicalize(m).is_ok_and(|m| m == wanted))
    }) {
        Some(package) => vec![package["name"].as_str().unwrap_or_default().to_owned()],
        None => packages
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect(),
    };
    let target_dir = PathBuf::from(metadata["target_directory"].as_str().unwrap_or("target"))
        .join("clay-scopes");
    // One directory per run: two runs at once must not read each other's files.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let export_dir = target_dir
        .join("manifests")
        .join(format!("{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&export_dir).map_err(|e| Error::io(export_dir.display(), e))?;
    // The derive runs only when its crate is compiled: clean the selected packages' own
    // artifacts in our target directory (their dependencies stay built).
    let mut clean = util::cargo();
    clean
        .args(["clean", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    for name in &selected {
        clean.args(["-p", name]);
    }
    let _ = clean.stdin(Stdio::null()).stderr(Stdio::null()).status();
    let mut check = util::cargo();
    check
        .args(["check", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env(MANIFEST_DIR_VAR, &export_dir);
    if selected.len() > 1 {
        check.arg("--workspace");
    }
    let output = check
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("could not run `cargo check`", e))?;
    let mut manifests = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&export_dir) {
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(found) = parse_manifests(&text) else {
                continue;
            };
            manifests.extend(
                found
                    .into_iter()
                    .filter(|m| m.krate.as_ref().is_none_or(|k| selected.contains(k))),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&export_dir);
    let failure = (!output.status.success()).then(|| {
        String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_owned()
    });
    let base = util::git_toplevel(&crate_dir).unwrap_or_else(|| crate_dir.clone());
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    for manifest in &mut manifests {
        // The derive names the struct's own file; searching for the variable is the fallback
        // (a name can appear in several files).
        let exported = manifest
            .source
            .take()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        let found = exported.or_else(|| {
            manifest.line = None;
            manifest
                .fields
                .first()
                .and_then(|first| locate(&crate_dir, &first.env))
        });
        manifest.source = found.map(|p| util::relative_to(&p, &base));
    }
    manifests.sort_by(|a, b| {
        (&a.krate, &a.source, a.line, &a.type_name, &a.target).cmp(&(
            &b.krate,
            &b.source,
            b.line,
            &b.type_name,
            &b.target,
        ))
    });
    Ok((manifests, failure))
}

/// The Rust file under `dir` that names the variable `"var"` (where the struct declares it).
fn locate(dir: &Path, var: &str) -> Option<PathBuf> {
    let needle = format!("\"{var}\"");
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        .filter_entry(|e| e.file_name() != "target")
        .build()
        .flatten()
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files
        .into_iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(&needle)))
}

/// The probe: see the module documentation.
fn probe(manifest_path: Option<&Path>, types: &[String]) -> Result<Vec<ManifestJson>, Error> {
    let crate_dir = util::crate_dir(manifest_path)?;
    let manifest = crate_dir.join("Cargo.toml");
    let metadata = cargo_metadata(&manifest)?;
    let package = metadata["packages"]
        .as_array()
        .and_then(|packages| {
            let wanted = std::fs::canonicalize(&manifest).unwrap_or(manifest.clone());
            packages.iter().find(|p| {
                p["manifest_path"]
                    .as_str()
                    .is_some_and(|m| std::fs::canonicalize(m).is_ok_and(|m| m == wanted))
            })
        })
        .ok_or_else(|| {
            Error::Usage(format!(
                "{}: not a package (a virtual workspace? pass the member's --manifest-path)",
                manifest.display()
            ))
        })?;
    let name = package["name"].as_str().unwrap_or_default().to_owned();
    let lib = package["targets"].as_array().and_then(|targets| {
        targets.iter().find(|t| {
            t["kind"].as_array().is_some_and(|kinds| {
                kinds
                    .iter()
                    .any(|k| matches!(k.as_str(), Some("lib" | "rlib" | "dylib")))
            })
        })
    });
    let Some(lib) = lib else {
        return Err(Error::Usage(format!(
            "`{name}` has no library target, so no probe can depend on it: print the manifest \
             from the binary with the hook in cargo-clay/README.md and pass --manifest-json FILE"
        )));
    };
    let clay_dep = package["dependencies"]
        .as_array()
        .and_then(|deps| deps.iter().find(|d| d["name"] == "clay-config"))
        .ok_or_else(|| Error::Usage(format!("`{name}` does not depend on clay-config")))?;
    let lib_src = PathBuf::from(lib["src_path"].as_str().unwrap_or_default());
    let discovered = if types.is_empty() {
        discover(&lib_src)
    } else {
        types.iter().map(|t| (t.clone(), None)).collect()
    };
    if discovered.is_empty() {
        return Ok(Vec::new());
    }
    let target_dir = PathBuf::from(metadata["target_directory"].as_str().unwrap_or("target"));
    let probe_dir = target_dir.join("clay-scopes-probe");
    std::fs::create_dir_all(probe_dir.join("src"))
        .map_err(|e| Error::io(probe_dir.display(), e))?;
    let clay_spec = match clay_dep["path"].as_str() {
        Some(path) => format!("{{ path = {}, default-features = false }}", toml_str(path)),
        None => format!(
            "{{ version = {}, default-features = false }}",
            toml_str(clay_dep["req"].as_str().unwrap_or("*"))
        ),
    };
    let cargo_toml = format!(
        "# Generated by `cargo clay scopes`: prints the manifests of `{name}`.\n\
         [package]\nname = \"clay-scopes-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[workspace]\n\n[dependencies]\n\
         clay_scopes_target = {{ package = {}, path = {} }}\nclay-config = {clay_spec}\n",
        toml_str(&name),
        toml_str(&crate_dir.to_string_lossy()),
    );
    write_if_changed(&probe_dir.join("Cargo.toml"), &cargo_toml)?;
    write_if_changed(&probe_dir.join("src/main.rs"), &probe_main(&discovered))?;
    // The crate's own lock file, so the probe builds the versions the crate builds.
    let lock = PathBuf::from(metadata["workspace_root"].as_str().unwrap_or(".")).join("Cargo.lock");
    if lock.is_file() {
        let _ = std::fs::copy(&lock, probe_dir.join("Cargo.lock"));
    }
    let output = util::cargo()
        .args(["run", "--quiet", "--manifest-path"])
        .arg(probe_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("could not run `cargo run` on the probe", e))?;
    if !output.status.success() {
        return Err(Error::Usage(format!(
            "the scopes probe did not build (are the config types `pub` and reachable from the \
             crate root? name them with --type, or use --manifest-json):\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    let mut manifests = parse_manifests(&String::from_utf8_lossy(&output.stdout))
        .map_err(|e| Error::Io(format!("the probe printed no manifest list: {e}")))?;
    let base = util::git_toplevel(&crate_dir).unwrap_or(crate_dir);
    for (manifest, (_, source)) in manifests.iter_mut().zip(&discovered) {
        manifest.source = source.as_ref().map(|s| util::relative_to(s, &base));
    }
    Ok(manifests)
}

fn cargo_metadata(manifest: &Path) -> Result<Value, Error> {
    let output = util::cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("could not run `cargo metadata`", e))?;
    if !output.status.success() {
        return Err(Error::Usage(format!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| Error::io("`cargo metadata` output", e))
}

/// The `pub` structs deriving `ClayConfig` in the library whose root file is `lib_src`, as
/// paths from the crate root, with the file each is in. Only what the derive's input looks
/// like is matched (`#[derive(…ClayConfig…)]` then `pub struct Name`); the attributes
/// themselves are the derive's business.
fn discover(lib_src: &Path) -> Vec<(String, Option<PathBuf>)> {
    let Some(root_dir) = lib_src.parent() else {
        return Vec::new();
    };
    let (Ok(derive), Ok(item)) = (
        Regex::new(r"#\s*\[\s*derive\s*\(([^\]]*)\)\s*\]"),
        Regex::new(r"\b(pub(?:\s*\([^)]*\))?\s+)?struct\s+([A-Za-z_][A-Za-z0-9_]*)"),
    ) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(root_dir)
        .build()
        .flatten()
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter(|p| {
            // Binaries of the same package are not part of the library.
            let relative = p.strip_prefix(root_dir).unwrap_or(p);
            relative != Path::new("main.rs") && !relative.starts_with("bin")
        })
        .collect();
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let module = module_path(lib_src, root_dir, &file);
        let inline_modules = inline_modules(&text);
        for derive_match in derive.captures_iter(&text) {
            let list = &derive_match[1];
            if !list
                .split(',')
                .any(|d| d.trim().rsplit("::").next() == Some("ClayConfig"))
            {
                continue;
            }
            let end = derive_match.get(0).map_or(0, |m| m.end());
            let Some(next) = item.captures(&text[end..]) else {
                continue;
            };
            let is_pub = next.get(1).is_some_and(|v| v.as_str().trim() == "pub");
            let name = &next[2];
            if !is_pub {
                eprintln!(
                    "note: `{name}` in {} is not `pub`: the probe cannot reach it (skipped)",
                    file.display()
                );
                continue;
            }
            let offset = derive_match.get(0).map_or(0, |m| m.start());
            let enclosing: Vec<&InlineModule> = inline_modules
                .iter()
                .filter(|m| m.body.contains(&offset))
                .collect();
            if let Some(private) = enclosing.iter().find(|m| !m.public) {
                eprintln!(
                    "note: `{name}` in {} is inside the private module `{}`: the probe cannot \
                     reach it (skipped)",
                    file.display(),
                    private.name
                );
                continue;
            }
            let mut path = module.clone();
            path.extend(enclosing.iter().map(|m| m.name.clone()));
            path.push(name.to_owned());
            found.push((path.join("::"), Some(file.clone())));
        }
    }
    found
}

/// A `mod name { … }` written inline in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InlineModule {
    name: String,
    public: bool,
    /// Byte range of its body, between the braces.
    body: std::ops::Range<usize>,
}

/// The inline modules of a Rust file, outermost first. A small lexer: it skips comments,
/// strings, raw strings and char literals so that braces inside them do not count, and
/// recognises `[pub[(…)]] mod name {`. Nothing else of the syntax is interpreted.
fn inline_modules(text: &str) -> Vec<InlineModule> {
    let bytes = text.as_bytes();
    let mut modules = Vec::new();
    // (index into `modules`, brace depth at which its body started)
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut tokens: Vec<&str> = Vec::new();
    let mut i = 0;
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut nesting = 0usize;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        nesting += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        nesting -= 1;
                        i += 2;
                        if nesting == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                tokens.clear();
                continue;
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
                if bytes.get(i + 1) == Some(&b'\\') {
                    i += 3;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
                tokens.clear();
                continue;
            }
            b'{' => {
                depth += 1;
                let n = tokens.len();
                if n >= 2 && tokens[n - 2] == "mod" {
                    // Only a plain `pub` is reachable from the probe (not `pub(crate)`).
                    modules.push(InlineModule {
                        name: tokens[n - 1].to_owned(),
                        public: n >= 3 && tokens[n - 3] == "pub",
                        body: i + 1..text.len(),
                    });
                    open.push((modules.len() - 1, depth));
                }
                tokens.clear();
            }
            b'}' => {
                if let Some(&(index, at)) = open.last()
                    && at == depth
                {
                    modules[index].body.end = i;
                    open.pop();
                }
                depth = depth.saturating_sub(1);
                tokens.clear();
            }
            b'r' | b'b' if !i.checked_sub(1).is_some_and(|p| is_ident(bytes[p])) => {
                // Raw strings: r"…", r#"…"#, br#"…"#.
                let mut j = i + 1;
                if b == b'b' && bytes.get(j) == Some(&b'r') {
                    j += 1;
                }
                let hashes_start = j;
                while bytes.get(j) == Some(&b'#') {
                    j += 1;
                }
                if bytes.get(j) == Some(&b'"') && (b == b'r' || j > i + 1) {
                    let closing: Vec<u8> = std::iter::once(b'"')
                        .chain(std::iter::repeat_n(b'#', j - hashes_start))
                        .collect();
                    i = memchr::memmem::find(&bytes[j + 1..], &closing)
                        .map_or(bytes.len(), |n| j + 1 + n + closing.len());
                    tokens.clear();
                    continue;
                }
                let end = (i..bytes.len())
                    .find(|&k| !is_ident(bytes[k]))
                    .unwrap_or(bytes.len());
                tokens.push(&text[i..end]);
                i = end;
                continue;
            }
            b if is_ident(b) => {
                let end = (i..bytes.len())
                    .find(|&k| !is_ident(bytes[k]))
                    .unwrap_or(bytes.len());
                tokens.push(&text[i..end]);
                i = end;
                continue;
            }
            b'(' | b')' => tokens.push(if b == b'(' { "(" } else { ")" }),
            b if b.is_ascii_whitespace() => {}
            _ => tokens.clear(),
        }
        i += 1;
    }
    modules
}

/// `src/a/b.rs` or `src/a/b/mod.rs` → `["a", "b"]`.
fn module_path(lib_src: &Path, root_dir: &Path, file: &Path) -> Vec<String> {
    if file == lib_src {
        return Vec::new();
    }
    let relative = file.strip_prefix(root_dir).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn probe_main(types: &[(String, Option<PathBuf>)]) -> String {
    let mut calls = String::new();
    for (path, _) in types {
        let _ = writeln!(
            calls,
            "        <clay_scopes_target::{path} as clay_config::ClayConfig>::manifest(),"
        );
    }
    format!(
        r#"// Generated by `cargo clay scopes`.
fn esc(s: &str) -> String {{
    let mut o = String::from("\"");
    for c in s.chars() {{
        match c {{
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{{:04x}}", c as u32)),
            c => o.push(c),
        }}
    }}
    o.push('"');
    o
}}

fn manifest_json(m: &clay_config::Manifest) -> String {{
    let environments: Vec<String> = match m.policy.policy() {{
        Ok(policy) => policy.environment_names().map(esc).collect(),
        Err(_) => Vec::new(),
    }};
    let fields: Vec<String> = m
        .fields
        .iter()
        .map(|f| {{
            let scopes: Vec<String> = f
                .scopes
                .iter()
                .map(|s| {{
                    let list: Vec<String> = s.scopes.iter().map(|x| esc(x)).collect();
                    format!("{{}}:[{{}}]", esc(s.environment), list.join(","))
                }})
                .collect();
            format!(
                "{{{{\"name\":{{}},\"env\":{{}},\"kind\":{{}},\"optional\":{{}},\"scopes\":{{{{{{}}}}}}}}}}",
                esc(f.name),
                esc(f.env),
                esc(f.kind.name()),
                f.optional,
                scopes.join(",")
            )
        }})
        .collect();
    format!(
        "{{{{\"type\":{{}},\"policy\":{{{{\"name\":{{}},\"sha256\":{{}}}}}},\"environments\":[{{}}],\"fields\":[{{}}]}}}}",
        esc(m.type_name),
        esc(m.policy.name()),
        esc(m.policy.sha256()),
        environments.join(","),
        fields.join(",")
    )
}}

fn main() {{
    let manifests: Vec<&'static clay_config::Manifest> = vec![
{calls}    ];
    let list: Vec<String> = manifests.iter().map(|m| manifest_json(m)).collect();
    println!("{{{{\"manifests\":[{{}}]}}}}", list.join(","));
}}
"#
    )
}

fn toml_str(text: &str) -> String {
    // A TOML basic string is a JSON string for our purposes (paths, names).
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), Error> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| Error::io(path.display(), e))
}

/// Declared scopes that the audit log never saw used, per key and environment: only for the
/// environments the log saw at all (a development log says nothing about production).
pub fn unused(manifests: &[ManifestJson], log: &Path) -> Result<Vec<Finding>, Error> {
    let usage = clay_config::audit::scope_usage(log).map_err(|e| Error::Io(e.to_string()))?;
    let seen_environments: BTreeSet<&str> = usage.keys().map(|k| k.environment()).collect();
    let mut findings = Vec::new();
    // Several structs (or one struct in several binaries): each finding says which.
    let labelled = manifests.len() > 1;
    for manifest in manifests {
        let label = manifest.location_label();
        for field in manifest.fields.iter().filter(|f| f.kind == "ApiKey") {
            for environment in manifest.environment_order() {
                let Some(declared) = field.scopes.get(&environment) else {
                    continue;
                };
                if !seen_environments.contains(environment.as_str()) {
                    continue;
                }
                let used: Vec<Scope> = usage
                    .get(&field.env, &environment)
                    .map(|k| {
                        k.used()
                            .keys()
                            .filter_map(|s| Scope::parse(s).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                let never: Vec<&str> = declared
                    .iter()
                    .filter(|d| match Scope::parse(d) {
                        Ok(d) => !used.iter().any(|u| d.covers(u)),
                        Err(_) => true,
                    })
                    .map(String::as_str)
                    .collect();
                if never.is_empty() {
                    continue;
                }
                let mut finding = Finding::new(
                    UNUSED_SCOPE,
                    Level::Warning,
                    format!(
                        "`{}.{}` (`{}`{}) declares {} in {environment}, which the audit log never \
                         saw used: remove {} from the declaration (least privilege)",
                        manifest.type_name,
                        field.name,
                        field.env,
                        if labelled && !label.is_empty() {
                            format!(", {label}")
                        } else {
                            String::new()
                        },
                        never.join(", "),
                        if never.len() == 1 { "it" } else { "them" },
                    ),
                );
                if let Some(source) = &manifest.source {
                    finding.file = Some(source.clone());
                    finding.line = Some(manifest.line.unwrap_or(1));
                }
                findings.push(finding);
            }
        }
    }
    Ok(findings)
}

fn table(manifests: &[ManifestJson]) -> String {
    let mut out = String::new();
    if manifests.is_empty() {
        out.push_str("no `#[derive(ClayConfig)]` struct found\n");
    }
    for manifest in manifests {
        let label = manifest.location_label();
        let _ = writeln!(
            out,
            "{}{} (policy: {})",
            manifest.type_name,
            if label.is_empty() {
                String::new()
            } else {
                format!(" [{label}]")
            },
            if manifest.policy.name.is_empty() {
                "?"
            } else {
                &manifest.policy.name
            }
        );
        let environments = manifest.environment_order();
        let mut rows = vec![
            std::iter::once("key".to_owned())
                .chain(std::iter::once("variable".to_owned()))
                .chain(environments.iter().cloned())
                .collect::<Vec<_>>(),
        ];
        for field in manifest.fields.iter().filter(|f| f.kind == "ApiKey") {
            let mut row = vec![
                format!("{}{}", field.name, if field.optional { "?" } else { "" }),
                field.env.clone(),
            ];
            for environment in &environments {
                row.push(match field.scopes.get(environment) {
                    Some(scopes) if !scopes.is_empty() => scopes.join(", "),
                    _ => "-".to_owned(),
                });
            }
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
        }
        out.push('\n');
    }
    out
}

/// Runs `cargo clay scopes`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let manifests = manifests(args)?;
    let mut findings = match &args.usage {
        Some(log) => unused(&manifests, log)?,
        None => Vec::new(),
    };
    if args.unused {
        findings.extend(crate::unused::run(args, &manifests)?);
    }
    let mut report = Report::new(
        "scopes",
        vec![RuleInfo::new(
            UNUSED_SCOPE,
            "A declared scope the audit log never saw used.",
            "The key was granted a scope in an environment the audit log covers, and no \
             `ApiKey::require` in the log asked for anything it covers. Every unused scope \
             widens what a leaked key can do.",
            "Remove the scope from the `#[clay(scopes(...))]` declaration, or narrow it to \
             what is used.",
        )],
    );
    report.findings = findings;
    report
        .json_extra
        .insert("manifests".into(), json!(manifests));
    match args.format {
        Format::Text => {
            out.write_all(table(&manifests).as_bytes())?;
            if args.usage.is_some() || args.unused {
                out.write_all(report.to_text().as_bytes())?;
            }
        }
        format => report.write(format, out)?,
    }
    Ok(Outcome::from_found(report.has_findings()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        let lib = Path::new("/c/src/lib.rs");
        let root = Path::new("/c/src");
        assert!(module_path(lib, root, lib).is_empty());
        assert_eq!(
            module_path(lib, root, Path::new("/c/src/a/b.rs")),
            ["a", "b"]
        );
        assert_eq!(module_path(lib, root, Path::new("/c/src/a/mod.rs")), ["a"]);
    }

    #[test]
    fn inline_module_paths() {
        let text = "// mod fake {\nconst S: &str = \"mod nope {\";\nconst C: char = '{';\n\
                    fn f<'a>(x: &'a str) {}\npub mod outer {\n    mod private { }\n    \
                    pub mod inner { const R: &str = r#\"}\"#; }\n}\npub(crate) mod hidden {}\n";
        let modules = inline_modules(text);
        let names: Vec<(&str, bool)> = modules
            .iter()
            .map(|m| (m.name.as_str(), m.public))
            .collect();
        assert_eq!(
            names,
            [
                ("outer", true),
                ("private", false),
                ("inner", true),
                ("hidden", false)
            ]
        );
        let outer = &modules[0];
        assert!(text[outer.body.clone()].contains("pub mod inner"));
        assert!(text[outer.body.clone()].trim_end().ends_with('}'));
    }

    #[test]
    fn manifest_forms() -> Result<(), String> {
        let one = r#"{"type":"Clay","fields":[{"name":"r","env":"R","kind":"ApiKey","scopes":{"production":["read:tables"]}}]}"#;
        assert_eq!(parse_manifests(one)?.len(), 1);
        assert_eq!(parse_manifests(&format!("[{one},{one}]"))?.len(), 2);
        assert_eq!(
            parse_manifests(&format!("{{\"manifests\":[{one}]}}"))?.len(),
            1
        );
        Ok(())
    }
}
