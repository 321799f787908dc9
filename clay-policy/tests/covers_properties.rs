//! Property tests of `Scope::covers`.

use clay_policy::{Scope, ScopeSet};
use proptest::prelude::*;

fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("read".to_owned()),
        Just("write".to_owned()),
        Just("tables".to_owned()),
        Just("rows".to_owned()),
        "[a-c][a-c0-9_]{0,2}",
    ]
}

fn action() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just("*".to_owned()), 4 => identifier()]
}

fn resource() -> impl Strategy<Value = String> {
    let path = || prop::collection::vec(identifier(), 1..4).prop_map(|segments| segments.join("."));
    prop_oneof![
        1 => Just("*".to_owned()),
        2 => path().prop_map(|p| format!("{p}.*")),
        4 => path(),
    ]
}

fn scope() -> impl Strategy<Value = Scope> {
    (action(), resource()).prop_map(|(a, r)| {
        Scope::parse(&format!("{a}:{r}"))
            .map_err(|e| format!("generated {a}:{r}: {e}"))
            .expect("a valid generated scope")
    })
}

proptest! {
    #[test]
    fn covers_is_reflexive(s in scope()) {
        prop_assert!(s.covers(&s));
    }

    #[test]
    fn covers_is_transitive(a in scope(), b in scope(), c in scope()) {
        if a.covers(&b) && b.covers(&c) {
            prop_assert!(a.covers(&c), "{a} covers {b} covers {c}");
        }
    }

    #[test]
    fn star_star_covers_everything(s in scope()) {
        let all = Scope::parse("*:*").expect("valid");
        prop_assert!(all.covers(&s));
    }

    #[test]
    fn a_concrete_scope_never_covers_a_wildcard(concrete in scope(), wild in scope()) {
        if !concrete.is_wildcard() && wild.is_wildcard() {
            prop_assert!(!concrete.covers(&wild), "{concrete} covers {wild}");
        }
    }

    #[test]
    fn display_round_trips(s in scope()) {
        prop_assert_eq!(Scope::parse(&s.to_string()).expect("valid"), s);
    }

    #[test]
    fn covering_is_antisymmetric_up_to_equality(a in scope(), b in scope()) {
        if a.covers(&b) && b.covers(&a) {
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn parse_never_panics(text in ".{0,40}") {
        let _ = Scope::parse(&text);
    }
}

fn probe() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (action(), resource()).prop_map(|(a, r)| format!("{a}:{r}")),
        1 => "[a-zA-Z:*. _-]{0,16}",
    ]
}

proptest! {
    /// The allocation-free fast path agrees with parsing and `covers`, on valid and malformed
    /// input alike.
    #[test]
    fn allows_str_agrees_with_allows(granted in prop::collection::vec(scope(), 0..5), asked in probe()) {
        let set: ScopeSet = granted.into_iter().collect();
        let expected = Scope::parse(&asked).is_ok_and(|parsed| set.allows(&parsed));
        prop_assert_eq!(set.allows_str(&asked), expected, "{} asked {}", set, asked);
    }
}

/// A scope near `base`: the same, a prefix wildcard of it, or another generated one, so that
/// the pairs below cover each other often enough to test both answers.
fn near(base: Scope) -> impl Strategy<Value = (Scope, Scope)> {
    let candidates = base.covering_scopes();
    (
        prop_oneof![
            2 => prop::sample::select(candidates),
            1 => scope(),
        ],
        Just(base),
    )
}

proptest! {
    /// `covering_scopes` is exactly the set of scopes that `covers` says cover a scope: what
    /// `require!` asks the type system is what the run-time check answers.
    #[test]
    fn covering_scopes_agree_with_covers((declared, asked) in scope().prop_flat_map(near)) {
        let covering = asked.covering_scopes();
        prop_assert_eq!(
            declared.covers(&asked),
            covering.contains(&declared),
            "{} vs {}: {:?}", declared, asked, covering
        );
    }

    #[test]
    fn covering_scopes_are_valid_distinct_and_cover(asked in scope()) {
        let covering = asked.covering_scopes();
        prop_assert_eq!(covering.first(), Some(&asked));
        for (i, scope) in covering.iter().enumerate() {
            prop_assert_eq!(Scope::parse(scope.as_str()), Ok(scope.clone()));
            prop_assert!(scope.covers(&asked), "{} does not cover {}", scope, asked);
            prop_assert!(!covering[..i].contains(scope), "{} twice", scope);
        }
    }
}
