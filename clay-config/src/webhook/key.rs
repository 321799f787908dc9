//! A secret turned into an HMAC-SHA256 key, and what a request claims was signed with it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::Scheme;
use super::codec::{Tag, decode_base64_secret};
use super::error::{Malformed, WebhookError};
use crate::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// Standard Webhooks secrets are `whsec_` + base64 of the key bytes.
const STANDARD_WEBHOOKS_SECRET_PREFIX: &str = "whsec_";

/// An HMAC-SHA256 key, with the inner and outer pads already hashed so a verification costs
/// only the message's blocks.
///
/// The hashed pads are not zeroized on drop: `hmac`'s `zeroize` feature wipes every transient
/// MAC state too, which cost a quarter of the throughput on small bodies (ring does not wipe
/// either). The secret's text is zeroized by [`WebhookSecret`]; the pads let one sign, not
/// recover the secret.
#[derive(Clone)]
pub(crate) struct Key {
    keyed: HmacSha256,
}

impl Key {
    /// The key `scheme` derives from `secret`: its UTF-8 bytes, except for Standard Webhooks,
    /// whose secret is `whsec_` + base64 (the prefix is optional, as in its libraries).
    pub(crate) fn new(scheme: Scheme, secret: &WebhookSecret) -> Result<Key, Malformed> {
        let text = secret.expose_secret();
        let keyed = match scheme {
            Scheme::StandardWebhooks => {
                let encoded = text
                    .strip_prefix(STANDARD_WEBHOOKS_SECRET_PREFIX)
                    .unwrap_or(text);
                let bytes = Zeroizing::new(decode_base64_secret(encoded)?);
                keyed(&bytes)?
            }
            Scheme::ClayHex | Scheme::ClayTimestamped | Scheme::GitHub | Scheme::Stripe => {
                keyed(text.as_bytes())?
            }
        };
        Ok(Key { keyed })
    }

    /// [`Key::new`], with the error a caller reports.
    pub(crate) fn for_signing(scheme: Scheme, secret: &WebhookSecret) -> Result<Key, WebhookError> {
        Key::new(scheme, secret).map_err(|problem| WebhookError::InvalidSecret { problem })
    }

    /// The MAC state after `parts` then `body`: the signed message is their concatenation,
    /// fed piece by piece so the body is never copied.
    #[inline]
    fn absorb(&self, parts: &[&[u8]], body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        for part in parts.iter().filter(|part| !part.is_empty()) {
            mac.update(part);
        }
        mac.update(body);
        mac
    }

    /// The tag of `parts` followed by `body`: compare it with a received one through
    /// [`Tags::matches`](super::received::Tags::matches), which takes constant time.
    #[inline]
    pub(crate) fn tag(&self, parts: &[&[u8]], body: &[u8]) -> Tag {
        self.absorb(parts, body).finalize().into_bytes().into()
    }
}

fn keyed(bytes: &[u8]) -> Result<HmacSha256, Malformed> {
    if bytes.is_empty() {
        // HMAC accepts an empty key, and so would anyone forging a signature.
        return Err(Malformed::Empty);
    }
    // HMAC takes keys of any length; the error arm is never taken.
    HmacSha256::new_from_slice(bytes).map_err(|_| Malformed::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::codec::encode_hex;

    /// RFC 4231, section 4.3 (test case 2): key "Jefe", data "what do ya want for nothing?".
    #[test]
    fn rfc_4231_test_case_2() {
        let key = Key::new(Scheme::ClayHex, &WebhookSecret::new("Jefe")).expect("a key");
        let tag = key.tag(&[], b"what do ya want for nothing?");
        assert_eq!(
            encode_hex(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Split anywhere, the message is the same.
        assert_eq!(key.tag(&[b"what do ", b"ya want"], b" for nothing?"), tag);
        assert_ne!(key.tag(&[], b"what do ya want for nothing!"), tag);
    }

    #[test]
    fn empty_and_undecodable_secrets_are_refused() {
        assert!(matches!(
            Key::new(Scheme::GitHub, &WebhookSecret::new("")),
            Err(Malformed::Empty)
        ));
        assert!(matches!(
            Key::new(Scheme::StandardWebhooks, &WebhookSecret::new("whsec_")),
            Err(Malformed::Empty)
        ));
        assert!(matches!(
            Key::new(
                Scheme::StandardWebhooks,
                &WebhookSecret::new("whsec_not base64!")
            ),
            Err(Malformed::NotBase64)
        ));
    }
}
