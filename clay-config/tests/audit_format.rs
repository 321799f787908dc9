//! The pinned entry format, the sinks, and redaction.

#![cfg(feature = "audit")]

mod audit {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use clay_config::audit::{
        AuditEntry, AuditLog, AuditResult, AuditSink, ConsoleSink, FanOut, MemorySink, REDACTED,
        Redactor,
    };
    use clay_config::policy::{KeyPrefixes, Policy};

    /// The pinned line (without metadata, which is left out when empty).
    const DESIGN_LINE: &str = r#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"clay.api.call","userId":"u-1","resource":"/v1/resource","result":"success"}"#;

    fn design_entry() -> clay_config::audit::AuditEntryBuilder {
        AuditEntry::builder("clay.api.call")
            .timestamp("2026-11-29T17:00:00Z".parse().expect("valid timestamp"))
            .user_id("u-1")
            .resource("/v1/resource")
            .result(AuditResult::Success)
    }

    #[test]
    fn entry_matches_the_design_line_byte_for_byte() {
        assert_eq!(design_entry().build().to_json(), DESIGN_LINE);
        assert_eq!(design_entry().build().to_string(), DESIGN_LINE);
    }

    #[test]
    fn metadata_is_last_and_in_insertion_order() {
        let entry = design_entry()
            .metadata("rows", 12)
            .metadata("table", "people")
            .metadata("dryRun", false)
            .build();
        assert_eq!(
            entry.to_json(),
            r#"{"timestamp":"2026-11-29T17:00:00.000Z","action":"clay.api.call","userId":"u-1","resource":"/v1/resource","result":"success","metadata":{"rows":12,"table":"people","dryRun":false}}"#
        );
    }

    #[test]
    fn failure_and_milliseconds() {
        let entry = AuditEntry::builder("clay.api.call")
            .timestamp("2026-01-02T03:04:05.678912+00:00".parse().expect("valid"))
            .failure()
            .build();
        assert_eq!(
            entry.to_json(),
            r#"{"timestamp":"2026-01-02T03:04:05.678Z","action":"clay.api.call","userId":"","resource":"","result":"failure"}"#
        );
    }

    #[test]
    fn now_is_rfc3339_utc_with_milliseconds() {
        let json = AuditEntry::builder("a").build().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        let ts = value["timestamp"].as_str().expect("string");
        assert_eq!(ts.len(), "2026-11-29T17:00:00.000Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    }

    #[test]
    fn entry_round_trips_through_json() {
        let entry = design_entry()
            .metadata("nested", serde_json::json!({"a": [1, 2.5, null, "x"]}))
            .build();
        let back = AuditEntry::from_json(&entry.to_json()).expect("parses");
        assert_eq!(back, entry);
        assert!(AuditEntry::from_json("{").is_err());
        assert!(AuditEntry::from_json(r#"{"action":"a"}"#).is_err());
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn console_sink_prints_audit_prefix_and_json_on_one_line() {
        let out = Shared::default();
        let sink = ConsoleSink::to_writer(out.clone());
        sink.write(&design_entry().build()).expect("writes");
        sink.write(&design_entry().build()).expect("writes");
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(
            text,
            format!("[AUDIT] {DESIGN_LINE}\n[AUDIT] {DESIGN_LINE}\n")
        );
        assert_eq!(
            design_entry().build().console_line(),
            format!("[AUDIT] {DESIGN_LINE}")
        );
    }

    #[test]
    fn fan_out_reaches_every_sink_even_after_a_failure() {
        struct Failing;
        impl AuditSink for Failing {
            fn write(&self, _: &AuditEntry) -> Result<(), clay_config::audit::AuditError> {
                Err(clay_config::audit::AuditError::Parse("down".into()))
            }
        }
        let memory = Arc::new(MemorySink::new());
        let fan_out = FanOut::new().with(Failing).with(Arc::clone(&memory));
        assert!(fan_out.write(&design_entry().build()).is_err());
        assert_eq!(memory.entries().len(), 1);
    }

    #[test]
    fn tracing_sink_emits_without_a_subscriber() {
        let log = AuditLog::builder().tracing().build();
        log.record(design_entry().build())
            .expect("tracing never fails");
    }

    #[test]
    fn listed_keys_are_redacted_at_any_depth() {
        let entry = design_entry()
            .metadata("email", "ada@example.com")
            .metadata("phone", 5551234)
            .metadata("ssn", "078-05-1120")
            .metadata("password", "hunter2")
            .metadata("apiKey", "anything")
            .metadata("token", "t")
            .metadata("secret", "s")
            .metadata(
                "user",
                serde_json::json!({"userEmail": "x@y.z", "name": "Ada"}),
            )
            .metadata("rows", 3)
            .build();
        let json = entry.to_json();
        for leaked in [
            "ada@example.com",
            "5551234",
            "078-05",
            "hunter2",
            "anything",
            "x@y.z",
        ] {
            assert!(!json.contains(leaked), "{leaked} in {json}");
        }
        assert!(
            json.contains(r#""user":{"name":"Ada","userEmail":"[REDACTED]"}"#),
            "{json}"
        );
        assert!(json.contains(r#""rows":3"#));
        assert_eq!(json.matches(REDACTED).count(), 8, "{json}");
    }

    #[test]
    fn caller_added_keys_are_redacted_by_the_log() {
        let memory = Arc::new(MemorySink::new());
        let log = AuditLog::builder()
            .sink(Arc::clone(&memory))
            .redact_key("customerId")
            .build();
        log.record(design_entry().metadata("customer_id", "c-42").build())
            .expect("records");
        let entry = &memory.entries()[0];
        assert_eq!(entry.metadata().get_str("customer_id"), Some(REDACTED));
    }

    #[test]
    fn values_with_key_prefixes_are_redacted_whatever_their_key() {
        let live = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        let test = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
        let hook = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let entry = AuditEntry::builder("clay.api.call")
            .user_id(live)
            .resource(format!("/v1/tables?key={test}"))
            .metadata("note", format!("rotated to {hook}"))
            .metadata("list", serde_json::json!([live, "fine"]))
            .build();
        let json = entry.to_json();
        for secret in [live, test, hook, "4eC39Hq", "MfKQ9r8"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert_eq!(entry.user_id(), REDACTED);
        assert_eq!(entry.resource(), "/v1/tables?key=[REDACTED]");
        assert_eq!(
            entry.metadata().get_str("note"),
            Some("rotated to [REDACTED]")
        );
    }

    #[test]
    fn the_policy_prefixes_are_used() {
        let prefixes = KeyPrefixes {
            live_prefix: "clay_live_".into(),
            test_prefix: "clay_test_".into(),
            require_prefix: true,
        };
        let redactor = Redactor::new(prefixes.clone());
        let mut entry = AuditEntry::builder("a")
            .metadata("k", "clay_live_abcdefgh")
            .build();
        redactor.redact_entry(&mut entry);
        assert_eq!(entry.metadata().get_str("k"), Some(REDACTED));

        let memory = Arc::new(MemorySink::new());
        let log = AuditLog::builder()
            .sink(Arc::clone(&memory))
            .key_prefixes(prefixes)
            .build();
        log.record(
            AuditEntry::builder("a")
                .metadata("k", "clay_test_abcdefgh")
                .build(),
        )
        .expect("records");
        assert_eq!(memory.entries()[0].metadata().get_str("k"), Some(REDACTED));
        // The default prefixes come from the built-in policy.
        assert_eq!(Policy::builtin().keys().live_prefix, "sk_live_");
    }
}
