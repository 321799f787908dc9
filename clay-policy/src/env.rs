//! Environment names and their aliases.

/// `development`: the least privileged environment, chosen when `CLAY_ENV` is unset.
pub const DEVELOPMENT: &str = "development";
/// `staging`.
pub const STAGING: &str = "staging";
/// `production`.
pub const PRODUCTION: &str = "production";

/// The environments every policy has, in order of increasing privilege.
pub const STANDARD_ENVIRONMENTS: [&str; 3] = [DEVELOPMENT, STAGING, PRODUCTION];

/// The accepted aliases and the names they stand for.
pub const ALIASES: [(&str, &str); 3] = [
    ("dev", DEVELOPMENT),
    ("stage", STAGING),
    ("prod", PRODUCTION),
];

/// Resolves an alias (`dev`, `stage`, `prod`) to its environment name; any other name is
/// returned unchanged.
///
/// ```
/// assert_eq!(clay_policy::canonical_environment("prod"), "production");
/// assert_eq!(clay_policy::canonical_environment("qa"), "qa");
/// ```
pub fn canonical_environment(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical)
}

/// True for a name an environment table may have: `[a-z][a-z0-9_-]*`.
pub fn is_valid_environment_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        assert_eq!(canonical_environment("dev"), DEVELOPMENT);
        assert_eq!(canonical_environment("stage"), STAGING);
        assert_eq!(canonical_environment("prod"), PRODUCTION);
        assert_eq!(canonical_environment("production"), PRODUCTION);
        assert_eq!(canonical_environment("Prod"), "Prod");
    }

    #[test]
    fn environment_names() {
        assert!(is_valid_environment_name("qa-eu_1"));
        assert!(!is_valid_environment_name("QA"));
        assert!(!is_valid_environment_name(""));
        assert!(!is_valid_environment_name("1qa"));
    }
}
