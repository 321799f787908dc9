//! What a request's headers claim: the signed message's pieces before the body, the
//! timestamp, and one or more tags.

use super::codec::Tag;
use super::error::Malformed;

/// A request's signature headers, read by a scheme.
pub(crate) struct Received<'h> {
    /// The signed message is these pieces followed by the body (empty pieces for schemes that
    /// sign the body alone).
    pub(crate) prefix: [&'h [u8]; 4],
    /// The timestamp and the header it came from, for timestamped schemes.
    pub(crate) timestamp: Option<(u64, &'static str)>,
    /// The well-formed tags of the signature header; any one may match.
    pub(crate) tags: Tags,
    /// The header the tags came from.
    pub(crate) signature_header: &'static str,
}

/// One tag, or several (Standard Webhooks and Stripe send one per active secret).
pub(crate) enum Tags {
    One(Tag),
    Many(Vec<Tag>),
}

impl Tags {
    pub(crate) fn as_slice(&self) -> &[Tag] {
        match self {
            Tags::One(tag) => std::slice::from_ref(tag),
            Tags::Many(tags) => tags,
        }
    }
}

/// The well-formed tags among `candidates`; malformed ones beside a good one are ignored. With
/// none well formed, the first problem (or [`Malformed::NoSupportedSignature`] when there was no
/// candidate at all).
pub(crate) fn collect_tags<'a>(
    candidates: impl Iterator<Item = &'a [u8]>,
    decode: fn(&[u8]) -> Result<Tag, Malformed>,
) -> Result<Tags, Malformed> {
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
