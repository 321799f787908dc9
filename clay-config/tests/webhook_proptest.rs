//! Property tests: random headers and bodies never panic the verifier and never pass without the
//! right key; signing then verifying always passes; junk beside a valid signature never breaks
//! it.

#![cfg(feature = "webhook")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clay_config::WebhookSecret;
use clay_config::webhook::{Scheme, WebhookVerifier};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000;
const RIGHT_SECRET: &str = "whsec_cmlnaHQta2V5LXJpZ2h0LWtleS1yaWdodA==";
const WRONG_SECRET: &str = "whsec_d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZw==";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn scheme() -> impl Strategy<Value = Scheme> {
    prop::sample::select(Scheme::ALL.to_vec())
}

/// Every header any scheme reads, plus a few it does not.
fn header_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "x-clay-signature",
        "x-clay-timestamp",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-hub-signature-256",
        "stripe-signature",
        "x-signature",
        "content-type",
    ])
}

/// Header values: raw bytes a header may hold, and near-misses of each scheme's format.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let hex = "[0-9a-f]{0,70}";
    let base64 = "[A-Za-z0-9+/=]{0,50}";
    let seconds = (T0 - 1000..T0 + 1000).prop_map(|t| t.to_string());
    prop_oneof![
        // Any bytes an HTTP header can carry: visible ASCII, space, tab, obs-text (UTF-8 too).
        prop::collection::vec(
            prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff],
            0..120
        ),
        hex.prop_map(String::into_bytes),
        hex.prop_map(|h| format!("sha256={h}").into_bytes()),
        (base64, base64).prop_map(|(a, b)| format!("v1,{a} v1,{b}").into_bytes()),
        (seconds.clone(), hex, hex)
            .prop_map(|(t, a, b)| format!("t={t},v1={a},v0={b}").into_bytes()),
        seconds.prop_map(String::into_bytes),
        "-?[0-9]{0,25}".prop_map(String::into_bytes),
        "\\PC{0,40}".prop_map(String::into_bytes),
    ]
}

fn random_headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((header_name(), header_value()), 0..8).prop_map(|pairs| {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        headers
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..600)
}

fn verifier(scheme: Scheme, secret: &str) -> WebhookVerifier {
    WebhookVerifier::new(scheme, WebhookSecret::new(secret))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_headers_and_bodies_never_pass_and_never_panic(
        scheme in scheme(),
        headers in random_headers(),
        body in body(),
        offset in -400i64..400,
    ) {
        let now = at(T0.saturating_add_signed(offset));
        let result = verifier(scheme, RIGHT_SECRET).verify_at(&headers, &body, now);
        prop_assert!(result.is_err(), "{scheme} accepted {headers:?}");
    }

    #[test]
    fn signatures_by_another_key_never_pass(
        scheme in scheme(),
        body in body(),
        extra in random_headers(),
        signed_at in T0 - 200..T0 + 200,
    ) {
        let mut headers = verifier(scheme, WRONG_SECRET)
            .sign_at(&body, at(signed_at))
            .expect("signed");
        // Whatever else comes along, the wrong key's signature stays wrong.
        for (name, value) in &extra {
            if !headers.contains_key(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let receiver = verifier(scheme, RIGHT_SECRET);
        prop_assert!(receiver.verify_at(&headers, &body, at(T0)).is_err());
    }

    #[test]
    fn sign_then_verify_round_trips(
        scheme in scheme(),
        body in body(),
        signed_at in T0 - 300..=T0 + 300,
    ) {
        let verifier = verifier(scheme, RIGHT_SECRET);
        let headers = verifier.sign_at(&body, at(signed_at)).expect("signed");
        prop_assert_eq!(verifier.verify_at(&headers, &body, at(T0)), Ok(()));
    }

    #[test]
    fn junk_beside_a_valid_signature_does_not_break_it(
        body in body(),
        junk in prop::collection::vec("[!-~]{0,50}", 0..6),
    ) {
        for scheme in [Scheme::StandardWebhooks, Scheme::Stripe] {
            let verifier = verifier(scheme, RIGHT_SECRET);
            let headers = verifier.sign_at(&body, at(T0)).expect("signed");
            let (name, value) = headers
                .iter()
                .find(|(name, _)| name.as_str().ends_with("signature"))
                .map(|(name, value)| (name.clone(), value.to_str().expect("ASCII").to_owned()))
                .expect("a signature header");
            // Stripe: comma-separated entries; Standard Webhooks: space-separated. Junk that
            // would be a second `t=` makes the timestamp ambiguous, which is refused on purpose.
            let joined = match scheme {
                Scheme::Stripe => {
                    let junk = junk
                        .iter()
                        .filter(|j| !j.split(',').any(|entry| entry.starts_with("t=")))
                        .map(String::as_str);
                    [value.as_str()].into_iter().chain(junk).collect::<Vec<_>>().join(",")
                }
                _ => junk
                    .iter()
                    .map(String::as_str)
                    .chain([value.as_str()])
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let mut with_junk = headers.clone();
            with_junk.insert(name, HeaderValue::from_str(&joined).expect("ASCII"));
            prop_assert_eq!(
                verifier.verify_at(&with_junk, &body, at(T0)),
                Ok(()),
                "{} {}",
                scheme,
                joined
            );
        }
    }
}
