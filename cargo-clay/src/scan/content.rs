//! What a file's bytes are for the rules: text, UTF-16 text, or binary, decided per chunk, and
//! the chunking that keeps a huge file or blob in bounded memory.
//!
//! Content with NUL bytes is *projected* before it is scanned: a NUL that is one of a run of
//! alternating single NULs (the high bytes of UTF-16 code units, little- or big-endian, at any
//! alignment) is dropped, every other byte is kept. `s\0k\0_\0…` becomes `sk_…`, so a key in
//! UTF-16 text, or in a UTF-16 string inside a binary file, is found like any other; bytes of a
//! binary file that are not UTF-16 are kept as they are, so ASCII keys in it are found too.
//! When most of a chunk is such NULs it is UTF-16 text (every rule runs); otherwise binary (the
//! text-only rules do not run).

use std::io::{self, Read};

/// How much is read and scanned at once; a file or blob larger than this is streamed.
pub(crate) const CHUNK: usize = 8 << 20;
/// When a chunk ends inside a line longer than this, the line is cut: this much of its end is
/// scanned again with the next chunk, so that a secret across the cut is still seen whole.
const OVERLAP: usize = 4096;

/// How a piece of content is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Every rule, on the bytes as they are.
    Text,
    /// Every rule, on the projection.
    Utf16,
    /// The rules that are not text-only, on the projection.
    Binary,
}

impl Kind {
    /// True when the text-only rules must not run.
    pub(crate) fn is_binary(self) -> bool {
        self == Kind::Binary
    }
}

/// True when `data` starts with a UTF-16 byte order mark.
pub(crate) fn has_utf16_bom(data: &[u8]) -> bool {
    data.starts_with(&[0xff, 0xfe]) || data.starts_with(&[0xfe, 0xff])
}

/// Appends the projection of `raw` to `out` (see the module docs) and returns how many NULs it
/// dropped.
pub(crate) fn project(raw: &[u8], out: &mut Vec<u8>) -> usize {
    out.reserve(raw.len());
    let is_nul = |i: usize| raw.get(i) == Some(&0);
    let mut dropped = 0;
    let mut from = 0;
    for i in memchr::memchr_iter(0, raw) {
        let single = (i == 0 || !is_nul(i - 1)) && !is_nul(i + 1);
        let alternating = (i >= 2 && is_nul(i - 2)) || is_nul(i + 2);
        if single && alternating {
            out.extend_from_slice(&raw[from..i]);
            from = i + 1;
            dropped += 1;
        }
    }
    out.extend_from_slice(&raw[from..]);
    dropped
}

/// Decodes one chunk: `(bytes to scan, kind)`. Text is borrowed as is; content with NULs (or
/// any chunk of a file that began with a UTF-16 byte order mark) is projected into `scratch`.
pub(crate) fn decode<'a>(
    raw: &'a [u8],
    utf16_file: bool,
    scratch: &'a mut Vec<u8>,
) -> (&'a [u8], Kind) {
    if !utf16_file && memchr::memchr(0, raw).is_none() {
        return (raw, Kind::Text);
    }
    scratch.clear();
    let dropped = project(raw, scratch);
    // UTF-16 text of ASCII has a NUL in every other byte; a binary file a few here and there.
    let kind = if utf16_file || dropped * 10 >= raw.len() * 3 {
        Kind::Utf16
    } else {
        Kind::Binary
    };
    (scratch.as_slice(), kind)
}

/// Buffers reused from one file to the next by one thread.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    raw: Vec<u8>,
    pending: Vec<u8>,
    scratch: Vec<u8>,
}

/// One piece of decoded content, handed to the scanner.
#[derive(Debug)]
pub(crate) struct Piece<'a> {
    /// The bytes to scan.
    pub(crate) text: &'a [u8],
    /// How to scan them.
    pub(crate) kind: Kind,
    /// The line number of the piece's first line.
    pub(crate) first_line: u64,
    /// Only secrets starting before this offset are reported (the rest is scanned again
    /// with the next piece).
    pub(crate) report_before: usize,
}

