//! Reliability of the file sink under concurrent writers and crashes. Child processes are this
//! test binary run again with `CLAY_AUDIT_TEST_CHILD` set (see `child_process`). With the
//! `signing` feature every writer signs (one key, a checkpoint every 100 lines) and the logs
//! are also checked with the public key.

#![cfg(feature = "audit")]

mod audit {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use clay_config::audit::{
        AuditEntry, AuditLog, AuditSink, CHECKPOINT_ACTION, Durability, FileSink, Problem, verify,
    };

    const CHILD: &str = "CLAY_AUDIT_TEST_CHILD";
    const PATH: &str = "CLAY_AUDIT_TEST_PATH";
    const WRITER: &str = "CLAY_AUDIT_TEST_WRITER";
    const COUNT: &str = "CLAY_AUDIT_TEST_COUNT";
    const DURABILITY: &str = "CLAY_AUDIT_TEST_DURABILITY";
    const KEY: &str = "CLAY_AUDIT_TEST_SIGNING_KEY";
    /// Checkpoint cadence of the signing writers.
    #[cfg(feature = "signing")]
    const EVERY: u64 = 100;

    /// A key for the parent and its children (the children read it from `KEY`).
    #[cfg(feature = "signing")]
    fn test_key() -> clay_config::audit::SigningKey {
        static KEY_TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let text = KEY_TEXT.get_or_init(|| {
            std::env::var(KEY).unwrap_or_else(|_| {
                let key = clay_config::audit::SigningKey::generate().expect("randomness");
                key.to_secret().expose_secret().to_owned()
            })
        });
        clay_config::audit::SigningKey::from_secret(&clay_config::Secret::new(text.as_str()))
            .expect("the test key parses")
    }

    /// The sink every writer uses: signed when the feature is on.
    fn open_sink(path: impl AsRef<Path>, durability: Durability) -> FileSink {
        let sink = FileSink::open(path, durability).expect("opens the log");
        #[cfg(feature = "signing")]
        let sink = sink.signed(test_key(), EVERY);
        sink
    }

    /// The key's text for a child's environment (empty without signing).
    fn key_env() -> String {
        #[cfg(feature = "signing")]
        return test_key().to_secret().expose_secret().to_owned();
        #[cfg(not(feature = "signing"))]
        String::new()
    }

    /// With signing, the log verifies with the public key too; returns the lines after the
    /// last checkpoint. A writer killed before its first checkpoint leaves a log with none,
    /// which proves nothing: reported as such, and accepted only while that short.
    fn check_signed(path: &Path) -> u64 {
        #[cfg(feature = "signing")]
        {
            let report = clay_config::audit::verify_signed(path, &test_key().verifying_key())
                .expect("reads");
            if let Some(broken) = report.broken()
                && broken.problem() == &Problem::NoCheckpoint
                && report.entries() <= EVERY
            {
                return report.entries();
            }
            assert!(report.is_ok(), "{report}");
            assert!(report.checkpoints() > 0, "{report}");
            report.unsigned_entries()
        }
        #[cfg(not(feature = "signing"))]
        {
            let _ = path;
            0
        }
    }

    fn entry(writer: &str, n: u64, blob: usize) -> AuditEntry {
        let mut builder = AuditEntry::builder("clay.api.call")
            .user_id(writer)
            .resource(format!("/v1/tables/{n}"))
            .metadata("writer", writer)
            .metadata("n", n);
        if blob > 0 {
            builder = builder.metadata("blob", "a".repeat(blob));
        }
        builder.build()
    }

    fn durability(name: &str) -> Durability {
        match name {
            "every" => Durability::EveryEntry,
            "batched" => Durability::Batched {
                max_delay: Duration::from_millis(5),
                max_entries: 50,
            },
            _ => Durability::None,
        }
    }

