//! The hash-chained file sink: format, verification, tampering, torn tails, anchors.

#![cfg(feature = "audit")]

mod audit {
    use std::fs;
    use std::path::{Path, PathBuf};

    use clay_config::audit::{
        AuditEntry, AuditError, AuditLog, AuditSink, Durability, EntryHash, FileSink, Head,
        Problem, REPAIR_ACTION, verify, verify_against, verify_reader,
    };
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn entry(n: usize) -> AuditEntry {
        AuditEntry::builder("clay.api.call")
            .user_id(format!("u-{n}"))
            .resource(format!("/v1/tables/{n}"))
            .metadata("n", n)
            .build()
    }

    /// A log of `n` entries in a fresh directory.
    fn log_with(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        for i in 1..=n {
            sink.write(&entry(i)).expect("writes");
        }
        (dir, path)
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
        text.push('\n');
        fs::write(path, text).expect("writes");
    }

    /// The documented hash, computed independently: SHA-256 over `prev` (hex) and the line
    /// without its `hash` member.
    fn hash_of(body_without_hash: &str, prev: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(prev.as_bytes());
        hasher.update(body_without_hash.as_bytes());
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn field(line: &str, name: &str) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_str(line).expect("json");
        value[name].clone()
    }

    fn broken_at(path: &Path) -> (u64, Problem, u64) {
        let report = verify(path).expect("reads");
        let broken = report.broken().expect("tampering is detected").clone();
        (broken.line(), broken.problem().clone(), report.entries())
    }

