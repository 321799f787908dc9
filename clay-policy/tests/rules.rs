//! One test (or more) per rule that `clay_policy::check` implements, the errors of
//! `Policy::from_toml`, and the bad inputs that reach clay-policy.
//!
//! Each test asserts the rule, the exact `Site`, and the parts of the message a user relies on:
//! the environment, what it allows, where that comes from, and the suggestion.

use clay_policy::{
    EnvScopes, FieldDecl, FieldKind, Finding, Policy, PolicyError, PolicySource, Rule, Site, check,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A live key as someone might paste it. Never to appear in a message.
const LIVE_KEY: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
/// A test key.
const TEST_KEY: &str = "sk_test_9fK2mQx7LpZr4TbW8nYc";
/// A long random token without a known prefix.
const RANDOM_TOKEN: &str = "q8Zr1vLx0PaW3mTn7YbKc2Ud";

/// The example policy of the documentation, with its catalog.
const DESIGN_POLICY: &str = r#"# clay-policy.toml
[environments.development]
allow = ["read:*"]

[environments.staging]
allow = ["read:*", "write:limited"]

[environments.production]
allow = ["read:tables", "write:rows"]
wildcards = false
live_keys = true
separate_read_write = true

[keys]
live_prefix = "sk_live_"
test_prefix = "sk_test_"

[rotation]
max_age_days = 90
warn_age_days = 75

[catalog]
actions = ["read", "write"]
resources = ["tables", "rows", "limited"]
"#;

/// `environment = [scopes…]` lists.
fn lists(scopes: &[(&str, &[&str])]) -> Vec<EnvScopes> {
    scopes
        .iter()
        .map(|(environment, scopes)| EnvScopes {
            environment: (*environment).to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        })
        .collect()
}

/// `#[clay(env = VAR, scopes(...))] name: ApiKey`.
fn key(name: &str, var: &str, scopes: &[(&str, &[&str])]) -> FieldDecl {
    FieldDecl {
        name: name.to_owned(),
        kind: FieldKind::ApiKey,
        optional: false,
        env: Some(var.to_owned()),
        scopes: Some(lists(scopes)),
        default: None,
        public: false,
    }
}

/// `#[clay(env = VAR, scopes(...))] name: Option<ApiKey>`.
fn opt_key(name: &str, var: &str, scopes: &[(&str, &[&str])]) -> FieldDecl {
    FieldDecl {
        optional: true,
        ..key(name, var, scopes)
    }
}

/// `#[clay(env = VAR)] name: <kind>` (no scopes, no default).
fn plain(name: &str, kind: FieldKind, var: &str) -> FieldDecl {
    FieldDecl {
        name: name.to_owned(),
        kind,
        optional: false,
        env: Some(var.to_owned()),
        scopes: None,
        default: None,
        public: false,
    }
}

/// `#[clay(env = VAR, default = DEFAULT)] name: String`.
fn setting(name: &str, var: &str, default: Option<&str>) -> FieldDecl {
    FieldDecl {
        default: default.map(str::to_owned),
        ..plain(name, FieldKind::Setting, var)
    }
}

/// A dev-only optional reader key with these development scopes: the smallest declaration
/// whose only findings come from its scope list.
fn dev_reader(scopes: &[&str]) -> FieldDecl {
    opt_key("reader", "CLAY_READ_KEY", &[("development", scopes)])
}

/// A production-only optional key with these production scopes.
fn prod_key(scopes: &[&str]) -> FieldDecl {
    opt_key("worker", "CLAY_WORKER_KEY", &[("production", scopes)])
}

/// The struct of the derive's documented example, as declarations.
fn design_example() -> Vec<FieldDecl> {
    vec![
        key(
            "reader",
            "CLAY_READ_KEY",
            &[
                ("development", &["read:*"]),
                ("staging", &["read:*"]),
                ("production", &["read:tables"]),
            ],
        ),
        opt_key(
            "writer",
            "CLAY_WRITE_KEY",
            &[
                ("staging", &["write:limited"]),
                ("production", &["write:rows"]),
            ],
        ),
        plain(
            "webhook_secret",
            FieldKind::WebhookSecret,
            "CLAY_WEBHOOK_SECRET",
        ),
        FieldDecl {
            optional: true,
            ..plain("secret", FieldKind::Secret, "CLAY_SECRET")
        },
        setting("base_url", "CLAY_BASE_URL", Some("https://api.clay.com")),
    ]
}

/// A policy file shown as `clay-policy.toml`; fails the test with every problem when invalid.
fn policy(text: &str) -> Policy {
    Policy::from_toml(text, "clay-policy.toml")
        .map_err(|e| e.to_string())
        .expect("a valid policy")
}

/// The errors of a policy file that must not parse.
fn policy_err(text: &str) -> PolicyError {
    Policy::from_toml(text, "clay-policy.toml").expect_err("a policy error")
}

/// `check` against the built-in table.
fn builtin(fields: &[FieldDecl]) -> Vec<Finding> {
    check(fields, Policy::builtin())
}

/// Rule and site of each finding, in order.
fn rules_sites(findings: &[Finding]) -> Vec<(Rule, Site)> {
    findings.iter().map(|f| (f.rule, f.site)).collect()
}

/// The only finding; fails the test, listing them all, otherwise.
#[track_caller]
fn single(findings: &[Finding]) -> &Finding {
    assert_eq!(
        findings.len(),
        1,
        "expected exactly one finding: {findings:#?}"
    );
    &findings[0]
}

/// The only finding, which must be of `rule` at `site`.
#[track_caller]
fn only(findings: &[Finding], rule: Rule, site: Site) -> &Finding {
    let f = single(findings);
    assert_eq!((f.rule, f.site), (rule, site), "{f}");
    f
}

fn scope_site(field: usize, environment: usize, scope: usize) -> Site {
    Site::Scope {
        field,
        environment,
        scope,
    }
}

fn env_site(field: usize, environment: usize) -> Site {
    Site::Environment { field, environment }
}

/// Asserts `haystack` contains each needle, showing the haystack on failure.
#[track_caller]
fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in:\n{haystack}"
        );
    }
}

/// Asserts neither the message nor the displayed finding contains `secret`.
#[track_caller]
fn assert_no_secret(finding: &Finding, secret: &str) {
    assert!(
        !finding.message.contains(secret) && !finding.to_string().contains(secret),
        "the finding repeats the secret: {finding}"
    );
}

// ---------------------------------------------------------------------------------------------
// Correct declarations: no findings
// ---------------------------------------------------------------------------------------------

#[test]
fn design_example_passes_the_builtin_table() {
    assert_eq!(builtin(&design_example()), []);
}

#[test]
fn design_example_passes_the_design_policy_file() {
    assert_eq!(check(&design_example(), &policy(DESIGN_POLICY)), []);
}

#[test]
fn design_example_with_aliases_passes() {
    let mut fields = design_example();
    fields[0] = key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("dev", &["read:*"]),
            ("stage", &["read:*"]),
            ("prod", &["read:tables"]),
        ],
    );
    fields[1] = opt_key(
        "writer",
        "CLAY_WRITE_KEY",
        &[("stage", &["write:limited"]), ("prod", &["write:rows"])],
    );
    assert_eq!(builtin(&fields), []);
}

#[test]
fn read_wildcard_in_development_passes() {
    assert_eq!(builtin(&[dev_reader(&["read:*"])]), []);
    assert_eq!(builtin(&[dev_reader(&["read:tables.*"])]), []);
}

