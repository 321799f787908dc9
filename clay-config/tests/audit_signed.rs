//! Signed checkpoints: what an attacker who can rewrite the file (and recompute every hash)
//! gets past `verify`, and what `verify_signed` with the public key finds.

#![cfg(feature = "signing")]

mod audit {
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use clay_config::Secret;
    use clay_config::audit::{
        AuditEntry, AuditError, AuditLog, AuditSink, CHECKPOINT_ACTION, Durability, FileSink, Head,
        MemorySink, Problem, REPAIR_ACTION, SigningKey, VerifyOptions, VerifyReport, VerifyingKey,
        verify, verify_signed, verify_with,
    };
    use sha2::{Digest, Sha256};

    const EVERY: u64 = 10;

    fn entry(n: usize) -> AuditEntry {
        AuditEntry::builder("clay.api.call")
            .user_id(format!("u-{n}"))
            .resource(format!("/v1/tables/{n}"))
            .metadata("n", n)
            .build()
    }

    struct Log {
        _dir: tempfile::TempDir,
        path: PathBuf,
        public: VerifyingKey,
    }

    /// A closed, signed log of `n` entries (a checkpoint every 10 lines and one on close).
    fn signed_log(n: usize) -> Log {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let sink = FileSink::open(&path, Durability::None)
            .expect("opens")
            .signed(key, EVERY);
        for i in 1..=n {
            sink.write(&entry(i)).expect("writes");
        }
        sink.close().expect("closes");
        Log {
            _dir: dir,
            path,
            public,
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .expect("reads")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        fs::write(path, text).expect("writes");
    }

    fn is_checkpoint(line: &str) -> bool {
        line.contains(&format!("\"action\":\"{CHECKPOINT_ACTION}\""))
    }

    /// What an attacker with write access does after changing lines: renumber them and
    /// recompute every `prev` and `hash`, from the documented format alone (SHA-256 over the
    /// previous hash's hex and the line without its `hash` member).
    fn rechain(lines: &[String]) -> Vec<String> {
        let mut prev = "0".repeat(64);
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let entry = &line[..line.rfind(",\"seq\":").expect("a chain line")];
            let body = format!("{entry},\"seq\":{},\"prev\":\"{prev}\"}}", i + 1);
            let hash: String = Sha256::new()
                .chain_update(prev.as_bytes())
                .chain_update(body.as_bytes())
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            out.push(format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1]));
            prev = hash;
        }
        out
    }

    /// The problem `verify_signed` reports; first asserts that plain `verify` sees nothing.
    fn only_the_key_sees(log: &Log) -> (Problem, VerifyReport) {
        let plain = verify(&log.path).expect("reads");
        assert!(plain.is_ok(), "the chain alone is fooled: {plain}");
        let signed = verify_signed(&log.path, &log.public).expect("reads");
        let problem = signed
            .broken()
            .unwrap_or_else(|| unreachable!("the key must see it: {signed}"))
            .problem()
            .clone();
        (problem, signed)
    }

    #[test]
    fn an_intact_signed_log_verifies_with_its_key() {
        let log = signed_log(35);
        let lines = lines(&log.path);
        // 35 entries, a checkpoint after every 10 lines and one on close.
        let checkpoints: Vec<usize> = (0..lines.len())
            .filter(|&i| is_checkpoint(&lines[i]))
            .map(|i| i + 1)
            .collect();
        assert_eq!(checkpoints, [11, 22, 33, 39]);
        let report = verify_signed(&log.path, &log.public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.checkpoints(), 4);
        assert_eq!(report.unsigned_entries(), 0);
        assert_eq!(report.signed_head().map(|h| h.seq), Some(38));
        assert_eq!(report.key_id(), Some(log.public.key_id().as_str()));
        assert!(report.to_string().contains("4 checkpoint(s) signed by key"));
        // The checkpoint line names what it signs.
        let value: serde_json::Value = serde_json::from_str(&lines[10]).expect("json");
        let tenth: serde_json::Value = serde_json::from_str(&lines[9]).expect("json");
        assert_eq!(value["metadata"]["seq"], 10);
        assert_eq!(value["metadata"]["hash"], tenth["hash"]);
        assert_eq!(value["metadata"]["prevSignature"], serde_json::Value::Null);
        assert_eq!(value["metadata"]["keyId"], log.public.key_id().as_str());
        let next: serde_json::Value = serde_json::from_str(&lines[21]).expect("json");
        assert_eq!(
            next["metadata"]["prevSignature"],
            value["metadata"]["signature"]
        );
        assert_eq!(next["metadata"]["log"], value["metadata"]["log"]);
    }

    #[test]
    fn rechained_edit_is_found_only_with_the_key() {
        let log = signed_log(35);
        let mut lines = lines(&log.path);
        assert!(lines[4].contains("\"userId\":\"u-5\""));
        lines[4] = lines[4].replacen("u-5", "u-6", 1);
        write_lines(&log.path, &rechain(&lines));
        let (problem, report) = only_the_key_sees(&log);
        assert!(
            matches!(problem, Problem::CheckpointMismatch { signed, .. } if signed.seq == 10),
            "{report}"
        );
        assert_eq!(report.broken().map(|b| b.line()), Some(11));
    }

    #[test]
    fn any_rechained_change_to_any_signed_line_is_found() {
        let log = signed_log(35);
        let original = lines(&log.path);
        // Every line up to the last checkpoint, entries and checkpoints alike.
        for at in 0..38 {
            let mut changed = original.clone();
            changed[at] = changed[at].replacen("\"timestamp\":\"20", "\"timestamp\":\"19", 1);
            assert_ne!(changed[at], original[at]);
            write_lines(&log.path, &rechain(&changed));
            assert!(verify(&log.path).expect("reads").is_ok(), "line {}", at + 1);
            let report = verify_signed(&log.path, &log.public).expect("reads");
            assert!(
                !report.is_ok(),
                "line {} changed unnoticed: {report}",
                at + 1
            );
        }
        // Garbage where a checkpoint was: reported, never a panic.
        for garbage in [
            r#""metadata":{"log":"zz"}"#,
            r#""metadata":{"every":0}"#,
            r#""metadata":{"seq":-1}"#,
        ] {
            let mut changed = original.clone();
            let start = changed[10].find("\"metadata\"").expect("metadata");
            let end = changed[10].rfind("},\"seq\"").expect("chain fields") + 1;
            changed[10].replace_range(start..end, garbage);
            write_lines(&log.path, &rechain(&changed));
            let report = verify_signed(&log.path, &log.public).expect("reads");
            assert!(
                matches!(
                    report.broken().map(|b| b.problem()),
                    Some(Problem::BadCheckpoint { .. })
                ),
                "{report}"
            );
        }
    }

    #[test]
    fn rechained_edit_with_the_checkpoint_rewritten_too_fails_its_signature() {
        let log = signed_log(35);
        let mut lines = lines(&log.path);
        lines[4] = lines[4].replacen("u-5", "u-6", 1);
        // Rechain, then make the checkpoint claim the new hash of line 10, and rechain again.
        let rechained = rechain(&lines);
        let new_hash: serde_json::Value = serde_json::from_str(&rechained[9]).expect("json");
        let old: serde_json::Value = serde_json::from_str(&lines[9]).expect("json");
        lines[10] = lines[10].replacen(
            old["hash"].as_str().expect("hash"),
            new_hash["hash"].as_str().expect("hash"),
            1,
        );
        write_lines(&log.path, &rechain(&lines));
        let (problem, report) = only_the_key_sees(&log);
        assert!(matches!(problem, Problem::BadSignature { .. }), "{report}");
        assert_eq!(report.broken().map(|b| b.line()), Some(11));
    }

    #[test]
    fn rechained_delete_is_found_only_with_the_key() {
        let log = signed_log(35);
        let mut lines = lines(&log.path);
        lines.remove(15);
        write_lines(&log.path, &rechain(&lines));
        let (problem, report) = only_the_key_sees(&log);
        assert!(
            matches!(problem, Problem::CheckpointMismatch { .. }),
            "{report}"
        );
        assert_eq!(report.broken().map(|b| b.line()), Some(21));
    }

    #[test]
    fn rechained_insert_is_found_only_with_the_key() {
        let log = signed_log(35);
        let mut lines = lines(&log.path);
        let forged = lines[3].replacen("u-4", "mallory", 1);
        lines.insert(4, forged);
        write_lines(&log.path, &rechain(&lines));
        let (problem, _) = only_the_key_sees(&log);
        assert!(
            matches!(problem, Problem::CheckpointMismatch { .. }),
            "{problem}"
        );
    }

    #[test]
    fn rechained_reorder_is_found_only_with_the_key() {
        let log = signed_log(35);
        let mut lines = lines(&log.path);
        lines.swap(23, 24);
        write_lines(&log.path, &rechain(&lines));
        let (problem, report) = only_the_key_sees(&log);
        assert!(
            matches!(problem, Problem::CheckpointMismatch { .. }),
            "{problem}"
        );
        assert_eq!(report.broken().map(|b| b.line()), Some(33));
        // Everything up to the checkpoint before the swap is still proven.
        assert_eq!(report.signed_head().map(|h| h.seq), Some(21));
    }

    #[test]
    fn rechained_edit_after_deleting_every_later_checkpoint_is_found_only_with_the_key() {
        let log = signed_log(35);
        let lines = lines(&log.path);
        // Keep the first checkpoint, drop the others, edit after it, rechain.
        let mut forged: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(i, l)| *i <= 10 || !is_checkpoint(l))
            .map(|(_, l)| l.clone())
            .collect();
        forged[20] = forged[20].replacen("/v1/tables/", "/v1/other/", 1);
        write_lines(&log.path, &rechain(&forged));
        let (problem, _) = only_the_key_sees(&log);
        assert!(
            matches!(
                problem,
                Problem::MissingCheckpoint {
                    after: 11,
                    every: EVERY,
                    lines: 25
                }
            ),
            "{problem}"
        );
    }

    #[test]
    fn deleting_every_checkpoint_is_found_only_with_the_key() {
        let log = signed_log(35);
        let lines: Vec<String> = lines(&log.path)
            .into_iter()
            .filter(|l| !is_checkpoint(l))
            .collect();
        write_lines(&log.path, &rechain(&lines));
        let (problem, _) = only_the_key_sees(&log);
        assert_eq!(problem, Problem::NoCheckpoint);
    }

    #[test]
    fn deleting_one_checkpoint_is_found_only_with_the_key() {
        let log = signed_log(35);
        let mut lines = lines(&log.path);
        assert!(is_checkpoint(&lines[21]));
        lines.remove(21);
        write_lines(&log.path, &rechain(&lines));
        let (problem, _) = only_the_key_sees(&log);
        assert!(
            matches!(problem, Problem::MissingCheckpoint { after: 11, .. }),
            "{problem}"
        );
    }

    #[test]
    fn truncation_shows_as_unsigned_entries_and_against_a_head_kept_outside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let outside = Arc::new(MemorySink::new());
        let sink = FileSink::open(&path, Durability::None)
            .expect("opens")
            .signed(key, EVERY)
            .checkpoints_to(Arc::clone(&outside));
        for i in 1..=35 {
            sink.write(&entry(i)).expect("writes");
        }
        drop(sink);
        let published = outside.entries();
        assert_eq!(published.len(), 4);
        assert!(published.iter().all(|e| e.action() == CHECKPOINT_ACTION));
        let last = published.last().expect("one").metadata();
        let kept = Head {
            seq: last.get("seq").and_then(|v| v.as_u64()).expect("seq"),
            hash: last.get_str("hash").expect("hash").parse().expect("hex"),
        };
        assert_eq!(kept.seq, 38);
        let intact = verify_signed(&path, &public).expect("reads");
        assert_eq!(intact.unsigned_entries(), 0);

        // Cut between checkpoints (nothing to recompute): the key shows the tail unsigned.
        let all = lines(&path);
        write_lines(&path, &all[..30]);
        assert!(verify(&path).expect("reads").is_ok());
        let report = verify_signed(&path, &public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.unsigned_entries(), 8);
        assert_eq!(report.signed_head().map(|h| h.seq), Some(21));

        // Cut right after a checkpoint: the file alone cannot show it; the head sent to the
        // other sink does.
        write_lines(&path, &all[..33]);
        assert!(verify_signed(&path, &public).expect("reads").is_ok());
        let options = VerifyOptions::new().head(kept).public_key(public);
        let report = verify_with(&[&path], &options).expect("reads");
        assert!(
            matches!(
                report.broken().map(|b| b.problem()),
                Some(Problem::Truncated { last_seq: 33, .. })
            ),
            "{report}"
        );
    }

    #[test]
    fn a_wrong_public_key_fails_and_names_both_keys() {
        let log = signed_log(12);
        let stranger = SigningKey::generate().expect("randomness").verifying_key();
        let report = verify_signed(&log.path, &stranger).expect("reads");
        let broken = report.broken().expect("fails");
        assert_eq!(broken.line(), 11);
        match broken.problem() {
            Problem::BadSignature { key_id, signed_by } => {
                assert_eq!(key_id, &stranger.key_id());
                assert_eq!(signed_by, &log.public.key_id());
            }
            other => unreachable!("{other}"),
        }
        assert!(report.to_string().contains(&log.public.key_id()));
    }

    #[test]
    fn a_checkpoint_copied_from_another_log_signed_with_the_same_key_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
        for path in [&a, &b] {
            let sink = FileSink::open(path, Durability::None)
                .expect("opens")
                .signed(key.clone(), EVERY);
            for i in 1..=25 {
                sink.write(&entry(i)).expect("writes");
            }
        }
        // Replace a's second checkpoint by b's and rechain.
        let mut lines_a = lines(&a);
        let lines_b = lines(&b);
        lines_a[21] = lines_b[21].clone();
        write_lines(&a, &rechain(&lines_a));
        assert!(verify(&a).expect("reads").is_ok());
        let report = verify_signed(&a, &public).expect("reads");
        assert!(!report.is_ok(), "{report}");
        assert_eq!(report.broken().map(|b| b.line()), Some(22));
    }

    #[test]
    fn a_forged_checkpoint_line_is_refused_from_callers() {
        let log = signed_log(1);
        let sink = FileSink::open(&log.path, Durability::None).expect("opens");
        let forged = AuditEntry::builder(CHECKPOINT_ACTION).build();
        assert!(matches!(sink.write(&forged), Err(AuditError::Parse(_))));
        assert!(
            verify_signed(&log.path, &log.public)
                .expect("reads")
                .is_ok()
        );
    }

    #[test]
    fn a_torn_tail_after_a_checkpoint_is_repaired_and_recorded() {
        let log = signed_log(20);
        let whole = fs::read(&log.path).expect("reads");
        let mut torn = whole.clone();
        torn.extend_from_slice(br#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"cl"#);
        fs::write(&log.path, &torn).expect("writes");
        let report = verify_signed(&log.path, &log.public).expect("reads");
        assert_eq!(report.broken().map(|b| b.problem()), Some(&Problem::Torn));
        assert!(report.checkpoints() >= 2);
        drop(report);

        // A writer without the key repairs and records; the chain verifies, the repair is
        // reported as unsigned by the key.
        let sink = FileSink::open(&log.path, Durability::EveryEntry).expect("repairs");
        assert_eq!(sink.repairs().len(), 1);
        drop(sink);
        let report = verify_signed(&log.path, &log.public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.unsigned_entries(), 1);
        let lines = lines(&log.path);
        assert!(lines.last().expect("a line").contains(REPAIR_ACTION));
    }

    #[test]
    fn a_signing_writer_signs_what_a_killed_one_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let sink = FileSink::open(&path, Durability::None)
            .expect("opens")
            .signed(key.clone(), EVERY);
        for i in 1..=14 {
            sink.write(&entry(i)).expect("writes");
        }
        // As after SIGKILL: no closing checkpoint.
        std::mem::forget(sink);
        let mut bytes = fs::read(&path).expect("reads");
        bytes.extend_from_slice(b"{\"timest");
        fs::write(&path, &bytes).expect("writes");
        let report = verify_signed(&path, &public).expect("reads");
        assert_eq!(report.broken().map(|b| b.problem()), Some(&Problem::Torn));
        assert_eq!((report.checkpoints(), report.unsigned_entries()), (1, 4));

        let sink = FileSink::open(&path, Durability::EveryEntry)
            .expect("repairs")
            .signed(key, EVERY);
        assert_eq!(sink.repairs().len(), 1);
        let covered = sink
            .checkpoint()
            .expect("signs")
            .expect("something to sign");
        assert_eq!(covered.seq, 16);
        assert_eq!(sink.checkpoint().expect("nothing left"), None);
        drop(sink);
        let report = verify_signed(&path, &public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.repairs(), [16]);
        assert_eq!(report.unsigned_entries(), 0);
    }

    #[test]
    fn signing_an_existing_unsigned_log_covers_all_of_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let plain = FileSink::open(&path, Durability::None).expect("opens");
        for i in 1..=50 {
            plain.write(&entry(i)).expect("writes");
        }
        drop(plain);
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        assert_eq!(
            verify_signed(&path, &public)
                .expect("reads")
                .broken()
                .map(|b| b.problem()),
            Some(&Problem::NoCheckpoint)
        );
        let sink = FileSink::open(&path, Durability::None)
            .expect("opens")
            .signed(key, EVERY);
        sink.write(&entry(51)).expect("writes");
        drop(sink);
        let report = verify_signed(&path, &public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.signed_head().map(|h| h.seq), Some(52));
    }

    #[test]
    fn two_signing_writers_on_one_file_link_their_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let open = || {
            FileSink::open(&path, Durability::None)
                .expect("opens")
                .signed(key.clone(), EVERY)
        };
        let (a, b) = (open(), open());
        for i in 0..95 {
            let sink = if i % 3 == 0 { &a } else { &b };
            sink.write(&entry(i)).expect("writes");
            if i == 40 {
                // `a` checkpoints on request; `b` must link to it.
                a.checkpoint().expect("signs");
            }
        }
        drop(a);
        for i in 95..130 {
            b.write(&entry(i)).expect("writes");
        }
        drop(b);
        let report = verify_signed(&path, &public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.unsigned_entries(), 0);
        assert!(report.checkpoints() >= 13, "{report}");
    }

    #[test]
    fn signed_logs_rotate_and_verify_across_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let log = AuditLog::builder()
            .sink(
                FileSink::open(&path, Durability::None)
                    .expect("opens")
                    .max_bytes(4096)
                    .signed(key, EVERY),
            )
            .build();
        for i in 1..=120 {
            log.record(entry(i)).expect("records");
        }
        drop(log);
        assert!(dir.path().join("audit.log.3").exists());
        let report = verify_signed(dir.path(), &public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert!(report.files().len() > 3);
        assert_eq!(report.unsigned_entries(), 0);
        // A rotated file alone starts mid-chain, its first checkpoint naming one before it.
        let report = verify_signed(dir.path().join("audit.log.3"), &public).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert!(report.checkpoints() > 0);
        // A middle file removed (and everything rechained would not help: the files' own
        // names show the gap).
        fs::remove_file(dir.path().join("audit.log.2")).expect("removes");
        let report = verify_signed(&path, &public).expect("reads");
        assert_eq!(
            report.broken().map(|b| b.problem().clone()),
            Some(Problem::MissingFile {
                name: "audit.log.2".to_owned()
            })
        );
        assert!(report.to_string().contains("audit.log.2"), "{report}");
    }

    #[test]
    fn signing_keys_never_show_in_debug_and_parse_from_a_secret() {
        let key = SigningKey::generate().expect("randomness");
        let text = key.to_secret().expose_secret().to_owned();
        let hex = &text[text.find(':').expect("prefix") + 1..];
        let debug = format!("{key:?}");
        assert!(
            !debug.contains(hex) && !debug.contains(&hex[..12]),
            "{debug}"
        );
        assert!(debug.contains(&key.verifying_key().key_id()));
        let loaded = SigningKey::from_secret(&Secret::new(text.clone())).expect("parses");
        assert_eq!(loaded.verifying_key(), key.verifying_key());
        let public: VerifyingKey = key.verifying_key().to_string().parse().expect("parses");
        assert_eq!(public, key.verifying_key());
        let err = SigningKey::from_secret(&Secret::new(format!("{text}x")))
            .expect_err("refused")
            .to_string();
        assert!(!err.contains(&hex[..12]), "{err}");
    }
}
