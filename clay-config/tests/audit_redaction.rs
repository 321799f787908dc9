//! Redaction as it reaches a file: every credential name, whatever its case or depth, keys used
//! as metadata names, keys and `Authorization` headers inside values.

#![cfg(feature = "audit")]

mod audit {
    use clay_config::audit::{
        AuditEntry, AuditLog, Durability, FileSink, REDACTED, Redactor, verify,
    };
    use serde_json::{Value, json};

    /// Assembled at run time, so that this file holds no key.
    fn live_key() -> String {
        format!("sk_{}_{}", "live", "4eC39HqLyjWDarjtT1zdp7dcQ9x2")
    }

    fn webhook_secret() -> String {
        format!("whsec_{}", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    }

    const NAMES: &[&str] = &[
        "authorization",
        "cookie",
        "set-cookie",
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "api-key",
        "private_key",
        "credentials",
        "client_secret",
    ];

    /// Upper, lower, capitalised, and camelCase where the name has two words.
    fn spellings(name: &str) -> Vec<String> {
        let camel: String = name
            .split(['_', '-'])
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_owned()
                } else {
                    w[..1].to_uppercase() + &w[1..]
                }
            })
            .collect();
        vec![
            name.to_owned(),
            name.to_uppercase(),
            name[..1].to_uppercase() + &name[1..],
            camel,
        ]
    }

    fn redacted(entry: AuditEntry) -> Value {
        let mut entry = entry;
        Redactor::default().redact_entry(&mut entry);
        serde_json::from_str(&entry.to_json()).expect("json")
    }

    #[test]
    fn every_pinned_name_in_every_case_and_at_every_depth() {
        for name in NAMES {
            for spelling in spellings(name) {
                let entry = AuditEntry::builder("clay.api.call")
                    .metadata(spelling.as_str(), "hunter2-value")
                    .metadata(
                        "nested",
                        json!({"deeper": {spelling.as_str(): "hunter2-value"}}),
                    )
                    .metadata("list", json!([{spelling.as_str(): "hunter2-value"}]))
                    .build();
                let json = entry.to_json();
                assert!(!json.contains("hunter2"), "{spelling}: {json}");
                let value = redacted(entry);
                assert_eq!(value["metadata"][&spelling], REDACTED, "{spelling}");
                assert_eq!(value["metadata"]["nested"]["deeper"][&spelling], REDACTED);
                assert_eq!(value["metadata"]["list"][0][&spelling], REDACTED);
            }
        }
    }

    #[test]
    fn names_inside_values_are_redacted_too() {
        for name in NAMES {
            for spelling in spellings(name) {
                let entry = AuditEntry::builder("clay.api.call")
                    .metadata(
                        "request",
                        format!("GET /x\n{spelling}: hunter2-value\nHost: h"),
                    )
                    .metadata("query", format!("a=1&{spelling}=hunter2-value&b=2"))
                    .metadata("body", format!(r#"{{"{spelling}":"hunter2-value"}}"#))
                    .build();
                let json = entry.to_json();
                assert!(!json.contains("hunter2"), "{spelling}: {json}");
                assert!(json.contains("Host: h") && json.contains("b=2"), "{json}");
            }
        }
    }

    #[test]
    fn authorization_bearer_inside_any_value() {
        let entry = AuditEntry::builder("clay.api.call")
            .resource("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc")
            .metadata("headers", "authorization: Bearer opaque-123\r\naccept: */*")
            .metadata("note", "retried with Bearer opaque-456 after 401")
            .metadata(
                "upstream",
                json!({"headers": ["Authorization: Basic dXNlcjpwYXNz"]}),
            )
            .build();
        let json = entry.to_json();
        for secret in ["eyJhbGci", "opaque-123", "opaque-456", "dXNlcjpwYXNz"] {
            assert!(!json.contains(secret), "{secret}: {json}");
        }
        assert!(
            json.contains("accept: */*") && json.contains("after 401"),
            "{json}"
        );
    }

    #[test]
    fn keys_in_values_and_as_metadata_names() {
        let key = live_key();
        let whsec = webhook_secret();
        let entry = AuditEntry::builder("clay.api.call")
            .user_id(format!("svc:{key}"))
            .metadata(key.as_str(), "the key as a name")
            .metadata(format!("by-{whsec}"), 1)
            .metadata("note", format!("rotated {key} today"))
            .metadata(
                "nested",
                json!({ key.as_str(): { "inner": [whsec.as_str()] } }),
            )
            .metadata("[REDACTED]", "an honest name")
            .build();
        let json = entry.to_json();
        assert!(!json.contains(&key) && !json.contains(&whsec), "{json}");
        // Renamed keys stay unique, so the entry still reads back.
        let back = AuditEntry::from_json(&json).expect("parses");
        let names: Vec<&str> = back.metadata().iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "[REDACTED]",
                "by-[REDACTED]",
                "note",
                "nested",
                "[REDACTED]#2"
            ]
        );
        let value: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(value["metadata"]["note"], "rotated [REDACTED] today");
        assert_eq!(
            value["metadata"]["nested"]["[REDACTED]"]["inner"][0],
            REDACTED
        );
    }

    #[test]
    fn nothing_secret_reaches_the_file_and_the_file_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::builder()
            .sink(FileSink::open(&path, Durability::None).expect("opens"))
            .build();
        let key = live_key();
        for name in NAMES {
            log.record(
                AuditEntry::builder("clay.api.call")
                    .metadata(name.to_uppercase(), "hunter2-value")
                    .metadata(key.as_str(), format!("Authorization: Bearer {key}"))
                    .build(),
            )
            .expect("records");
        }
        drop(log);
        let text = std::fs::read_to_string(&path).expect("reads");
        assert!(!text.contains("hunter2") && !text.contains(&key));
        assert!(verify(&path).expect("reads").is_ok());
    }

    #[test]
    fn ordinary_names_and_values_are_left_alone() {
        let entry = AuditEntry::builder("clay.api.call")
            .resource("/v1/tables/t_abc123/rows")
            .metadata("keyboard", "us")
            .metadata("tokenizer", "bpe")
            .metadata("rows", 12)
            .metadata("query", "sort=asc&limit=10")
            .build();
        let value = redacted(entry);
        assert_eq!(value["resource"], "/v1/tables/t_abc123/rows");
        assert_eq!(value["metadata"]["keyboard"], "us");
        assert_eq!(value["metadata"]["tokenizer"], "bpe");
        assert_eq!(value["metadata"]["query"], "sort=asc&limit=10");
    }
}
