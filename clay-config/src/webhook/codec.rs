//! Reading header values: single headers, hex and base64 tags, Unix-second timestamps.
//!
//! Every function here takes bytes as received and returns an error for anything it does not
//! understand; none of them indexes past what it checked or panics.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName};

use super::error::{Malformed, WebhookError};

/// Bytes in an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// An HMAC-SHA256 tag as received.
pub(crate) type Tag = [u8; TAG_LEN];

/// Characters in a hex tag.
pub(crate) const HEX_TAG_LEN: usize = TAG_LEN * 2;

/// Characters in a padded base64 tag: `ceil(32 / 3) * 4`.
pub(crate) const BASE64_TAG_LEN: usize = 44;

/// The largest timestamp taken as Unix seconds (year 5138). Anything larger is almost surely
/// milliseconds (today's are 13 digits) and is refused instead of being read as the far future.
const MAX_UNIX_SECONDS: u64 = 99_999_999_999;

/// The one value of header `name`: missing and repeated headers are errors (with two, which
/// one was signed is ambiguous).
///
/// `name` is a parsed `HeaderName` (a `static` in each scheme's module), so a lookup only hashes.
#[inline]
pub(crate) fn single_header<'h>(
    headers: &'h HeaderMap,
    header: &'static HeaderName,
) -> Result<&'h [u8], WebhookError> {
    let name = header.as_str();
    let mut values = headers.get_all(header).iter();
    let first = values
        .next()
        .ok_or(WebhookError::MissingHeader { header: name })?;
    if values.next().is_some() {
        return Err(WebhookError::DuplicateHeader { header: name });
    }
    Ok(first.as_bytes())
}