    /// Not a test of its own: the body of the child processes. Without `CLAY_AUDIT_TEST_CHILD`
    /// it does nothing.
    #[test]
    fn child_process() {
        let Ok(mode) = std::env::var(CHILD) else {
            return;
        };
        let var = |name: &str| std::env::var(name).expect("set by the parent");
        let path = var(PATH);
        let writer = var(WRITER);
        let sink = open_sink(&path, durability(&var(DURABILITY)));
        match mode.as_str() {
            "bulk" => {
                // Two threads per process, `count` entries each.
                let count: u64 = var(COUNT).parse().expect("a number");
                std::thread::scope(|scope| {
                    for t in 0..2 {
                        let (sink, writer) = (&sink, format!("{writer}.{t}"));
                        scope.spawn(move || {
                            for n in 0..count {
                                sink.write(&entry(&writer, n, 0)).expect("child writes");
                            }
                        });
                    }
                });
            }
            "forever" => {
                // Every 16th entry is large, so that a kill can land inside its `write`.
                for n in 0.. {
                    let blob = if n % 16 == 15 { 256 << 10 } else { 0 };
                    sink.write(&entry(&writer, n, blob)).expect("child writes");
                    println!("ack {n}");
                }
            }
            other => unreachable!("unknown child mode {other}"),
        }
    }

