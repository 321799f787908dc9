//! Webhook verification speed, each figure against a baseline measured in the same run:
//!
//! 1. `WebhookVerifier::verify` against a bare `ring::hmac::verify`, for 64 B, 1 KiB, 64 KiB
//!    and 1 MiB bodies (target: at least 0.9x ring's throughput at 64 B and 1 KiB);
//! 2. `verify` with an in-memory `ReplayGuard` against `verify` alone, at 64 B and 1 KiB
//!    (target: at most 1.2x the time at 1 KiB);
//! 3. with the `redis` feature and `CLAY_TEST_REDIS_URL` set (`.ci/run` starts a local
//!    server), `verify_async` with a Redis guard: deliveries per second from 1 and from 16
//!    concurrent tasks, 1 KiB bodies, against `verify_async` alone from one task.
//!
//! ```text
//! cargo bench -p clay-config --bench webhook
//! CLAY_TEST_REDIS_URL=redis://127.0.0.1:6379/ cargo bench -p clay-config --features redis --bench webhook
//! cargo bench -p clay-config --bench webhook -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Ours is the whole `verify` of the `ClayHex` scheme (Clay's practice): header lookup, hex
//! comparison, HMAC-SHA256 of the body. ring's is the HMAC and comparison alone, with the tag
//! already decoded: the floor to measure against.
//!
//! Criterion measures each function on its own (its usual report). The tables printed at the
//! end come from a second, paired measurement: the two sides of a comparison are timed in
//! alternating slices of about a millisecond, 201 rounds, so that other work on a shared
//! machine weighs on both alike. Each table gives the median time per delivery of each side,
//! the median of the per-round ratios, and the ratio of the fastest rounds.
//!
//! A guard accepts each delivery once, so the guarded benchmarks cycle through a pool of
//! distinct signed deliveries with a one-millisecond tolerance: by the time a delivery comes
//! round again its entry has expired, and every verification is a genuine first acceptance
//! (the loop asserts it). Unguarded baselines cycle through the same pool.

use std::hint::black_box;
use std::time::{Duration, Instant};

use clay_config::WebhookSecret;
use clay_config::webhook::http::HeaderMap;
use clay_config::webhook::{ReplayGuard, Scheme, WebhookVerifier};
use criterion::{Criterion, Throughput};

const SIZES: [(usize, &str); 4] = [
    (64, "64 B"),
    (1024, "1 KiB"),
    (64 * 1024, "64 KiB"),
    (1024 * 1024, "1 MiB"),
];

/// Samples per benchmark; set on each group so the last `SAMPLES` recordings are exactly the
/// measured ones.
const SAMPLES: usize = 60;

const SECRET: &str = "bench-webhook-secret-3c1f0e9a7d";

/// Distinct deliveries the guarded benchmarks cycle through: far more than are verified in the
/// guard's one-millisecond tolerance.
const POOL: usize = 4096;

/// Rounds of a paired measurement.
const ROUNDS: usize = 201;

/// How long each side runs per round.
const SLICE: Duration = Duration::from_millis(1);

/// Two sides of a comparison, timed in alternating slices.
struct Paired {
    /// Median seconds per call of each side.
    median: [f64; 2],
    /// Median over the rounds of (second side's time / first side's).
    ratio: f64,
    /// The fastest round of the second side over the fastest of the first.
    best_ratio: f64,
}