    #[test]
    fn lines_extend_the_entry_with_seq_prev_hash() {
        let (_dir, path) = log_with(3);
        let lines = lines(&path);
        assert_eq!(lines.len(), 3);
        let mut prev = "0".repeat(64);
        for (i, line) in lines.iter().enumerate() {
            let json = entry(i + 1).to_json();
            // The entry's own JSON, minus its timestamp (taken at build time), is a prefix.
            let after_timestamp = &json[json.find(",\"action\"").expect("action")..json.len() - 1];
            assert!(line.contains(after_timestamp), "{line}");
            assert_eq!(field(line, "seq"), i as u64 + 1);
            assert_eq!(field(line, "prev"), prev.as_str());
            let (body, hash) = line.split_at(line.find(",\"hash\":").expect("hash field"));
            let expected = hash_of(&format!("{body}}}"), &prev);
            assert_eq!(hash, format!(",\"hash\":\"{expected}\"}}"));
            prev = expected;
        }
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries(), 3);
        assert_eq!(
            report.head().map(|h| h.hash.to_string()),
            Some(prev.clone())
        );
        assert_eq!(report.head().map(|h| h.seq), Some(3));
    }

    #[test]
    fn every_durability_mode_writes_a_valid_chain() {
        for durability in [
            Durability::EveryEntry,
            Durability::batched(),
            Durability::Batched {
                max_delay: std::time::Duration::from_millis(1),
                max_entries: 2,
            },
            Durability::None,
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("audit.log");
            let log = AuditLog::open(&path, durability).expect("opens");
            for i in 0..25 {
                log.record(entry(i)).expect("records");
                if i == 10 {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            log.flush().expect("flushes");
            let head = log.head().expect("file sink has a head");
            drop(log);
            let report = verify(&path).expect("reads");
            assert!(report.is_ok(), "{durability:?}: {report}");
            assert_eq!(report.entries(), 25);
            assert_eq!(report.head(), Some(head));
        }
    }

    #[test]
    fn empty_and_missing_logs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        assert!(matches!(verify(&path), Err(AuditError::Io { .. })));
        fs::write(&path, "").expect("writes");
        let report = verify(&path).expect("reads");
        assert!(report.is_ok());
        assert_eq!((report.entries(), report.head()), (0, None));
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        assert_eq!(sink.current_head().expect("head"), Head::EMPTY);
    }

    #[test]
    fn tamper_edit_one_character_of_a_middle_entry() {
        let (_dir, path) = log_with(10);
        let mut lines = lines(&path);
        lines[4] = lines[4].replacen("u-5", "u-6", 1);
        write_lines(&path, &lines);
        assert_eq!(broken_at(&path), (5, Problem::Edited, 4));
    }

    #[test]
    fn tamper_delete_a_line() {
        let (_dir, path) = log_with(10);
        let mut lines = lines(&path);
        lines.remove(4);
        write_lines(&path, &lines);
        let (line, problem, entries) = broken_at(&path);
        assert_eq!((line, entries), (5, 4));
        assert!(matches!(problem, Problem::Unlinked { .. }), "{problem}");
    }

    #[test]
    fn tamper_delete_the_first_line() {
        let (_dir, path) = log_with(3);
        let mut lines = lines(&path);
        lines.remove(0);
        write_lines(&path, &lines);
        let (line, problem, _) = broken_at(&path);
        assert_eq!(line, 1);
        assert!(matches!(problem, Problem::Unlinked { .. }), "{problem}");
    }

    #[test]
    fn tamper_swap_two_lines() {
        let (_dir, path) = log_with(10);
        let mut lines = lines(&path);
        lines.swap(3, 4);
        write_lines(&path, &lines);
        let (line, problem, entries) = broken_at(&path);
        assert_eq!((line, entries), (4, 3));
        assert!(matches!(problem, Problem::Unlinked { .. }), "{problem}");
    }

    /// A line for `seq` after `prev`, with a correctly computed hash.
    fn forge(template: &str, user: &str, seq: u64, prev: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(template).expect("json");
        let entry = format!(
            r#"{{"timestamp":{},"action":{},"userId":"{user}","resource":{},"result":{}"#,
            value["timestamp"], value["action"], value["resource"], value["result"]
        );
        let body = format!(r#"{entry},"seq":{seq},"prev":"{prev}"}}"#);
        let hash = hash_of(&body, prev);
        format!(r#"{entry},"seq":{seq},"prev":"{prev}","hash":"{hash}"}}"#)
    }

    #[test]
    fn tamper_insert_a_forged_line_with_a_recomputed_hash_but_a_wrong_prev() {
        let (_dir, path) = log_with(10);
        let mut lines = lines(&path);
        let wrong_prev = field(&lines[1], "hash");
        let forged = forge(
            &lines[4],
            "mallory",
            5,
            wrong_prev.as_str().expect("string"),
        );
        // The forged line is valid on its own: its hash is right.
        assert_eq!(
            forged[forged.find(",\"hash\"").expect("hash")..].len(),
            ",\"hash\":\"\"}".len() + 64
        );
        lines.insert(4, forged);
        write_lines(&path, &lines);
        let (line, problem, entries) = broken_at(&path);
        assert_eq!((line, entries), (5, 4));
        assert!(matches!(problem, Problem::Unlinked { .. }), "{problem}");
    }

    #[test]
    fn tamper_insert_a_forged_line_that_links_back_breaks_the_next_line() {
        let (_dir, path) = log_with(10);
        let mut lines = lines(&path);
        let prev = field(&lines[3], "hash");
        let forged = forge(&lines[4], "mallory", 5, prev.as_str().expect("string"));
        lines.insert(4, forged);
        write_lines(&path, &lines);
        let (line, problem, entries) = broken_at(&path);
        assert_eq!((line, entries), (6, 5));
        assert!(matches!(problem, Problem::Unlinked { .. }), "{problem}");
    }

    #[test]
    fn tamper_truncate_mid_line() {
        let (_dir, path) = log_with(10);
        let text = fs::read_to_string(&path).expect("reads");
        let last_start = text[..text.len() - 1].rfind('\n').expect("lines") + 1;
        fs::write(&path, &text[..last_start + 40]).expect("writes");
        assert_eq!(broken_at(&path), (10, Problem::Torn, 9));
        // Cut inside the 5th line: the 4 before it still verify.
        let fifth = text.match_indices('\n').nth(3).expect("lines").0 + 1;
        fs::write(&path, &text[..fifth + 10]).expect("writes");
        assert_eq!(broken_at(&path), (5, Problem::Torn, 4));
    }

    #[test]
    fn truncation_at_a_line_boundary_needs_the_kept_head() {
        let (_dir, path) = log_with(10);
        let kept = verify(&path).expect("reads").head().expect("head");
        let mut lines = lines(&path);
        lines.truncate(7);
        write_lines(&path, &lines);
        assert!(verify(&path).expect("reads").is_ok());
        let report = verify_against(&path, &kept).expect("reads");
        let broken = report.broken().expect("detected");
        assert_eq!(broken.line(), 8);
        assert!(
            matches!(broken.problem(), Problem::Truncated { last_seq: 7, .. }),
            "{report}"
        );
        assert_eq!(report.entries(), 7);
    }

    #[test]
    fn a_rewritten_log_does_not_match_the_kept_head() {
        let (_dir, path) = log_with(5);
        let kept = verify(&path).expect("reads").head().expect("head");
        // A log that grew since still matches.
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        sink.write(&entry(6)).expect("writes");
        assert!(verify_against(&path, &kept).expect("reads").is_ok());
        drop(sink);
        // A log rebuilt from scratch, with valid hashes, does not.
        fs::remove_file(&path).expect("removes");
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        for i in 1..=6 {
            sink.write(&entry(i * 100)).expect("writes");
        }
        assert!(verify(&path).expect("reads").is_ok());
        let report = verify_against(&path, &kept).expect("reads");
        let broken = report.broken().expect("detected");
        assert_eq!(broken.line(), 5);
        assert!(matches!(broken.problem(), Problem::AnchorMismatch { .. }));
    }

    #[test]
    fn edits_after_the_kept_head_are_found_too() {
        let (_dir, path) = log_with(10);
        let kept = {
            let lines = lines(&path);
            let value: serde_json::Value = serde_json::from_str(&lines[4]).expect("json");
            Head {
                seq: 5,
                hash: value["hash"].as_str().expect("hash").parse().expect("hex"),
            }
        };
        assert!(verify_against(&path, &kept).expect("reads").is_ok());
        let mut edited = lines(&path);
        edited[7] = edited[7].replacen("u-8", "u-9", 1);
        write_lines(&path, &edited);
        let report = verify_against(&path, &kept).expect("reads");
        assert_eq!(
            report.broken().map(|b| (b.line(), b.problem().clone())),
            Some((8, Problem::Edited))
        );
        // Removed after the head (not rechained): found where the chain breaks.
        let mut removed = lines(&path);
        removed[7] = lines(&path)[7].replacen("u-9", "u-8", 1);
        removed.remove(8);
        write_lines(&path, &removed);
        let report = verify_against(&path, &kept).expect("reads");
        assert_eq!(report.broken().map(|b| b.line()), Some(9));
    }

    #[test]
    fn every_single_byte_change_is_detected_at_its_line() {
        let (_dir, path) = log_with(3);
        let original = fs::read(&path).expect("reads");
        let line_of = |at: usize| 1 + original[..at].iter().filter(|&&b| b == b'\n').count();
        for at in 0..original.len() {
            for replacement in [b'x', b'0', b'\n', b' ', 0xff] {
                if original[at] == replacement {
                    continue;
                }
                let mut bytes = original.clone();
                bytes[at] = replacement;
                let report = verify_reader(&bytes[..], None).expect("in memory");
                assert!(
                    !report.is_ok(),
                    "byte {at} -> {replacement:#x} went unnoticed: {report}"
                );
                let broken = report.broken().expect("broken");
                assert_eq!(
                    broken.line() as usize,
                    line_of(at),
                    "byte {at} -> {replacement:#x}: {report}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_reported_never_a_panic() {
        for bytes in [
            &b"\n"[..],
            b"\n\n",
            b"{}\n",
            b"not json\n",
            b"\xff\xfe\x00\n",
            b"{\"seq\":1}\n",
            b"[1,2,3]\n",
            b"\0\0\0\0",
        ] {
            let report = verify_reader(bytes, None).expect("in memory");
            assert!(!report.is_ok(), "{bytes:?}");
            assert_eq!(report.broken().map(|b| b.line()), Some(1));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_verify_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let report = verify_reader(&bytes[..], None).expect("in memory");
            prop_assert!(report.is_ok() == bytes.is_empty());
        }

        #[test]
        fn any_suffix_after_a_valid_log_is_caught_or_repaired(tail in proptest::collection::vec(any::<u8>(), 1..300)) {
            let (_dir, path) = log_with(3);
            let mut bytes = fs::read(&path).expect("reads");
            bytes.extend_from_slice(&tail);
            fs::write(&path, &bytes).expect("writes");
            let report = verify(&path).expect("reads");
            prop_assert!(!report.is_ok());
            prop_assert_eq!(report.entries(), 3);
            prop_assert_eq!(report.broken().map(|b| b.line()), Some(4));
            // A writer repairs a torn tail; a whole garbage line it refuses to chain onto.
            match FileSink::open(&path, Durability::None) {
                Ok(_) => {
                    prop_assert!(!tail.ends_with(b"\n"));
                    let report = verify(&path).expect("reads");
                    prop_assert!(report.is_ok(), "{}", report);
                }
                Err(AuditError::Corrupt { .. }) => prop_assert!(tail.contains(&b'\n')),
                Err(other) => prop_assert!(false, "{}", other),
            }
        }
    }

    #[test]
    fn a_torn_tail_is_repaired_on_open_and_recorded() {
        let (_dir, path) = log_with(5);
        let whole = fs::read(&path).expect("reads");
        let mut torn = whole.clone();
        let partial = br#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"cla"#;
        torn.extend_from_slice(partial);
        fs::write(&path, &torn).expect("writes");
        assert_eq!(broken_at(&path), (6, Problem::Torn, 5));

        let sink = FileSink::open(&path, Durability::EveryEntry).expect("opens and repairs");
        let repairs = sink.repairs();
        assert_eq!(repairs.len(), 1);
        assert_eq!(repairs[0].offset, whole.len() as u64);
        assert!(!repairs[0].kept);
        assert_eq!(repairs[0].entry_seq, 6);
        sink.write(&entry(7)).expect("writes");
        let after = fs::read(&path).expect("reads");
        assert!(after.starts_with(&whole), "nothing whole was lost");
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries(), 7);
        assert_eq!(report.repairs(), [6]);
        let lines = lines(&path);
        assert_eq!(field(&lines[5], "action"), REPAIR_ACTION);
        assert_eq!(field(&lines[5], "metadata")["tornBytes"], partial.len());
    }

    #[test]
    fn a_whole_line_missing_only_its_newline_is_kept() {
        let (_dir, path) = log_with(5);
        let mut bytes = fs::read(&path).expect("reads");
        bytes.pop();
        fs::write(&path, &bytes).expect("writes");
        assert_eq!(broken_at(&path), (5, Problem::Torn, 4));
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        assert!(sink.repairs()[0].kept);
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries(), 6);
        assert_eq!(field(&lines(&path)[4], "userId"), "u-5");
    }

    #[test]
    fn zero_filled_tail_after_a_power_cut_is_repaired() {
        let (_dir, path) = log_with(2);
        let mut bytes = fs::read(&path).expect("reads");
        bytes.extend_from_slice(&[0; 4096]);
        fs::write(&path, &bytes).expect("writes");
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        assert_eq!(sink.repairs()[0].torn_bytes, 4096);
        assert!(verify(&path).expect("reads").is_ok());
    }

    #[test]
    fn a_torn_line_left_by_another_writer_is_repaired_before_appending() {
        let (_dir, path) = log_with(2);
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("opens");
        std::io::Write::write_all(&mut file, b"{\"timestamp\":").expect("writes");
        sink.write(&entry(3)).expect("writes after repairing");
        assert_eq!(sink.repairs().len(), 1);
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries(), 4);
    }

    #[test]
    fn a_corrupt_last_whole_line_is_refused_and_left_alone() {
        let (_dir, path) = log_with(3);
        let mut lines = lines(&path);
        lines[2] = lines[2].replacen("u-3", "u-4", 1);
        write_lines(&path, &lines);
        let before = fs::read(&path).expect("reads");
        let result = FileSink::open(&path, Durability::None);
        let second_newline = before
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1);
        let expected = second_newline
            .map(|(i, _)| i as u64 + 1)
            .expect("three lines");
        assert!(
            matches!(result, Err(AuditError::Corrupt { offset, .. }) if offset == expected),
            "expected Corrupt at {expected}, got {result:?}"
        );
        assert_eq!(fs::read(&path).expect("reads"), before);
    }

    #[test]
    fn an_exhausted_sequence_number_is_an_error_not_a_panic() {
        let (_dir, path) = log_with(1);
        let template = lines(&path).remove(0);
        let forged = forge(&template, "mallory", u64::MAX, &"0".repeat(64));
        write_lines(&path, &[forged]);
        let (line, problem, _) = broken_at(&path);
        assert_eq!(line, 1);
        assert!(matches!(
            problem,
            Problem::Sequence {
                expected: 1,
                found: u64::MAX
            }
        ));
        let sink = FileSink::open(&path, Durability::None).expect("the last line is well formed");
        assert!(matches!(
            sink.write(&entry(2)),
            Err(AuditError::Corrupt { .. })
        ));
        drop(sink);
        let mut bytes = fs::read(&path).expect("reads");
        bytes.extend_from_slice(b"{\"torn");
        fs::write(&path, &bytes).expect("writes");
        assert!(matches!(
            FileSink::open(&path, Durability::None),
            Err(AuditError::Corrupt { .. })
        ));
        assert_eq!(fs::read(&path).expect("reads"), bytes, "left alone");
    }

    #[test]
    fn two_sinks_on_one_file_continue_each_others_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let a = FileSink::open(&path, Durability::None).expect("opens");
        let b = FileSink::open(&path, Durability::None).expect("opens");
        for i in 0..20 {
            let sink = if i % 3 == 0 { &a } else { &b };
            sink.write(&entry(i)).expect("writes");
        }
        assert_eq!(
            a.current_head().expect("head"),
            b.current_head().expect("head")
        );
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries(), 20);
        assert_eq!(report.head(), a.head());
    }

    #[test]
    fn heads_display_and_parse() {
        let (_dir, path) = log_with(2);
        let head = verify(&path).expect("reads").head().expect("head");
        let shown = head.to_string();
        assert!(shown.starts_with("2:"));
        assert_eq!(shown.parse::<Head>().expect("parses"), head);
        assert_eq!(
            EntryHash::GENESIS.to_string(),
            "0000000000000000000000000000000000000000000000000000000000000000"
        );
    }
}
