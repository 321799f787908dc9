//! Signed checkpoints: the line a signing [`FileSink`](super::FileSink) adds to its chain, and
//! what the writer and the verifier know about them.
//!
//! A checkpoint is an ordinary chain line whose entry has the action `clay.audit.checkpoint`
//! and this metadata:
//!
//! ```text
//! "metadata":{"log":"<32 hex>","seq":100,"hash":"<64 hex>","prevSignature":"<128 hex>"|null,
//!             "every":100,"keyId":"<16 hex>","signature":"<128 hex>"}
//! ```
//!
//! `seq` and `hash` are those of the line just before the checkpoint; `log` is a random id
//! drawn by the log's first checkpoint and repeated by every later one; `prevSignature` is the
//! signature of the checkpoint before (`null` for the first), so the checkpoints form a chain
//! of their own, also outside the file. The signature is Ed25519 over [`message`].

use jiff::Timestamp;
use serde_json::Value;

use super::chain::{EntryHash, Head, from_hex, to_hex};
use super::entry::{AuditEntry, format_timestamp};
use super::signing::{SigningKey, VerifyingKey};
use super::{AuditError, CHECKPOINT_ACTION};

/// The first line of every signed message: no signature made for anything else (another
/// protocol, another version of this one) can pass for a checkpoint's.
const DOMAIN: &str = "clay-config audit-log checkpoint v1";

/// One checkpoint, as written or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub(crate) log: [u8; 16],
    /// The line it signs: the one just before it.
    pub(crate) covers: Head,
    pub(crate) prev_signature: Option<[u8; 64]>,
    pub(crate) every: u64,
    pub(crate) key_id: String,
    pub(crate) signature: [u8; 64],
    pub(crate) timestamp: Timestamp,
}

/// The bytes a checkpoint signs: the domain, the log id, the covered line's `seq` and `hash`,
/// the previous checkpoint's signature, the cadence and the time, one per line.
fn message(
    log: &[u8; 16],
    covers: &Head,
    prev_signature: Option<&[u8; 64]>,
    every: u64,
    timestamp: Timestamp,
) -> Vec<u8> {
    format!(
        "{DOMAIN}\nlog {}\nseq {}\nhash {}\nprev {}\nevery {every}\ntime {}\n",
        to_hex(log),
        covers.seq,
        covers.hash,
        prev_signature.map_or_else(|| "none".to_owned(), |s| to_hex(s)),
        format_timestamp(timestamp),
    )
    .into_bytes()
}

impl Checkpoint {
    /// Signs `covers` as the checkpoint after `prev` (or the log's first, with a new `log` id).
    pub(crate) fn sign(
        key: &SigningKey,
        key_id: &str,
        covers: Head,
        prev: Option<&CheckpointRef>,
        every: u64,
    ) -> Result<Checkpoint, AuditError> {
        let log = match prev {
            Some(prev) => prev.log,
            None => {
                let mut log = [0u8; 16];
                getrandom::fill(&mut log).map_err(|e| {
                    AuditError::Parse(format!("no randomness for a new log id: {e}"))
                })?;
                log
            }
        };
        let timestamp = super::entry::now_millis();
        let prev_signature = prev.map(|p| p.signature);
        let signature = key.sign(&message(
            &log,
            &covers,
            prev_signature.as_ref(),
            every,
            timestamp,
        ));
        Ok(Checkpoint {
            log,
            covers,
            prev_signature,
            every,
            key_id: key_id.to_owned(),
            signature,
            timestamp,
        })
    }

    /// True when `key` made the signature.
    pub(crate) fn verify(&self, key: &VerifyingKey) -> bool {
        key.verify(
            &message(
                &self.log,
                &self.covers,
                self.prev_signature.as_ref(),
                self.every,
                self.timestamp,
            ),
            &self.signature,
        )
    }

