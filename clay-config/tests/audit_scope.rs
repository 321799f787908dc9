//! Scope use recorded through `ApiKey::require`, and `scope_usage`.

#![cfg(feature = "audit")]

mod audit {
    use std::sync::Arc;

    use clay_config::audit::{
        AuditLog, AuditResult, Durability, FileSink, MemorySink, SCOPE_USE_ACTION, ScopeUsage,
        scope_usage, verify,
    };
    use clay_config::policy::ScopeSet;
    use clay_config::{ApiKey, ClayConfig, Fingerprint};

    const READ_KEY: &str = "sk_live_R3adK3yR3adK3yR3adK3yR3ad";
    const WRITE_KEY: &str = "sk_live_Wr1teK3yWr1teK3yWr1teK3yW";

    #[derive(ClayConfig)]
    struct Clay {
        #[clay(env = "CLAY_READ_KEY",
               scopes(development = ["read:*"], staging = ["read:*"],
                      production = ["read:tables", "read:people"]))]
        reader: ApiKey,
        #[clay(env = "CLAY_WRITE_KEY",
               scopes(development = ["read:*"], staging = ["write:limited"],
                      production = ["write:rows"]))]
        writer: ApiKey,
    }

    fn production() -> Clay {
        Clay::load_from([
            ("CLAY_ENV", "production"),
            ("CLAY_READ_KEY", READ_KEY),
            ("CLAY_WRITE_KEY", WRITE_KEY),
        ])
        .expect("loads")
    }

    #[test]
    fn every_require_is_recorded_without_the_key() {
        let memory = Arc::new(MemorySink::new());
        let log = AuditLog::builder()
            .sink(Arc::clone(&memory))
            .actor("billing")
            .build();
        let mut clay = production();
        log.attach(&mut clay);

        clay.reader.require("read:tables").expect("granted");
        assert!(clay.reader.require("write:rows").is_err());
        clay.writer.require("write:rows").expect("granted");
        assert!(clay.reader.allows("read:people"), "allows is not recorded");

        let entries = memory.entries();
        assert_eq!(entries.len(), 3);
        let first = &entries[0];
        assert_eq!(first.action(), SCOPE_USE_ACTION);
        assert_eq!(first.user_id(), "billing");
        assert_eq!(first.resource(), "read:tables");
        assert_eq!(first.result(), AuditResult::Success);
        assert_eq!(first.metadata().get_str("var"), Some("CLAY_READ_KEY"));
        assert_eq!(first.metadata().get_str("environment"), Some("production"));
        assert_eq!(
            first.metadata().get_str("fingerprint"),
            Some(Fingerprint::of(READ_KEY).to_string().as_str())
        );
        assert_eq!(
            first.metadata().get("granted"),
            Some(&serde_json::json!(["read:tables", "read:people"]))
        );
        assert_eq!(entries[1].result(), AuditResult::Failure);
        assert_eq!(entries[1].resource(), "write:rows");
        assert_eq!(entries[2].metadata().get_str("var"), Some("CLAY_WRITE_KEY"));
        for entry in &entries {
            let json = entry.to_json();
            for secret in [READ_KEY, WRITE_KEY, "R3adK3y", "Wr1teK3y"] {
                assert!(!json.contains(secret), "{json}");
            }
        }
    }

    #[test]
    fn scope_usage_sums_granted_versus_used_per_key_and_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::builder()
            .sink(FileSink::open(&path, Durability::None).expect("opens"))
            .build();
        let mut clay = production();
        log.attach(&mut clay);
        for _ in 0..3 {
            clay.reader.require("read:tables").expect("granted");
        }
        clay.writer.require("write:rows").expect("granted");
        assert!(clay.writer.require("write:tables").is_err());

        // The same variable in another environment is counted apart.
        let mut dev = Clay::load_from([
            ("CLAY_ENV", "development"),
            ("CLAY_READ_KEY", "sk_test_0123456789abcdefghijklmn"),
            ("CLAY_WRITE_KEY", "sk_test_abcdefghijklmn0123456789"),
        ])
        .expect("loads");
        log.attach(&mut dev);
        dev.reader.require("read:people").expect("granted");

        assert!(verify(&path).expect("reads").is_ok());
        let usage = scope_usage(&path).expect("reads");
        assert_eq!(usage.skipped_lines(), 0);
        assert_eq!(usage.keys().count(), 3);

        let reader = usage.get("CLAY_READ_KEY", "production").expect("recorded");
        assert_eq!(reader.granted(), ["read:tables", "read:people"]);
        assert_eq!(reader.used().get("read:tables"), Some(&3));
        assert_eq!(reader.unused_granted(), ["read:people"]);
        assert_eq!(
            reader.fingerprints(),
            [Fingerprint::of(READ_KEY).to_string()]
        );

        let writer = usage.get("CLAY_WRITE_KEY", "production").expect("recorded");
        assert_eq!(writer.used().get("write:rows"), Some(&1));
        assert_eq!(writer.denied().get("write:tables"), Some(&1));
        assert!(writer.unused_granted().is_empty());

        let dev_reader = usage.get("CLAY_READ_KEY", "development").expect("recorded");
        assert_eq!(dev_reader.granted(), ["read:*"]);
        assert!(
            dev_reader.unused_granted().is_empty(),
            "read:* covers read:people"
        );

        let shown = usage.to_string();
        assert!(shown.contains("CLAY_READ_KEY in production:"), "{shown}");
        assert!(shown.contains("never used: read:people"), "{shown}");
        assert!(
            !std::fs::read_to_string(&path)
                .expect("reads")
                .contains("R3adK3y")
        );
    }

    #[test]
    fn scope_usage_from_memory_and_a_hand_built_key() {
        let memory = Arc::new(MemorySink::new());
        let log = AuditLog::builder().sink(Arc::clone(&memory)).build();
        let mut key = ApiKey::new(
            "CLAY_KEY",
            "sk_test_0123456789abcdefghijklmn",
            "staging",
            ScopeSet::parse(["read:*", "write:limited"]).expect("valid"),
        );
        log.attach_key(&mut key);
        key.require("read:tables").expect("granted");
        let usage = ScopeUsage::from_entries(&memory.entries());
        let key_usage = usage.get("CLAY_KEY", "staging").expect("recorded");
        assert_eq!(key_usage.unused_granted(), ["write:limited"]);
    }

    #[test]
    fn a_failing_sink_never_fails_require() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let sink = FileSink::open(&path, Durability::None).expect("opens");
        let log = AuditLog::builder().sink(sink).build();
        let mut clay = production();
        log.attach(&mut clay);
        // Make the last line corrupt: the sink refuses to chain onto it.
        std::fs::write(&path, "not an entry\n").expect("writes");
        clay.reader.require("read:tables").expect("still granted");
        assert_eq!(log.dropped(), 1);
    }

    #[test]
    fn scope_usage_skips_lines_that_are_not_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        std::fs::write(&path, b"garbage\n\xff\xfe\n").expect("writes");
        let usage = scope_usage(&path).expect("reads");
        assert_eq!(usage.skipped_lines(), 2);
        assert!(usage.is_empty());
    }
}
