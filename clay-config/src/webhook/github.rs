//! [`Scheme::GitHub`]: `x-hub-signature-256: sha256=<hex>`, the lowercase
//! hex HMAC-SHA256 of the raw body. GitHub sends no timestamp, so a captured delivery verifies
//! forever; a [`ReplayGuard`](super::ReplayGuard) refuses it again for the verifier's tolerance,
//! keyed on the `x-github-delivery` id **and** the signature (the id is not signed, so a replay
//! with a fresh id would otherwise pass).

use http::{HeaderMap, HeaderName};

use super::clay_hex::SHA256_PREFIX;
use super::codec::{encode_hex, hex_tag_text, single_header};
use super::error::{Malformed, WebhookError};
use super::key::Key;
use super::received::{Received, Tags};
use super::{Scheme, header_value};
use crate::WebhookSecret;

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// The header holding GitHub's delivery id (a GUID, the same on a redelivery; not signed).
pub const DELIVERY_HEADER: &str = "x-github-delivery";
pub(crate) static DELIVERY: HeaderName = HeaderName::from_static(DELIVERY_HEADER);

/// The `x-hub-signature-256` value for `body`, `sha256=` included.
///
/// ```
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::github;
///
/// // GitHub's documented example ("Validating webhook deliveries").
/// let secret = WebhookSecret::new("It's a Secret to Everybody");
/// assert_eq!(
///     github::sign(&secret, b"Hello, World!")?,
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
/// );
/// # Ok::<(), clay_config::webhook::WebhookError>(())
/// ```
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> Result<String, WebhookError> {
    Ok(signature(&Key::for_signing(Scheme::GitHub, secret)?, body))
}

fn signature(key: &Key, body: &[u8]) -> String {
    format!("sha256={}", encode_hex(&key.tag(&[], body)))
}

pub(crate) fn sign_headers(key: &Key, body: &[u8]) -> Result<HeaderMap, WebhookError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        SIGNATURE.clone(),
        header_value(signature(key, body), SIGNATURE_HEADER)?,
    );
    Ok(headers)
}

pub(crate) fn read(headers: &HeaderMap) -> Result<Received<'_>, WebhookError> {
    let value = single_header(headers, &SIGNATURE)?;
    let malformed = |problem| WebhookError::MalformedSignature {
        header: SIGNATURE_HEADER,
        problem,
    };
    let hex = value
        .strip_prefix(SHA256_PREFIX)
        .ok_or_else(|| malformed(Malformed::MissingPrefix))?;
    Ok(Received {
        prefix: [b""; 4],
        timestamp: None,
        tags: Tags::Hex(hex_tag_text(hex).map_err(malformed)?),
        signature_header: SIGNATURE_HEADER,
    })
}