#[test]
fn wildcards_pass_where_the_environment_allows_them() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[("staging", &["read:*", "write:limited"])],
    );
    // Staging has `wildcards = true` and `separate_read_write = false` in the built-in table.
    assert_eq!(builtin(&[f]), []);
}

#[test]
fn concrete_read_and_write_scopes_pass_in_builtin_production() {
    // "production any concrete `read:` or `write:` scope", on separate keys.
    let fields = [
        opt_key(
            "reader",
            "CLAY_READ_KEY",
            &[("production", &["read:tables", "read:tables.rows"])],
        ),
        opt_key(
            "writer",
            "CLAY_WRITE_KEY",
            &[("production", &["write:rows"])],
        ),
    ];
    assert_eq!(builtin(&fields), []);
}

#[test]
fn secrets_and_settings_need_only_env() {
    let fields = [
        plain("secret", FieldKind::Secret, "CLAY_SECRET"),
        plain("hook", FieldKind::WebhookSecret, "CLAY_HOOK_SECRET"),
        setting("base_url", "CLAY_BASE_URL", None),
        setting("timeout", "CLAY_TIMEOUT_SECS", Some("30")),
        setting("region_1", "_REGION_1", Some("eu-west-1")),
    ];
    assert_eq!(builtin(&fields), []);
}

#[test]
fn no_fields_no_findings() {
    assert_eq!(builtin(&[]), []);
}

// ---------------------------------------------------------------------------------------------
// excessive_scope
// ---------------------------------------------------------------------------------------------

#[test]
fn excessive_scope_in_development_builtin() {
    let findings = builtin(&[dev_reader(&["write:*"])]);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert_eq!(
        f.to_string(),
        "[excessive_scope] scope `write:*` exceeds the least-privilege table for `development` \
         (allows: read:*; built-in table)"
    );
}

#[test]
fn excessive_scope_in_staging_names_what_it_allows() {
    let f = opt_key(
        "writer",
        "CLAY_WRITE_KEY",
        &[("staging", &["write:limited", "write:tables"])],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 1));
    assert_contains(
        &f.message,
        &[
            "`write:tables`",
            "`staging`",
            "allows: read:*, write:limited",
            "built-in table",
        ],
    );
}

#[test]
fn excessive_scope_in_production_for_an_action_other_than_read_or_write() {
    let findings = builtin(&[prod_key(&["admin:users"])]);
    // `admin` is not `read`, so it is a write for separate_read_write; alone it is not mixed.
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert_contains(
        &f.message,
        &[
            "`admin:users`",
            "`production`",
            "allows: read:*, write:*",
            "built-in table",
        ],
    );
}

#[test]
fn excessive_scope_names_the_policy_file() {
    let p = policy(DESIGN_POLICY);
    let findings = check(&[prod_key(&["read:rows"])], &p);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert_eq!(
        f.to_string(),
        "[excessive_scope] scope `read:rows` exceeds the least-privilege table for `production` \
         (allows: read:tables, write:rows; clay-policy.toml)"
    );
}

#[test]
fn excessive_scope_in_a_builtin_row_of_a_policy_file_says_so() {
    // The file defines only production: staging keeps the built-in row, and the message says
    // where that row comes from.
    let p = policy("[environments.production]\nallow = [\"read:tables\"]\n");
    let f = opt_key(
        "writer",
        "CLAY_WRITE_KEY",
        &[("staging", &["write:tables"])],
    );
    let findings = check(&[f], &p);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert_contains(
        &f.message,
        &[
            "`write:tables`",
            "`staging`",
            "allows: read:*, write:limited",
            "built-in table; clay-policy.toml does not define `staging`",
        ],
    );
}

#[test]
fn excessive_scope_suggests_the_near_miss_in_the_allow_list() {
    let p = policy(DESIGN_POLICY);
    for (declared, suggestion) in [
        ("read:tabels", "read:tables"),
        ("wirte:rows", "write:rows"),
        ("read:table", "read:tables"),
    ] {
        // Without a catalog, so the typo reaches the table.
        let without_catalog =
            policy("[environments.production]\nallow = [\"read:tables\", \"write:rows\"]\n");
        let findings = check(&[prod_key(&[declared])], &without_catalog);
        let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
        assert!(
            f.message
                .ends_with(&format!("; did you mean `{suggestion}`?")),
            "{declared}: {}",
            f.message
        );
        // With the catalog, the same typo is an unknown name instead (one finding).
        if declared != "read:table" {
            let findings = check(&[prod_key(&[declared])], &p);
            only(&findings, Rule::UnknownScopeName, scope_site(0, 0, 0));
        }
    }
}

#[test]
fn excessive_scope_suggests_nothing_that_is_not_a_near_miss() {
    // Another resource, or a write where only reads are allowed: no "did you mean".
    let p = policy(DESIGN_POLICY);
    for declared in ["read:rows", "write:tables"] {
        let findings = check(&[prod_key(&[declared])], &p);
        let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
        assert!(!f.message.contains("did you mean"), "{}", f.message);
    }
    let findings = builtin(&[dev_reader(&["write:*"])]);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert!(!f.message.contains("did you mean"), "{}", f.message);
    // A wildcard of the allow list is not offered where wildcards are refused: built-in
    // production allows `read:*` but not as written.
    let findings = builtin(&[prod_key(&["raed:tables"])]);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert!(!f.message.contains("did you mean"), "{}", f.message);
}

#[test]
fn excessive_scope_under_an_alias_names_the_environment() {
    let f = opt_key("writer", "CLAY_WRITE_KEY", &[("dev", &["write:rows"])]);
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 0));
    assert_contains(&f.message, &["for `development`", "allows: read:*"]);
}

#[test]
fn excessive_scope_in_a_custom_environment() {
    let p = policy("[environments.qa]\nallow = [\"read:tables.*\"]\n");
    // `read:tables` is not below `tables`: `tables.*` does not cover it.
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[("qa", &["read:tables.rows", "read:tables"])],
    );
    let findings = check(&[f], &p);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 1));
    assert_contains(
        &f.message,
        &[
            "`read:tables`",
            "`qa`",
            "allows: read:tables.*",
            "clay-policy.toml",
        ],
    );
}

#[test]
fn excessive_scope_is_reported_for_each_offending_scope() {
    let findings = builtin(&[dev_reader(&["write:a", "read:b", "write:c"])]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::ExcessiveScope, scope_site(0, 0, 0)),
            (Rule::ExcessiveScope, scope_site(0, 0, 2)),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// wildcard_scope
// ---------------------------------------------------------------------------------------------

#[test]
fn write_wildcard_in_production_is_a_wildcard_scope_but_not_excessive() {
    let findings = builtin(&[prod_key(&["write:*"])]);
    let f = only(&findings, Rule::WildcardScope, scope_site(0, 0, 0));
    assert_eq!(
        f.to_string(),
        "[wildcard_scope] wildcard scope `write:*` is not allowed in `production` \
         (built-in table): name the exact resource the key needs"
    );
}

#[test]
fn prefix_wildcard_in_production_is_a_wildcard_scope() {
    let findings = builtin(&[prod_key(&["read:tables.*"])]);
    let f = only(&findings, Rule::WildcardScope, scope_site(0, 0, 0));
    assert_contains(&f.message, &["`read:tables.*`", "`production`"]);
}

#[test]
fn action_wildcard_in_production_is_one_wildcard_scope() {
    // `*:tables` is a wildcard, is covered by neither `read:*` nor `write:*`, and is both a read
    // and a write: one token, one finding, by the most specific rule.
    let findings = builtin(&[prod_key(&["*:tables"])]);
    let f = only(&findings, Rule::WildcardScope, scope_site(0, 0, 0));
    assert_contains(&f.message, &["action and resource"]);
}

#[test]
fn wildcard_outside_the_allow_list_is_only_a_wildcard_scope() {
    // `read:*` in a production that allows `read:tables` only: a wildcard and excessive, reported
    // once as the more specific wildcard_scope.
    let findings = check(&[prod_key(&["read:*"])], &policy(DESIGN_POLICY));
    let f = only(&findings, Rule::WildcardScope, scope_site(0, 0, 0));
    assert_contains(&f.message, &["`read:*`", "`production`"]);
}

#[test]
fn wildcard_scope_in_a_policy_file_environment_with_wildcards_false() {
    let p = policy("[environments.qa]\nallow = [\"read:*\"]\nwildcards = false\n");
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[("qa", &["read:tables", "read:*"])],
    );
    let findings = check(&[f], &p);
    // `read:*` is the error; it never makes the good `read:tables` "redundant".
    let f = only(&findings, Rule::WildcardScope, scope_site(0, 0, 1));
    assert_contains(
        &f.message,
        &["`read:*`", "not allowed in `qa`", "(clay-policy.toml)"],
    );
}