/// Times `first` and `second` alternately, `ROUNDS` rounds of about `SLICE` each.
fn paired(mut first: impl FnMut(), mut second: impl FnMut()) -> Paired {
    // Calls per slice, from a short calibration of the slower side.
    let calibrate = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < SLICE * 20 {
            run();
            calls += 1;
        }
        start.elapsed().as_secs_f64() / f64::from(calls)
    };
    let per_call = calibrate(&mut first).max(calibrate(&mut second));
    let calls = ((SLICE.as_secs_f64() / per_call) as u32).max(1);
    let time = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..calls {
            run();
        }
        start.elapsed().as_secs_f64() / f64::from(calls)
    };
    let mut rounds: Vec<[f64; 2]> = (0..ROUNDS)
        .map(|round| {
            // Alternate which side goes first, so neither always follows the other.
            if round % 2 == 0 {
                let a = time(&mut first);
                [a, time(&mut second)]
            } else {
                let b = time(&mut second);
                [time(&mut first), b]
            }
        })
        .collect();
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let mut ratios: Vec<f64> = rounds.iter().map(|[a, b]| b / a).collect();
    let mut firsts: Vec<f64> = rounds.iter().map(|[a, _]| *a).collect();
    let mut seconds: Vec<f64> = rounds.iter_mut().map(|[_, b]| *b).collect();
    let best = |values: &[f64]| values.iter().copied().fold(f64::INFINITY, f64::min);
    let best_ratio = best(&seconds) / best(&firsts);
    Paired {
        median: [median(&mut firsts), median(&mut seconds)],
        ratio: median(&mut ratios),
        best_ratio,
    }
}

/// `POOL` distinct `ClayHex` deliveries of `size` bytes, signed by `verifier`.
fn pool(verifier: &WebhookVerifier, size: usize) -> Vec<(HeaderMap, Vec<u8>)> {
    (0..POOL)
        .map(|n| {
            let mut body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let tail = size.saturating_sub(8);
            body[tail..].copy_from_slice(&(n as u64).to_le_bytes()[..size - tail]);
            let headers = verifier.sign(&body).expect("signed");
            (headers, body)
        })
        .collect()
}

/// Cycles through `pool`, one delivery per call.
struct Cycle<'p> {
    pool: &'p [(HeaderMap, Vec<u8>)],
    next: usize,
}

impl<'p> Cycle<'p> {
    fn new(pool: &'p [(HeaderMap, Vec<u8>)]) -> Self {
        Cycle { pool, next: 0 }
    }