    fn child(mode: &str, path: &Path, writer: &str, durability: &str, count: u64) -> Command {
        let exe = std::env::current_exe().expect("test binary");
        let mut command = Command::new(exe);
        command
            .args([
                "--exact",
                "audit::child_process",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(CHILD, mode)
            .env(PATH, path)
            .env(WRITER, writer)
            .env(DURABILITY, durability)
            .env(COUNT, count.to_string())
            .env(KEY, key_env())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        command
    }

    fn count_checkpoints(path: &Path) -> u64 {
        let text = std::fs::read_to_string(path).expect("reads");
        text.matches(&format!("\"action\":\"{CHECKPOINT_ACTION}\""))
            .count() as u64
    }

    fn wait_success(mut child: Child) {
        let status = child.wait().expect("child ran");
        assert!(status.success(), "child failed: {status}");
    }

    /// 8 threads x 5,000 entries in this process and 4 processes x 2 threads x 2,000: 56,000
    /// entries in one file.
    #[test]
    fn eight_threads_and_four_processes_append_56000_entries_to_one_chain() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 5_000;
        const PROCESSES: u64 = 4;
        const PER_PROCESS: u64 = 2_000;
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::builder()
            .sink(open_sink(&path, Durability::None))
            .build();

        let children: Vec<Child> = (0..PROCESSES)
            .map(|p| {
                child("bulk", &path, &format!("p{p}"), "none", PER_PROCESS)
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("spawns")
            })
            .collect();
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let log = log.clone();
                scope.spawn(move || {
                    let writer = format!("t{t}");
                    for n in 0..PER_THREAD {
                        log.record(entry(&writer, n, 0)).expect("records");
                    }
                });
            }
        });
        children.into_iter().for_each(wait_success);

        let total = THREADS * PER_THREAD + PROCESSES * 2 * PER_PROCESS;
        assert_eq!(total, 56_000);
        let head = log.head();
        drop(log);
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        // With signing, the checkpoints are lines of the chain too.
        let checkpoints = count_checkpoints(&path);
        assert_eq!(report.entries(), total + checkpoints);
        // Dropping the log added its closing checkpoint, unless the log ended with one.
        let (before, after) = (
            head.map_or(0, |h| h.seq),
            report.head().map_or(0, |h| h.seq),
        );
        assert!(
            (before..=before + 1).contains(&after),
            "{before} then {after}"
        );
        assert_eq!(
            check_signed(&path),
            0,
            "every writer closed with a checkpoint"
        );
        #[cfg(feature = "signing")]
        assert!(checkpoints >= total / EVERY, "{checkpoints} checkpoints");

        // Every line is JSON, every entry is there once, each writer's in its own order.
        let file = std::fs::File::open(&path).expect("opens");
        let mut last_n: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut switches = 0u64;
        let mut previous_writer = String::new();
        for line in BufReader::new(file).lines() {
            let line = line.expect("utf-8 line");
            let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
            if value["action"] == CHECKPOINT_ACTION {
                continue;
            }
            let writer = value["metadata"]["writer"]
                .as_str()
                .expect("writer")
                .to_owned();
            let n = value["metadata"]["n"].as_u64().expect("n");
            if let Some(&last) = last_n.get(&writer) {
                assert!(n > last, "{writer}: {n} after {last}");
            }
            last_n.insert(writer.clone(), n);
            assert!(seen.insert((writer.clone(), n)), "duplicate {writer} {n}");
            if writer != previous_writer {
                switches += 1;
                previous_writer = writer;
            }
        }
        assert_eq!(seen.len() as u64, total);
        assert_eq!(last_n.len() as u64, THREADS + PROCESSES * 2);
        eprintln!(
            "{total} entries from {THREADS} threads and {PROCESSES} processes of 2 threads, {switches} writer switches, {:.2?}",
            started.elapsed()
        );
    }

    /// Runs a child appending forever, kills it with SIGKILL after `after` acknowledged
    /// entries, and returns what it acknowledged. To kill it inside a `write` (the only way
    /// to tear a line), it watches the file and kills as soon as the file does not end with a
    /// newline, giving up after a while and killing anyway.
    fn run_and_kill(path: &Path, round: u32, durability: &str, after: u64) -> Vec<u64> {
        let mut child = child("forever", path, &format!("r{round}"), durability, 0)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawns");
        let stdout = child.stdout.take().expect("piped");
        let acked = Arc::new(AtomicU64::new(0));
        let reader = {
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                let mut acks = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(n) = line.strip_prefix("ack ") {
                        acks.push(n.parse::<u64>().expect("ack number"));
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                acks
            })
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.load(Ordering::Relaxed) < after {
            assert!(Instant::now() < deadline, "child made no progress");
            let exited = child.try_wait().expect("polls");
            assert!(exited.is_none(), "child exited early: {exited:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
        let file = std::fs::File::open(path).expect("opens");
        let hunt = Instant::now() + Duration::from_secs(3);
        let mut last = [0u8; 1];
        while Instant::now() < hunt {
            let len = file.metadata().expect("stat").len();
            if len > 0
                && std::os::unix::fs::FileExt::read_exact_at(&file, &mut last, len - 1).is_ok()
                && last[0] != b'\n'
            {
                break;
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reader.join().expect("reader")
    }

    #[test]
    fn sigkill_mid_run_five_times_loses_no_whole_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let mut kept: Vec<u8> = Vec::new();
        let mut torn_rounds = 0;
        for (round, durability) in ["none", "every", "batched", "none", "batched"]
            .into_iter()
            .enumerate()
        {
            let round = round as u32;
            let acks = run_and_kill(&path, round, durability, 40 + u64::from(round) * 17);
            let bytes = std::fs::read(&path).expect("reads");
            assert!(
                bytes.starts_with(&kept),
                "round {round}: earlier lines changed"
            );
            let whole_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let whole_lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;

            // Verify passes up to the last whole line.
            let report = verify(&path).expect("reads");
            assert_eq!(report.entries(), whole_lines, "round {round}: {report}");
            let torn = whole_len < bytes.len();
            if torn {
                torn_rounds += 1;
                let broken = report.broken().expect("torn tail reported");
                assert_eq!(broken.line(), whole_lines + 1);
                assert_eq!(broken.problem(), &Problem::Torn);
            } else {
                assert!(report.is_ok(), "round {round}: {report}");
            }

            // With signing, what the chain accepts the key accepts too; the entries since
            // the last checkpoint are unsigned (the killed writer could not close).
            if !torn {
                let unsigned = check_signed(&path);
                #[cfg(feature = "signing")]
                assert!(unsigned <= EVERY, "round {round}: {unsigned} unsigned");
                let _ = unsigned;
            }

            // Every acknowledged entry is a whole line.
            let writer = format!("r{round}");
            let written: BTreeSet<u64> = bytes[kept.len()..whole_len]
                .split(|&b| b == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| serde_json::from_slice::<serde_json::Value>(line).expect("json"))
                .filter(|v| v["metadata"]["writer"] == writer.as_str())
                .map(|v| v["metadata"]["n"].as_u64().expect("n"))
                .collect();
            for n in &acks {
                assert!(
                    written.contains(n),
                    "round {round}: acknowledged entry {n} lost"
                );
            }
            assert!(written.len() >= acks.len());

            // Reopening repairs the tail and keeps every whole line; a signing writer's
            // close signs what the killed one left unsigned, the repair included.
            let sink = open_sink(&path, Durability::EveryEntry);
            assert_eq!(sink.repairs().len(), usize::from(torn), "round {round}");
            drop(sink);
            let after = std::fs::read(&path).expect("reads");
            assert!(after.starts_with(&bytes[..whole_len]));
            let report = verify(&path).expect("reads");
            assert!(report.is_ok(), "round {round}: {report}");
            assert!(report.entries() >= whole_lines + u64::from(torn));
            if torn {
                assert_eq!(report.repairs().len(), torn_rounds, "round {round}");
            }
            assert_eq!(check_signed(&path), 0, "round {round}");
            kept = after;
        }
        eprintln!("5 kills, {torn_rounds} of them tore a line");
    }
}
