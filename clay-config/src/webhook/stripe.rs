//! [`Scheme::Stripe`]: `stripe-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
//! each `v1` the lowercase hex HMAC-SHA256 of `"{t}.{body}"`. The secret (`whsec_…`) is used
//! as its raw bytes, not decoded.
//!
//! Any one valid `v1` passes (Stripe sends one per active secret while a secret is rolled);
//! `v0` and unknown schemes are ignored, and malformed entries beside a valid one do not break
//! it. Unlike Stripe's libraries, a timestamp too far in the future is refused too.

use http::{HeaderMap, HeaderName};

use super::codec::{decode_hex_tag, encode_hex, parse_unix_seconds, single_header};
use super::error::{Malformed, WebhookError};
use super::key::Key;
use super::received::{Received, collect_tags, split_once};
use super::{Scheme, header_value};
use crate::WebhookSecret;

/// The header holding the timestamp and the signatures.
pub const SIGNATURE_HEADER: &str = "stripe-signature";
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// The `stripe-signature` value (`t=…,v1=…`) for `body` sent at `timestamp` (Unix seconds).
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::stripe;
///
/// let header = stripe::sign(&WebhookSecret::new("whsec_test_secret"), 1_700_000_000, b"{}")?;
/// assert!(header.starts_with("t=1700000000,v1="));
/// # Ok::<(), clay_config::webhook::WebhookError>(())
/// ```
pub fn sign(secret: &WebhookSecret, timestamp: u64, body: &[u8]) -> Result<String, WebhookError> {
    Ok(signature(
        &Key::for_signing(Scheme::Stripe, secret)?,
        timestamp,
        body,
    ))
}

fn signature(key: &Key, timestamp: u64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let tag = key.tag(&[timestamp.as_bytes(), b"."], body);
    format!("t={timestamp},v1={}", encode_hex(&tag))
}

pub(crate) fn sign_headers(
    key: &Key,
    timestamp: u64,
    body: &[u8],
) -> Result<HeaderMap, WebhookError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        SIGNATURE.clone(),
        header_value(signature(key, timestamp, body), SIGNATURE_HEADER)?,
    );
    Ok(headers)
}

pub(crate) fn read(headers: &HeaderMap) -> Result<Received<'_>, WebhookError> {
    let value = single_header(headers, &SIGNATURE)?;
    let mut timestamp_text = None;
    let mut candidates = Vec::new();
    for item in value.split(|b| *b == b',') {
        match split_once(item, b'=') {
            Some((b"t", text)) => {
                if timestamp_text.is_some() {
                    // Two timestamps: which one was signed is ambiguous.
                    return Err(WebhookError::MalformedTimestamp {
                        header: SIGNATURE_HEADER,
                        problem: Malformed::DuplicateTimestamp,
                    });
                }
                timestamp_text = Some(text);
            }
            Some((b"v1", tag)) => candidates.push(tag),
            // `v0` (Stripe's test-mode legacy), unknown schemes, stray text: not ours to judge.
            _ => {}
        }
    }
    let malformed_timestamp = |problem| WebhookError::MalformedTimestamp {
        header: SIGNATURE_HEADER,
        problem,
    };
    let timestamp_text =
        timestamp_text.ok_or_else(|| malformed_timestamp(Malformed::MissingTimestamp))?;
    let timestamp = parse_unix_seconds(timestamp_text).map_err(malformed_timestamp)?;
    let tags = collect_tags(candidates.into_iter(), decode_hex_tag).map_err(|problem| {
        WebhookError::MalformedSignature {
            header: SIGNATURE_HEADER,
            problem,
        }
    })?;
    Ok(Received {
        prefix: [timestamp_text, b".", b"", b""],
        timestamp: Some((timestamp, SIGNATURE_HEADER)),
        tags,
        signature_header: SIGNATURE_HEADER,
    })
}
