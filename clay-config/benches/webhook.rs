//! `WebhookVerifier::verify` throughput against a bare `ring::hmac::verify`, in the same run,
//! for 64 B, 1 KiB, 64 KiB and 1 MiB bodies; then a table of ours/ring throughput.
//!
//! ```text
//! cargo bench -p clay-config --bench webhook
//! cargo bench -p clay-config --bench webhook -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Ours is the whole `verify` of the seed's scheme (`ClayHex`): header lookup, hex decoding,
//! HMAC-SHA256 of the body, constant-time comparison. ring's is the HMAC and comparison alone,
//! with the tag already decoded: the floor to measure against. The table's throughputs come
//! from the median time per verification over criterion's measured samples (the warm-up
//! excluded); a second ratio compares the fastest samples, which other work on a shared
//! machine disturbs least.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use clay_config::WebhookSecret;
use clay_config::webhook::{Scheme, WebhookVerifier};
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
        self.0
            .borrow_mut()
            .push(elapsed.as_secs_f64() / iters.max(1) as f64);
        elapsed
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

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
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

    criterion.final_summary();

    let mib_per_s = |size: usize, seconds: f64| size as f64 / seconds / (1024.0 * 1024.0);
    println!();
    println!(
        "| body   | clay-config verify | ring::hmac::verify | ours/ring (median) | ours/ring (best) |"
    );
    println!(
        "|--------|-------------------:|-------------------:|-------------------:|-----------------:|"
    );
    for (label, size, [ours, ring], [ours_best, ring_best]) in rows {
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
         \"best\" compares the fastest samples; target >= 0.9x)"
    );
}