    /// The entry that goes into the chain (and to the checkpoint sink), not redacted: its
    /// values are digests and signatures.
    pub(crate) fn entry(&self, resource: &str) -> AuditEntry {
        AuditEntry::builder(CHECKPOINT_ACTION)
            .timestamp(self.timestamp)
            .user_id("clay-config")
            .resource(resource)
            .metadata("log", to_hex(&self.log))
            .metadata("seq", self.covers.seq)
            .metadata("hash", self.covers.hash.to_string())
            .metadata(
                "prevSignature",
                self.prev_signature
                    .map_or(Value::Null, |s| Value::String(to_hex(&s))),
            )
            .metadata("every", self.every)
            .metadata("keyId", self.key_id.as_str())
            .metadata("signature", to_hex(&self.signature))
            .build_unredacted()
    }

    /// Reads a checkpoint back from its entry; the reason when it is not a well-formed one.
    pub(crate) fn from_entry(entry: &AuditEntry) -> Result<Checkpoint, String> {
        let metadata = entry.metadata();
        let text = |name: &str| {
            metadata
                .get_str(name)
                .ok_or_else(|| format!("`{name}` is missing or not a string"))
        };
        let number = |name: &str| {
            metadata
                .get(name)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("`{name}` is missing or not a number"))
        };
        let log = from_hex::<16>(text("log")?).ok_or("`log` is not 32 hex digits")?;
        let hash: EntryHash = text("hash")?
            .parse()
            .map_err(|_| "`hash` is not 64 hex digits".to_owned())?;
        let prev_signature = match metadata.get("prevSignature") {
            Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(from_hex::<64>(s).ok_or("`prevSignature` is not 128 hex digits")?)
            }
            _ => return Err("`prevSignature` is missing".to_owned()),
        };
        let every = number("every")?;
        if every == 0 {
            return Err("`every` is 0".to_owned());
        }
        Ok(Checkpoint {
            log,
            covers: Head {
                seq: number("seq")?,
                hash,
            },
            prev_signature,
            every,
            key_id: text("keyId")?.to_owned(),
            signature: from_hex::<64>(text("signature")?)
                .ok_or("`signature` is not 128 hex digits")?,
            timestamp: entry.timestamp(),
        })
    }

    /// What a later checkpoint needs of this one, written at line `seq`.
    pub(crate) fn at(&self, seq: u64) -> CheckpointRef {
        CheckpointRef {
            seq,
            signature: self.signature,
            log: self.log,
            every: self.every,
        }
    }
}

/// The latest checkpoint, as a writer or a verifier remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckpointRef {
    /// The `seq` of the checkpoint line itself.
    pub(crate) seq: u64,
    pub(crate) signature: [u8; 64],
    pub(crate) log: [u8; 16],
    pub(crate) every: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips_and_verifies_only_unchanged() {
        let key = SigningKey::generate().expect("randomness");
        let public = key.verifying_key();
        let covers = Head {
            seq: 7,
            hash: EntryHash::from_bytes([3; 32]),
        };
        let first = Checkpoint::sign(&key, &public.key_id(), covers, None, 10).expect("signs");
        let json = first.entry("audit.log").to_json();
        let back =
            Checkpoint::from_entry(&AuditEntry::from_json(&json).expect("parses")).expect("reads");
        assert_eq!(back, first);
        assert!(back.verify(&public));
        let second = Checkpoint::sign(&key, "id", covers, Some(&first.at(8)), 10).expect("signs");
        assert_eq!(second.log, first.log);
        assert_eq!(second.prev_signature, Some(first.signature));
        for tampered in [
            Checkpoint {
                covers: Head { seq: 8, ..covers },
                ..first.clone()
            },
            Checkpoint {
                every: 11,
                ..first.clone()
            },
            Checkpoint {
                prev_signature: Some([0; 64]),
                ..first.clone()
            },
            Checkpoint {
                log: [9; 16],
                ..first.clone()
            },
        ] {
            assert!(!tampered.verify(&public));
        }
        let other = SigningKey::generate().expect("randomness").verifying_key();
        assert!(!first.verify(&other));
    }
}
