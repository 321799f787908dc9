//! `ApiKey::require` against a plain `HashSet<String>` lookup, measured in the same run,
//! `require!` against `ApiKey::require`, and the time of a `load_from` of a 10-key config.
//!
//! `cargo bench -p clay-config --bench scopes`

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use clay_config::{ApiKey, ClayConfig};
use criterion::{Criterion, criterion_group, criterion_main};

#[derive(ClayConfig)]
#[allow(dead_code)]
struct TenKeys {
    #[clay(env = "K0", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    k0: ApiKey,
    #[clay(env = "K1", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:rows"]))]
    k1: ApiKey,
    #[clay(env = "K2", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:people"]))]
    k2: ApiKey,
    #[clay(env = "K3", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:companies"]))]
    k3: ApiKey,
    #[clay(env = "K4", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:lists"]))]
    k4: ApiKey,
    #[clay(env = "K5", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    k5: Option<ApiKey>,
    #[clay(env = "K6", scopes(staging = ["write:limited"], production = ["write:tables"]))]
    k6: Option<ApiKey>,
    #[clay(env = "K7", scopes(staging = ["write:limited"], production = ["write:people"]))]
    k7: Option<ApiKey>,
    #[clay(env = "K8", scopes(staging = ["write:limited"], production = ["write:companies"]))]
    k8: Option<ApiKey>,
    #[clay(env = "K9", scopes(staging = ["write:limited"], production = ["write:lists"]))]
    k9: Option<ApiKey>,
}

fn ten_key_vars() -> Vec<(String, String)> {
    let yesterday =
        clay_config::policy::utc_date(clay_config::policy::now_unix_seconds() - 24 * 60 * 60);
    let mut vars = vec![("CLAY_ENV".to_owned(), "production".to_owned())];
    for i in 0..10 {
        vars.push((
            format!("K{i}"),
            format!("sk_live_{i}abcdefghijklmnopqrstuvwxyz0123"),
        ));
        vars.push((format!("K{i}_ISSUED_AT"), yesterday.clone()));
    }
    vars
}

/// One loaded key, as a service holds it: staging, three scopes, one of them a wildcard.
#[derive(ClayConfig)]
struct OneKey {
    #[clay(env = "CLAY_KEY", scopes(staging = ["read:tables", "write:limited", "read:people.*"]))]
    key: Option<ApiKey>,
}

/// A key with different scopes in staging and production.
#[derive(ClayConfig)]
struct TwoEnvironments {
    #[clay(env = "CLAY_KEY", scopes(staging = ["read:tables"], production = ["read:rows"]))]
    key: Option<ApiKey>,
}

fn require(c: &mut Criterion) {
    let loaded = OneKey::load_from([
        ("CLAY_ENV", "staging"),
        ("CLAY_KEY", "sk_test_0123456789abcdefghijklmn"),
    ])
    .expect("the benchmark config loads");
    let key = loaded.key.expect("a key in staging");
    let baseline: HashSet<String> = key.scopes().iter().map(ToString::to_string).collect();
    assert!(key.require("write:limited").is_ok() && baseline.contains("write:limited"));
    assert!(key.require("write:people").is_err() && !baseline.contains("write:people"));

    let mut group = c.benchmark_group("require");
    group.bench_function("ApiKey::require granted", |b| {
        b.iter(|| black_box(&key).require(black_box("write:limited")).is_ok())
    });
    group.bench_function("HashSet<String> contains granted (baseline)", |b| {
        b.iter(|| black_box(&baseline).contains(black_box("write:limited")))
    });
    group.bench_function("ApiKey::require denied", |b| {
        b.iter(|| black_box(&key).require(black_box("write:people")).is_err())
    });
    group.bench_function("HashSet<String> contains denied (baseline)", |b| {
        b.iter(|| black_box(&baseline).contains(black_box("write:people")))
    });
    group.bench_function("ApiKey::allows denied", |b| {
        b.iter(|| black_box(&key).allows(black_box("write:people")))
    });
    group.bench_function("ApiKey::allows granted by a prefix wildcard", |b| {
        b.iter(|| black_box(&key).allows(black_box("read:people.emails")))
    });
    group.finish();
}

/// `require!` against `ApiKey::require` on the same key, in the same run: the build-time check
/// must add nothing at run time.
fn require_macro(c: &mut Criterion) {
    let loaded = OneKey::load_from([
        ("CLAY_ENV", "staging"),
        ("CLAY_KEY", "sk_test_0123456789abcdefghijklmn"),
    ])
    .expect("the benchmark config loads");
    let absent = OneKey::load_from([("CLAY_ENV", "production")]).expect("no key in production");
    let mut group = c.benchmark_group("require!");
    group.bench_function("require! granted (Option<ApiKey> field)", |b| {
        b.iter(|| clay_config::require!(black_box(&loaded).key, "write:limited").is_ok())
    });
    group.bench_function("key.require granted (baseline)", |b| {
        b.iter(|| {
            black_box(&loaded)
                .key
                .as_ref()
                .is_some_and(|key| key.require(black_box("write:limited")).is_ok())
        })
    });
    // Declared for production, asked in staging: it builds, and is refused at run time.
    let staging = TwoEnvironments::load_from([
        ("CLAY_ENV", "staging"),
        ("CLAY_KEY", "sk_test_0123456789abcdefghijklmn"),
    ])
    .expect("the benchmark config loads");
    group.bench_function("require! denied", |b| {
        b.iter(|| clay_config::require!(black_box(&staging).key, "read:rows").is_err())
    });
    group.bench_function("key.require denied (baseline)", |b| {
        b.iter(|| {
            black_box(&staging)
                .key
                .as_ref()
                .is_some_and(|key| key.require(black_box("read:rows")).is_err())
        })
    });
    group.bench_function("require! on an absent key", |b| {
        b.iter(|| clay_config::require!(black_box(&absent).key, "write:limited").is_err())
    });
    group.finish();
}

fn load(c: &mut Criterion) {
    let vars = ten_key_vars();
    assert!(
        TenKeys::load_from(vars.clone()).is_ok(),
        "the benchmark config loads"
    );
    c.bench_function("load_from (10 keys, production)", |b| {
        b.iter(|| TenKeys::load_from(black_box(vars.clone())).is_ok())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = require, require_macro, load
}
criterion_main!(benches);
