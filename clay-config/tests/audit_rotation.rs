//! Rotation by size: the chain continues across `audit.log.1`, `audit.log.2`, …, `audit.log`,
//! and verification reads them in order and names a missing one.

#![cfg(feature = "audit")]

mod audit {
    use std::fs;
    use std::path::{Path, PathBuf};

    use clay_config::audit::{
        AuditEntry, AuditError, AuditSink, Durability, FileSink, Problem, verify, verify_against,
        verify_files,
    };

    fn entry(n: usize) -> AuditEntry {
        AuditEntry::builder("clay.api.call")
            .user_id(format!("u-{n}"))
            .metadata("n", n)
            .build()
    }

    /// `n` entries into a log rotated at `max_bytes`.
    fn rotated_log(n: usize, max_bytes: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let sink = FileSink::open(&path, Durability::None)
            .expect("opens")
            .max_bytes(max_bytes);
        for i in 1..=n {
            sink.write(&entry(i)).expect("writes");
        }
        (dir, path)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("lists")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        names
    }

    fn seqs(path: &Path) -> Vec<u64> {
        fs::read_to_string(path)
            .expect("reads")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["seq"].as_u64().expect("seq")
            })
            .collect()
    }

    #[test]
    fn files_rotate_before_they_pass_max_bytes_and_the_chain_continues() {
        let (dir, path) = rotated_log(40, 2000);
        let names = names(dir.path());
        assert!(names.len() >= 5, "{names:?}");
        assert!(names.contains(&"audit.log.1".to_owned()));
        let mut all = Vec::new();
        for n in 1..names.len() {
            let file = dir.path().join(format!("audit.log.{n}"));
            assert!(fs::metadata(&file).expect("exists").len() <= 2000);
            all.extend(seqs(&file));
        }
        all.extend(seqs(&path));
        assert_eq!(all, (1..=40).collect::<Vec<u64>>());

        for report in [
            verify(&path).expect("reads"),
            verify(dir.path()).expect("reads"),
        ] {
            assert!(report.is_ok(), "{report}");
            assert_eq!(report.entries(), 40);
            assert_eq!(report.files().len(), names.len());
            assert_eq!(report.head().map(|h| h.seq), Some(40));
        }
    }

    #[test]
    fn a_missing_middle_file_is_reported_by_name() {
        let (dir, path) = rotated_log(40, 2000);
        fs::remove_file(dir.path().join("audit.log.3")).expect("removes");
        for report in [verify(&path), verify(dir.path())] {
            let report = report.expect("reads");
            let broken = report.broken().expect("detected");
            assert_eq!(
                broken.problem(),
                &Problem::MissingFile {
                    name: "audit.log.3".to_owned()
                }
            );
            assert_eq!(broken.line(), 1);
            assert_eq!(
                broken.file().and_then(|f| f.file_name()),
                Some("audit.log.4".as_ref())
            );
            assert!(
                report.to_string().contains("`audit.log.3` is missing"),
                "{report}"
            );
        }
    }

    #[test]
    fn a_missing_newest_rotated_file_is_reported_by_name() {
        let (dir, path) = rotated_log(40, 2000);
        let newest = names(dir.path()).len() - 1;
        fs::remove_file(dir.path().join(format!("audit.log.{newest}"))).expect("removes");
        let report = verify(&path).expect("reads");
        assert_eq!(
            report.broken().map(|b| b.problem().clone()),
            Some(Problem::MissingFile {
                name: format!("audit.log.{newest}")
            })
        );
    }

    #[test]
    fn a_file_that_does_not_continue_the_one_before_is_unlinked_not_missing() {
        let (dir, path) = rotated_log(40, 2000);
        let f = |n: u32| dir.path().join(format!("audit.log.{n}"));
        fs::copy(f(3), f(2)).expect("copies");
        let report = verify(&path).expect("reads");
        let broken = report.broken().expect("detected");
        assert!(
            matches!(broken.problem(), Problem::Unlinked { .. }),
            "{report}"
        );
        assert_eq!(broken.file(), Some(f(2).as_path()));
    }

    #[test]
    fn explicit_files_are_taken_in_the_order_given() {
        let (dir, path) = rotated_log(30, 2000);
        let f = |n: u32| dir.path().join(format!("audit.log.{n}"));
        let report = verify_files([f(1), f(2)]).expect("reads");
        assert!(report.is_ok(), "{report}");
        // Out of order: the second file does not continue the first.
        let report = verify_files([f(2), f(1)]).expect("reads");
        assert!(!report.is_ok());
        // A rotated file alone may start mid-chain; the active file alone may not.
        let report = verify(f(2)).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert!(report.first_seq() > Some(1));
        let report = verify_files([&path]).expect("reads");
        assert!(
            matches!(
                report.broken().map(|b| b.problem()),
                Some(Problem::Unlinked { .. })
            ),
            "{report}"
        );
        // Skipping one in an explicit list names it too.
        let report = verify_files([f(1), f(3)]).expect("reads");
        assert_eq!(
            report.broken().map(|b| b.problem().clone()),
            Some(Problem::MissingFile {
                name: "audit.log.2".to_owned()
            })
        );
    }

    #[test]
    fn a_kept_head_in_an_older_file_still_anchors() {
        let (dir, path) = rotated_log(30, 2000);
        let first = dir.path().join("audit.log.1");
        let kept = verify_files([&first])
            .expect("reads")
            .head()
            .expect("a head");
        assert!(verify_against(&path, &kept).expect("reads").is_ok());
        // The active file emptied: a head kept from its end is no longer found.
        let end = verify(&path).expect("reads").head().expect("a head");
        fs::write(&path, "").expect("empties");
        let report = verify_against(&path, &end).expect("reads");
        assert!(matches!(
            report.broken().map(|b| b.problem()),
            Some(Problem::Truncated { .. })
        ));
    }

    #[test]
    fn two_rotating_writers_share_one_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let open = || {
            FileSink::open(&path, Durability::None)
                .expect("opens")
                .max_bytes(1500)
        };
        let (a, b) = (open(), open());
        for i in 0..60 {
            let sink = if i % 2 == 0 { &a } else { &b };
            sink.write(&entry(i)).expect("writes");
        }
        let report = verify(&path).expect("reads");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries(), 60);
        assert!(report.files().len() > 5);
    }

    #[test]
    fn a_new_writer_continues_after_rotation_and_a_directory_must_hold_one_log() {
        let (dir, path) = rotated_log(10, 1000);
        // A writer opening the log later (without rotation) continues the same chain.
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        sink.write(&entry(11)).expect("writes");
        assert!(verify(&path).expect("reads").is_ok());
        fs::write(dir.path().join("other.txt"), "x").expect("writes");
        // The rotated log is still the one log of the directory.
        assert!(verify(dir.path()).expect("reads").is_ok());
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(verify(empty.path()), Err(AuditError::Parse(_))));
        fs::write(empty.path().join("a.log"), "").expect("writes");
        fs::write(empty.path().join("b.log"), "").expect("writes");
        let err = verify(empty.path()).expect_err("ambiguous").to_string();
        assert!(err.contains("a.log") && err.contains("b.log"), "{err}");
    }
}
