//! The loader: reads a derived config from environment variables and refuses what breaks the
//! least-privilege practice. Every problem is collected, so one failed start-up names them all.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::ClayConfig;
use crate::manifest::{FieldManifest, Manifest};
use crate::secret::{ApiKey, Secret, WebhookSecret};
use crate::settings::SettingsFile;
use clay_policy::{FieldKind, Policy, Rotation, ScopeSet, canonical_environment};

/// Selects the environment; unset means `development`.
pub const CLAY_ENV: &str = "CLAY_ENV";
/// Names a TOML settings file (`[default]` and one table per environment).
pub const CLAY_CONFIG: &str = "CLAY_CONFIG";
/// Names a policy file that re-checks the compiled declarations at start-up.
pub const CLAY_POLICY: &str = "CLAY_POLICY";
/// Suffix of the variable that gives a key's issue date: `CLAY_READ_KEY_ISSUED_AT`.
pub const ISSUED_AT_SUFFIX: &str = "_ISSUED_AT";
/// Suffix of the variable that names a file holding a key or secret: `CLAY_READ_KEY_FILE`.
pub const FILE_SUFFIX: &str = "_FILE";

/// One problem that stopped loading, naming the variable it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem {
    var: Option<String>,
    location: Option<clay_policy::Location>,
    message: String,
}

impl LoadProblem {
    /// The variable the problem is about, when there is one.
    pub fn var(&self) -> Option<&str> {
        self.var.as_deref()
    }
    /// Where in a file (the `CLAY_CONFIG` settings file, the `CLAY_POLICY` policy) the problem
    /// is, when it is in one.
    pub fn location(&self) -> Option<&clay_policy::Location> {
        self.location.as_ref()
    }
    /// The message, which never contains a secret.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every problem found while loading: one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    type_name: &'static str,
    problems: Vec<LoadProblem>,
}

