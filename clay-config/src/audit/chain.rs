//! The file sink's line format: the entry's JSON with `seq`, `prev` and `hash` added.
//!
//! A line is `{<entry fields>,"seq":N,"prev":"<hex>","hash":"<hex>"}` followed by `\n`. Its
//! *body* is the line without the `,"hash":"<hex>"` member (so it ends `"prev":"<hex>"}`);
//! `hash = hex(SHA-256(prev ‖ body))`, with `prev` as its 64 hex digits. The first line has
//! `seq` 1 and `prev` 64 zeros. Hashing the exact bytes, rather than a re-serialisation, means
//! any change to a line (a character, a space, the order of keys) breaks it.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::AuditError;
use super::entry::{AuditEntry, WireEntry};

/// A SHA-256 hash of one line of a file sink, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryHash([u8; 32]);

impl EntryHash {
    /// The `prev` of the first line: 64 zeros.
    pub const GENESIS: EntryHash = EntryHash([0; 32]);

    /// A hash from its raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        EntryHash(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn hex(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        write_hex(&self.0, &mut out);
        out
    }
}

/// Writes `bytes` as lowercase hex into `out` (twice as long).
fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// `bytes` as lowercase hex.
#[cfg(feature = "signing")]
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    write_hex(bytes, &mut out);
    out.into_iter().map(char::from).collect()
}

/// Decodes exactly `N` bytes from `2 * N` lowercase hex digits; `None` for anything else.
pub(crate) fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({self})")
    }
}

impl FromStr for EntryHash {
    type Err = AuditError;

    /// Parses 64 lowercase hex digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        from_hex::<32>(text)
            .map(EntryHash)
            .ok_or_else(|| AuditError::Parse(format!("`{text}` is not 64 lowercase hex digits")))
    }
}

/// The latest line of a chain: its `seq` and `hash`. Keep it somewhere the log's writers can't
/// change (another system, a ticket, a signed message): [`verify_against`](super::verify_against)
/// then also detects a log cut short at a line boundary, or rewritten from the start.
///
/// Shown and parsed as `seq:hash`.
///
/// ```
/// use clay_config::audit::Head;
///
/// let head: Head = "3:4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b".parse()?;
/// assert_eq!(head.seq, 3);
/// assert_eq!(head.to_string().len(), 2 + 64);
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Head {
    /// The line's `seq` (1 for the first line; 0 for an empty log).
    pub seq: u64,
    /// The line's `hash` ([`EntryHash::GENESIS`] for an empty log).
    pub hash: EntryHash,
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: EntryHash::GENESIS,
    };
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for Head {
    type Err = AuditError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| AuditError::Parse(format!("`{text}` is not `seq:hash`")))?;
        let seq = seq
            .parse::<u64>()
            .map_err(|_| AuditError::Parse(format!("`{seq}` is not a sequence number")))?;
        Ok(Head {
            seq,
            hash: hash.parse()?,
        })
    }
}

/// Encodes `entry` as line `seq` after `prev`: the line (with its `\n`) and its hash.
pub(crate) fn encode(
    entry: &AuditEntry,
    seq: u64,
    prev: &EntryHash,
) -> Result<(Vec<u8>, EntryHash), AuditError> {
    let mut line =
        serde_json::to_vec(entry).map_err(|e| AuditError::Parse(format!("serialising: {e}")))?;
    // The entry's JSON is an object: reopen it to add the chain fields.
    if line.pop() != Some(b'}') {
        return Err(AuditError::Parse("entry JSON is not an object".to_owned()));
    }
    line.extend_from_slice(format!(",\"seq\":{seq},\"prev\":\"{prev}\"}}").as_bytes());
    let hash = hash_body(prev, &line);
    line.pop();
    line.extend_from_slice(format!(",\"hash\":\"{hash}\"}}\n").as_bytes());
    Ok((line, hash))
}

fn hash_body(prev: &EntryHash, body: &[u8]) -> EntryHash {
    let mut hasher = Sha256::new();
    hasher.update(prev.hex());
    hasher.update(body);
    EntryHash(hasher.finalize().into())
}

/// Length of `,"hash":"<64 hex>"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// One line read back, its own hash checked.
#[derive(Debug)]
pub(crate) struct ParsedLine {
    pub(crate) seq: u64,
    pub(crate) prev: EntryHash,
    pub(crate) hash: EntryHash,
    pub(crate) entry: AuditEntry,
}

/// Why a line (without its `\n`) is not a valid chain line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineError {
    /// Not UTF-8, not JSON, not an entry, or without valid chain fields.
    Malformed(String),
    /// Well formed, but the hash does not match the content.
    HashMismatch,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Malformed(reason) => f.write_str(reason),
            LineError::HashMismatch => f.write_str("its hash does not match its content"),
        }
    }
}

/// Parses a line (without its `\n`) and checks its hash against its own content.
pub(crate) fn parse_line(line: &[u8]) -> Result<ParsedLine, LineError> {
    let text =
        std::str::from_utf8(line).map_err(|e| LineError::Malformed(format!("not UTF-8 ({e})")))?;
    let wire: WireEntry = serde_json::from_str(text)
        .map_err(|e| LineError::Malformed(format!("not an audit entry ({e})")))?;
    let (Some(seq), Some(prev), Some(hash)) = (wire.seq, wire.prev.clone(), wire.hash.clone())
    else {
        return Err(LineError::Malformed(
            "no `seq`, `prev` and `hash` fields".to_owned(),
        ));
    };
    let prev: EntryHash = prev
        .parse()
        .map_err(|_| LineError::Malformed("`prev` is not a SHA-256 hex digest".to_owned()))?;
    let hash: EntryHash = hash
        .parse()
        .map_err(|_| LineError::Malformed("`hash` is not a SHA-256 hex digest".to_owned()))?;
    let expected_suffix = format!(",\"hash\":\"{hash}\"}}");
    if line.len() < HASH_SUFFIX_LEN || !line.ends_with(expected_suffix.as_bytes()) {
        return Err(LineError::Malformed(
            "`hash` is not the last field".to_owned(),
        ));
    }
    let mut body = line[..line.len() - HASH_SUFFIX_LEN].to_vec();
    body.push(b'}');
    if hash_body(&prev, &body) != hash {
        return Err(LineError::HashMismatch);
    }
    let entry = wire
        .into_entry()
        .map_err(|e| LineError::Malformed(e.to_string()))?;
    Ok(ParsedLine {
        seq,
        prev,
        hash,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_parse() {
        let entry = AuditEntry::builder("clay.api.call")
            .user_id("u-1")
            .metadata("rows", 3)
            .build();
        let (line, hash) = encode(&entry, 1, &EntryHash::GENESIS).expect("encodes");
        assert_eq!(line.last(), Some(&b'\n'));
        let parsed = parse_line(&line[..line.len() - 1]).expect("parses");
        assert_eq!(parsed.seq, 1);
        assert_eq!(parsed.prev, EntryHash::GENESIS);
        assert_eq!(parsed.hash, hash);
        assert_eq!(parsed.entry, entry);
        let text = String::from_utf8(line).expect("utf-8");
        assert!(text.starts_with(&entry.to_json()[..entry.to_json().len() - 1]));
    }

    #[test]
    fn hex_round_trips() {
        let head = Head {
            seq: 7,
            hash: EntryHash([0xab; 32]),
        };
        assert_eq!(head.to_string().parse::<Head>().expect("parses"), head);
        assert!("7:AB".parse::<Head>().is_err());
        assert!("x:00".parse::<Head>().is_err());
    }
}