    fn next(&mut self) -> (&'p HeaderMap, &'p [u8]) {
        let (headers, body) = &self.pool[self.next];
        self.next = (self.next + 1) % self.pool.len();
        (headers, body)
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    // Profiling one benchmark (`--profile-time`): no paired tables to slow it down.
    let tables = !std::env::args().any(|arg| arg == "--profile-time");

    let ring_rows = against_ring(&mut criterion, tables);
    let guard_rows = memory_guard(&mut criterion, tables);
    #[cfg(feature = "redis")]
    let redis_rows = redis_guard::run(&mut criterion, tables);

    criterion.final_summary();
    if !tables {
        return;
    }

    let mib_per_s = |size: usize, seconds: f64| size as f64 / seconds / (1024.0 * 1024.0);
    println!();
    println!(
        "| body   | clay-config verify | ring::hmac::verify | ours/ring (median) | ours/ring (best) |"
    );
    println!(
        "|--------|-------------------:|-------------------:|-------------------:|-----------------:|"
    );
    for (label, size, paired) in &ring_rows {
        let (size, [ring, ours]) = (*size, paired.median);
        println!(
            "| {label:<6} | {:>12.1} MiB/s | {:>12.1} MiB/s | {:>17.3}x | {:>15.3}x |",
            mib_per_s(size, ours),
            mib_per_s(size, ring),
            1.0 / paired.ratio,
            1.0 / paired.best_ratio,
        );
    }
    println!(
        "(throughput ratio, ours over ring's, from {ROUNDS} paired rounds: the median round, and the \
         fastest round of each; target >= 0.9x at 64 B and 1 KiB)"
    );

    println!();
    println!(
        "| body   | verify alone | verify + in-memory guard | guarded/alone (median) | guarded/alone (best) | guard's cost over a hot verify |"
    );
    println!(
        "|--------|-------------:|-------------------------:|-----------------------:|---------------------:|-------------------------------:|"
    );
    for (label, paired) in guard_rows {
        let [alone, guarded] = paired.median;
        // The pool's cache misses weigh on both sides; a receiver verifies a body it has just
        // read, so also put the guard's added time over the hot verify of the first table.
        let hot = ring_rows
            .iter()
            .find(|(ring_label, _, _)| *ring_label == label)
            .map_or(f64::NAN, |(_, _, paired)| paired.median[1]);
        println!(
            "| {label:<6} | {:>9.0} ns | {:>21.0} ns | {:>21.3}x | {:>19.3}x | {:>7.0} ns over {:>4.0} ns: {:>5.3}x |",
            alone * 1e9,
            guarded * 1e9,
            paired.ratio,
            paired.best_ratio,
            (guarded - alone) * 1e9,
            hot * 1e9,
            (hot + guarded - alone) / hot,
        );
    }
    println!(
        "(time per delivery, cycling through {POOL} distinct deliveries, from {ROUNDS} paired rounds; \
         target <= 1.2x at 1 KiB)"
    );

    #[cfg(feature = "redis")]
    redis_guard::print(redis_rows);
}

fn against_ring(criterion: &mut Criterion, tables: bool) -> Vec<(&'static str, usize, Paired)> {
    let mut rows = Vec::new();
    for (size, label) in SIZES {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let verifier = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(SECRET));
        let headers = verifier.sign(&body).expect("signed");
        let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
        let ring_tag = ring::hmac::sign(&ring_key, &body);
        // Both accept the same delivery before anything is timed.
        verifier.verify(&headers, &body).expect("ours verifies");
        ring::hmac::verify(&ring_key, &body, ring_tag.as_ref()).expect("ring verifies");
        let ours = || {
            let result = verifier.verify(black_box(&headers), black_box(&body));
            assert!(black_box(result).is_ok());
        };
        let theirs = || {
            let result =
                ring::hmac::verify(&ring_key, black_box(&body), black_box(ring_tag.as_ref()));
            assert!(black_box(result).is_ok());
        };

        let mut group = criterion.benchmark_group(format!("verify/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(SAMPLES);
        group.bench_function("clay-config", |b| b.iter(ours));
        group.bench_function("ring", |b| b.iter(theirs));
        group.finish();
        if tables {
            rows.push((label, size, paired(theirs, ours)));
        }
    }
    rows
}

fn memory_guard(criterion: &mut Criterion, tables: bool) -> Vec<(&'static str, Paired)> {
    let mut rows = Vec::new();
    for (size, label) in [(64, "64 B"), (1024, "1 KiB")] {
        let alone = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(SECRET))
            .with_tolerance(Duration::from_millis(1));
        let guarded = alone.clone().with_replay_guard(ReplayGuard::in_memory());
        let deliveries = pool(&alone, size);
        // Each side walks the pool on its own, from where it stopped (criterion calls a
        // routine more than once), so no delivery comes round again early.
        let mut alone_cycle = Cycle::new(&deliveries);
        let mut guarded_cycle = Cycle::new(&deliveries);
        let mut verify_alone = || {
            let (headers, body) = alone_cycle.next();
            let result = alone.verify(black_box(headers), black_box(body));
            assert!(black_box(result).is_ok());
        };
        let mut verify_guarded = || {
            let (headers, body) = guarded_cycle.next();
            let result = guarded.verify(black_box(headers), black_box(body));
            assert_eq!(black_box(result), Ok(()), "each delivery is new");
        };

        let mut group = criterion.benchmark_group(format!("replay guard/{label}"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(SAMPLES);
        group.bench_function("verify alone", |b| b.iter(&mut verify_alone));
        group.bench_function("verify + in-memory guard", |b| b.iter(&mut verify_guarded));
        group.finish();
        if tables {
            rows.push((label, paired(verify_alone, verify_guarded)));
        }
    }
    rows
}

#[cfg(feature = "redis")]
mod redis_guard {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use clay_config::WebhookSecret;
    use clay_config::webhook::http::HeaderMap;
    use clay_config::webhook::{RedisStore, ReplayGuard, Scheme, WebhookVerifier};
    use criterion::{Criterion, Throughput};

    use super::{SAMPLES, SECRET, pool};

    /// How long each figure's deliveries run, after a warm-up of the same length.
    const RUN: Duration = Duration::from_secs(3);

    pub(super) struct Rows {
        url_set: bool,
        /// (what, deliveries per second)
        rows: Vec<(&'static str, f64)>,
    }

    pub(super) fn run(criterion: &mut Criterion, tables: bool) -> Rows {
        let Ok(url) = std::env::var("CLAY_TEST_REDIS_URL") else {
            return Rows {
                url_set: false,
                rows: Vec::new(),
            };
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let store = runtime
            .block_on(RedisStore::connect(&url))
            .expect("CLAY_TEST_REDIS_URL names a reachable Redis");
        let alone = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(SECRET))
            .with_tolerance(Duration::from_millis(1));
        let guarded = Arc::new(alone.clone().with_replay_guard(ReplayGuard::new(store)));
        let alone = Arc::new(alone);
        let deliveries = Arc::new(pool(&alone, 1024));
        let next = Arc::new(AtomicUsize::new(0));
        let cases = [
            (1, &alone, "verify_async alone, 1 task"),
            (1, &guarded, "verify_async + Redis guard, 1 task"),
            (16, &guarded, "verify_async + Redis guard, 16 tasks"),
        ];

        let mut group = criterion.benchmark_group("redis guard/1 KiB");
        group.throughput(Throughput::Elements(1));
        group.sample_size(SAMPLES);
        for (tasks, verifier, name) in cases {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(deliver(verifier, &deliveries, &next, tasks, iters))
                });
            });
        }
        group.finish();

        if !tables {
            return Rows {
                url_set: true,
                rows: Vec::new(),
            };
        }
        // Deliveries per second over a fixed run, for the table.
        let rows = cases
            .into_iter()
            .map(|(tasks, verifier, name)| {
                let rate = |iters: u64| {
                    let elapsed =
                        runtime.block_on(deliver(verifier, &deliveries, &next, tasks, iters));
                    iters as f64 / elapsed.as_secs_f64()
                };
                // Size the run from a short one.
                let estimate = rate(2_000);
                let _warm_up = rate((estimate * RUN.as_secs_f64()) as u64);
                (name, rate((estimate * RUN.as_secs_f64()) as u64))
            })
            .collect();
        Rows {
            url_set: true,
            rows,
        }
    }

