//! [`Scheme::StandardWebhooks`] (standardwebhooks.com, as sent
//! by Svix and others): `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`, a space-separated list of `v1,<base64>` entries, each the HMAC-SHA256
//! of `"{id}.{timestamp}.{body}"`. The secret is `whsec_` followed by the base64 of the key.
//!
//! Any one valid `v1` entry passes; entries of other versions (`v1a`, asymmetric) are ignored,
//! and malformed entries beside a valid one do not break it.

use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use super::codec::{
    decode_base64_tag, encode_base64, encode_hex, parse_unix_seconds, single_header,
};
use super::error::WebhookError;
use super::key::Key;
use super::received::{Received, collect_tags, split_once};
use super::{Scheme, header_value};
use crate::{Fingerprint, WebhookSecret};

/// The header holding the message id (signed).
pub const ID_HEADER: &str = "webhook-id";
pub(crate) static ID: HeaderName = HeaderName::from_static(ID_HEADER);

/// The header holding the timestamp, in Unix seconds (signed).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
static TIMESTAMP: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);

/// The header holding the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// The signature version this crate verifies: HMAC-SHA256.
const VERSION: &[u8] = b"v1";

/// The `webhook-signature` value (`v1,<base64>`) for message `id` sent at `timestamp` (Unix
/// seconds) with `body`.
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::standard_webhooks;
///
/// // The Standard Webhooks libraries' own test vector.
/// let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// let signature = standard_webhooks::sign(
///     &secret,
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     1614265330,
///     br#"{"test": 2432232314}"#,
/// )?;
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), clay_config::webhook::WebhookError>(())
/// ```
pub fn sign(
    secret: &WebhookSecret,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<String, WebhookError> {
    let key = Key::for_signing(Scheme::StandardWebhooks, secret)?;
    Ok(signature(
        &key,
        id.as_bytes(),
        timestamp.to_string().as_bytes(),
        body,
    ))
}

fn signature(key: &Key, id: &[u8], timestamp: &[u8], body: &[u8]) -> String {
    let tag = key.tag(&[id, b".", timestamp, b"."], body);
    format!("v1,{}", encode_base64(&tag))
}

/// Signs with an id derived from the signing secret's fingerprint, the timestamp and the body
/// (`msg_` and 24 hex digits), so the same message signed twice by one sender carries the same
/// id, and by two senders (two secrets) two ids.
pub(crate) fn sign_headers(
    key: &Key,
    sender: &Fingerprint,
    timestamp: u64,
    body: &[u8],
) -> Result<HeaderMap, WebhookError> {
    let timestamp = timestamp.to_string();
    let digest = Sha256::new()
        .chain_update(sender.to_string().as_bytes())
        .chain_update(b".")
        .chain_update(timestamp.as_bytes())
        .chain_update(b".")
        .chain_update(body)
        .finalize();
    let id = format!("msg_{}", encode_hex(digest.get(..12).unwrap_or_default()));
    let signature = signature(key, id.as_bytes(), timestamp.as_bytes(), body);
    let mut headers = HeaderMap::new();
    headers.insert(ID.clone(), header_value(id, ID_HEADER)?);
    headers.insert(
        TIMESTAMP.clone(),
        header_value(timestamp, TIMESTAMP_HEADER)?,
    );
    headers.insert(
        SIGNATURE.clone(),
        header_value(signature, SIGNATURE_HEADER)?,
    );
    Ok(headers)
}

pub(crate) fn read(headers: &HeaderMap) -> Result<Received<'_>, WebhookError> {
    let id = single_header(headers, &ID)?;
    let timestamp_text = single_header(headers, &TIMESTAMP)?;
    let timestamp =
        parse_unix_seconds(timestamp_text).map_err(|problem| WebhookError::MalformedTimestamp {
            header: TIMESTAMP_HEADER,
            problem,
        })?;
    let signatures = single_header(headers, &SIGNATURE)?;
    let candidates = signatures
        .split(|b| *b == b' ')
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| match split_once(entry, b',') {
            Some((version, tag)) if version == VERSION => Some(tag),
            _ => None,
        });
    let tags = collect_tags(candidates, decode_base64_tag).map_err(|problem| {
        WebhookError::MalformedSignature {
            header: SIGNATURE_HEADER,
            problem,
        }
    })?;
    Ok(Received {
        prefix: [id, b".", timestamp_text, b"."],
        timestamp: Some((timestamp, TIMESTAMP_HEADER)),
        tags,
        signature_header: SIGNATURE_HEADER,
    })
}