#[test]
fn wildcards_default_to_false_in_a_policy_files_production() {
    let p = policy("[environments.production]\nallow = [\"read:*\"]\n");
    let findings = check(&[prod_key(&["read:*"])], &p);
    let f = only(&findings, Rule::WildcardScope, scope_site(0, 0, 0));
    assert_contains(&f.message, &["(clay-policy.toml)"]);
}

// ---------------------------------------------------------------------------------------------
// mixed_read_write
// ---------------------------------------------------------------------------------------------

#[test]
fn mixed_read_write_in_production() {
    let findings = builtin(&[prod_key(&["read:tables", "write:rows"])]);
    // On the scope that makes the list mixed.
    let f = only(&findings, Rule::MixedReadWrite, scope_site(0, 0, 1));
    assert_contains(
        &f.message,
        &[
            "`worker`",
            "both read and write",
            "`production`",
            "reader key",
            "writer key",
        ],
    );
}

#[test]
fn mixed_read_write_on_the_second_environment_points_there() {
    let f = key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("development", &["read:*"]),
            ("staging", &["read:*"]),
            ("prod", &["write:rows", "read:tables"]),
        ],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::MixedReadWrite, scope_site(0, 2, 1));
    assert_contains(&f.message, &["`production`"]);
}

#[test]
fn read_and_write_on_one_key_pass_where_not_separated() {
    // Staging in the built-in table: separate_read_write = false.
    let f = opt_key(
        "key",
        "CLAY_KEY",
        &[("staging", &["read:tables", "write:limited"])],
    );
    assert_eq!(builtin(&[f]), []);
}

#[test]
fn mixed_read_write_where_a_policy_file_separates_them() {
    let p = policy(
        "[environments.staging]\nallow = [\"read:*\", \"write:*\"]\nseparate_read_write = true\n",
    );
    let f = opt_key(
        "key",
        "CLAY_KEY",
        &[("staging", &["write:rows", "read:rows"])],
    );
    let findings = check(&[f], &p);
    let f = only(&findings, Rule::MixedReadWrite, scope_site(0, 0, 1));
    assert_contains(&f.message, &["`staging`", "separate keys"]);
}

#[test]
fn a_misspelt_action_is_excessive_only_not_also_mixed_read_write() {
    // No catalog: `raed:tables` parses, is outside production's table, and is not a read. It is
    // one mistake, reported once, and its fix is suggested from the allow list.
    let p = policy("[environments.production]\nallow = [\"read:tables\", \"write:rows\"]\n");
    let findings = check(&[prod_key(&["read:tables", "raed:tables"])], &p);
    let f = only(&findings, Rule::ExcessiveScope, scope_site(0, 0, 1));
    assert!(
        f.message.ends_with("; did you mean `read:tables`?"),
        "{}",
        f.message
    );
}

#[test]
fn a_reported_scope_is_never_the_mixed_read_write_culprit() {
    // `write:*` is a wildcard_scope in production; the rest reads only.
    let findings = builtin(&[prod_key(&["read:tables", "write:*"])]);
    only(&findings, Rule::WildcardScope, scope_site(0, 0, 1));
    // A redundant scope is not blamed either: the error moves to the scope that covers it.
    let p = policy(
        "[environments.staging]\nallow = [\"read:*\", \"write:*\"]\nseparate_read_write = true\n",
    );
    let f = opt_key(
        "key",
        "CLAY_KEY",
        &[("staging", &["read:rows", "write:rows", "write:*"])],
    );
    assert_eq!(
        rules_sites(&check(&[f], &p)),
        [
            (Rule::RedundantScope, scope_site(0, 0, 1)),
            (Rule::MixedReadWrite, scope_site(0, 0, 2)),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// redundant_scope
// ---------------------------------------------------------------------------------------------

#[test]
fn redundant_scope_covered_by_an_earlier_wildcard() {
    let findings = builtin(&[dev_reader(&["read:*", "read:tables"])]);
    let f = only(&findings, Rule::RedundantScope, scope_site(0, 0, 1));
    assert_eq!(
        f.to_string(),
        "[redundant_scope] scope `read:tables` is already covered by `read:*` for \
         `development`: remove it"
    );
}

#[test]
fn redundant_scope_covered_by_a_later_wildcard() {
    let findings = builtin(&[dev_reader(&["read:tables.rows", "read:tables.*"])]);
    let f = only(&findings, Rule::RedundantScope, scope_site(0, 0, 0));
    assert_contains(
        &f.message,
        &["`read:tables.rows`", "covered by `read:tables.*`"],
    );
}

#[test]
fn redundant_scope_listed_twice() {
    let findings = builtin(&[opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[("prod", &["read:tables", "read:rows", "read:tables"])],
    )]);
    // The second occurrence, not the first.
    let f = only(&findings, Rule::RedundantScope, scope_site(0, 0, 2));
    assert_eq!(
        f.message,
        "scope `read:tables` is listed twice for `production`"
    );
}

#[test]
fn a_reported_scope_never_makes_another_redundant_nor_is_redundant_itself() {
    // Production of the policy file allows `read:tables` only: `read:*` is the error, and
    // `read:tables` is the good scope it would otherwise "cover".
    let p = policy(DESIGN_POLICY);
    let findings = check(&[prod_key(&["read:*", "read:tables"])], &p);
    only(&findings, Rule::WildcardScope, scope_site(0, 0, 0));
    // Listed twice but excessive: two excessive_scope findings, no redundant_scope.
    let findings = builtin(&[dev_reader(&["write:rows", "write:rows"])]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::ExcessiveScope, scope_site(0, 0, 0)),
            (Rule::ExcessiveScope, scope_site(0, 0, 1)),
        ]
    );
}

#[test]
fn distinct_scopes_are_not_redundant() {
    // Different resources, and `tables.*` does not cover `tables` itself.
    assert_eq!(
        builtin(&[dev_reader(&["read:tables", "read:tables.*", "read:rows"])]),
        []
    );
}

#[test]
fn the_same_scope_in_two_environments_is_not_redundant() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("development", &["read:tables"]),
            ("staging", &["read:tables"]),
        ],
    );
    assert_eq!(builtin(&[f]), []);
}