    /// `iters` deliveries from `tasks` concurrent tasks, taking the pool's deliveries in turn
    /// (from where the previous call stopped); the wall time of the whole.
    async fn deliver(
        verifier: &Arc<WebhookVerifier>,
        deliveries: &Arc<Vec<(HeaderMap, Vec<u8>)>>,
        next: &Arc<AtomicUsize>,
        tasks: usize,
        iters: u64,
    ) -> Duration {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|task| {
                let verifier = Arc::clone(verifier);
                let deliveries = Arc::clone(deliveries);
                let next = Arc::clone(next);
                let share = iters / tasks as u64 + u64::from((task as u64) < iters % tasks as u64);
                tokio::spawn(async move {
                    for _ in 0..share {
                        let index = next.fetch_add(1, Ordering::Relaxed) % deliveries.len();
                        let (headers, body) = &deliveries[index];
                        let result = verifier.verify_async(headers, body).await;
                        assert_eq!(result, Ok(()), "each delivery is new");
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a delivery task");
        }
        start.elapsed()
    }

    pub(super) fn print(rows: Rows) {
        println!();
        if !rows.url_set {
            println!(
                "(Redis guard not measured: set CLAY_TEST_REDIS_URL to a local Redis, e.g. redis://127.0.0.1:6379/)"
            );
            return;
        }
        println!("| 1 KiB deliveries                      | deliveries/s |");
        println!("|---------------------------------------|-------------:|");
        for (what, rate) in rows.rows {
            println!("| {what:<37} | {rate:>12.0} |");
        }
        println!(
            "(each over {} s after a warm-up as long; Redis on the same machine, one multiplexed \
             connection, one SET NX PX per delivery)",
            RUN.as_secs()
        );
    }
}
