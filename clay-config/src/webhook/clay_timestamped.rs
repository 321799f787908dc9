//! [`Scheme::ClayTimestamped`]: `x-clay-timestamp` holds Unix
//! seconds and `x-clay-signature` the lowercase hex HMAC-SHA256 of `"{timestamp}.{body}"`
//! (optionally prefixed `sha256=`). The timestamp is signed, so a captured request is refused
//! once it is older than the verifier's tolerance.

use http::{HeaderMap, HeaderName};

use super::clay_hex::read_hex_signature;
use super::codec::{encode_hex, parse_unix_seconds, single_header};
use super::error::WebhookError;
use super::key::Key;
use super::received::{Received, Tags};
use super::{Scheme, header_value};
use crate::WebhookSecret;

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "x-clay-signature";
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// The header holding the timestamp, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-clay-timestamp";
static TIMESTAMP: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);

/// The `x-clay-signature` value for `body` sent at `timestamp` (Unix seconds, the value of
/// `x-clay-timestamp`).
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::clay_timestamped;
///
/// let signature = clay_timestamped::sign(&WebhookSecret::new("s3cr3t-s3cr3t"), 1_700_000_000, b"{}")?;
/// assert_eq!(signature.len(), 64);
/// # Ok::<(), clay_config::webhook::WebhookError>(())
/// ```
pub fn sign(secret: &WebhookSecret, timestamp: u64, body: &[u8]) -> Result<String, WebhookError> {
    let key = Key::for_signing(Scheme::ClayTimestamped, secret)?;
    Ok(signature(&key, timestamp.to_string().as_bytes(), body))
}

fn signature(key: &Key, timestamp: &[u8], body: &[u8]) -> String {
    encode_hex(&key.tag(&[timestamp, b"."], body))
}

pub(crate) fn sign_headers(
    key: &Key,
    timestamp: u64,
    body: &[u8],
) -> Result<HeaderMap, WebhookError> {
    let timestamp = timestamp.to_string();
    let mut headers = HeaderMap::new();
    headers.insert(
        SIGNATURE.clone(),
        header_value(signature(key, timestamp.as_bytes(), body), SIGNATURE_HEADER)?,
    );
    headers.insert(
        TIMESTAMP.clone(),
        header_value(timestamp, TIMESTAMP_HEADER)?,
    );
    Ok(headers)
}

pub(crate) fn read(headers: &HeaderMap) -> Result<Received<'_>, WebhookError> {
    let timestamp_text = single_header(headers, &TIMESTAMP)?;
    let timestamp =
        parse_unix_seconds(timestamp_text).map_err(|problem| WebhookError::MalformedTimestamp {
            header: TIMESTAMP_HEADER,
            problem,
        })?;
    let tag = read_hex_signature(headers)?;
    Ok(Received {
        // The timestamp as received, not as re-printed: the sender signed its own text.
        prefix: [timestamp_text, b".", b"", b""],
        timestamp: Some((timestamp, TIMESTAMP_HEADER)),
        tags: Tags::Hex(tag),
        signature_header: SIGNATURE_HEADER,
    })
}
