//! Webhook verification: the known vectors, sign/verify round trips, single-bit changes,
//! rotation, the replay window, and every bad input we know of (an `Err`, never a panic, and
//! never an error that repeats the secret or the expected signature).

#![cfg(feature = "webhook")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clay_config::WebhookSecret;
use clay_config::webhook::{
    Malformed, Scheme, WebhookError, WebhookVerifier, clay_hex, clay_timestamped, github,
    standard_webhooks, stripe,
};
use http::{HeaderMap, HeaderName, HeaderValue};

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PLAIN_SECRET: &str = "whsec_plain-bytes-secret-0a1b2c3d";
const T0: u64 = 1_700_000_000;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn secret_for(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::StandardWebhooks => STANDARD_SECRET,
        _ => PLAIN_SECRET,
    }
}

fn verifier(scheme: Scheme) -> WebhookVerifier {
    WebhookVerifier::new(scheme, WebhookSecret::new(secret_for(scheme)))
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    map
}

fn set(mut map: HeaderMap, name: &'static str, value: &[u8]) -> HeaderMap {
    map.insert(
        HeaderName::from_static(name),
        HeaderValue::from_bytes(value).expect("a header value"),
    );
    map
}

/// The header holding the signature, for each scheme.
fn signature_header(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::ClayHex | Scheme::ClayTimestamped => "x-clay-signature",
        Scheme::StandardWebhooks => "webhook-signature",
        Scheme::GitHub => "x-hub-signature-256",
        Scheme::Stripe => "stripe-signature",
    }
}

/// `signed` with the signature itself replaced by `text`, keeping the scheme's framing
/// (`sha256=`, `v1,`, `t=…,v1=`); `None` when no HTTP header can hold the result.
fn try_with_signature_text(scheme: Scheme, signed: &HeaderMap, text: &[u8]) -> Option<HeaderMap> {
    let framed = match scheme {
        Scheme::ClayHex | Scheme::ClayTimestamped => text.to_vec(),
        Scheme::GitHub => [b"sha256=".as_slice(), text].concat(),
        Scheme::StandardWebhooks => [b"v1,".as_slice(), text].concat(),
        Scheme::Stripe => [format!("t={T0},v1=").as_bytes(), text].concat(),
    };
    let mut headers = signed.clone();
    headers.insert(
        HeaderName::from_static(signature_header(scheme)),
        HeaderValue::from_bytes(&framed).ok()?,
    );
    Some(headers)
}

fn with_signature_text(scheme: Scheme, signed: &HeaderMap, text: &[u8]) -> HeaderMap {
    try_with_signature_text(scheme, signed, text).expect("a valid header value")
}

/// Everything an error must never show: the secrets and the right signatures in every form.
fn assert_no_leak(error: &WebhookError, secrets: &[&str]) {
    for shown in [error.to_string(), format!("{error:?}")] {
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(!shown.contains(secret), "{shown:?} leaks {secret:?}");
        }
    }
}

/// The secrets and expected signature values of `signed`, for [`assert_no_leak`].
fn sensitive(scheme: Scheme, signed: &HeaderMap) -> Vec<String> {
    let mut all = vec![secret_for(scheme).to_owned()];
    let value = signed[signature_header(scheme)]
        .to_str()
        .expect("ASCII")
        .to_owned();
    // The bare hex or base64 as well as the full header value.
    for part in value.split([',', '=']) {
        if part.len() >= 40 {
            all.push(part.to_owned());
        }
    }
    all.push(value);
    all
}

fn check_err_without_leak(
    scheme: Scheme,
    signed: &HeaderMap,
    headers: &HeaderMap,
    body: &[u8],
) -> WebhookError {
    let error = verifier(scheme)
        .verify_at(headers, body, at(T0))
        .expect_err("must be refused");
    let sensitive = sensitive(scheme, signed);
    let sensitive: Vec<&str> = sensitive.iter().map(String::as_str).collect();
    assert_no_leak(&error, &sensitive);
    error
}

// ---------------------------------------------------------------------------------------------
// Known vectors.

