//! Scopes (`action:resource`), their grammar, and the `covers` relation.

use std::fmt;
use std::str::FromStr;

/// One capability: `action:resource`.
///
/// - action: a lowercase identifier (`read`, `write`, `admin`, …) or `*`;
/// - resource: lowercase identifiers joined by `.` (`tables`, `tables.rows`), `*`, or a prefix
///   ending in `.*` (`tables.*`, everything strictly below `tables`).
///
/// Identifiers are `[a-z][a-z0-9_-]*`.
///
/// ```
/// use clay_policy::Scope;
///
/// let allowed: Scope = "read:tables.*".parse()?;
/// assert!(allowed.covers(&"read:tables.rows".parse()?));
/// assert!(!allowed.covers(&"write:tables.rows".parse()?));
/// assert_eq!(allowed.to_string(), "read:tables.*");
/// # Ok::<(), clay_policy::ScopeError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The canonical text, `action:resource`.
    text: Box<str>,
    /// Byte index of the `:` in `text`.
    colon: usize,
}

/// Why a string is not a scope. The message never repeats the whole input when it looks like a
/// credential (the caller decides; this type only describes the grammar problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError {
    reason: String,
}

impl ScopeError {
    fn new(reason: impl Into<String>) -> Self {
        ScopeError {
            reason: reason.into(),
        }
    }

    /// What is wrong, e.g. ``no `:` between action and resource``.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (a scope is `action:resource`, e.g. `read:tables`)",
            self.reason
        )
    }
}

impl std::error::Error for ScopeError {}

impl Scope {
    /// Parses `action:resource`, with a precise reason on failure.
    pub fn parse(text: &str) -> Result<Scope, ScopeError> {
        let (action, resource) = split_and_validate(text)?;
        Ok(Scope {
            colon: action.len(),
            text: format!("{action}:{resource}").into_boxed_str(),
        })
    }

    /// The action, `read` or `*`.
    pub fn action(&self) -> &str {
        &self.text[..self.colon]
    }

    /// The resource, `tables.rows`, `tables.*` or `*`.
    pub fn resource(&self) -> &str {
        &self.text[self.colon + 1..]
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the action or the resource is a wildcard (`*`, or a `p.*` prefix).
    pub fn is_wildcard(&self) -> bool {
        self.action() == "*" || resource_is_wildcard(self.resource())
    }

    /// True when `self` grants everything `other` grants.
    ///
    /// The action must be equal or `self`'s is `*`; the resource must be equal, or `self`'s is
    /// `*`, or `self`'s is `p.*` and `other`'s lies strictly below `p` (`p.q`, `p.q.*`, or `p.*`
    /// itself). A concrete scope never covers a wildcard.
    pub fn covers(&self, other: &Scope) -> bool {
        covers_parts(
            self.action(),
            self.resource(),
            other.action(),
            other.resource(),
        )
    }

    /// Every scope that [`covers`](Self::covers) `self`, `self` first: a short, finite list
    /// (the action or `*`, times the resource, `*`, and each `p.*` above the resource).
    ///
    /// `clay_config::require!` uses it to ask the type system whether a field declares any of
    /// them, so the question is answered by `cargo check`, without evaluating anything.
    ///
    /// ```
    /// use clay_policy::Scope;
    ///
    /// let asked: Scope = "read:tables.rows".parse()?;
    /// let covering: Vec<String> = asked.covering_scopes().iter().map(|s| s.to_string()).collect();
    /// assert_eq!(
    ///     covering,
    ///     ["read:tables.rows", "read:*", "read:tables.*", "*:tables.rows", "*:*", "*:tables.*"]
    /// );
    /// # Ok::<(), clay_policy::ScopeError>(())
    /// ```
    pub fn covering_scopes(&self) -> Vec<Scope> {
        let resource = self.resource();
        let mut resources = vec![resource.to_owned()];
        if resource != "*" {
            resources.push("*".to_owned());
            // `p.*` covers everything strictly below `p`: each proper prefix of the path, and
            // the path itself when the resource is already `path.*` (then it is `resource`).
            let path = resource.strip_suffix(".*").unwrap_or(resource);
            let ends: Vec<usize> = path.match_indices('.').map(|(i, _)| i).collect();
            resources.extend(ends.iter().map(|&end| format!("{}.*", &path[..end])));
        }
        let mut actions = vec![self.action()];
        if self.action() != "*" {
            actions.push("*");
        }
        actions
            .iter()
            .flat_map(|action| {
                resources.iter().map(move |resource| Scope {
                    colon: action.len(),
                    text: format!("{action}:{resource}").into_boxed_str(),
                })
            })
            .collect()
    }

    /// The resource's path without a trailing `.*` (`tables` for `tables.*`), or `None` for `*`.
    pub fn resource_path(&self) -> Option<&str> {
        let resource = self.resource();
        if resource == "*" {
            None
        } else {
            Some(resource.strip_suffix(".*").unwrap_or(resource))
        }
    }
}

/// `covers` on borrowed parts, so a check against a string needs no allocation.
pub(crate) fn covers_parts(
    action: &str,
    resource: &str,
    other_action: &str,
    other_resource: &str,
) -> bool {
    let action_ok = action == "*" || action == other_action;
    action_ok && resource_covers(resource, other_resource)
}

fn resource_covers(resource: &str, other: &str) -> bool {
    if resource == "*" || resource == other {
        return true;
    }
    match resource.strip_suffix(".*") {
        // `other` must be below `prefix`: `prefix.` followed by something.
        Some(prefix) => other
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| !rest.is_empty()),
        None => false,
    }
}

