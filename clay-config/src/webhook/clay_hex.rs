//! [`Scheme::ClayHex`], the scheme of Clay's security practice: `x-clay-signature` is the
//! lowercase hex HMAC-SHA256 of the raw body, optionally prefixed `sha256=`.
//!
//! It has no timestamp, so a captured request can be replayed forever: prefer
//! [`Scheme::ClayTimestamped`] where the sender supports it. A
//! [`ReplayGuard`](super::ReplayGuard) refuses the same signature again for the verifier's
//! tolerance, and no longer.

use http::{HeaderMap, HeaderName};

use super::codec::{HEX_TAG_LEN, encode_hex, hex_tag_text, single_header};
use super::error::WebhookError;
use super::key::Key;
use super::received::{Received, Tags};
use super::{Scheme, header_value};
use crate::WebhookSecret;

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "x-clay-signature";
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// The prefix a sender may put before the hex.
pub(crate) const SHA256_PREFIX: &[u8] = b"sha256=";

/// The `x-clay-signature` value for `body`: lowercase hex, no prefix (as Clay's practice sends it).
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::clay_hex;
///
/// // RFC 4231, test case 2.
/// let signature = clay_hex::sign(&WebhookSecret::new("Jefe"), b"what do ya want for nothing?")?;
/// assert_eq!(signature, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
/// # Ok::<(), clay_config::webhook::WebhookError>(())
/// ```
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> Result<String, WebhookError> {
    Ok(signature(&Key::for_signing(Scheme::ClayHex, secret)?, body))
}

fn signature(key: &Key, body: &[u8]) -> String {
    encode_hex(&key.tag(&[], body))
}

pub(crate) fn sign_headers(key: &Key, body: &[u8]) -> Result<HeaderMap, WebhookError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        SIGNATURE.clone(),
        header_value(signature(key, body), SIGNATURE_HEADER)?,
    );
    Ok(headers)
}

#[inline]
pub(crate) fn read(headers: &HeaderMap) -> Result<Received<'_>, WebhookError> {
    Ok(Received {
        prefix: [b""; 4],
        timestamp: None,
        tags: Tags::Hex(read_hex_signature(headers)?),
        signature_header: SIGNATURE_HEADER,
    })
}

/// The tag's text in `x-clay-signature`, with or without `sha256=` (its characters are checked
/// only if it does not match).
#[inline]
pub(crate) fn read_hex_signature(headers: &HeaderMap) -> Result<&[u8; HEX_TAG_LEN], WebhookError> {
    let value = single_header(headers, &SIGNATURE)?;
    let hex = value.strip_prefix(SHA256_PREFIX).unwrap_or(value);
    hex_tag_text(hex).map_err(|problem| WebhookError::MalformedSignature {
        header: SIGNATURE_HEADER,
        problem,
    })
}