impl LoadError {
    /// The problems, in field order after the environment-wide ones.
    pub fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }

    /// True when some problem is about `var`.
    pub fn mentions(&self, var: &str) -> bool {
        self.problems.iter().any(|p| p.var.as_deref() == Some(var))
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "could not load `{}`: {n} problem{}",
            self.type_name,
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Something that did not stop loading but needs attention (a key due for rotation, an
/// ignored `.env` file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    var: Option<String>,
    message: String,
}

impl LoadWarning {
    /// The variable the warning is about, when there is one.
    pub fn var(&self) -> Option<&str> {
        self.var.as_deref()
    }
    /// The message, which never contains a secret.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A loaded config with the warnings found on the way.
#[derive(Debug)]
#[non_exhaustive]
pub struct Loaded<T> {
    /// The config.
    pub config: T,
    /// The environment it was loaded for (canonical name).
    pub environment: String,
    /// Warnings, one per problem that did not stop loading.
    pub warnings: Vec<LoadWarning>,
}

impl<T> Loaded<T> {
    /// Emits each warning: as a `tracing` warning event (target `clay_config`) when a `tracing`
    /// subscriber is installed, else on stderr as `clay-config: warning: …`, one line each, so a
    /// service without a subscriber still shows them.
    pub fn emit_warnings(&self) {
        let has_subscriber = tracing::dispatcher::get_default(|dispatch| {
            !dispatch.is::<tracing::subscriber::NoSubscriber>()
        });
        if !has_subscriber {
            let stderr = std::io::stderr();
            let mut stderr = stderr.lock();
            for warning in &self.warnings {
                use std::io::Write as _;
                let _ = writeln!(stderr, "clay-config: warning: {}", warning.message);
            }
            return;
        }
        for warning in &self.warnings {
            tracing::warn!(
                target: "clay_config",
                var = warning.var.as_deref().unwrap_or(""),
                environment = %self.environment,
                "{}",
                warning.message
            );
        }
    }
}

/// A variable's value as the loader received it.
enum RawValue {
    Text(String),
    NotUnicode,
}

/// Where variables come from: the process (reads `.env` in development) or the caller.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Process,
    Given,
}

/// Reads one config. Created by [`ClayConfig::load`] and friends; the derive's generated
/// `__build` calls its per-field methods.
pub struct Loader {
    manifest: &'static Manifest,
    origin: Origin,
    vars: BTreeMap<String, RawValue>,
    /// The compiled policy, parsed once per process and kept by the manifest.
    policy: &'static Policy,
    /// The environment being loaded: a name from `policy`.
    environment: &'static str,
    /// What keys must satisfy here, runtime policy included; computed once per load.
    rules: KeyRules,
    settings: Option<SettingsFile>,
    problems: Vec<LoadProblem>,
    warnings: Vec<LoadWarning>,
    /// What a key looks like under the compiled policy (clay-policy's one definition).
    key_definition: clay_policy::KeyDefinition,
    /// SHA-256 of each API key seen, to find two key fields holding the same value.
    key_digests: Vec<([u8; 32], &'static str)>,
}

/// The key rules in force for one load: the compiled policy's for the environment, tightened
/// (never loosened) by a `CLAY_POLICY` runtime policy.
struct KeyRules {
    live_allowed: bool,
    require_prefix: bool,
    rotation: Rotation,
}

impl KeyRules {
    fn of(policy: &Policy, environment: &str, runtime: Option<&Policy>) -> Self {
        let live = |p: &Policy| p.environment(environment).is_some_and(|e| e.live_keys());
        let mut rules = KeyRules {
            live_allowed: live(policy),
            require_prefix: policy.keys().require_prefix,
            rotation: policy.rotation(),
        };
        if let Some(runtime) = runtime {
            rules.live_allowed &= live(runtime);
            rules.require_prefix |= runtime.keys().require_prefix;
            let tighter = runtime.rotation();
            rules.rotation.max_age_days = rules.rotation.max_age_days.min(tighter.max_age_days);
            rules.rotation.warn_age_days = rules.rotation.warn_age_days.min(tighter.warn_age_days);
        }
        rules
    }
}

impl Loader {
    pub(crate) fn from_process_env(manifest: &'static Manifest) -> Self {
        let vars = std::env::vars_os().map(|(k, v)| (k, Some(v)));
        Self::new(
            manifest,
            Origin::Process,
            vars.map(|(k, v)| (os_key(k), v.map_or(RawValue::NotUnicode, os_value))),
        )
    }

    pub(crate) fn from_vars<I, K, V>(manifest: &'static Manifest, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), RawValue::Text(v.into())));
        Self::new(manifest, Origin::Given, vars)
    }

    fn new(
        manifest: &'static Manifest,
        origin: Origin,
        vars: impl Iterator<Item = (String, RawValue)>,
    ) -> Self {
        Loader {
            manifest,
            origin,
            vars: vars.collect(),
            policy: Policy::builtin(),
            environment: clay_policy::DEVELOPMENT,
            rules: KeyRules::of(Policy::builtin(), clay_policy::DEVELOPMENT, None),
            settings: None,
            key_definition: clay_policy::KeyDefinition::builtin().clone(),
            problems: Vec::new(),
            warnings: Vec::new(),
            key_digests: Vec::new(),
        }
    }

    fn problem(&mut self, var: Option<&str>, message: String) {
        self.problems.push(LoadProblem {
            var: var.map(str::to_owned),
            location: None,
            message,
        });
    }

    /// A problem a file reader found, kept with its location.
    fn file_problem(&mut self, var: &str, diagnostic: clay_policy::Diagnostic) {
        self.problems.push(LoadProblem {
            var: Some(var.to_owned()),
            message: format!("`{var}` {diagnostic}"),
            location: diagnostic.location,
        });
    }

    fn warning(&mut self, var: Option<&str>, message: String) {
        self.warnings.push(LoadWarning {
            var: var.map(str::to_owned),
            message,
        });
    }

    fn error(self) -> LoadError {
        LoadError {
            type_name: self.manifest.type_name,
            problems: self.problems,
        }
    }

    /// Runs the whole load: environment, policy, `.env`, settings file, every field.
    pub(crate) fn run<T: ClayConfig>(mut self) -> Result<Loaded<T>, LoadError> {
        match self.manifest.policy.policy() {
            Ok(policy) => {
                self.policy = policy;
                self.key_definition = clay_policy::KeyDefinition::for_policy(policy.keys());
            }
            Err(reason) => {
                let message = format!(
                    "the compiled policy `{}` no longer parses ({reason}): rebuild with matching clay-config versions",
                    self.manifest.policy.name()
                );
                self.problem(None, message);
                return Err(self.error());
            }
        }
        if !self.select_environment() {
            return Err(self.error());
        }
        self.read_dotenv();
        let runtime = self.load_runtime_policy();
        self.rules = KeyRules::of(self.policy, self.environment, runtime.as_ref());
        self.load_settings_file();
        let config = T::__build(&mut self);
        match config {
            Some(config) if self.problems.is_empty() => Ok(Loaded {
                config,
                environment: self.environment.to_owned(),
                warnings: self.warnings,
            }),
            _ => Err(self.error()),
        }
    }

    /// The text of a variable; a non-UTF-8 value is reported (once) and treated as unset.
    fn text(&mut self, var: &str) -> Option<String> {
        match self.vars.get(var) {
            Some(RawValue::Text(text)) => Some(text.clone()),
            Some(RawValue::NotUnicode) => {
                self.vars.remove(var);
                self.problem(
                    Some(var),
                    format!("`{var}` is not valid UTF-8: set it to a text value"),
                );
                None
            }
            None => None,
        }
    }

    /// The text of one of the loader's own variables (`CLAY_ENV`, `CLAY_CONFIG`, `CLAY_POLICY`,
    /// `<VAR>_ISSUED_AT`, `<VAR>_FILE`). One that contains a key (by clay-policy's one
    /// definition: pasted into the wrong variable) is refused without being shown; the others
    /// are still echoed only where they cannot be a pasted secret (an existing file's path, a
    /// valid environment name).
    fn control_text(&mut self, var: &str) -> Option<String> {
        let value = self.text(var)?;
        if self.key_definition.contains_key(&value) {
            self.problem(
                Some(var),
                format!("`{var}` holds what looks like a key (not shown): keys go in their own variables"),
            );
            return None;
        }
        Some(value)
    }

    fn select_environment(&mut self) -> bool {
        let Some(raw) = self.control_text(CLAY_ENV) else {
            // Unset means development; a non-UTF-8 value was reported by `text`.
            return self.problems.is_empty();
        };
        let valid: Vec<String> = self.policy.environment_names().map(str::to_owned).collect();
        let aliases = clay_policy::ALIASES
            .iter()
            .map(|(alias, canonical)| format!("{alias} = {canonical}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Surrounding whitespace or capitals are refused, not fixed: picking an environment
        // decides which keys may exist, so it must be exactly what the operator meant.
        if raw != raw.trim() || raw.chars().any(|c| c.is_ascii_uppercase()) {
            let fixed = raw.trim().to_ascii_lowercase();
            let hint = if self.policy.environment(&fixed).is_some() {
                format!("; did you mean `{}`?", canonical_environment(&fixed))
            } else {
                String::new()
            };
            self.problem(
                Some(CLAY_ENV),
                format!(
                    "`CLAY_ENV` has capitals or surrounding spaces (value not shown): environment names are lowercase with no surrounding spaces{hint} (valid: {}; aliases: {aliases})",
                    valid.join(", ")
                ),
            );
            return false;
        }
        match self.policy.environment(&raw) {
            Some(env) => {
                self.environment = env.name();
                true
            }
            None => {
                // The value is not echoed: an unknown name may be a secret pasted into the
                // wrong variable. A near miss names the environment meant instead.
                let hint = self.policy.suggest_environment(&raw);
                self.problem(
                    Some(CLAY_ENV),
                    format!(
                        "`CLAY_ENV` is not an environment of the {} (value not shown){hint} (valid: {}; aliases: {aliases})",
                        self.policy.source().describe(),
                        valid.join(", ")
                    ),
                );
                false
            }
        }
    }

    /// In development, `.env` in the working directory fills in unset variables; elsewhere it
    /// is ignored with a warning. Only for the process environment: given variables are taken
    /// as they are.
    fn read_dotenv(&mut self) {
        if self.origin != Origin::Process || !Path::new(".env").is_file() {
            return;
        }
        if self.environment != clay_policy::DEVELOPMENT {
            let message = format!(
                "`.env` found in the working directory and ignored: `.env` files are read only in development, and `{}` reads secrets from the real environment",
                self.environment
            );
            self.warning(None, message);
            return;
        }
        match dotenvy::from_path_iter(".env") {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Ok((key, value)) => {
                            self.vars.entry(key).or_insert(RawValue::Text(value));
                        }
                        Err(err) => {
                            self.problem(None, format!(".env: {}", dotenv_error(&err)));
                            break;
                        }
                    }
                }
            }
            Err(err) => self.problem(None, format!(".env: {}", dotenv_error(&err))),
        }
    }

    /// Reads `CLAY_POLICY` and re-checks the compiled declarations for this environment with
    /// it; the policy is returned for the key rules it tightens.
    fn load_runtime_policy(&mut self) -> Option<Policy> {
        let path = self.control_text(CLAY_POLICY)?;
        let text = match read_text_file(&path, clay_policy::MAX_POLICY_FILE_BYTES) {
            Ok(text) => text,
            Err(reason) => {
                self.problem(Some(CLAY_POLICY), format!("`CLAY_POLICY` {reason}"));
                return None;
            }
        };
        let policy = match Policy::from_toml(&text, path.clone()) {
            Ok(policy) => policy,
            Err(err) => {
                for diagnostic in err.problems() {
                    self.file_problem(CLAY_POLICY, diagnostic.clone());
                }
                return None;
            }
        };
        if policy.environment(self.environment).is_none() {
            let message = format!(
                "`CLAY_POLICY` {path} does not define `{}`: the runtime policy must cover the environment being loaded",
                self.environment
            );
            self.problem(Some(CLAY_POLICY), message);
            return None;
        }
        let declarations = self.manifest.declarations();
        let findings = clay_policy::check(&declarations, &policy);
        for finding in findings {
            // Only what this process would hold: the loaded environment's declarations.
            let field = match finding.site {
                clay_policy::Site::Scope {
                    field, environment, ..
                }
                | clay_policy::Site::Environment { field, environment } => {
                    let listed = declarations[field]
                        .scopes
                        .as_ref()
                        .and_then(|lists| lists.get(environment))
                        .map(|list| canonical_environment(&list.environment).to_owned());
                    if listed.as_deref() != Some(self.environment) {
                        continue;
                    }
                    field
                }
                _ => continue,
            };
            let var = self.manifest.fields[field].env;
            self.problem(
                Some(var),
                format!("{finding} (runtime policy from `CLAY_POLICY`; key `{var}`)"),
            );
        }
        Some(policy)
    }

    fn load_settings_file(&mut self) {
        let Some(path) = self.control_text(CLAY_CONFIG) else {
            return;
        };
        match SettingsFile::read(&path, self.manifest, self.policy) {
            Ok(file) => self.settings = Some(file),
            Err(problems) => {
                for diagnostic in problems {
                    self.file_problem(CLAY_CONFIG, diagnostic);
                }
            }
        }
    }

    /// Reads a secret variable with the checks every secret gets (set, not blank, no padding or
    /// control characters), and for an API key, not the value of another key. The value comes
    /// from `<VAR>`, or from the file `<VAR>_FILE` names when `<VAR>` is unset.
    fn secret_text(&mut self, field: &'static FieldManifest, required: bool) -> Option<String> {
        let var = field.env;
        let file_var = format!("{var}{FILE_SUFFIX}");
        let value = match (
            self.vars.contains_key(var),
            self.vars.contains_key(&file_var),
        ) {
            (true, true) => {
                self.problem(
                    Some(var),
                    format!("`{var}` and `{file_var}` are both set: set one of them"),
                );
                return None;
            }
            (false, true) => self.secret_file(var, &file_var)?,
            _ => match self.text(var) {
                Some(value) => value,
                None => {
                    if required && !self.mentions(var) {
                        self.problem(
                            Some(var),
                            format!(
                                "missing `{var}`: {} `{}` is required in `{}` (set `{var}`, or `{file_var}` to a file holding it)",
                                kind_phrase(field.kind),
                                field.name,
                                self.environment
                            ),
                        );
                    }
                    return None;
                }
            },
        };
        if value.trim().is_empty() {
            self.problem(
                Some(var),
                format!(
                    "`{var}` is empty: set it to the {} for `{}`",
                    kind_phrase(field.kind),
                    field.name
                ),
            );
            return None;
        }
        // Servers strip padding, so a padded live key would still work while slipping past the
        // live/test and distinct-value rules: refused, and never shown.
        if clay_policy::has_padding_or_control(&value) {
            self.problem(
                Some(var),
                format!(
                    "`{var}` contains whitespace or a control character (a space, a newline, a tab, U+FEFF; value not shown): set the {} without padding",
                    kind_phrase(field.kind)
                ),
            );
            return None;
        }
        // Separate service accounts: two API keys may not share a value. (Other secrets may
        // legitimately coincide with each other: the rule is about separate service accounts.)
        if field.kind != FieldKind::ApiKey {
            return Some(value);
        }
        let digest: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        if let Some((_, other)) = self.key_digests.iter().find(|(d, _)| *d == digest) {
            let other = *other;
            self.problem(
                Some(var),
                format!(
                    "`{other}` and `{var}` hold the same value: each needs its own key (separate service accounts)"
                ),
            );
        } else {
            self.key_digests.push((digest, var));
        }
        Some(value)
    }

    fn mentions(&self, var: &str) -> bool {
        self.problems.iter().any(|p| p.var.as_deref() == Some(var))
    }

    /// The content of the file `<VAR>_FILE` names (Docker and Kubernetes secrets, systemd
    /// credentials), with one trailing `\n` or `\r\n` removed. Its path appears in messages,
    /// its content never.
    fn secret_file(&mut self, var: &str, file_var: &str) -> Option<String> {
        let path = self.control_text(file_var)?;
        let text = match read_text_file(&path, clay_policy::MAX_SECRET_FILE_BYTES) {
            Ok(text) => text,
            Err(reason) => {
                self.problem(Some(var), format!("`{file_var}` {reason}"));
                return None;
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if let Ok(metadata) = std::fs::metadata(&path) {
                let mode = metadata.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    self.warning(
                        Some(var),
                        format!(
                            "`{file_var}` {path} is readable by group or others (mode {mode:03o}): `chmod 600` it, or `400`"
                        ),
                    );
                }
            }
        }
        let value = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        Some(value.to_owned())
    }

    fn key(&mut self, index: usize, optional: bool) -> Option<Option<ApiKey>> {
        let field = self.field(index)?;
        let Some(declared) = field
            .declared_in(self.environment)
            .filter(|d| !d.scopes.is_empty())
        else {
            // Least privilege: a key without scopes here must not be on this machine.
            if self.vars.contains_key(field.env)
                || self
                    .vars
                    .contains_key(&format!("{}{FILE_SUFFIX}", field.env))
            {
                let message = format!(
                    "`{}` is set, but `{}` has no scopes in `{}`: that key must not be present in this environment; unset it",
                    field.env, field.name, self.environment
                );
                self.problem(Some(field.env), message);
                return None;
            }
            if !optional {
                // The derive refuses this declaration; a stale manifest is the only way here.
                self.problem(
                    Some(field.env),
                    format!("`{}` has no scopes in `{}`", field.name, self.environment),
                );
                return None;
            }
            return Some(None);
        };
        let value = self.secret_text(field, true)?;
        self.check_key_environment(field, &value);
        self.check_rotation(field);
        let granted = match ScopeSet::parse(declared.scopes) {
            Ok(set) => set,
            Err(err) => {
                self.problem(
                    Some(field.env),
                    format!("`{}`: declared scope: {err}", field.name),
                );
                return None;
            }
        };
        Some(Some(ApiKey::from_declaration(
            field.env, value, declared, granted,
        )))
    }

    /// Live keys only where `live_keys` is on; test keys only where it is off: clay-policy's
    /// placement rule, with `live_keys` as tightened by a runtime policy.
    fn check_key_environment(&mut self, field: &'static FieldManifest, value: &str) {
        use clay_policy::KeyPlacement;
        let keys = self.policy.keys();
        let (var, environment) = (field.env, self.environment);
        let placement = clay_policy::key_placement_with(
            value,
            self.rules.live_allowed,
            &clay_policy::KeyPrefixes {
                require_prefix: self.rules.require_prefix,
                ..keys.clone()
            },
        );
        let message = match placement {
            KeyPlacement::Allowed => return,
            KeyPlacement::LiveKeyNotAllowed => format!(
                "`{var}` holds a live key ({}…) in {environment}: live keys are allowed only where the policy sets `live_keys = true`; use a test key ({}…) here",
                keys.live_prefix, keys.test_prefix
            ),
            KeyPlacement::TestKeyInLiveEnvironment => format!(
                "`{var}` holds a test key ({}…) in {environment}, which uses live keys: set the live key ({}…)",
                keys.test_prefix, keys.live_prefix
            ),
            KeyPlacement::UnprefixedKey => format!(
                "`{var}` is neither a live key ({}…) nor a test key ({}…), and the policy sets `require_prefix = true`",
                keys.live_prefix, keys.test_prefix
            ),
        };
        self.problem(Some(var), message);
    }

    fn check_rotation(&mut self, field: &'static FieldManifest) {
        use clay_policy::RotationVerdict;
        let var = format!("{}{ISSUED_AT_SUFFIX}", field.env);
        let rotation = self.rules.rotation;
        let Some(issued) = self.control_text(&var) else {
            if self.environment == clay_policy::PRODUCTION && field.kind == FieldKind::ApiKey {
                let message = format!(
                    "`{}` has no `{var}`: age unknown: schedule rotation (set `{var}` to the date the key was issued, YYYY-MM-DD)",
                    field.env
                );
                self.warning(Some(&var), message);
            }
            return;
        };
        // The one rotation rule, shared with `cargo clay audit`.
        let verdict =
            clay_policy::rotation_verdict(&issued, clay_policy::now_unix_seconds(), rotation);
        let message = match &verdict {
            RotationVerdict::Fresh { .. } => return,
            RotationVerdict::Invalid { reason } => {
                // The value is not echoed: it may be a secret pasted into the wrong variable.
                format!("`{var}` is {reason}")
            }
            RotationVerdict::InFuture => format!(
                "`{var}` is in the future: a key cannot have been issued after now; check the date"
            ),
            RotationVerdict::Overdue { age_days } => format!(
                "`{}` was issued {age_days} days ago, past the {}-day rotation limit: rotate it now (create a new key, update `{}`, verify, revoke the old one)",
                field.env, rotation.max_age_days, field.env
            ),
            RotationVerdict::DueSoon { age_days } => format!(
                "`{}` was issued {age_days} days ago: schedule rotation before day {}",
                field.env, rotation.max_age_days
            ),
        };
        let about = match verdict {
            RotationVerdict::Invalid { .. } | RotationVerdict::InFuture => var.as_str(),
            _ => field.env,
        };
        if verdict.is_error_in(self.environment) {
            self.problem(Some(about), message);
        } else {
            self.warning(Some(about), message);
        }
    }

    fn field(&mut self, index: usize) -> Option<&'static FieldManifest> {
        let field = self.manifest.fields.get(index);
        if field.is_none() {
            self.problem(None, format!("internal: no field {index} in the manifest"));
        }
        field
    }

    /// `ApiKey` field. Used by generated code.
    pub fn api_key(&mut self, index: usize) -> Option<ApiKey> {
        self.key(index, false).flatten()
    }

    /// `Option<ApiKey>` field. Used by generated code.
    pub fn optional_api_key(&mut self, index: usize) -> Option<Option<ApiKey>> {
        self.key(index, true)
    }

    fn plain_secret(&mut self, index: usize, required: bool) -> Option<(&'static str, String)> {
        let field = self.field(index)?;
        let value = self.secret_text(field, required)?;
        self.check_rotation(field);
        Some((field.env, value))
    }

    /// `Secret` field. Used by generated code.
    pub fn secret(&mut self, index: usize) -> Option<Secret> {
        self.plain_secret(index, true)
            .map(|(var, value)| Secret::from_var(var, value))
    }

    /// `Option<Secret>` field. Used by generated code.
    pub fn optional_secret(&mut self, index: usize) -> Option<Option<Secret>> {
        let before = self.problems.len();
        let value = self.plain_secret(index, false);
        (self.problems.len() == before)
            .then(|| value.map(|(var, value)| Secret::from_var(var, value)))
    }

    /// `WebhookSecret` field. Used by generated code.
    pub fn webhook_secret(&mut self, index: usize) -> Option<WebhookSecret> {
        self.plain_secret(index, true)
            .map(|(var, value)| WebhookSecret::from_var(var, value))
    }

    /// `Option<WebhookSecret>` field. Used by generated code.
    pub fn optional_webhook_secret(&mut self, index: usize) -> Option<Option<WebhookSecret>> {
        let before = self.problems.len();
        let value = self.plain_secret(index, false);
        (self.problems.len() == before)
            .then(|| value.map(|(var, value)| WebhookSecret::from_var(var, value)))
    }

    /// The raw text of a setting, by precedence, with where it came from.
    fn setting_text(&mut self, field: &'static FieldManifest) -> Option<(String, String)> {
        if let Some(value) = self.text(field.env) {
            return Some((value, format!("`{}`", field.env)));
        }
        if let Some(file) = &self.settings
            && let Some((value, place)) = file.value(self.environment, field.name)
        {
            return Some((value, place));
        }
        field
            .default
            .map(|d| (d.to_owned(), format!("the `default` of `{}`", field.name)))
    }

    fn parse_setting<T: FromStr>(&mut self, index: usize, required: bool) -> Option<Option<T>>
    where
        T::Err: fmt::Display,
    {
        let field = self.field(index)?;
        let Some((text, place)) = self.setting_text(field) else {
            if !required {
                return Some(None);
            }
            if !self.mentions(field.env) {
                self.problem(
                    Some(field.env),
                    format!(
                        "missing `{}`: setting `{}` has no value (set the variable, add it to the `CLAY_CONFIG` file, or give a `default`)",
                        field.env, field.name
                    ),
                );
            }
            return None;
        };
        // A key pasted into a setting would be printed wherever settings are: refused from
        // every source, by the one definition of a key.
        if self.key_definition.contains_key(&text) {
            self.problem(
                Some(field.env),
                format!(
                    "setting `{}` from {place} contains a key (value not shown): keys belong in `ApiKey` or `Secret` fields, read from their own variables",
                    field.name
                ),
            );
            return None;
        }
        match text.parse::<T>() {
            Ok(value) => Some(Some(value)),
            Err(err) => {
                // A setting is not a secret, but a value that might be one is not echoed.
                let reason = if clay_policy::contains_high_entropy_token(&text) {
                    "the value looks like a secret (not shown); secrets belong in `Secret` fields"
                        .to_owned()
                } else {
                    err.to_string()
                };
                self.problem(
                    Some(field.env),
                    format!(
                        "setting `{}` from {place} is not a valid `{}`: {reason}",
                        field.name,
                        std::any::type_name::<T>()
                    ),
                );
                None
            }
        }
    }

    /// A setting of type `T`. Used by generated code.
    pub fn setting<T: FromStr>(&mut self, index: usize) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        self.parse_setting(index, true).flatten()
    }

    /// An `Option<T>` setting. Used by generated code.
    pub fn optional_setting<T: FromStr>(&mut self, index: usize) -> Option<Option<T>>
    where
        T::Err: fmt::Display,
    {
        self.parse_setting(index, false)
    }

    /// The environment being loaded (canonical name).
    pub fn environment(&self) -> &str {
        self.environment
    }
}