/// Scans all of `data` (a blob in memory): one piece, or several for a huge one.
pub(crate) fn whole(data: &[u8], buffers: &mut Buffers, mut scan: impl FnMut(Piece<'_>)) {
    if data.len() <= CHUNK {
        let (text, kind) = decode(data, has_utf16_bom(data), &mut buffers.scratch);
        scan(Piece {
            text,
            kind,
            first_line: 1,
            report_before: text.len(),
        });
        return;
    }
    // Reading from a slice cannot fail.
    let _ = stream(&mut &data[..], buffers, scan);
}

/// Scans everything `reader` yields, [`CHUNK`] by chunk, cutting at line ends so that line
/// numbers stay right and no secret is cut in two. Returns the number of bytes read.
pub(crate) fn stream(
    reader: &mut dyn Read,
    buffers: &mut Buffers,
    mut scan: impl FnMut(Piece<'_>),
) -> io::Result<u64> {
    let Buffers {
        raw,
        pending,
        scratch,
    } = buffers;
    raw.resize(CHUNK, 0);
    pending.clear();
    let mut line = 1u64;
    let mut total = 0u64;
    let mut utf16_file = None;
    loop {
        let n = read_full(reader, raw)?;
        total += n as u64;
        let eof = n < raw.len();
        let chunk = &raw[..n];
        let utf16 = *utf16_file.get_or_insert_with(|| has_utf16_bom(chunk));
        let (decoded, kind) = decode(chunk, utf16, scratch);
        // The fast path: a file read whole in one chunk needs no copy.
        if eof && pending.is_empty() {
            scan(Piece {
                text: decoded,
                kind,
                first_line: line,
                report_before: decoded.len(),
            });
            return Ok(total);
        }
        pending.extend_from_slice(decoded);
        if eof {
            scan(Piece {
                text: pending,
                kind,
                first_line: line,
                report_before: pending.len(),
            });
            return Ok(total);
        }
        let cut = match memchr::memrchr(b'\n', pending) {
            Some(newline) if pending.len() - (newline + 1) <= OVERLAP * 4 => newline + 1,
            _ => pending.len().saturating_sub(OVERLAP),
        };
        scan(Piece {
            text: pending,
            kind,
            first_line: line,
            report_before: cut,
        });
        line += memchr::memchr_iter(b'\n', &pending[..cut]).count() as u64;
        pending.drain(..cut);
    }
}

/// Reads until `buf` is full or the reader is at its end; the number of bytes read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn utf16_is_projected_to_ascii() {
        for encoded in [utf16le("a = k1\nb = k2\n"), utf16be("a = k1\nb = k2\n")] {
            let mut scratch = Vec::new();
            let (text, kind) = decode(&encoded, false, &mut scratch);
            assert_eq!(kind, Kind::Utf16);
            assert_eq!(text, b"a = k1\nb = k2\n");
        }
        // At an odd offset inside binary content.
        let mut binary = b"\x7fELF\x02\x01\x00\x00\x00\x00\x00\x00\x09".to_vec();
        binary.extend(utf16le("token sk_test_x"));
        binary.extend([0, 0, 0, 0, 0x13, 0x37]);
        let mut scratch = Vec::new();
        let (text, kind) = decode(&binary, false, &mut scratch);
        assert_eq!(kind, Kind::Binary);
        assert!(memchr::memmem::find(text, b"token sk_test_x").is_some());
        // A C string followed by its terminator stays apart from what follows.
        let mut scratch = Vec::new();
        let (text, _) = decode(b"abc\0def\0\0\0ghi", false, &mut scratch);
        assert_eq!(text, b"abc\0def\0\0\0ghi");
    }

    #[test]
    fn streams_cut_at_lines_and_count_them() -> io::Result<()> {
        let mut data = Vec::new();
        let mut line = 0;
        while data.len() < CHUNK * 2 + 100 {
            line += 1;
            data.extend_from_slice(format!("line {line}\n").as_bytes());
        }
        let mut seen = 0u64;
        let mut last_line = 0;
        let total = stream(&mut &data[..], &mut Buffers::default(), |piece| {
            assert_eq!(piece.first_line, last_line + 1);
            let scanned = &piece.text[..piece.report_before];
            seen += scanned.len() as u64;
            last_line += memchr::memchr_iter(b'\n', scanned).count() as u64;
        })?;
        assert_eq!(total, data.len() as u64);
        assert_eq!(seen, data.len() as u64);
        assert_eq!(last_line, line);
        // One enormous line: cut with an overlap, everything seen.
        let data = vec![b'a'; CHUNK * 2 + 7];
        let mut reported = 0;
        stream(&mut &data[..], &mut Buffers::default(), |piece| {
            reported += piece.report_before;
        })?;
        assert_eq!(reported, data.len());
        Ok(())
    }
}
