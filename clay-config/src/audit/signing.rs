//! Ed25519 keys for signed checkpoints: [`SigningKey`] (the private half, held by the writer)
//! and [`VerifyingKey`] (the public half, given to whoever verifies).
//!
//! Both have one text form, the one `cargo clay audit-log keygen` writes and prints:
//! `clay-audit-ed25519-secret:` or `clay-audit-ed25519-public:` and 64 lowercase hex digits
//! (the 32-byte Ed25519 seed, or the 32-byte public key).

use std::fmt;
use std::str::FromStr;

use ed25519_compact::{KeyPair, Noise, PublicKey, Seed, Signature};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::AuditError;
use super::chain::{from_hex, to_hex};
use crate::Secret;

/// The text before a private key's hex digits.
pub const SECRET_KEY_PREFIX: &str = "clay-audit-ed25519-secret:";
/// The text before a public key's hex digits.
pub const PUBLIC_KEY_PREFIX: &str = "clay-audit-ed25519-public:";

/// The private key that signs an audit log's checkpoints. Keep it out of the log's host if
/// you can (see the [module documentation](super)); load it like any secret, e.g. a
/// `CLAY_AUDIT_SIGNING_KEY` field of type [`Secret`].
///
/// `Debug` shows only the [key id](VerifyingKey::key_id) of its public half; the private key
/// is wiped from memory when dropped.
///
/// ```
/// use clay_config::Secret;
/// use clay_config::audit::SigningKey;
///
/// let key = SigningKey::generate()?;
/// let text = key.to_secret();                       // what `keygen` writes to its file
/// let again = SigningKey::from_secret(&text)?;
/// assert_eq!(again.verifying_key(), key.verifying_key());
/// assert!(!format!("{key:?}").contains(&text.expose_secret()[26..]));
/// assert!(SigningKey::from_secret(&Secret::new("not a key")).is_err());
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    pair: KeyPair,
}

impl SigningKey {
    /// A new random key, from the operating system's generator.
    pub fn generate() -> Result<SigningKey, AuditError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice())
            .map_err(|e| AuditError::Parse(format!("no randomness for a new signing key: {e}")))?;
        SigningKey::from_seed(&seed)
    }

    /// Parses the text `cargo clay audit-log keygen` writes (`clay-audit-ed25519-secret:` and
    /// 64 hex digits; surrounding whitespace ignored). The error never shows the value.
    pub fn from_secret(secret: &Secret) -> Result<SigningKey, AuditError> {
        let text = secret.expose_secret().trim();
        let Some(hex) = text.strip_prefix(SECRET_KEY_PREFIX) else {
            let hint = if text.starts_with(PUBLIC_KEY_PREFIX) {
                "it is a public key; the signing key is the one keygen wrote to its file"
            } else {
                "it does not start with `clay-audit-ed25519-secret:`"
            };
            return Err(AuditError::Parse(format!(
                "the audit signing key{} is not a key `cargo clay audit-log keygen` wrote: {hint}",
                named(secret)
            )));
        };
        let seed = from_hex::<32>(hex).map(Zeroizing::new).ok_or_else(|| {
            AuditError::Parse(format!(
                "the audit signing key{} is not `clay-audit-ed25519-secret:` and 64 lowercase hex digits",
                named(secret)
            ))
        })?;
        SigningKey::from_seed(&seed)
    }

    fn from_seed(seed: &Zeroizing<[u8; 32]>) -> Result<SigningKey, AuditError> {
        let mut seed = Seed::new(**seed);
        let pair = KeyPair::try_from_seed(seed)
            .map_err(|_| AuditError::Parse("the audit signing key is all zeros".to_owned()));
        // `Seed` is `Copy` and not wiped on drop: wipe this copy by hand.
        seed.wipe_mut();
        Ok(SigningKey { pair: pair? })
    }

    /// The text form (`clay-audit-ed25519-secret:…`), as a [`Secret`]: what `keygen` writes.
    pub fn to_secret(&self) -> Secret {
        let mut seed = self.pair.sk.seed();
        let mut text = String::with_capacity(SECRET_KEY_PREFIX.len() + 64);
        text.push_str(SECRET_KEY_PREFIX);
        let mut hex = to_hex(&seed[..]);
        text.push_str(&hex);
        hex.zeroize();
        seed.wipe_mut();
        Secret::new(text)
    }

    /// The public half, to verify the checkpoints with.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_public(self.pair.pk)
    }

    /// Signs `message` (with fresh noise against fault attacks when the system has randomness).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut noise = [0u8; Noise::BYTES];
        let noise = getrandom::fill(&mut noise).ok().map(|()| Noise::new(noise));
        *self.pair.sk.sign(message, noise)
    }
}