/// [`resource_covers`] on bytes, for [`ScopeSet::allows_str`].
#[inline]
fn resource_covers_bytes(resource: &[u8], other: &[u8]) -> bool {
    if resource == b"*" || resource == other {
        return true;
    }
    match resource.strip_suffix(b".*") {
        Some(prefix) => {
            other.len() > prefix.len() + 1
                && other.starts_with(prefix)
                && other[prefix.len()] == b'.'
        }
        None => false,
    }
}

fn resource_is_wildcard(resource: &str) -> bool {
    resource == "*" || resource.ends_with(".*")
}

/// True for a valid scope: one pass over the bytes, no allocation. [`split_and_validate`]
/// explains what is wrong when this says no.
#[inline]
fn is_valid_scope(text: &str) -> bool {
    let Some((action, resource)) = text.split_once(':') else {
        return false;
    };
    let is_identifier = |ident: &str| {
        let mut bytes = ident.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let action_ok = action == "*" || is_identifier(action);
    let resource_ok = resource == "*" || {
        let path = resource.strip_suffix(".*").unwrap_or(resource);
        path.split('.').all(is_identifier)
    };
    action_ok && resource_ok
}

/// Splits and validates without allocating on success; used by [`Scope::parse`] and for the
/// catalog's names. The failure path finds the most precise reason.
pub(crate) fn split_and_validate(text: &str) -> Result<(&str, &str), ScopeError> {
    if is_valid_scope(text)
        && let Some(parts) = text.split_once(':')
    {
        return Ok(parts);
    }
    if text.is_empty() {
        return Err(ScopeError::new("empty scope"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(ScopeError::new("contains whitespace"));
    }
    let Some((action, resource)) = text.split_once(':') else {
        return Err(ScopeError::new("no `:` between action and resource"));
    };
    if resource.contains(':') {
        return Err(ScopeError::new("more than one `:`"));
    }
    if text.contains("**") {
        return Err(ScopeError::new(
            "`**` is not a wildcard: use `*` (everything) or `p.*` (everything below `p`)",
        ));
    }
    if action.is_empty() {
        return Err(ScopeError::new("empty action before `:`"));
    }
    if resource.is_empty() {
        return Err(ScopeError::new("empty resource after `:`"));
    }
    if action != "*" {
        validate_identifier(action, "action")?;
    }
    if resource != "*" {
        let path = resource.strip_suffix(".*").unwrap_or(resource);
        for segment in path.split('.') {
            if segment.is_empty() {
                return Err(ScopeError::new(
                    "empty segment in resource (`..`, or a leading or trailing `.`)",
                ));
            }
            if segment.contains('*') {
                return Err(ScopeError::new(
                    "`*` may only be the whole resource or a final `.*`",
                ));
            }
            validate_identifier(segment, "resource")?;
        }
    }
    Ok((action, resource))
}

fn validate_identifier(ident: &str, what: &str) -> Result<(), ScopeError> {
    if ident.contains('*') {
        return Err(ScopeError::new(format!(
            "`*` in {what} must stand alone (`*`), not `{ident}`"
        )));
    }
    if ident.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ScopeError::new(format!(
            "upper case in {what} `{ident}`: scopes are lowercase"
        )));
    }
    let mut chars = ident.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(ScopeError::new(format!(
            "{what} `{}` is not a lowercase identifier (`[a-z][a-z0-9_-]*`)",
            ident.escape_debug()
        )))
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::parse(text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({})", self.text)
    }
}

/// An ordered set of scopes, as granted to one key in one environment.
///
/// ```
/// use clay_policy::ScopeSet;
///
/// let granted = ScopeSet::parse(["read:tables.*", "write:rows"])?;
/// assert!(granted.allows_str("read:tables.people"));
/// assert!(!granted.allows_str("write:tables"));
/// assert!(!granted.allows_str("not a scope"));
/// # Ok::<(), clay_policy::ScopeError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
    /// Some scope has a wildcard: without one, only an exact match is allowed.
    has_wildcard: bool,
}

impl ScopeSet {
    /// An empty set: allows nothing.
    pub fn new() -> Self {
        ScopeSet {
            scopes: Vec::new(),
            has_wildcard: false,
        }
    }