/// The value of header `name` when it appears once, `None` when it does not appear; twice is
/// an error, as in [`single_header`].
pub(crate) fn optional_single_header<'h>(
    headers: &'h HeaderMap,
    header: &'static HeaderName,
) -> Result<Option<&'h [u8]>, WebhookError> {
    match single_header(headers, header) {
        Ok(value) => Ok(Some(value)),
        Err(WebhookError::MissingHeader { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Decodes exactly 64 lowercase hex digits. Uppercase is refused on purpose: one encoding per
/// tag, so no bit of the header can change without changing the tag.
///
/// Eight digits at a time in a `u64`, with no branch per digit (a loop of table lookups and
/// early returns was a fifth of a whole verification of a small body): each byte's high bit
/// records whether it is a lowercase hex digit, and the tag is refused once, at the end, if any
/// is not.
#[inline]
pub(crate) fn decode_hex_tag(text: &[u8]) -> Result<Tag, Malformed> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const LOW_NIBBLES: u64 = u64::from_le_bytes([0x0f; 8]);
    /// Per byte below 0x80: the high bit is set when the byte is at least `low`.
    const fn at_least(low: u8) -> u64 {
        (0x80 - low as u64) * ONES
    }
    /// Per byte below 0x80: the high bit is clear when the byte is at most `high`.
    const fn above(high: u8) -> u64 {
        (0x7f - high as u64) * ONES
    }

    if text.is_empty() {
        return Err(Malformed::Empty);
    }
    let Ok(text) = <&[u8; HEX_TAG_LEN]>::try_from(text) else {
        return Err(wrong_hex_length(text));
    };
    let (words, _) = text.as_chunks::<8>();
    let mut tag = [0u8; TAG_LEN];
    let (outputs, _) = tag.as_chunks_mut::<4>();
    let mut valid = HIGH;
    for (output, word) in outputs.iter_mut().zip(words) {
        let x = u64::from_le_bytes(*word);
        // The additions carry across bytes only from bytes of 0x80 and above, which `ascii`
        // refuses anyway.
        let ascii = !x & HIGH;
        let digit = x.wrapping_add(at_least(b'0')) & !x.wrapping_add(above(b'9'));
        let letter = x.wrapping_add(at_least(b'a')) & !x.wrapping_add(above(b'f'));
        valid &= ascii & (digit | letter);
        // '0'..='9' is 0x30..=0x39 and 'a'..='f' is 0x61..=0x66: bit 6 tells letters, which
        // are worth 9 more than their low nibble.
        let nibbles = (x & LOW_NIBBLES) + ((x >> 6) & ONES) * 9;
        // Each even byte becomes its nibble and the next one's.
        let pairs = ((nibbles << 4) | (nibbles >> 8)).to_le_bytes();
        *output = [pairs[0], pairs[2], pairs[4], pairs[6]];
    }
    if valid == HIGH {
        Ok(tag)
    } else {
        Err(Malformed::NotLowercaseHex)
    }
}

/// `text` as a hex tag's 64 characters, or what is wrong with its length. Whether they are
/// lowercase hex is [`decode_hex_tag`]'s to say.
#[inline]
pub(crate) fn hex_tag_text(text: &[u8]) -> Result<&[u8; HEX_TAG_LEN], Malformed> {
    if text.is_empty() {
        return Err(Malformed::Empty);
    }
    <&[u8; HEX_TAG_LEN]>::try_from(text).map_err(|_| wrong_hex_length(text))
}

/// True when `received` is the lowercase hex of `expected`, in constant time: `expected` is
/// encoded eight digits at a time in a `u64` and every word compared, whatever the earlier
/// ones were. Anything but the one lowercase encoding differs, so no decoding (nor check of
/// the characters) is needed to accept a genuine tag.
#[inline]
pub(crate) fn hex_tag_equal(expected: &Tag, received: &[u8; HEX_TAG_LEN]) -> bool {
    const NIBBLE_LANES: u64 = u64::from_le_bytes([0x0f, 0, 0x0f, 0, 0x0f, 0, 0x0f, 0]);
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let (bytes, _) = expected.as_chunks::<4>();
    let (words, _) = received.as_chunks::<8>();
    let mut difference = 0u64;
    for (four, eight) in bytes.iter().zip(words) {
        // Each byte into its own 16-bit lane, then its high nibble in the lane's first byte
        // (the first digit) and its low nibble in the second.
        let spread = u64::from(u32::from_le_bytes(*four));
        let spread = (spread | (spread << 16)) & 0x0000_ffff_0000_ffff;
        let spread = (spread | (spread << 8)) & 0x00ff_00ff_00ff_00ff;
        let nibbles = ((spread >> 4) & NIBBLE_LANES) | ((spread & NIBBLE_LANES) << 8);
        // '0' + n, and 39 more for n of ten and above ('a' is '0' + 49).
        let letters = ((nibbles + 0x76 * ONES) & HIGH) >> 7;
        let digits = nibbles + 0x30 * ONES + letters * 39;
        difference |= digits ^ u64::from_le_bytes(*eight);
    }
    std::hint::black_box(difference) == 0
}

fn wrong_hex_length(text: &[u8]) -> Malformed {
    Malformed::WrongLength {
        expected: HEX_TAG_LEN,
        found: text.len(),
    }
}

/// Compares two tags in constant time: every byte is compared whatever the earlier ones were,
/// and the result is hidden from the optimiser until the end. (`CtOutput`'s equality does the
/// same one byte and one optimisation barrier at a time, which cost more than the comparison.)
#[inline]
pub(crate) fn tags_equal(expected: &Tag, received: &Tag) -> bool {
    let mut difference = 0u8;
    for (a, b) in expected.iter().zip(received) {
        difference |= a ^ b;
    }
    std::hint::black_box(difference) == 0
}

/// Lowercase hex of `bytes`.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes a padded, standard-alphabet base64 tag of exactly 32 bytes. Non-zero trailing bits
/// are refused (the engine's default), so each tag has exactly one encoding.
pub(crate) fn decode_base64_tag(text: &[u8]) -> Result<Tag, Malformed> {
    if text.is_empty() {
        return Err(Malformed::Empty);
    }
    if text.len() != BASE64_TAG_LEN {
        return Err(Malformed::WrongLength {
            expected: BASE64_TAG_LEN,
            found: text.len(),
        });
    }
    let decoded = STANDARD.decode(text).map_err(|_| Malformed::NotBase64)?;
    Tag::try_from(decoded.as_slice()).map_err(|_| Malformed::NotBase64)
}

/// Standard base64 of `bytes`, padded.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes a secret's base64 (Standard Webhooks' `whsec_…`).
pub(crate) fn decode_base64_secret(text: &str) -> Result<Vec<u8>, Malformed> {
    STANDARD.decode(text).map_err(|_| Malformed::NotBase64)
}

/// Reads Unix seconds: ASCII digits only, at most [`MAX_UNIX_SECONDS`].
pub(crate) fn parse_unix_seconds(text: &[u8]) -> Result<u64, Malformed> {
    match text.first() {
        None => return Err(Malformed::Empty),
        Some(b'-') => return Err(Malformed::Negative),
        Some(_) => {}
    }
    if !text.iter().all(u8::is_ascii_digit) {
        return Err(Malformed::NotANumber);
    }
    let mut seconds: u64 = 0;
    for digit in text {
        seconds = seconds
            .checked_mul(10)
            .and_then(|s| s.checked_add(u64::from(digit - b'0')))
            .filter(|s| *s <= MAX_UNIX_SECONDS)
            .ok_or(Malformed::TooLarge)?;
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_strictness() {
        let tag: Tag = std::array::from_fn(|i| u8::try_from(i * 7 % 256).unwrap_or(0));
        let text = encode_hex(&tag);
        assert_eq!(decode_hex_tag(text.as_bytes()), Ok(tag));
        assert_eq!(
            decode_hex_tag(text.to_uppercase().as_bytes()),
            Err(Malformed::NotLowercaseHex)
        );
        assert_eq!(
            decode_hex_tag(&text.as_bytes()[1..]),
            Err(Malformed::WrongLength {
                expected: 64,
                found: 63
            })
        );
        assert_eq!(decode_hex_tag(b""), Err(Malformed::Empty));
        let mut bad = text.clone().into_bytes();
        bad[10] = b'g';
        assert_eq!(decode_hex_tag(&bad), Err(Malformed::NotLowercaseHex));
        // Every byte that is not a lowercase hex digit, in every position, is refused.
        for position in 0..HEX_TAG_LEN {
            for byte in 0..=255u8 {
                let mut text = text.clone().into_bytes();
                text[position] = byte;
                let valid = byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
                assert_eq!(
                    decode_hex_tag(&text).is_ok(),
                    valid,
                    "{byte:#04x} at {position}"
                );
            }
        }
        assert_eq!(
            decode_hex_tag(&[b'0'; 65]),
            Err(Malformed::WrongLength {
                expected: 64,
                found: 65
            })
        );
    }

    #[test]
    fn every_byte_value_round_trips_in_every_position() {
        for value in 0..=255u8 {
            let tag: Tag =
                std::array::from_fn(|i| value.wrapping_add(u8::try_from(i).unwrap_or(0)));
            assert_eq!(
                decode_hex_tag(encode_hex(&tag).as_bytes()),
                Ok(tag),
                "{value}"
            );
        }
    }

    #[test]
    fn hex_tag_equal_is_the_lowercase_encoding_and_nothing_else() {
        for value in 0..=255u8 {
            let tag: Tag = std::array::from_fn(|i| {
                value
                    .wrapping_mul(7)
                    .wrapping_add(u8::try_from(i).unwrap_or(0))
            });
            let text = encode_hex(&tag).into_bytes();
            let text: [u8; HEX_TAG_LEN] = text.try_into().expect("64 characters");
            assert!(hex_tag_equal(&tag, &text), "{value}");
            // Every other byte in every position differs: uppercase, other digits, anything.
            for position in [0, 1, 7, 8, 33, 62, 63] {
                for byte in 0..=255u8 {
                    if byte == text[position] {
                        continue;
                    }
                    let mut other = text;
                    other[position] = byte;
                    assert!(!hex_tag_equal(&tag, &other), "{byte:#04x} at {position}");
                }
            }
        }
        assert_eq!(hex_tag_text(b""), Err(Malformed::Empty));
        assert_eq!(
            hex_tag_text(&[b'a'; 63]),
            Err(Malformed::WrongLength {
                expected: 64,
                found: 63
            })
        );
    }

    #[test]
    fn tags_equal_compares_every_byte() {
        let tag: Tag = std::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
        assert!(tags_equal(&tag, &tag));
        for position in 0..TAG_LEN {
            for bit in 0..8 {
                let mut other = tag;
                other[position] ^= 1 << bit;
                assert!(!tags_equal(&tag, &other), "byte {position} bit {bit}");
            }
        }
    }

    #[test]
    fn base64_refuses_trailing_bits_and_wrong_sizes() {
        let tag = [0xabu8; TAG_LEN];
        let text = encode_base64(&tag);
        assert_eq!(text.len(), BASE64_TAG_LEN);
        assert_eq!(decode_base64_tag(text.as_bytes()), Ok(tag));
        // The last character before `=` carries 2 unused bits, zero in the canonical encoding;
        // a character with one of them set must not decode to the same tag.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut loose = text.clone().into_bytes();
        let index = ALPHABET
            .iter()
            .position(|c| *c == loose[42])
            .expect("a base64 character");
        assert_eq!(index & 0b11, 0);
        loose[42] = ALPHABET[index | 1];
        assert_eq!(decode_base64_tag(&loose), Err(Malformed::NotBase64));
        // 33 bytes encode to 44 characters without padding: the wrong size, refused.
        let longer = encode_base64(&[1u8; 33]);
        assert_eq!(longer.len(), 44);
        assert_eq!(
            decode_base64_tag(longer.as_bytes()),
            Err(Malformed::NotBase64)
        );
    }

    #[test]
    fn unix_seconds() {
        assert_eq!(parse_unix_seconds(b"1614265330"), Ok(1_614_265_330));
        assert_eq!(parse_unix_seconds(b"0"), Ok(0));
        assert_eq!(parse_unix_seconds(b""), Err(Malformed::Empty));
        assert_eq!(parse_unix_seconds(b"-5"), Err(Malformed::Negative));
        assert_eq!(parse_unix_seconds(b"+5"), Err(Malformed::NotANumber));
        assert_eq!(parse_unix_seconds(b"12a"), Err(Malformed::NotANumber));
        assert_eq!(parse_unix_seconds(b" 12"), Err(Malformed::NotANumber));
        assert_eq!(parse_unix_seconds(b"1.5"), Err(Malformed::NotANumber));
        assert_eq!(
            parse_unix_seconds(b"1614265330000"),
            Err(Malformed::TooLarge)
        );
        assert_eq!(
            parse_unix_seconds(b"99999999999999999999999999"),
            Err(Malformed::TooLarge)
        );
        assert_eq!(
            parse_unix_seconds("١٢".as_bytes()),
            Err(Malformed::NotANumber)
        );
    }
}