fn named(secret: &Secret) -> String {
    secret
        .var()
        .map(|var| format!(" in `{var}`"))
        .unwrap_or_default()
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.verifying_key().key_id())
            .finish_non_exhaustive()
    }
}

/// The public key that verifies an audit log's checkpoints. Not a secret: give it to CI and
/// auditors. Shown and parsed as `clay-audit-ed25519-public:` and 64 hex digits (bare hex is
/// accepted too).
///
/// ```
/// use clay_config::audit::{SigningKey, VerifyingKey};
///
/// let public = SigningKey::generate()?.verifying_key();
/// let text = public.to_string();
/// assert!(text.starts_with("clay-audit-ed25519-public:"));
/// assert_eq!(text.parse::<VerifyingKey>()?, public);
/// assert!("clay-audit-ed25519-public:00".parse::<VerifyingKey>().is_err());
/// # Ok::<(), clay_config::audit::AuditError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyingKey {
    bytes: [u8; 32],
}

impl VerifyingKey {
    fn from_public(public: PublicKey) -> Self {
        VerifyingKey { bytes: *public }
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// A short id for the key (16 hex digits of its SHA-256), written in each checkpoint so a
    /// verifier can say which key signed it.
    pub fn key_id(&self) -> String {
        to_hex(&Sha256::digest(self.bytes)[..8])
    }

    /// True when `signature` is this key's signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        PublicKey::new(self.bytes)
            .verify(message, &Signature::new(*signature))
            .is_ok()
    }
}

impl fmt::Display for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", to_hex(&self.bytes))
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({self})")
    }
}

impl FromStr for VerifyingKey {
    type Err = AuditError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.starts_with(SECRET_KEY_PREFIX) {
            // Never echo it: it is the private key.
            return Err(AuditError::Parse(
                "that is the private signing key; verify with the public key keygen printed"
                    .to_owned(),
            ));
        }
        let hex = text.strip_prefix(PUBLIC_KEY_PREFIX).unwrap_or(text);
        let bytes = from_hex::<32>(hex).ok_or_else(|| {
            AuditError::Parse(
                "a public key is `clay-audit-ed25519-public:` and 64 lowercase hex digits"
                    .to_owned(),
            )
        })?;
        let public = PublicKey::new(bytes);
        public.validate().map_err(|_| {
            AuditError::Parse("the public key is not a valid Ed25519 point".to_owned())
        })?;
        Ok(VerifyingKey::from_public(public))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = SigningKey::generate().expect("randomness");
        let signature = key.sign(b"message");
        assert!(key.verifying_key().verify(b"message", &signature));
        assert!(!key.verifying_key().verify(b"messagf", &signature));
        let other = SigningKey::generate().expect("randomness");
        assert!(!other.verifying_key().verify(b"message", &signature));
    }

    #[test]
    fn text_forms_round_trip_and_errors_never_echo() {
        let key = SigningKey::generate().expect("randomness");
        let secret = key.to_secret();
        let text = secret.expose_secret().to_owned();
        assert_eq!(text.len(), SECRET_KEY_PREFIX.len() + 64);
        let back = SigningKey::from_secret(&Secret::new(format!("{text}\n"))).expect("parses");
        assert_eq!(back.verifying_key(), key.verifying_key());
        let hex = &text[SECRET_KEY_PREFIX.len()..];
        assert!(!format!("{key:?}").contains(hex));
        // A private key given where a public one is expected: refused, not echoed.
        let err = text
            .parse::<VerifyingKey>()
            .expect_err("refused")
            .to_string();
        assert!(!err.contains(hex), "{err}");
        // Truncated, upper case, wrong prefix, all zeros.
        for bad in [
            &text[..text.len() - 1],
            &text.to_uppercase(),
            hex,
            &format!("{SECRET_KEY_PREFIX}{}", "0".repeat(64)),
        ] {
            let err = SigningKey::from_secret(&Secret::new(bad))
                .expect_err("refused")
                .to_string();
            assert!(!err.contains(&hex[..16]), "{err}");
        }
        let public = key.verifying_key().to_string();
        let err = SigningKey::from_secret(&Secret::new(public)).expect_err("a public key");
        assert!(err.to_string().contains("public key"), "{err}");
    }
}