// ---------------------------------------------------------------------------------------------
// malformed_scope (bad input)
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_scopes_from_the_issue() {
    let cases = [
        ("readtables", "no `:` between action and resource"),
        (":tables", "empty action"),
        ("read:", "empty resource"),
        ("Read:tables", "upper case in action `Read`"),
        ("read:Tables", "upper case in resource `Tables`"),
        ("read: tables", "whitespace"),
        ("read tables", "whitespace"),
        ("read:**", "`**` is not a wildcard"),
        ("**:tables", "`**` is not a wildcard"),
        ("", "empty scope"),
        ("read:tables:rows", "more than one `:`"),
        ("read:ta*", "`*`"),
        ("read:a..b", "empty segment"),
    ];
    for (text, reason) in cases {
        let findings = builtin(&[dev_reader(&["read:rows", text])]);
        let f = only(&findings, Rule::MalformedScope, scope_site(0, 0, 1));
        assert!(
            f.message
                .starts_with(&format!("malformed scope `{text}`: ")),
            "{text:?}: {}",
            f.message
        );
        assert_contains(&f.message, &[reason, "a scope is `action:resource`"]);
    }
}

#[test]
fn malformed_scope_escapes_control_characters() {
    let findings = builtin(&[dev_reader(&["read:tables\n"])]);
    let f = only(&findings, Rule::MalformedScope, scope_site(0, 0, 0));
    assert_contains(&f.message, &["`read:tables\\n`"]);
    assert!(!f.message.contains('\n'), "{}", f.message);
}

#[test]
fn every_malformed_scope_is_reported_and_the_rest_still_checked() {
    let findings = builtin(&[dev_reader(&["READ:x", "write:rows", "nocolon"])]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::MalformedScope, scope_site(0, 0, 0)),
            (Rule::MalformedScope, scope_site(0, 0, 2)),
            (Rule::ExcessiveScope, scope_site(0, 0, 1)),
        ]
    );
}

#[test]
fn a_malformed_scope_does_not_add_a_wrong_key_type() {
    // A non-optional key declared only for production would be a wrong_key_type; while its list
    // cannot be understood, only the malformed scope is reported.
    let f = key(
        "reader",
        "CLAY_READ_KEY",
        &[("production", &["read tables"])],
    );
    let findings = builtin(&[f]);
    only(&findings, Rule::MalformedScope, scope_site(0, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// unknown_scope_name
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_resource_with_a_catalog_suggests_the_close_name() {
    let p = policy(DESIGN_POLICY);
    let findings = check(&[dev_reader(&["read:tables", "read:tabels"])], &p);
    let f = only(&findings, Rule::UnknownScopeName, scope_site(0, 0, 1));
    assert_eq!(
        f.message,
        "unknown resource `tabels` in `read:tabels` (catalog resources: tables, rows, limited); \
         did you mean `tables`?"
    );
}

#[test]
fn unknown_action_with_a_catalog_suggests_the_close_name() {
    let p = policy(DESIGN_POLICY);
    let findings = check(&[dev_reader(&["raed:tables"])], &p);
    // A misspelt name is one mistake: no `excessive_scope` on top of it.
    assert_eq!(
        rules_sites(&findings),
        [(Rule::UnknownScopeName, scope_site(0, 0, 0)),]
    );
    assert_eq!(
        findings[0].message,
        "unknown action `raed` in `raed:tables` (catalog actions: read, write); did you mean `read`?"
    );
}

#[test]
fn unknown_action_and_resource_are_one_finding_naming_both() {
    let p = policy(DESIGN_POLICY);
    let findings = check(&[dev_reader(&["read:*", "raed:tabels"])], &p);
    let f = only(&findings, Rule::UnknownScopeName, scope_site(0, 0, 1));
    assert_contains(
        &f.message,
        &[
            "unknown action `raed`",
            "`read`?",
            "unknown resource `tabels`",
            "`tables`?",
        ],
    );
}

#[test]
fn unknown_scope_name_without_a_close_name_has_no_suggestion() {
    let p = policy(DESIGN_POLICY);
    let findings = check(&[dev_reader(&["read:zzz"])], &p);
    let f = only(&findings, Rule::UnknownScopeName, scope_site(0, 0, 0));
    assert_contains(&f.message, &["unknown resource `zzz`"]);
    assert!(!f.message.contains("did you mean"), "{}", f.message);
}

#[test]
fn catalog_checks_the_path_of_a_prefix_wildcard() {
    let p = policy(DESIGN_POLICY);
    assert_eq!(check(&[dev_reader(&["read:tables.*"])], &p), []);
    let findings = check(&[dev_reader(&["read:tabls.*"])], &p);
    let f = only(&findings, Rule::UnknownScopeName, scope_site(0, 0, 0));
    assert_contains(
        &f.message,
        &["unknown resource `tabls` in `read:tabls.*`", "`tables`?"],
    );
}

#[test]
fn without_a_catalog_any_name_is_accepted() {
    assert_eq!(builtin(&[dev_reader(&["read:anything.at_all"])]), []);
}

// ---------------------------------------------------------------------------------------------
// unknown_environment
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_environment_prodution_suggests_production() {
    // Even on a non-optional key: the type is not judged on a list that was not understood.
    let f = key(
        "reader",
        "CLAY_READ_KEY",
        &[("prodution", &["read:tables"])],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::UnknownEnvironment, env_site(0, 0));
    assert_eq!(
        f.to_string(),
        "[unknown_environment] unknown environment `prodution` (the built-in table defines: \
         development, staging, production); did you mean `production`?"
    );
}

#[test]
fn unknown_environment_names_the_policy_file_and_its_environments() {
    let p = policy("[environments.qa]\nallow = [\"read:*\"]\n");
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[("development", &["read:*"]), ("qa2", &["read:*"])],
    );
    let findings = check(&[f], &p);
    let f = only(&findings, Rule::UnknownEnvironment, env_site(0, 1));
    assert_contains(
        &f.message,
        &[
            "unknown environment `qa2`",
            "policy clay-policy.toml defines: development, staging, production, qa",
            "did you mean `qa`?",
        ],
    );
}

#[test]
fn unknown_environment_without_a_close_name_has_no_suggestion() {
    let findings = builtin(&[opt_key("reader", "CLAY_READ_KEY", &[("zzz", &["read:x"])])]);
    let f = only(&findings, Rule::UnknownEnvironment, env_site(0, 0));
    assert!(!f.message.contains("did you mean"), "{}", f.message);
}

#[test]
fn scopes_under_an_unknown_environment_are_still_parsed() {
    let f = opt_key("reader", "CLAY_READ_KEY", &[("qa", &["read:x", "nocolon"])]);
    let findings = builtin(&[f]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::UnknownEnvironment, env_site(0, 0)),
            (Rule::MalformedScope, scope_site(0, 0, 1)),
        ]
    );
}

#[test]
fn a_custom_environment_of_the_policy_file_is_known() {
    let p = policy("[environments.qa]\nallow = [\"read:*\"]\n");
    let f = opt_key("reader", "CLAY_READ_KEY", &[("qa", &["read:tables"])]);
    assert_eq!(check(&[f], &p), []);
}

// ---------------------------------------------------------------------------------------------
// hardcoded_secret (never the key in the message)
// ---------------------------------------------------------------------------------------------

#[test]
fn live_key_pasted_as_a_scope() {
    let findings = builtin(&[dev_reader(&["read:*", LIVE_KEY])]);
    let f = only(&findings, Rule::HardcodedSecret, scope_site(0, 0, 1));
    assert_contains(&f.message, &["a scope of `reader` looks like a key"]);
    assert_no_secret(f, LIVE_KEY);
    assert_no_secret(f, "sk_live_");
}

