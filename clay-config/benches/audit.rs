//! Entries per second of the audit file sink in each durability mode, one writer and 8 threads,
//! against a plain `writeln!` of the same JSON to a `File` in the same run. Prints a table
//! after criterion's own report.
//!
//! `cargo bench -p clay-config --bench audit` (add e.g. `-- --measurement-time 1` for a
//! quick run).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clay_config::audit::{AuditEntry, AuditLog, Durability, FileSink};
use criterion::{BenchmarkId, Criterion, Throughput};

const THREADS: u64 = 8;

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
}

const MODES: [(&str, &str, Mode); 4] = [
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
        "batched",
        "FileSink, Durability::batched() (100 ms / 1000)",
        Mode::Sink(Durability::batched()),
    ),
    (
        "every",
        "FileSink, Durability::EveryEntry",
        Mode::Sink(Durability::EveryEntry),
    ),
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
    }
}