/// GitHub Docs, "Validating webhook deliveries" → "Testing the webhook payload validation":
/// secret `It's a Secret to Everybody`, payload `Hello, World!`.
#[test]
fn github_documented_example() {
    let secret = WebhookSecret::new("It's a Secret to Everybody");
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(
        github::sign(&secret, b"Hello, World!").expect("signed"),
        expected
    );
    let verifier = WebhookVerifier::new(Scheme::GitHub, secret);
    let headers = headers(&[("x-hub-signature-256", expected)]);
    assert_eq!(verifier.verify(&headers, b"Hello, World!"), Ok(()));
    assert_eq!(
        verifier.verify(&headers, b"Hello, World"),
        Err(WebhookError::WrongSignature {
            header: "x-hub-signature-256"
        })
    );
}

/// The Standard Webhooks reference libraries' test vector (standard-webhooks/standard-webhooks,
/// libraries' `test_sign_function` / `verify` tests).
#[test]
fn standard_webhooks_library_vector() {
    let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let timestamp = 1_614_265_330;
    let body = br#"{"test": 2432232314}"#;
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(
        standard_webhooks::sign(&secret, id, timestamp, body).expect("signed"),
        expected
    );
    let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, secret);
    let headers = headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", expected),
    ]);
    assert_eq!(verifier.verify_at(&headers, body, at(timestamp)), Ok(()));
    // The same delivery, replayed with today's clock.
    assert!(matches!(
        verifier.verify(&headers, body),
        Err(WebhookError::StaleTimestamp { .. })
    ));
    // The id is signed.
    let other_id = set(
        headers.clone(),
        "webhook-id",
        b"msg_p5jXN8AQM9LWM0D4loKWxJel",
    );
    assert!(matches!(
        verifier.verify_at(&other_id, body, at(timestamp)),
        Err(WebhookError::WrongSignature { .. })
    ));
    // The prefix is optional on the secret, as in the reference libraries.
    let unprefixed = WebhookVerifier::new(
        Scheme::StandardWebhooks,
        WebhookSecret::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    );
    assert_eq!(unprefixed.verify_at(&headers, body, at(timestamp)), Ok(()));
}

/// RFC 4231, section 4.3, test case 2 (HMAC-SHA-256): key "Jefe",
/// data "what do ya want for nothing?".
#[test]
fn rfc_4231_test_case_2() {
    let tag = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    let secret = WebhookSecret::new("Jefe");
    let data = b"what do ya want for nothing?";
    assert_eq!(clay_hex::sign(&secret, data).expect("signed"), tag);
    let verifier = WebhookVerifier::new(Scheme::ClayHex, secret);
    assert_eq!(
        verifier.verify(&headers(&[("x-clay-signature", tag)]), data),
        Ok(())
    );
    // ClayHex also accepts an optional `sha256=` prefix.
    let prefixed = format!("sha256={tag}");
    assert_eq!(
        verifier.verify(&headers(&[("x-clay-signature", &prefixed)]), data),
        Ok(())
    );
}

