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
//! decoding, HMAC-SHA256 of the body, constant-time comparison. ring's is the HMAC and
//! comparison alone, with the tag already decoded: the floor to measure against. The tables'
//! figures come from the median time per verification over criterion's measured samples (the
//! warm-up excluded); a second ratio compares the fastest samples, which other work on a
//! shared machine disturbs least.
//!
//! A guard accepts each delivery once, so the guarded benchmarks cycle through a pool of
//! distinct signed deliveries with a one-millisecond tolerance: by the time a delivery comes
//! round again its entry has expired, and every verification is a genuine first acceptance
//! (the loop asserts it). Unguarded baselines cycle through the same pool.

use std::cell::RefCell;
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

/// Every `iter_custom` call's time per iteration, in order.
#[derive(Default)]
struct Recorder(RefCell<Vec<f64>>);

impl Recorder {
    fn timed(&self, iters: u64, mut run: impl FnMut()) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            run();
        }
        let elapsed = start.elapsed();
        self.record(iters, elapsed);
        elapsed
    }

    fn record(&self, iters: u64, elapsed: Duration) {
        self.0
            .borrow_mut()
            .push(elapsed.as_secs_f64() / iters.max(1) as f64);
    }

    /// The measured samples, sorted (criterion warms up first, then takes `SAMPLES`).
    fn measured(&self) -> Vec<f64> {
        let all = self.0.borrow();
        let mut measured: Vec<f64> = all[all.len().saturating_sub(SAMPLES)..].to_vec();
        measured.sort_by(f64::total_cmp);
        measured
    }

    fn median(&self) -> f64 {
        let measured = self.measured();
        measured
            .get(measured.len() / 2)
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The fastest sample: the least disturbed by other work on a shared machine.
    fn best(&self) -> f64 {
        self.measured().first().copied().unwrap_or(f64::NAN)
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

    let ring_rows = against_ring(&mut criterion);
    let guard_rows = memory_guard(&mut criterion);
    #[cfg(feature = "redis")]
    let redis_rows = redis_guard::run(&mut criterion);

    criterion.final_summary();

    let mib_per_s = |size: usize, seconds: f64| size as f64 / seconds / (1024.0 * 1024.0);
    println!();
    println!(
        "| body   | clay-config verify | ring::hmac::verify | ours/ring (median) | ours/ring (best) |"
    );
    println!(
        "|--------|-------------------:|-------------------:|-------------------:|-----------------:|"
    );
    for (label, size, [ours, ring], [ours_best, ring_best]) in ring_rows {
        println!(
            "| {label:<6} | {:>12.1} MiB/s | {:>12.1} MiB/s | {:>17.3}x | {:>15.3}x |",
            mib_per_s(size, ours),
            mib_per_s(size, ring),
            ring / ours,
            ring_best / ours_best,
        );
    }
    println!(
        "(throughput from the median time per verification over each benchmark's measured samples; \
         \"best\" compares the fastest samples; target >= 0.9x at 64 B and 1 KiB)"
    );

    println!();
    println!(
        "| body   | verify alone | verify + in-memory guard | guarded/alone (median) | guarded/alone (best) |"
    );
    println!(
        "|--------|-------------:|-------------------------:|-----------------------:|---------------------:|"
    );
    for (label, [alone, guarded], [alone_best, guarded_best]) in guard_rows {
        println!(
            "| {label:<6} | {:>9.0} ns | {:>21.0} ns | {:>21.3}x | {:>19.3}x |",
            alone * 1e9,
            guarded * 1e9,
            guarded / alone,
            guarded_best / alone_best,
        );
    }
    println!("(time per delivery; target <= 1.2x at 1 KiB)");

    #[cfg(feature = "redis")]
    redis_guard::print(redis_rows);
}

type RingRow = (&'static str, usize, [f64; 2], [f64; 2]);

fn against_ring(criterion: &mut Criterion) -> Vec<RingRow> {
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

        let ours = Recorder::default();
        let ring = Recorder::default();
        let mut group = criterion.benchmark_group(format!("verify/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(SAMPLES);
        group.bench_function("clay-config", |b| {
            b.iter_custom(|iters| {
                ours.timed(iters, || {
                    let result = verifier.verify(black_box(&headers), black_box(&body));
                    assert!(black_box(result).is_ok());
                })
            });
        });
        group.bench_function("ring", |b| {
            b.iter_custom(|iters| {
                ring.timed(iters, || {
                    let result = ring::hmac::verify(
                        &ring_key,
                        black_box(&body),
                        black_box(ring_tag.as_ref()),
                    );
                    assert!(black_box(result).is_ok());
                })
            });
        });
        group.finish();
        rows.push((
            label,
            size,
            [ours.median(), ring.median()],
            [ours.best(), ring.best()],
        ));
    }
    rows
}

type GuardRow = (&'static str, [f64; 2], [f64; 2]);

fn memory_guard(criterion: &mut Criterion) -> Vec<GuardRow> {
    let mut rows = Vec::new();
    for (size, label) in [(64, "64 B"), (1024, "1 KiB")] {
        let alone = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(SECRET))
            .with_tolerance(Duration::from_millis(1));
        let guarded = alone.clone().with_replay_guard(ReplayGuard::in_memory());
        let deliveries = pool(&alone, size);

        let alone_times = Recorder::default();
        let guarded_times = Recorder::default();
        let mut group = criterion.benchmark_group(format!("replay guard/{label}"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(SAMPLES);
        // Criterion calls each routine more than once: the cycles live outside, so no
        // delivery comes round again early.
        let mut alone_cycle = Cycle::new(&deliveries);
        let mut guarded_cycle = Cycle::new(&deliveries);
        group.bench_function("verify alone", |b| {
            let cycle = &mut alone_cycle;
            b.iter_custom(|iters| {
                alone_times.timed(iters, || {
                    let (headers, body) = cycle.next();
                    let result = alone.verify(black_box(headers), black_box(body));
                    assert!(black_box(result).is_ok());
                })
            });
        });
        group.bench_function("verify + in-memory guard", |b| {
            let cycle = &mut guarded_cycle;
            b.iter_custom(|iters| {
                guarded_times.timed(iters, || {
                    let (headers, body) = cycle.next();
                    let result = guarded.verify(black_box(headers), black_box(body));
                    assert_eq!(black_box(result), Ok(()), "each delivery is new");
                })
            });
        });
        group.finish();
        rows.push((
            label,
            [alone_times.median(), guarded_times.median()],
            [alone_times.best(), guarded_times.best()],
        ));
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

    use super::{Recorder, SAMPLES, SECRET, pool};

    pub(super) struct Rows {
        url_set: bool,
        /// (tasks, guarded, median and best seconds per delivery)
        rows: Vec<(usize, bool, f64, f64)>,
    }

    pub(super) fn run(criterion: &mut Criterion) -> Rows {
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
        let mut rows = Vec::new();
        let mut group = criterion.benchmark_group("redis guard/1 KiB");
        group.throughput(Throughput::Elements(1));
        group.sample_size(SAMPLES);
        for (tasks, verifier, name) in [
            (1, &alone, "verify_async alone, 1 task"),
            (1, &guarded, "verify_async + Redis guard, 1 task"),
            (16, &guarded, "verify_async + Redis guard, 16 tasks"),
        ] {
            let times = Recorder::default();
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let elapsed =
                        runtime.block_on(deliver(verifier, &deliveries, &next, tasks, iters));
                    times.record(iters, elapsed);
                    elapsed
                });
            });
            rows.push((
                tasks,
                verifier.replay_guard().is_some(),
                times.median(),
                times.best(),
            ));
        }
        group.finish();
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
        println!(
            "| 1 KiB deliveries                      | deliveries/s (median) | deliveries/s (best) |"
        );
        println!(
            "|---------------------------------------|----------------------:|--------------------:|"
        );
        for (tasks, guarded, median, best) in rows.rows {
            let what = if guarded {
                format!(
                    "verify_async + Redis guard, {tasks:>2} task{}",
                    if tasks == 1 { " " } else { "s" }
                )
            } else {
                "verify_async alone,  1 task".to_owned()
            };
            println!(
                "| {what:<37} | {:>21.0} | {:>19.0} |",
                1.0 / median,
                1.0 / best
            );
        }
        println!(
            "(Redis on the same machine, one multiplexed connection; each delivery one SET NX PX)"
        );
    }
}
