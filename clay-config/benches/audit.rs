//! Entries per second of the audit file sink in each durability mode, one writer and 8 threads,
//! against a plain `writeln!` of the same JSON to a `File` in the same run, and the same sinks
//! signing a checkpoint every 100 entries against themselves unsigned. Prints two tables after
//! criterion's own report.
//!
//! `cargo bench -p clay-config --bench audit` (add e.g. `-- --measurement-time 1` for a
//! quick run).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clay_config::audit::{AuditEntry, AuditLog, Durability, FileSink, SigningKey};
use criterion::{BenchmarkId, Criterion, Throughput};

const THREADS: u64 = 8;
/// Checkpoint cadence of the signed modes.
const EVERY: u64 = 100;

/// A typical entry: an API call with a few details.
fn entry() -> AuditEntry {
    AuditEntry::builder("clay.api.call")
        .user_id("u-1042")
        .resource("/v1/tables/t_abc123/rows")
        .metadata("rows", 25)
        .metadata("table", "people")
        .metadata("durationMs", 41)
        .build()
}

#[derive(Clone, Copy)]
enum Mode {
    Baseline,
    Sink(Durability),
    /// The same sink, signing a checkpoint every `EVERY` entries.
    Signed(Durability),
}

const MODES: [(&str, &str, Mode); 6] = [
    (
        "writeln",
        "plain `writeln!` to a File (baseline)",
        Mode::Baseline,
    ),
    (
        "none",
        "FileSink, Durability::None",
        Mode::Sink(Durability::None),
    ),
    (
        "none-signed",
        "FileSink, Durability::None, signed every 100",
        Mode::Signed(Durability::None),
    ),
    (
        "batched",
        "FileSink, Durability::batched() (100 ms / 1000)",
        Mode::Sink(Durability::batched()),
    ),
    (
        "batched-signed",
        "FileSink, Durability::batched(), signed every 100",
        Mode::Signed(Durability::batched()),
    ),
    (
        "every",
        "FileSink, Durability::EveryEntry",
        Mode::Sink(Durability::EveryEntry),
    ),
];

/// Signed modes and the unsigned mode each is compared with.
const SIGNED_PAIRS: [(&str, &str, &str); 2] = [
    ("none-signed", "none", "Durability::None"),
    ("batched-signed", "batched", "Durability::batched()"),
];

enum Writer {
    File(File),
    Log(AuditLog),
}

impl Writer {
    fn open(mode: Mode, path: &Path) -> Writer {
        match mode {
            Mode::Baseline => Writer::File(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("opens the baseline file"),
            ),
            Mode::Sink(durability) => Writer::Log(
                AuditLog::builder()
                    .sink(FileSink::open(path, durability).expect("opens the audit log"))
                    .build(),
            ),
            Mode::Signed(durability) => {
                let key = SigningKey::generate().expect("randomness");
                let sink = FileSink::open(path, durability)
                    .expect("opens the audit log")
                    .signed(key, EVERY);
                Writer::Log(AuditLog::builder().sink(sink).build())
            }
        }
    }

    fn write(&self, entry: &AuditEntry) {
        match self {
            Writer::File(file) => writeln!(&*file, "{entry}").expect("writes"),
            Writer::Log(log) => log.record(entry.clone()).expect("records"),
        }
    }
}

fn bench_audit(c: &mut Criterion, dir: &Path) {
    let entry = entry();
    let mut group = c.benchmark_group("audit");
    for (name, _, mode) in MODES {
        // One writer: an iteration is one entry.
        let path = dir.join(format!("{name}-1.log"));
        let writer = Writer::open(mode, &path);
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new(name, 1), |b| {
            b.iter(|| writer.write(&entry));
        });
        drop(writer);
        let _ = std::fs::remove_file(&path);

        // 8 threads sharing one writer: an iteration is one entry from each thread.
        let path = dir.join(format!("{name}-8.log"));
        let writer = Writer::open(mode, &path);
        group.throughput(Throughput::Elements(THREADS));
        group.bench_function(BenchmarkId::new(name, THREADS), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..THREADS {
                        scope.spawn(|| {
                            for _ in 0..iters {
                                writer.write(&entry);
                            }
                        });
                    }
                });
                start.elapsed()
            });
        });
        drop(writer);
        let _ = std::fs::remove_file(&path);
    }
    group.finish();
}