#[test]
fn live_key_pasted_as_the_env_variable() {
    let f = FieldDecl {
        env: Some(LIVE_KEY.to_owned()),
        ..plain("secret", FieldKind::Secret, "unused")
    };
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::HardcodedSecret, Site::EnvVar { field: 0 });
    assert_contains(&f.message, &["`env` of `secret` looks like a key"]);
    assert_no_secret(f, LIVE_KEY);
}

#[test]
fn live_key_pasted_as_a_default() {
    let findings = builtin(&[setting("token", "CLAY_LABEL", Some(LIVE_KEY))]);
    let f = only(&findings, Rule::HardcodedSecret, Site::Default { field: 0 });
    assert_contains(&f.message, &["the `default` of `token` looks like a key"]);
    assert_no_secret(f, LIVE_KEY);
}

#[test]
fn live_key_pasted_as_an_environment_name() {
    // The derive accepts string literals as environment names (`"eu-west" = [...]`), so a key
    // can arrive here too; it must not be echoed by unknown_environment's message.
    let f = opt_key("reader", "CLAY_READ_KEY", &[(LIVE_KEY, &["read:tables"])]);
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::HardcodedSecret, env_site(0, 0));
    assert_contains(
        &f.message,
        &["an environment name in the scopes of `reader` looks like a key"],
    );
    assert_no_secret(f, LIVE_KEY);
    // Not a wrong_key_type on top, even for a non-optional key.
    let f = key("reader", "CLAY_READ_KEY", &[(LIVE_KEY, &["read:tables"])]);
    assert_eq!(
        rules_sites(&builtin(&[f])),
        [(Rule::HardcodedSecret, env_site(0, 0))]
    );
}

#[test]
fn live_key_with_surrounding_whitespace_is_still_a_key() {
    // Copied from a dashboard with a trailing newline or space: still never echoed.
    let padded = [
        format!("{LIVE_KEY}\n"),
        format!("{LIVE_KEY} "),
        format!(" {LIVE_KEY}"),
    ];
    for pasted in &padded {
        let findings = builtin(&[
            dev_reader(&[pasted]),
            setting("token", "CLAY_LABEL", Some(pasted)),
            FieldDecl {
                env: Some(pasted.clone()),
                ..plain("secret", FieldKind::Secret, "unused")
            },
        ]);
        assert_eq!(
            rules_sites(&findings),
            [
                (Rule::HardcodedSecret, scope_site(0, 0, 0)),
                (Rule::HardcodedSecret, Site::Default { field: 1 }),
                (Rule::HardcodedSecret, Site::EnvVar { field: 2 }),
            ],
            "{pasted:?}"
        );
        for f in &findings {
            assert_no_secret(f, LIVE_KEY);
        }
    }
}

#[test]
fn test_keys_webhook_secrets_and_random_tokens_are_keys_too() {
    for pasted in [
        TEST_KEY,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        RANDOM_TOKEN,
    ] {
        let findings = builtin(&[
            setting("token", "CLAY_LABEL", Some(pasted)),
            dev_reader(&[pasted]),
        ]);
        assert_eq!(
            rules_sites(&findings),
            [
                (Rule::HardcodedSecret, Site::Default { field: 0 }),
                (Rule::HardcodedSecret, scope_site(1, 0, 0)),
            ],
            "{pasted}"
        );
        for f in &findings {
            assert_no_secret(f, pasted);
        }
    }
}

#[test]
fn the_policys_own_key_prefixes_are_used() {
    let p = policy(
        "[environments.development]\nallow = [\"read:*\"]\n[keys]\nlive_prefix = \"clay_live_\"\ntest_prefix = \"clay_test_\"\n",
    );
    let findings = check(
        &[setting("token", "CLAY_LABEL", Some("clay_live_abcd1234"))],
        &p,
    );
    let f = only(&findings, Rule::HardcodedSecret, Site::Default { field: 0 });
    assert_no_secret(f, "clay_live_abcd1234");
    // The same text is an ordinary value under the built-in prefixes.
    assert_eq!(
        builtin(&[setting("token", "CLAY_LABEL", Some("clay_live_abcd1234"))]),
        []
    );
}

#[test]
fn any_default_on_a_secret_field_is_a_hardcoded_secret() {
    let mut api_key = dev_reader(&["read:*"]);
    api_key.default = Some("anything".to_owned());
    let fields = [
        FieldDecl {
            default: Some("hunter2".to_owned()),
            ..plain("secret", FieldKind::Secret, "CLAY_SECRET")
        },
        FieldDecl {
            default: Some("not-a-key".to_owned()),
            ..plain("hook", FieldKind::WebhookSecret, "CLAY_HOOK")
        },
        api_key,
    ];
    let findings = builtin(&fields);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::HardcodedSecret, Site::Default { field: 0 }),
            (Rule::HardcodedSecret, Site::Default { field: 1 }),
            (Rule::HardcodedSecret, Site::Default { field: 2 }),
        ]
    );
    assert_contains(
        &findings[0].message,
        &["`secret` is a `Secret` and may not have a `default`"],
    );
    assert_no_secret(&findings[0], "hunter2");
    assert_contains(&findings[1].message, &["`hook` is a `WebhookSecret`"]);
    assert_contains(&findings[2].message, &["`reader` is an `ApiKey`"]);
}

#[test]
fn ordinary_defaults_are_not_secrets() {
    let fields = [
        setting("base_url", "CLAY_BASE_URL", Some("https://api.clay.com")),
        setting("table", "CLAY_TABLE", Some("enrichment_table_reader_v2")),
        setting("file", "CLAY_POLICY_FILE", Some("clay-policy.toml")),
        setting(
            "region",
            "CLAY_REGION",
            Some("CLAY_WEBHOOK_SECRET_PRODUCTION"),
        ),
    ];
    assert_eq!(builtin(&fields), []);
}

// ---------------------------------------------------------------------------------------------
// shared_env_var
// ---------------------------------------------------------------------------------------------

#[test]
fn shared_env_var_on_the_second_field() {
    let fields = [
        dev_reader(&["read:*"]),
        plain("secret", FieldKind::Secret, "CLAY_READ_KEY"),
    ];
    let findings = builtin(&fields);
    let f = only(&findings, Rule::SharedEnvVar, Site::EnvVar { field: 1 });
    assert_eq!(
        f.message,
        "`reader` and `secret` both read `CLAY_READ_KEY`: give each field its own variable \
         (separate service accounts)"
    );
}

#[test]
fn shared_env_var_three_ways_names_the_first_each_time() {
    let fields = [
        setting("a", "CLAY_X", None),
        setting("b", "CLAY_Y", None),
        setting("c", "CLAY_X", None),
        setting("d", "CLAY_X", None),
    ];
    let findings = builtin(&fields);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::SharedEnvVar, Site::EnvVar { field: 2 }),
            (Rule::SharedEnvVar, Site::EnvVar { field: 3 }),
        ]
    );
    assert_contains(&findings[0].message, &["`a` and `c`"]);
    assert_contains(&findings[1].message, &["`a` and `d`"]);
}

// ---------------------------------------------------------------------------------------------
// missing_env
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_env_on_each_kind() {
    let without_env = |kind| FieldDecl {
        env: None,
        ..plain("field", kind, "unused")
    };
    for (kind, what) in [
        (FieldKind::Secret, "secret"),
        (FieldKind::WebhookSecret, "secret"),
        (FieldKind::Setting, "setting"),
    ] {
        let findings = builtin(&[without_env(kind)]);
        let f = only(&findings, Rule::MissingEnv, Site::Field { field: 0 });
        assert_eq!(
            f.message,
            format!(
                "{what} `field` has no `env`: add `#[clay(env = \"VARIABLE\")]`, the environment \
                 variable it is read from"
            )
        );
    }
}

