//! What a request's headers claim: the signed message's pieces before the body, the
//! timestamp, and one or more tags.

use super::codec::{HEX_TAG_LEN, Tag, decode_hex_tag, hex_tag_equal, tags_equal};
use super::error::Malformed;

/// A request's signature headers, read by a scheme.
pub(crate) struct Received<'h> {
    /// The signed message is these pieces followed by the body (empty pieces for schemes that
    /// sign the body alone).
    pub(crate) prefix: [&'h [u8]; 4],
    /// The timestamp and the header it came from, for timestamped schemes.
    pub(crate) timestamp: Option<(u64, &'static str)>,
    /// The tags of the signature header; any one may match.
    pub(crate) tags: Tags<'h>,
    /// The header the tags came from.
    pub(crate) signature_header: &'static str,
}

/// One hex tag, or several decoded ones (Standard Webhooks and Stripe send one per active
/// secret).
pub(crate) enum Tags<'h> {
    /// One tag of exactly 64 characters, as received. Compared with the expected tag in hex,
    /// so a genuine delivery is never decoded: whether the text is lowercase hex at all is
    /// asked only of a tag that did not match ([`Tags::malformed`]).
    Hex(&'h [u8; HEX_TAG_LEN]),
    /// Well-formed tags, decoded.
    Many(Vec<Tag>),
}

impl Tags<'_> {
    /// True when one of the tags is `expected`; each comparison takes constant time.
    #[inline]
    pub(crate) fn matches(&self, expected: &Tag) -> bool {
        match self {
            Tags::Hex(text) => hex_tag_equal(expected, text),
            Tags::Many(tags) => tags.iter().any(|tag| tags_equal(expected, tag)),
        }
    }

    /// What is wrong with the tags' format, if anything (only a [`Tags::Hex`] can still be
    /// wrong): asked before reporting a tag that did not match, or a request refused for
    /// another reason, so a malformed tag is reported as such.
    pub(crate) fn malformed(&self) -> Option<Malformed> {
        match self {
            Tags::Hex(text) => decode_hex_tag(*text).err(),
            Tags::Many(_) => None,
        }
    }
}

/// The well-formed tags among `candidates`; malformed ones beside a good one are ignored. With
/// none well formed, the first problem (or [`Malformed::NoSupportedSignature`] when there was no
/// candidate at all).
pub(crate) fn collect_tags<'a>(
    candidates: impl Iterator<Item = &'a [u8]>,
    decode: fn(&[u8]) -> Result<Tag, Malformed>,
) -> Result<Tags<'static>, Malformed> {
    let mut tags = Vec::new();
    let mut first_problem = None;
    for candidate in candidates {
        match decode(candidate) {
            Ok(tag) => tags.push(tag),
            Err(problem) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    if tags.is_empty() {
        Err(first_problem.unwrap_or(Malformed::NoSupportedSignature))
    } else {
        Ok(Tags::Many(tags))
    }
}

/// `bytes` split at the first `separator`, if there is one.
pub(crate) fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|b| *b == separator)?;
    Some((bytes.get(..at)?, bytes.get(at + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_once_splits_at_the_first() {
        assert_eq!(split_once(b"v1=a=b", b'='), Some((&b"v1"[..], &b"a=b"[..])));
        assert_eq!(split_once(b"t=", b'='), Some((&b"t"[..], &b""[..])));
        assert_eq!(split_once(b"=", b'='), Some((&b""[..], &b""[..])));
        assert_eq!(split_once(b"v1", b'='), None);
    }
}