    /// Parses each string; the first malformed one is the error.
    pub fn parse<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        scopes
            .into_iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(ScopeSet::from)
    }

    /// Adds a scope unless it is already present.
    pub fn insert(&mut self, scope: Scope) {
        if !self.scopes.contains(&scope) {
            self.has_wildcard |= scope.is_wildcard();
            self.scopes.push(scope);
        }
    }

    /// True when some scope of the set covers `scope`.
    pub fn allows(&self, scope: &Scope) -> bool {
        self.scopes.iter().any(|granted| granted.covers(scope))
    }

    /// [`allows`](Self::allows) on a string, without allocating; a malformed string is allowed
    /// by nothing.
    ///
    /// An exact grant is a plain string comparison (granted scopes are valid, so an equal
    /// string is a valid scope). Without a wildcard in the set that is the whole answer. With
    /// one, the asked scope's parts are compared to each grant as borrowed slices, and only an
    /// answer that rests on a wildcard validates the asked scope.
    #[inline]
    pub fn allows_str(&self, scope: &str) -> bool {
        if self.scopes.iter().any(|granted| granted.as_str() == scope) {
            return true;
        }
        if !self.has_wildcard {
            return false;
        }
        // Bytes, not `str` slices: the hot loop needs no char-boundary checks.
        let asked = scope.as_bytes();
        let Some(colon) = asked.iter().position(|&b| b == b':') else {
            return false;
        };
        let (action, resource) = (&asked[..colon], &asked[colon + 1..]);
        self.scopes.iter().any(|granted| {
            let text = granted.text.as_bytes();
            let granted_action = &text[..granted.colon];
            (granted_action == b"*" || granted_action == action)
                && resource_covers_bytes(&text[granted.colon + 1..], resource)
        }) && is_valid_scope(scope)
    }

    /// The scopes, in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.scopes.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// True when the set allows nothing.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }
}

impl From<Vec<Scope>> for ScopeSet {
    fn from(scopes: Vec<Scope>) -> Self {
        let mut set = ScopeSet::new();
        for scope in scopes {
            set.insert(scope);
        }
        set
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        ScopeSet::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.scopes.iter()
    }
}

impl fmt::Display for ScopeSet {
    /// Comma-separated, `read:*, write:limited`; `nothing` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scopes.is_empty() {
            return f.write_str("nothing");
        }
        for (i, scope) in self.scopes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.scopes.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scope {
        Scope::parse(text)
            .map_err(|e| format!("{text}: {e}"))
            .expect("a valid scope")
    }

    #[test]
    fn parses_and_displays() {
        for text in [
            "read:tables",
            "*:*",
            "write:tables.rows",
            "read:tables.*",
            "a-b:c_d.e1",
        ] {
            assert_eq!(s(text).to_string(), text);
        }
        assert_eq!(s("read:tables.*").resource_path(), Some("tables"));
        assert_eq!(s("read:*").resource_path(), None);
    }

    #[test]
    fn rejects_malformed_with_reasons() {
        let cases = [
            ("readtables", "no `:`"),
            (":tables", "empty action"),
            ("read:", "empty resource"),
            ("Read:tables", "upper case"),
            ("read: tables", "whitespace"),
            ("read:**", "`**` is not a wildcard"),
            ("**:x", "`**` is not a wildcard"),
            ("read:ta*", "`*` may only"),
            ("read:a..b", "empty segment"),
            ("read:a.*.b", "`*` may only"),
            ("read:a:b", "more than one"),
            ("", "empty scope"),
            ("1read:x", "not a lowercase identifier"),
        ];
        for (text, reason) in cases {
            let err = Scope::parse(text).expect_err(text);
            assert!(err.reason().contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn covers_follows_the_design() {
        assert!(s("read:*").covers(&s("read:tables")));
        assert!(s("*:tables").covers(&s("write:tables")));
        assert!(s("read:tables.*").covers(&s("read:tables.rows")));
        assert!(s("read:tables.*").covers(&s("read:tables.rows.*")));
        assert!(s("read:tables.*").covers(&s("read:tables.*")));
        assert!(!s("read:tables.*").covers(&s("read:tables")));
        assert!(!s("read:tables.*").covers(&s("read:tablesx")));
        assert!(!s("read:tables").covers(&s("read:tables.*")));
        assert!(!s("read:tables").covers(&s("*:tables")));
        assert!(!s("read:tables.rows.*").covers(&s("read:tables.*")));
    }

    #[test]
    fn scope_set_allows_str_agrees_with_allows() {
        let set = ScopeSet::parse(["read:tables.*", "write:rows"]).expect("valid");
        for probe in [
            "read:tables.a",
            "write:rows",
            "write:rows.x",
            "read:tables",
            "x",
            "read:*",
        ] {
            let expected = Scope::parse(probe).is_ok_and(|p| set.allows(&p));
            assert_eq!(set.allows_str(probe), expected, "{probe}");
        }
        assert_eq!(set.to_string(), "read:tables.*, write:rows");
        let everything = ScopeSet::parse(["*:*"]).expect("valid");
        for malformed in ["read:a b", "Read:x", "read:**", "read:x:y", ":x", "read:"] {
            assert!(!everything.allows_str(malformed), "{malformed}");
        }
        let exact = ScopeSet::parse(["read:tables"]).expect("valid");
        assert!(exact.allows_str("read:tables"));
        assert!(!exact.allows_str("read:tables.x"));
        assert_eq!(ScopeSet::new().to_string(), "nothing");
    }
}