#[test]
fn missing_env_on_a_key_with_valid_scopes() {
    let mut f = dev_reader(&["read:*"]);
    f.env = None;
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::MissingEnv, Site::Field { field: 0 });
    assert_contains(&f.message, &["secret `reader` has no `env`"]);
}

#[test]
fn fields_without_env_do_not_share_a_variable() {
    let without_env = |name: &str| FieldDecl {
        env: None,
        ..setting(name, "unused", None)
    };
    let findings = builtin(&[without_env("a"), without_env("b")]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::MissingEnv, Site::Field { field: 0 }),
            (Rule::MissingEnv, Site::Field { field: 1 }),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// missing_scopes
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_scopes_on_a_key_without_scopes() {
    for optional in [false, true] {
        let f = FieldDecl {
            optional,
            ..plain("reader", FieldKind::ApiKey, "CLAY_READ_KEY")
        };
        let findings = builtin(&[f]);
        let f = only(&findings, Rule::MissingScopes, Site::Field { field: 0 });
        assert_contains(
            &f.message,
            &["API key `reader` declares no scopes", "scopes(production"],
        );
    }
}

#[test]
fn missing_scopes_for_an_empty_list() {
    let f = opt_key(
        "writer",
        "CLAY_WRITE_KEY",
        &[("staging", &["write:limited"]), ("prod", &[])],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::MissingScopes, env_site(0, 1));
    assert_eq!(
        f.message,
        "empty scope list for `production`: leave the environment out when `writer` has no \
         scopes there (the key must then be `Option<ApiKey>`)"
    );
}

#[test]
fn an_empty_scopes_attribute_is_missing_scopes() {
    // `scopes()` with no environment at all: the key could never be used.
    for f in [
        key("reader", "CLAY_READ_KEY", &[]),
        opt_key("reader", "CLAY_READ_KEY", &[]),
    ] {
        let findings = builtin(&[f]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = only(
            &findings,
            Rule::MissingScopes,
            Site::ScopesAttr { field: 0 },
        );
        assert_contains(&f.message, &["`scopes()` of `reader` is empty"]);
    }
}

#[test]
fn secrets_and_settings_need_no_scopes() {
    let fields = [
        plain("secret", FieldKind::Secret, "CLAY_SECRET"),
        setting("url", "CLAY_URL", None),
    ];
    assert_eq!(builtin(&fields), []);
}

// ---------------------------------------------------------------------------------------------
// wrong_key_type
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_key_type_required_key_missing_from_some_environments() {
    let f = key(
        "writer",
        "CLAY_WRITE_KEY",
        &[("production", &["write:rows"])],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::WrongKeyType, Site::FieldType { field: 0 });
    assert_eq!(
        f.message,
        "`writer` has no scopes in `development`, `staging`, so that environment must not have \
         the key: declare it `Option<ApiKey>`"
    );
}

#[test]
fn wrong_key_type_optional_key_with_scopes_everywhere() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("dev", &["read:*"]),
            ("stage", &["read:*"]),
            ("prod", &["read:tables"]),
        ],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::WrongKeyType, Site::FieldType { field: 0 });
    assert_contains(
        &f.message,
        &[
            "`reader` has scopes in every environment",
            "declare it `ApiKey`, not `Option<ApiKey>`",
        ],
    );
}

#[test]
fn wrong_key_type_counts_the_custom_environments_of_the_policy() {
    let p = policy("[environments.qa]\nallow = [\"read:*\"]\n");
    let f = key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("development", &["read:*"]),
            ("staging", &["read:*"]),
            ("production", &["read:tables"]),
        ],
    );
    let findings = check(&[f], &p);
    let f = only(&findings, Rule::WrongKeyType, Site::FieldType { field: 0 });
    assert_contains(&f.message, &["no scopes in `qa`", "`Option<ApiKey>`"]);
}

#[test]
fn wrong_key_type_for_scopes_on_a_secret() {
    let f = FieldDecl {
        scopes: Some(lists(&[("development", &["read:*"])])),
        ..plain("secret", FieldKind::Secret, "CLAY_SECRET")
    };
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::WrongKeyType, Site::ScopesAttr { field: 0 });
    assert_contains(
        &f.message,
        &["`scopes` applies to `ApiKey` fields, and `secret` is a `Secret`"],
    );
}

// ---------------------------------------------------------------------------------------------
// invalid_env_name
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_env_names_with_a_suggestion() {
    let cases = [
        ("clay-read-key", "CLAY_READ_KEY"),
        ("clay_read_key", "CLAY_READ_KEY"),
        ("CLAY READ KEY", "CLAY_READ_KEY"),
        ("1KEY", "_1KEY"),
        ("CLAY.KEY", "CLAY_KEY"),
    ];
    for (var, suggestion) in cases {
        let findings = builtin(&[setting("url", var, None)]);
        let f = only(&findings, Rule::InvalidEnvName, Site::EnvVar { field: 0 });
        assert_eq!(
            f.message,
            format!(
                "`{var}` is not a valid environment variable name: use `[A-Z_][A-Z0-9_]*`, \
                 e.g. `{suggestion}`"
            )
        );
    }
}

#[test]
fn an_empty_env_name_is_invalid() {
    let findings = builtin(&[setting("url", "", None)]);
    only(&findings, Rule::InvalidEnvName, Site::EnvVar { field: 0 });
}

#[test]
fn variables_the_loader_reads_are_reserved() {
    for var in ["CLAY_ENV", "CLAY_CONFIG", "CLAY_POLICY"] {
        let findings = builtin(&[setting("url", var, None)]);
        let f = only(&findings, Rule::InvalidEnvName, Site::EnvVar { field: 0 });
        assert_eq!(
            f.message,
            format!("`{var}` is read by the loader itself; choose another variable name")
        );
    }
}

#[test]
fn an_invalid_env_name_is_not_also_shared() {
    let findings = builtin(&[
        setting("a", "bad name", None),
        setting("b", "bad name", None),
    ]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::InvalidEnvName, Site::EnvVar { field: 0 }),
            (Rule::InvalidEnvName, Site::EnvVar { field: 1 }),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// duplicate_attribute (an environment listed twice)
// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_environment_twice() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("production", &["read:tables"]),
            ("production", &["read:rows"]),
        ],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::DuplicateAttribute, env_site(0, 1));
    assert_eq!(
        f.message,
        "environment `production` is listed twice in the scopes of `reader`"
    );
}

#[test]
fn the_same_environment_twice_via_an_alias() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("development", &["read:*"]),
            ("production", &["read:tables"]),
            ("prod", &["read:rows"]),
        ],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::DuplicateAttribute, env_site(0, 2));
    assert_eq!(
        f.message,
        "environment `production` is listed twice in the scopes of `reader` \
         (`prod` is an alias of `production`)"
    );
}

#[test]
fn the_alias_first_then_the_name() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[("dev", &["read:*"]), ("development", &["read:tables"])],
    );
    let findings = builtin(&[f]);
    let f = only(&findings, Rule::DuplicateAttribute, env_site(0, 1));
    assert_contains(&f.message, &["environment `development` is listed twice"]);
}

#[test]
fn a_duplicate_environment_does_not_change_the_key_type_verdict() {
    // Every environment is granted by the first lists: the duplicate adds nothing else.
    let f = key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("development", &["read:*"]),
            ("staging", &["read:*"]),
            ("production", &["read:tables"]),
            ("stage", &["read:*"]),
        ],
    );
    let findings = builtin(&[f]);
    assert_eq!(
        rules_sites(&findings),
        [(Rule::DuplicateAttribute, env_site(0, 3))]
    );
}