/// Criterion's mean time per iteration, in nanoseconds.
fn mean_ns(out: &Path, name: &str, threads: u64) -> Option<f64> {
    let file: PathBuf = [
        out,
        Path::new("audit"),
        Path::new(name),
        Path::new(&threads.to_string()),
        Path::new("new"),
        Path::new("estimates.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(file).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

fn print_table(out: &Path) {
    let rate =
        |name: &str, threads: u64| mean_ns(out, name, threads).map(|ns| threads as f64 * 1e9 / ns);
    let base_1 = rate("writeln", 1);
    let base_8 = rate("writeln", THREADS);
    let cell = |r: Option<f64>, base: Option<f64>| match (r, base) {
        (Some(r), Some(base)) => format!("{:>12.0} ({:>5.1}%)", r, 100.0 * r / base),
        (Some(r), None) => format!("{r:>12.0}"),
        _ => "n/a".to_owned(),
    };
    println!();
    println!("Audit log throughput, entries per second (share of the writeln! baseline)");
    println!();
    println!(
        "| {:<48} | {:>21} | {:>21} |",
        "writer", "1 writer", "8 threads"
    );
    println!("|{:-<50}|{:-<22}:|{:-<22}:|", "", "", "");
    for (name, label, _) in MODES {
        println!(
            "| {:<48} | {:>21} | {:>21} |",
            label,
            cell(rate(name, 1), base_1),
            cell(rate(name, THREADS), base_8),
        );
    }
    println!();
    println!(
        "Signing a checkpoint every {EVERY} entries, against the same sink unsigned (target: at least 0.90x)"
    );
    println!();
    println!(
        "| {:<24} | {:>24} | {:>24} |",
        "durability", "1 writer", "8 threads"
    );
    println!("|{:-<26}|{:-<25}:|{:-<25}:|", "", "", "");
    let ratio = |signed: &str, plain: &str, threads: u64| match (
        rate(signed, threads),
        rate(plain, threads),
    ) {
        (Some(s), Some(p)) => format!("{s:>9.0} vs {p:>7.0} {:>4.2}x", s / p),
        _ => "n/a".to_owned(),
    };
    for (signed, plain, label) in SIGNED_PAIRS {
        println!(
            "| {:<24} | {:>24} | {:>24} |",
            label,
            ratio(signed, plain, 1),
            ratio(signed, plain, THREADS),
        );
    }
    println!();
}

/// Signed against unsigned, measured in alternating rounds of `ROUND` entries (which goes
/// first alternates too), so that a machine shared with other work slows both alike; returns
/// the median rates (entries per second) and the median of the per-round ratios.
fn paired_signing(dir: &Path, durability: Durability) -> (f64, f64, f64) {
    const ROUNDS: usize = 31;
    const ROUND: u32 = 1_000;
    let entry = entry();
    let unsigned = Writer::open(Mode::Sink(durability), &dir.join("paired-unsigned.log"));
    let signed = Writer::open(Mode::Signed(durability), &dir.join("paired-signed.log"));
    let time = |writer: &Writer| {
        let start = Instant::now();
        for _ in 0..ROUND {
            writer.write(&entry);
        }
        f64::from(ROUND) / start.elapsed().as_secs_f64()
    };
    // Warm both up (page cache, the signer's first look for a checkpoint).
    time(&unsigned);
    time(&signed);
    let (mut plain_rates, mut signed_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (p, s) = if round % 2 == 0 {
            let p = time(&unsigned);
            (p, time(&signed))
        } else {
            let s = time(&signed);
            (time(&unsigned), s)
        };
        plain_rates.push(p);
        signed_rates.push(s);
        ratios.push(s / p);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(signed_rates), median(plain_rates), median(ratios))
}

/// What one checkpoint costs (signing it and writing its line), in microseconds: entries each
/// followed by an explicit checkpoint, against the same number of entries alone.
fn checkpoint_cost_us(dir: &Path) -> f64 {
    use clay_config::audit::AuditSink;
    const N: u32 = 500;
    let entry = entry();
    let key = SigningKey::generate().expect("randomness");
    let path = dir.join("checkpoint-cost.log");
    let sink = FileSink::open(&path, Durability::None)
        .expect("opens")
        .signed(key, u64::MAX);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..N {
            sink.write(&entry).expect("writes");
        }
        let alone = start.elapsed().as_secs_f64();
        let start = Instant::now();
        for _ in 0..N {
            sink.write(&entry).expect("writes");
            sink.checkpoint().expect("signs");
        }
        let with = start.elapsed().as_secs_f64();
        best = best.min((with - alone) / f64::from(N) * 1e6);
    }
    drop(sink);
    let _ = std::fs::remove_file(&path);
    best
}

fn print_paired(dir: &Path) {
    println!(
        "The same comparison in alternating rounds of 1,000 entries (one writer, median of 31 rounds)"
    );
    println!();
    println!(
        "| {:<24} | {:>10} | {:>10} | {:>6} |",
        "durability", "signed", "unsigned", "ratio"
    );
    println!("|{:-<26}|{:-<11}:|{:-<11}:|{:-<7}:|", "", "", "", "");
    let checkpoint = checkpoint_cost_us(dir);
    let mut unsigned_entry_us = Vec::new();
    for (label, durability) in [
        ("Durability::None", Durability::None),
        ("Durability::batched()", Durability::batched()),
    ] {
        let (signed, plain, ratio) = paired_signing(dir, durability);
        unsigned_entry_us.push(1e6 / plain);
        println!("| {label:<24} | {signed:>10.0} | {plain:>10.0} | {ratio:>5.2}x |");
        for name in ["paired-unsigned.log", "paired-signed.log"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    println!();
    let per_entry = checkpoint / EVERY as f64;
    let entry_us = unsigned_entry_us.iter().sum::<f64>() / unsigned_entry_us.len() as f64;
    println!(
        "One checkpoint (Ed25519 signature and its line) costs about {checkpoint:.0} µs: every {EVERY} entries, {per_entry:.1} µs an entry, against {entry_us:.1} µs for an unsigned entry in this run: {:.2}x expected.",
        entry_us / (entry_us + per_entry)
    );
    println!();
}

fn main() {
    let dir = tempfile::tempdir_in(
        std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "../target".into()),
    )
    .or_else(|_| tempfile::tempdir())
    .expect("a scratch directory");
    let out = dir.path().join("criterion");
    let mut criterion = Criterion::default()
        .output_directory(&out)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_audit(&mut criterion, dir.path());
    criterion.final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs each benchmark once, without
    // estimates to report.
    if std::env::args().any(|arg| arg == "--bench") {
        print_table(&out);
        print_paired(dir.path());
    }
}