fn os_key(key: OsString) -> String {
    key.to_string_lossy().into_owned()
}

fn os_value(value: OsString) -> RawValue {
    value
        .into_string()
        .map_or(RawValue::NotUnicode, RawValue::Text)
}

fn kind_phrase(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::ApiKey => "API key",
        FieldKind::Secret => "secret",
        FieldKind::WebhookSecret => "webhook secret",
        FieldKind::Setting => "setting",
    }
}

/// dotenvy's errors can quote the offending line, which may hold a secret: keep only where.
fn dotenv_error(err: &dotenvy::Error) -> String {
    match err {
        dotenvy::Error::LineParse(_, index) => {
            format!(
                "cannot parse the line at byte {index} (the line is not shown: it may hold a secret)"
            )
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "cannot be read".to_owned(),
    }
}

/// Reads a file named by one of the loader's variables (a regular file of at most `limit`
/// bytes, UTF-8). The error completes a sentence that starts with the variable's name. A path
/// that names nothing is not echoed (it may be a secret pasted into the wrong variable); the
/// path of a file that exists is.
pub(crate) fn read_text_file(path: &str, limit: u64) -> Result<String, String> {
    let bytes = clay_policy::read_bounded(Path::new(path), limit).map_err(|err| match err {
        clay_policy::FileReadError::NotFound => {
            "names no file (the value is not shown: it may be a pasted secret)".to_owned()
        }
        other => format!("{path}: cannot read it: {other}"),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{path}: is not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}