// ---------------------------------------------------------------------------------------------
// Many problems at once, and the message format
// ---------------------------------------------------------------------------------------------

#[test]
fn every_problem_of_a_struct_is_reported_in_declaration_order() {
    let fields = [
        dev_reader(&["write:*"]),
        key("writer", "CLAY_READ_KEY", &[("prodution", &["write:rows"])]),
        FieldDecl {
            env: None,
            ..plain("secret", FieldKind::Secret, "unused")
        },
        setting("url", "clay-url", Some(LIVE_KEY)),
    ];
    let findings = builtin(&fields);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::ExcessiveScope, scope_site(0, 0, 0)),
            (Rule::SharedEnvVar, Site::EnvVar { field: 1 }),
            (Rule::UnknownEnvironment, env_site(1, 0)),
            (Rule::MissingEnv, Site::Field { field: 2 }),
            (Rule::InvalidEnvName, Site::EnvVar { field: 3 }),
            (Rule::HardcodedSecret, Site::Default { field: 3 }),
        ]
    );
    for f in &findings {
        assert!(
            f.to_string().starts_with(&format!("[{}] ", f.rule.name())),
            "{f}"
        );
        assert_no_secret(f, LIVE_KEY);
    }
}

#[test]
fn rule_names_round_trip() {
    for rule in Rule::ALL {
        assert_eq!(Rule::from_name(rule.name()), Some(rule));
        assert_eq!(rule.to_string(), rule.name());
    }
    assert_eq!(Rule::from_name("excessive"), None);
}

// ---------------------------------------------------------------------------------------------
// Policy::from_toml: parsing errors, each at line:column
// ---------------------------------------------------------------------------------------------

/// `(line, column, message)` of every problem.
fn problems(err: &PolicyError) -> Vec<(usize, usize, &str)> {
    err.problems()
        .iter()
        .map(|p| (p.line(), p.column(), p.message.as_str()))
        .collect()
}

#[test]
fn unknown_key_in_an_environment_table() {
    let err = policy_err("[environments.production]\nallow = [\"read:x\"]\nalow = []\n");
    assert_eq!(err.source(), &PolicySource::File("clay-policy.toml".into()));
    let p = &err.problems()[0];
    assert_eq!((p.line(), p.column()), (3, 1));
    assert_contains(&p.message, &["alow"]);
    assert!(
        err.to_string().starts_with("clay-policy.toml:3:1: "),
        "{err}"
    );
}

#[test]
fn unknown_top_level_table() {
    let err = policy_err("[environments.development]\nallow = []\n\n[rotaton]\nmax_age_days = 9\n");
    assert_eq!(err.problems().len(), 1, "{err}");
    let p = &err.problems()[0];
    assert_eq!((p.line(), p.column()), (4, 2));
    assert_contains(&p.message, &["rotaton"]);
}

#[test]
fn unknown_key_in_keys_and_rotation() {
    let err = policy_err("[environments.development]\nallow = []\n[keys]\n  live = \"x_\"\n");
    let p = &err.problems()[0];
    assert_eq!((p.line(), p.column()), (4, 3));
    assert_contains(&p.message, &["live"]);

    let err = policy_err("[environments.development]\nallow = []\n[rotation]\nmax_days = 9\n");
    let p = &err.problems()[0];
    assert_eq!((p.line(), p.column()), (4, 1));
    assert_contains(&p.message, &["max_days"]);
}

#[test]
fn not_toml() {
    for text in [
        "[environments.production\nallow = []\n",
        "[environments.production]\nallow = [read:x]\n",
        "this is not toml\n",
    ] {
        let err = policy_err(text);
        assert_eq!(err.problems().len(), 1, "{err}");
        let p = &err.problems()[0];
        assert!(p.line() >= 1 && p.column() >= 1, "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("clay-policy.toml:{}:{}: ", p.line(), p.column())),
            "{err}"
        );
    }
    let err = policy_err("[environments.production]\nallow = [read:x]\n");
    assert_eq!(err.problems()[0].line(), 2);
}

#[test]
fn a_value_of_the_wrong_type_is_located() {
    let err = policy_err("[environments.production]\nallow = []\nwildcards = \"no\"\n");
    let p = &err.problems()[0];
    assert_eq!((p.line(), p.column()), (3, 13));
}

#[test]
fn an_environment_without_allow() {
    let err = policy_err("[environments.production]\nwildcards = false\n");
    assert_contains(&err.problems()[0].message, &["allow"]);
}

#[test]
fn malformed_scopes_in_allow_are_all_located() {
    let err = policy_err(
        "[environments.production]\nallow = [\"read:x\", \"Write:y\"]\n\
         [environments.qa]\nallow = [\"readx\", \"read:**\"]\n",
    );
    let found = problems(&err);
    assert_eq!(found.len(), 3, "{err}");
    assert_eq!((found[0].0, found[0].1), (2, 20));
    assert_contains(
        found[0].2,
        &["malformed scope \"Write:y\" in `allow`", "upper case"],
    );
    assert_eq!((found[1].0, found[1].1), (4, 10));
    assert_contains(found[1].2, &["malformed scope \"readx\"", "no `:`"]);
    assert_eq!((found[2].0, found[2].1), (4, 19));
    assert_contains(found[2].2, &["`**` is not a wildcard"]);
}

#[test]
fn a_policy_without_environments() {
    let err = policy_err("[rotation]\nmax_age_days = 10\n");
    assert_eq!(err.problems().len(), 1, "{err}");
    assert_contains(
        &err.problems()[0].message,
        &["the policy defines no environments", "[environments.NAME]"],
    );
    let err = policy_err("# nothing here\n\n[environments]\n");
    assert_eq!(err.problems().len(), 1, "{err}");
    assert_eq!(err.problems()[0].line(), 3);
    assert_contains(&err.problems()[0].message, &["defines no environments"]);
    let err = policy_err("");
    assert_contains(&err.problems()[0].message, &["defines no environments"]);
}

#[test]
fn an_alias_as_a_table_name() {
    for (alias, canonical) in [
        ("dev", "development"),
        ("stage", "staging"),
        ("prod", "production"),
    ] {
        let err = policy_err(&format!("[environments.{alias}]\nallow = []\n"));
        assert_eq!(
            problems(&err),
            [(
                1,
                15,
                format!("`{alias}` is an alias: name the table `[environments.{canonical}]`")
                    .as_str()
            )]
        );
    }
}

#[test]
fn an_environment_name_that_is_not_an_identifier() {
    let err =
        policy_err("[environments.Prod]\nallow = []\n[environments.\"qa env\"]\nallow = []\n");
    let found = problems(&err);
    assert_eq!(found.len(), 2, "{err}");
    assert_eq!((found[0].0, found[0].1), (1, 15));
    assert_contains(found[0].2, &["\"Prod\"", "not a lowercase identifier"]);
    assert_eq!(found[1].0, 3);
    assert_contains(found[1].2, &["\"qa env\""]);
}

#[test]
fn catalog_violations_in_allow_lists() {
    let err = policy_err(
        "[environments.production]\nallow = [\"read:tabels\", \"raed:rows\"]\n\
         [catalog]\nactions = [\"read\", \"write\"]\nresources = [\"tables\", \"rows\"]\n",
    );
    let found = problems(&err);
    assert_eq!(found.len(), 2, "{err}");
    assert_eq!((found[0].0, found[0].1), (2, 10));
    assert_contains(
        found[0].2,
        &["unknown resource `tabels`", "did you mean `tables`?"],
    );
    assert_eq!((found[1].0, found[1].1), (2, 25));
    assert_contains(
        found[1].2,
        &["unknown action `raed`", "did you mean `read`?"],
    );
}