/// The timestamped schemes against ring's HMAC, an independent implementation.
#[test]
fn timestamped_schemes_match_an_independent_hmac() {
    let body = br#"{"id":"evt_1","object":"event"}"#;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, PLAIN_SECRET.as_bytes());
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let message = [format!("{T0}.").as_bytes(), body.as_slice()].concat();
    let expected = hex(ring::hmac::sign(&key, &message).as_ref());

    let secret = WebhookSecret::new(PLAIN_SECRET);
    assert_eq!(
        clay_timestamped::sign(&secret, T0, body).expect("signed"),
        expected
    );
    assert_eq!(
        stripe::sign(&secret, T0, body).expect("signed"),
        format!("t={T0},v1={expected}")
    );
    let stripe_headers = headers(&[(
        "stripe-signature",
        &format!(
            "t={T0},v1={expected},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
        ),
    )]);
    assert_eq!(
        verifier(Scheme::Stripe).verify_at(&stripe_headers, body, at(T0)),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips and single-bit changes.

#[test]
fn sign_then_verify_for_every_scheme() {
    let bodies: [&[u8]; 4] = [
        b"",
        b"{}",
        "{\"name\":\"Zo\u{eb} \u{1f600}\"}".as_bytes(),
        &[0, 159, 146, 150, 255, 10, 13],
    ];
    for scheme in Scheme::ALL {
        let verifier = verifier(scheme);
        for body in bodies {
            let signed = verifier.sign_at(body, at(T0)).expect("signed");
            assert_eq!(
                verifier.verify_at(&signed, body, at(T0)),
                Ok(()),
                "{scheme}"
            );
            let now = verifier.sign(body).expect("signed");
            assert_eq!(verifier.verify(&now, body), Ok(()), "{scheme}");
        }
    }
}

#[test]
fn every_single_bit_change_of_body_signature_or_timestamp_fails() {
    let body = br#"{"event":"table.row.created","id":"r_1"}"#;
    for scheme in Scheme::ALL {
        let verifier = verifier(scheme);
        let signed = verifier.sign_at(body, at(T0)).expect("signed");
        assert_eq!(verifier.verify_at(&signed, body, at(T0)), Ok(()));

        for byte in 0..body.len() {
            for bit in 0..8 {
                let mut flipped = body.to_vec();
                flipped[byte] ^= 1 << bit;
                assert!(
                    verifier.verify_at(&signed, &flipped, at(T0)).is_err(),
                    "{scheme}: body byte {byte} bit {bit}"
                );
            }
        }

        // Every header the scheme signs or reads: signature, timestamp, id.
        let mut flips = 0;
        for (name, value) in &signed {
            for byte in 0..value.len() {
                for bit in 0..8 {
                    let mut bytes = value.as_bytes().to_vec();
                    bytes[byte] ^= 1 << bit;
                    // Some flips give bytes no HTTP header may hold (control characters): no
                    // request can carry them, so there is nothing to verify.
                    let Ok(flipped_value) = HeaderValue::from_bytes(&bytes) else {
                        continue;
                    };
                    let mut flipped = signed.clone();
                    flipped.insert(name.clone(), flipped_value);
                    flips += 1;
                    assert!(
                        verifier.verify_at(&flipped, body, at(T0)).is_err(),
                        "{scheme}: header {name} byte {byte} bit {bit}: {:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
        assert!(flips > 400, "{scheme}: only {flips} flips tried");
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation.

#[test]
fn rotation_accepts_either_secret_and_nothing_else() {
    for scheme in Scheme::ALL {
        let (old, new, other) = match scheme {
            Scheme::StandardWebhooks => (
                "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQ=",
                "whsec_bmV3LW5ldy1uZXctbmV3LW5ldy1uZXc=",
                "whsec_b3RoZXItb3RoZXItb3RoZXItb3RoZXI=",
            ),
            _ => ("old-secret-value", "new-secret-value", "other-secret-value"),
        };
        let body = b"{\"rotated\":true}";
        let receiver = WebhookVerifier::new(scheme, WebhookSecret::new(new))
            .with_previous(WebhookSecret::new(old));
        for (sender, accepted) in [(old, true), (new, true), (other, false)] {
            let signed = WebhookVerifier::new(scheme, WebhookSecret::new(sender))
                .sign_at(body, at(T0))
                .expect("signed");
            let result = receiver.verify_at(&signed, body, at(T0));
            if accepted {
                assert_eq!(result, Ok(()), "{scheme} {sender}");
            } else {
                assert_eq!(
                    result,
                    Err(WebhookError::WrongSignature {
                        header: signature_header(scheme)
                    }),
                    "{scheme} {sender}"
                );
            }
        }
        // Once the old secret is dropped, its signatures stop working.
        let rotated = WebhookVerifier::new(scheme, WebhookSecret::new(new));
        let by_old = WebhookVerifier::new(scheme, WebhookSecret::new(old))
            .sign_at(body, at(T0))
            .expect("signed");
        assert!(
            rotated.verify_at(&by_old, body, at(T0)).is_err(),
            "{scheme}"
        );
    }
}

#[test]
fn standard_webhooks_any_valid_entry_passes_beside_malformed_and_foreign_ones() {
    let verifier = verifier(Scheme::StandardWebhooks);
    let body = b"{}";
    let signed = verifier.sign_at(body, at(T0)).expect("signed");
    let good = signed["webhook-signature"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let foreign = WebhookVerifier::new(
        Scheme::StandardWebhooks,
        WebhookSecret::new("whsec_Zm9yZWlnbi1mb3JlaWduLWZvcmVpZ24="),
    )
    .sign_at(body, at(T0))
    .expect("signed")["webhook-signature"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    for list in [
        format!("{foreign} {good}"),
        format!("{good} {foreign}"),
        format!("v1, v1,!!!! v2,abc v1a,AAAA {good}"),
        format!("  {good}  "),
        format!("v1,{} {good} garbage", "A".repeat(44)),
    ] {
        let headers = set(signed.clone(), "webhook-signature", list.as_bytes());
        assert_eq!(verifier.verify_at(&headers, body, at(T0)), Ok(()), "{list}");
    }
    // Foreign and malformed alone: refused.
    for (list, expected) in [
        (
            foreign.clone(),
            WebhookError::WrongSignature {
                header: "webhook-signature",
            },
        ),
        (
            format!("v1a,{} v2,{}", &good[3..], &good[3..]),
            WebhookError::MalformedSignature {
                header: "webhook-signature",
                problem: Malformed::NoSupportedSignature,
            },
        ),
        (
            "v1,".to_owned(),
            WebhookError::MalformedSignature {
                header: "webhook-signature",
                problem: Malformed::Empty,
            },
        ),
        (
            "v1,!!!!".to_owned(),
            WebhookError::MalformedSignature {
                header: "webhook-signature",
                problem: Malformed::WrongLength {
                    expected: 44,
                    found: 4,
                },
            },
        ),
    ] {
        let headers = set(signed.clone(), "webhook-signature", list.as_bytes());
        assert_eq!(
            verifier.verify_at(&headers, body, at(T0)),
            Err(expected),
            "{list}"
        );
    }
}

#[test]
fn stripe_only_v1_counts_and_any_valid_v1_passes() {
    let verifier = verifier(Scheme::Stripe);
    let body = b"{\"object\":\"event\"}";
    let good = stripe::sign(&WebhookSecret::new(PLAIN_SECRET), T0, body).expect("signed");
    let good_hex = good.rsplit('=').next().expect("a v1 value").to_owned();
    let foreign_hex = stripe::sign(&WebhookSecret::new("whsec_foreign"), T0, body)
        .expect("signed")
        .rsplit('=')
        .next()
        .expect("a v1 value")
        .to_owned();
    for value in [
        format!("t={T0},v1={foreign_hex},v1={good_hex}"),
        format!("t={T0},v1=zz,v1={good_hex},v0={foreign_hex}"),
        format!("v1={good_hex},t={T0}"),
        format!("t={T0},v1={good_hex},scheme=unknown,junk"),
    ] {
        let headers = headers(&[("stripe-signature", &value)]);
        assert_eq!(
            verifier.verify_at(&headers, body, at(T0)),
            Ok(()),
            "{value}"
        );
    }
    // The right tag as `v0` (or any other version) does not count.
    for (value, expected) in [
        (
            format!("t={T0},v0={good_hex}"),
            Malformed::NoSupportedSignature,
        ),
        (
            format!("t={T0},v2={good_hex}"),
            Malformed::NoSupportedSignature,
        ),
        (
            format!("t={T0},V1={good_hex}"),
            Malformed::NoSupportedSignature,
        ),
        (format!("t={T0},v1="), Malformed::Empty),
    ] {
        let headers = headers(&[("stripe-signature", &value)]);
        assert_eq!(
            verifier.verify_at(&headers, body, at(T0)),
            Err(WebhookError::MalformedSignature {
                header: "stripe-signature",
                problem: expected
            }),
            "{value}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The replay window.

#[test]
fn replay_window_refuses_the_past_and_the_future() {
    let body = b"{}";
    for scheme in Scheme::ALL.into_iter().filter(|s| s.is_timestamped()) {
        let verifier = verifier(scheme);
        let signed = verifier.sign_at(body, at(T0)).expect("signed");
        assert_eq!(verifier.verify_at(&signed, body, at(T0 + 300)), Ok(()));
        assert_eq!(verifier.verify_at(&signed, body, at(T0 - 300)), Ok(()));
        assert_eq!(
            verifier.verify_at(&signed, body, at(T0 + 301)),
            Err(WebhookError::StaleTimestamp {
                age: Duration::from_secs(301),
                tolerance: Duration::from_secs(300)
            }),
            "{scheme}"
        );
        assert_eq!(
            verifier.verify_at(&signed, body, at(T0 - 301)),
            Err(WebhookError::FutureTimestamp {
                ahead: Duration::from_secs(301),
                tolerance: Duration::from_secs(300)
            }),
            "{scheme}"
        );
        // A week-old capture, and one signed for next week.
        let week = 7 * 24 * 3600;
        assert!(verifier.verify_at(&signed, body, at(T0 + week)).is_err());
        assert!(verifier.verify_at(&signed, body, at(T0 - week)).is_err());

        let strict = verifier.clone().with_tolerance(Duration::from_secs(5));
        assert_eq!(strict.tolerance(), Duration::from_secs(5));
        assert!(matches!(
            strict.verify_at(&signed, body, at(T0 + 6)),
            Err(WebhookError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            strict.verify_at(&signed, body, at(T0 - 6)),
            Err(WebhookError::FutureTimestamp { .. })
        ));
    }
    assert_eq!(
        verifier(Scheme::Stripe).tolerance(),
        Duration::from_secs(300)
    );
}

#[test]
fn untimestamped_schemes_ignore_the_clock() {
    for scheme in [Scheme::ClayHex, Scheme::GitHub] {
        let verifier = verifier(scheme);
        let signed = verifier.sign_at(b"x", at(T0)).expect("signed");
        assert_eq!(
            verifier.verify_at(&signed, b"x", at(T0 + 10_000_000)),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: an `Err`, never a panic, never a leak.

#[test]
fn empty_and_ten_megabyte_bodies() {
    let big = vec![b'x'; 10 * 1024 * 1024];
    for scheme in Scheme::ALL {
        let verifier = verifier(scheme);
        for body in [&b""[..], &big[..]] {
            let signed = verifier.sign_at(body, at(T0)).expect("signed");
            assert_eq!(verifier.verify_at(&signed, body, at(T0)), Ok(()));
            let for_other = verifier.sign_at(b"other", at(T0)).expect("signed");
            let error = check_err_without_leak(scheme, &signed, &for_other, body);
            assert!(
                matches!(error, WebhookError::WrongSignature { .. }),
                "{scheme}: {error}"
            );
        }
        // A 10 MB body with the signature of the empty body, and the reverse.
        let empty_signed = verifier.sign_at(b"", at(T0)).expect("signed");
        assert!(verifier.verify_at(&empty_signed, &big, at(T0)).is_err());
    }
}

#[test]
fn signatures_of_every_length_from_0_to_200() {
    let body = b"{}";
    for scheme in Scheme::ALL {
        let signed = verifier(scheme).sign_at(body, at(T0)).expect("signed");
        for alphabet in [
            &b"0123456789abcdef"[..],
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
            b"zZ!~ ,;=-_",
        ] {
            for length in 0..=200 {
                let text: Vec<u8> = alphabet.iter().copied().cycle().take(length).collect();
                let headers = try_with_signature_text(scheme, &signed, &text)
                    .expect("printable ASCII is a valid header value");
                let error = check_err_without_leak(scheme, &signed, &headers, body);
                assert!(
                    matches!(
                        error,
                        WebhookError::MalformedSignature { .. }
                            | WebhookError::WrongSignature { .. }
                    ),
                    "{scheme} length {length}: {error}"
                );
            }
        }
    }
}

#[test]
fn non_hex_non_base64_and_multibyte_utf8_signatures() {
    let body = b"{}";
    for scheme in Scheme::ALL {
        let signed = verifier(scheme).sign_at(body, at(T0)).expect("signed");
        let base64_length = "x".repeat(44);
        let hex_length = "x".repeat(64);
        let multibyte = "é".repeat(32); // 64 bytes, 32 characters
        let emoji = "🔑".repeat(11); // 44 bytes
        for text in [
            hex_length.as_str(),
            &"G".repeat(64),
            &"A".repeat(64), // uppercase hex
            base64_length.as_str(),
            &"*".repeat(44),
            &"-".repeat(43),
            &"_".repeat(44),
            multibyte.as_str(),
            emoji.as_str(),
        ] {
            let headers = with_signature_text(scheme, &signed, text.as_bytes());
            let error = check_err_without_leak(scheme, &signed, &headers, body);
            assert!(
                matches!(error, WebhookError::MalformedSignature { .. }),
                "{scheme} {text:?}: {error}"
            );
        }
        // Multibyte UTF-8 in every header the scheme reads.
        for header in scheme.headers() {
            let headers = set(signed.clone(), header, "时间戳 🕰 é".as_bytes());
            check_err_without_leak(scheme, &signed, &headers, body);
        }
    }
}

#[test]
fn missing_and_duplicate_headers() {
    let body = b"{}";
    for scheme in Scheme::ALL {
        let signed = verifier(scheme).sign_at(body, at(T0)).expect("signed");
        for header in scheme.headers() {
            let mut missing = signed.clone();
            missing.remove(*header);
            assert_eq!(
                check_err_without_leak(scheme, &signed, &missing, body),
                WebhookError::MissingHeader { header }
            );
            // The same header twice, even both times with the right value.
            let mut twice = signed.clone();
            let value = signed[*header].clone();
            twice.append(HeaderName::from_static(header), value);
            assert_eq!(
                check_err_without_leak(scheme, &signed, &twice, body),
                WebhookError::DuplicateHeader { header }
            );
        }
        assert_eq!(
            verifier(scheme).verify_at(&HeaderMap::new(), body, at(T0)),
            Err(WebhookError::MissingHeader {
                header: scheme.headers()[0]
            })
        );
    }
}

#[test]
fn header_with_only_v1_comma_and_t_with_no_value() {
    let body = b"{}";
    let scheme = Scheme::StandardWebhooks;
    let signed = verifier(scheme).sign_at(body, at(T0)).expect("signed");
    for value in ["v1,", "v1, v1,", " ", ""] {
        let headers = set(signed.clone(), "webhook-signature", value.as_bytes());
        let error = check_err_without_leak(scheme, &signed, &headers, body);
        assert!(
            matches!(error, WebhookError::MalformedSignature { .. }),
            "{value:?}: {error}"
        );
    }

    let scheme = Scheme::Stripe;
    let signed = verifier(scheme).sign_at(body, at(T0)).expect("signed");
    let hex = signed["stripe-signature"].to_str().expect("ASCII")[16..].to_owned();
    for (value, problem) in [
        (format!("t=,v1={hex}"), Malformed::Empty),
        ("t=".to_owned(), Malformed::Empty),
        (format!("v1={hex}"), Malformed::MissingTimestamp),
        (String::new(), Malformed::MissingTimestamp),
        (
            format!("t={T0},t={T0},v1={hex}"),
            Malformed::DuplicateTimestamp,
        ),
        (format!("t=-{T0},v1={hex}"), Malformed::Negative),
        (format!("t={T0}000,v1={hex}"), Malformed::TooLarge),
        (format!("t=now,v1={hex}"), Malformed::NotANumber),
    ] {
        let headers = set(signed.clone(), "stripe-signature", value.as_bytes());
        assert_eq!(
            check_err_without_leak(scheme, &signed, &headers, body),
            WebhookError::MalformedTimestamp {
                header: "stripe-signature",
                problem
            },
            "{value}"
        );
    }
}

#[test]
fn non_numeric_negative_and_millisecond_timestamps() {
    let body = b"{}";
    for (scheme, header) in [
        (Scheme::ClayTimestamped, "x-clay-timestamp"),
        (Scheme::StandardWebhooks, "webhook-timestamp"),
    ] {
        let signed = verifier(scheme).sign_at(body, at(T0)).expect("signed");
        let millis = format!("{T0}000");
        for (value, problem) in [
            ("", Malformed::Empty),
            ("now", Malformed::NotANumber),
            ("1700000000.5", Malformed::NotANumber),
            ("+1700000000", Malformed::NotANumber),
            (" 1700000000", Malformed::NotANumber),
            ("0x6553f100", Malformed::NotANumber),
            ("-1700000000", Malformed::Negative),
            ("-", Malformed::Negative),
            (millis.as_str(), Malformed::TooLarge),
            ("18446744073709551616", Malformed::TooLarge),
        ] {
            let headers = set(signed.clone(), header, value.as_bytes());
            assert_eq!(
                check_err_without_leak(scheme, &signed, &headers, body),
                WebhookError::MalformedTimestamp { header, problem },
                "{scheme} {value:?}"
            );
        }
        // Well formed but a different second than was signed: the signature catches it.
        let other = set(signed.clone(), header, format!("{}", T0 + 1).as_bytes());
        assert!(matches!(
            check_err_without_leak(scheme, &signed, &other, body),
            WebhookError::WrongSignature { .. }
        ));
        // Leading zeros are not the text that was signed.
        let padded = set(signed.clone(), header, format!("0{T0}").as_bytes());
        assert!(matches!(
            check_err_without_leak(scheme, &signed, &padded, body),
            WebhookError::WrongSignature { .. }
        ));
    }
}

#[test]
fn github_requires_the_prefix() {
    let body = b"{}";
    let signed = verifier(Scheme::GitHub)
        .sign_at(body, at(T0))
        .expect("signed");
    let value = signed["x-hub-signature-256"].to_str().expect("ASCII");
    for bad in [
        &value[7..],
        &value.replace("sha256=", "sha1="),
        &value.replace("sha256=", "SHA256="),
    ] {
        let headers = set(signed.clone(), "x-hub-signature-256", bad.as_bytes());
        assert_eq!(
            check_err_without_leak(Scheme::GitHub, &signed, &headers, body),
            WebhookError::MalformedSignature {
                header: "x-hub-signature-256",
                problem: Malformed::MissingPrefix
            }
        );
    }
}

#[test]
fn unusable_secrets_are_reported_without_the_secret() {
    for (scheme, secret, problem) in [
        (
            Scheme::StandardWebhooks,
            "whsec_not*base64!",
            Malformed::NotBase64,
        ),
        (
            Scheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            Malformed::NotBase64,
        ),
        (Scheme::StandardWebhooks, "whsec_", Malformed::Empty),
        (Scheme::GitHub, "", Malformed::Empty),
        (Scheme::ClayHex, "", Malformed::Empty),
    ] {
        let bad = WebhookVerifier::new(scheme, WebhookSecret::new(secret));
        let expected = WebhookError::InvalidSecret { problem };
        assert_eq!(bad.check_secrets(), Err(expected.clone()));
        let signed = verifier(scheme).sign_at(b"{}", at(T0)).expect("signed");
        let error = bad.verify_at(&signed, b"{}", at(T0)).expect_err("refused");
        assert_eq!(error, expected);
        if !secret.is_empty() {
            assert_no_leak(&error, &[secret, &secret[6..]]);
        }
        assert_eq!(bad.sign(b"{}"), Err(expected.clone()));
        // A bad previous secret is as loud as a bad current one.
        let rotating = verifier(scheme).with_previous(WebhookSecret::new(secret));
        assert_eq!(rotating.verify_at(&signed, b"{}", at(T0)), Err(expected));
    }
    assert_eq!(
        standard_webhooks::sign(&WebhookSecret::new("whsec_%%"), "msg_1", T0, b""),
        Err(WebhookError::InvalidSecret {
            problem: Malformed::NotBase64
        })
    );
}

#[test]
fn error_messages_say_what_was_wrong() {
    let cases = [
        (
            WebhookError::MissingHeader {
                header: "x-clay-signature",
            },
            "missing header `x-clay-signature`",
            "missing_header",
        ),
        (
            WebhookError::MalformedSignature {
                header: "x-clay-signature",
                problem: Malformed::WrongLength {
                    expected: 64,
                    found: 63,
                },
            },
            "malformed signature in `x-clay-signature`: expected 64 characters, found 63",
            "malformed_signature",
        ),
        (
            WebhookError::WrongSignature {
                header: "x-hub-signature-256",
            },
            "signature in `x-hub-signature-256` does not match the body",
            "wrong_signature",
        ),
        (
            WebhookError::StaleTimestamp {
                age: Duration::from_secs(600),
                tolerance: Duration::from_secs(300),
            },
            "timestamp is 600s old, beyond the 300s tolerance (a replay, or the sender's clock is behind)",
            "stale_timestamp",
        ),
        (
            WebhookError::FutureTimestamp {
                ahead: Duration::from_secs(600),
                tolerance: Duration::from_secs(300),
            },
            "timestamp is 600s in the future, beyond the 300s tolerance (the sender's clock is ahead)",
            "future_timestamp",
        ),
        (
            WebhookError::MalformedTimestamp {
                header: "webhook-timestamp",
                problem: Malformed::TooLarge,
            },
            "malformed timestamp in `webhook-timestamp`: too large for Unix seconds (milliseconds?)",
            "malformed_timestamp",
        ),
    ];
    for (error, message, code) in cases {
        assert_eq!(error.to_string(), message);
        assert_eq!(error.code(), code);
    }
}

#[test]
fn the_scheme_is_the_receivers_choice() {
    // A GitHub receiver is not fooled by a request carrying some other scheme's valid headers,
    // and so on for every pair.
    let body = b"{}";
    for receiver in Scheme::ALL {
        for sender in Scheme::ALL.into_iter().filter(|s| *s != receiver) {
            let signed = WebhookVerifier::new(sender, WebhookSecret::new(secret_for(receiver)))
                .sign_at(body, at(T0));
            let Ok(signed) = signed else { continue };
            assert!(
                verifier(receiver).verify_at(&signed, body, at(T0)).is_err(),
                "{receiver} accepted {sender}"
            );
        }
    }
}

#[test]
fn a_malformed_hex_tag_is_reported_before_the_timestamp_and_the_signature() {
    // Hex tags are compared in hex and their characters checked only when they do not match:
    // the error a request gets must not depend on it.
    for scheme in [Scheme::ClayHex, Scheme::ClayTimestamped, Scheme::GitHub] {
        let verifier = verifier(scheme);
        let signed = verifier.sign_at(b"{}", at(T0)).expect("signed");
        let header = signature_header(scheme);
        let text = signed[header].to_str().expect("ASCII").to_owned();
        let prefix = if scheme == Scheme::GitHub {
            "sha256="
        } else {
            ""
        };
        let hex = text.trim_start_matches("sha256=");
        for (bad, problem) in [
            (hex.to_uppercase(), Malformed::NotLowercaseHex),
            (format!("g{}", &hex[1..]), Malformed::NotLowercaseHex),
            (format!("{}\u{e9}", &hex[..62]), Malformed::NotLowercaseHex),
        ] {
            let headers = set(signed.clone(), header, format!("{prefix}{bad}").as_bytes());
            let malformed = Err(WebhookError::MalformedSignature { header, problem });
            assert_eq!(
                verifier.verify_at(&headers, b"{}", at(T0)),
                malformed,
                "{scheme} {bad}"
            );
            // Ten minutes late: still reported as malformed, as when tags were decoded first.
            assert_eq!(
                verifier.verify_at(&headers, b"{}", at(T0 + 600)),
                malformed,
                "{scheme} {bad}"
            );
        }
        // Well-formed but wrong: the timestamp speaks first, then the signature.
        let zeros = format!("{prefix}{}", "0".repeat(64));
        let headers = set(signed.clone(), header, zeros.as_bytes());
        let late = verifier.verify_at(&headers, b"{}", at(T0 + 600));
        if scheme.is_timestamped() {
            assert!(
                matches!(late, Err(WebhookError::StaleTimestamp { .. })),
                "{late:?}"
            );
        } else {
            assert_eq!(late, Err(WebhookError::WrongSignature { header }));
        }
        assert_eq!(
            verifier.verify_at(&headers, b"{}", at(T0)),
            Err(WebhookError::WrongSignature { header })
        );
    }
}