#[test]
fn catalog_entries_must_be_names() {
    let err = policy_err(
        "[environments.development]\nallow = [\"read:*\"]\n\
         [catalog]\nactions = [\"read\", \"*\", \"Read\"]\nresources = [\"tables.*\", \"*\", \"a b\"]\n",
    );
    let found = problems(&err);
    assert_eq!(found.len(), 5, "{err}");
    assert_contains(found[0].2, &["`*` is not a catalog action"]);
    assert_contains(found[1].2, &["catalog action \"Read\"", "upper case"]);
    assert_contains(found[2].2, &["wildcards are not catalog resources"]);
    assert_contains(found[3].2, &["wildcards are not catalog resources"]);
    assert_contains(found[4].2, &["catalog resource \"a b\""]);
    assert!(found.iter().all(|p| p.0 == 4 || p.0 == 5), "{err}");
}

#[test]
fn every_semantic_problem_is_reported_in_file_order() {
    let err = policy_err(
        "[environments.prod]\nallow = []\n\
         [environments.production]\nallow = [\"Read:x\"]\n\
         [rotation]\nmax_age_days = 10\nwarn_age_days = 20\n",
    );
    let found = problems(&err);
    assert_eq!(found.len(), 3, "{err}");
    assert_eq!(found.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 4, 7]);
    assert_contains(
        found[2].2,
        &["`warn_age_days` (20) must not exceed `max_age_days` (10)"],
    );
    assert_eq!(err.to_string().lines().count(), 3);
}

#[test]
fn policy_file_defaults_follow_the_design() {
    let p = policy(
        "[environments.production]\nallow = [\"read:tables\"]\n[environments.qa]\nallow = []\n",
    );
    let production = p.environment("prod").expect("production");
    assert!(!production.wildcards() && production.live_keys() && production.separate_read_write());
    let qa = p.environment("qa").expect("qa");
    assert!(qa.wildcards() && !qa.live_keys() && !qa.separate_read_write());
    assert_eq!(p.source(), &PolicySource::File("clay-policy.toml".into()));
    assert_eq!(
        p.environment_names().collect::<Vec<_>>(),
        ["development", "staging", "production", "qa"]
    );
}

#[test]
fn a_key_inside_a_scope_is_a_hardcoded_secret_and_never_echoed() {
    for scope in [
        "read:sk_live_abcd1234",
        "read:sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "read sk_test_4eC39HqLyjWDarjtT1",
    ] {
        let findings = builtin(&[dev_reader(&[scope])]);
        let f = only(&findings, Rule::HardcodedSecret, scope_site(0, 0, 0));
        assert_no_secret(f, "sk_");
        assert_eq!(findings.len(), 1, "{scope}: {findings:?}");
    }
}

#[test]
fn a_repeated_environment_still_has_its_scopes_checked() {
    let f = opt_key(
        "reader",
        "CLAY_READ_KEY",
        &[
            ("production", &["read:tables"]),
            ("prod", &["write:*", "BAD"]),
        ],
    );
    let findings = builtin(&[f]);
    let rules: Vec<_> = findings.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&Rule::DuplicateAttribute), "{findings:?}");
    assert!(rules.contains(&Rule::MalformedScope), "{findings:?}");
    assert!(rules.contains(&Rule::WildcardScope), "{findings:?}");
}

// ---------------------------------------------------------------------------------------------
// secret_as_setting
// ---------------------------------------------------------------------------------------------

#[test]
fn a_setting_named_like_a_secret_is_secret_as_setting() {
    for var in [
        "CLAY_API_KEY",
        "STRIPE_SECRET",
        "CLAY_WEBHOOK_SECRET",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "SMTP_PASSWD",
        "REDIS_PWD",
        "GCP_CREDENTIALS",
        "SSH_PRIVATE_KEY",
    ] {
        let findings = builtin(&[setting("value", var, None)]);
        let f = only(&findings, Rule::SecretAsSetting, Site::EnvVar { field: 0 });
        assert!(f.to_string().starts_with("[secret_as_setting] "), "{f}");
        assert_contains(
            &f.message,
            &[
                "`value`",
                var,
                "`Secret`",
                "`WebhookSecret`",
                &format!("#[clay(env = \"{var}\", public)]"),
            ],
        );
    }
}

#[test]
fn settings_with_ordinary_names_and_public_ones_pass() {
    for var in [
        "CLAY_BASE_URL",
        "KEYBOARD_LAYOUT",
        "CLAY_KEY_ID",
        "TOKEN_TTL",
        "KEY",
        "CLAY_KEYS",
        "CLAY_SECRETS_DIR",
    ] {
        assert_eq!(builtin(&[setting("value", var, None)]), [], "{var}");
    }
    let public = FieldDecl {
        public: true,
        ..setting("signing_public_key", "CLAY_SIGNING_PUBLIC_KEY", None)
    };
    assert_eq!(builtin(&[public]), []);
    // An `Option<String>` setting is a setting too.
    let optional = FieldDecl {
        optional: true,
        ..setting("token", "CLAY_TOKEN", None)
    };
    only(
        &builtin(&[optional]),
        Rule::SecretAsSetting,
        Site::EnvVar { field: 0 },
    );
}

#[test]
fn keys_and_secrets_with_secret_names_pass() {
    let fields = [
        plain("secret", FieldKind::Secret, "CLAY_SECRET"),
        plain("webhook", FieldKind::WebhookSecret, "CLAY_WEBHOOK_SECRET"),
        plain("password", FieldKind::Secret, "DB_PASSWORD"),
    ];
    assert_eq!(builtin(&fields), []);
}

#[test]
fn public_on_a_key_or_secret_is_wrong_key_type_at_the_flag() {
    let secret = FieldDecl {
        public: true,
        ..plain("secret", FieldKind::Secret, "CLAY_SECRET")
    };
    let reader = FieldDecl {
        public: true,
        ..dev_reader(&["read:*"])
    };
    let findings = builtin(&[secret, reader]);
    assert_eq!(
        rules_sites(&findings),
        [
            (Rule::WrongKeyType, Site::Public { field: 0 }),
            (Rule::WrongKeyType, Site::Public { field: 1 }),
        ]
    );
    assert_contains(
        &findings[0].message,
        &["`secret` is a `Secret`", "remove `public`"],
    );
    assert_contains(&findings[1].message, &["`reader` is an `ApiKey`"]);
}

#[test]
fn a_shared_secret_named_variable_is_reported_once() {
    let findings = builtin(&[
        plain("secret", FieldKind::Secret, "CLAY_SECRET"),
        setting("copy", "CLAY_SECRET", None),
    ]);
    only(&findings, Rule::SharedEnvVar, Site::EnvVar { field: 1 });
}

#[test]
fn secret_as_setting_has_a_name_and_a_summary() {
    assert_eq!(
        Rule::from_name("secret_as_setting"),
        Some(Rule::SecretAsSetting)
    );
    assert!(Rule::ALL.contains(&Rule::SecretAsSetting));
    assert!(!Rule::SecretAsSetting.summary().is_empty());
    // Every rule's name round-trips and is unique.
    for rule in Rule::ALL {
        assert_eq!(Rule::from_name(rule.name()), Some(rule));
    }
}
