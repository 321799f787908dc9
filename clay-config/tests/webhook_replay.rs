//! The replay guard with its in-memory store: a verified delivery is accepted once, for every
//! scheme, whatever the sender does to the headers that are not signed, and a full or failing
//! store never lets a replay through unless told to. (The same guard over Redis is in
//! `webhook_redis.rs`.)

#![cfg(feature = "webhook")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clay_config::WebhookSecret;
use clay_config::webhook::{
    MemoryStore, Recorded, ReplayGuard, ReplayKey, ReplayStore, Scheme, StoreError, StoreFuture,
    StoreProblem, WebhookError, WebhookVerifier, github, standard_webhooks, stripe,
};
use http::{HeaderMap, HeaderName, HeaderValue};

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PLAIN_SECRET: &str = "replay-test-secret-7c2e91";

fn secret_for(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::StandardWebhooks => STANDARD_SECRET,
        _ => PLAIN_SECRET,
    }
}

fn guarded(scheme: Scheme) -> WebhookVerifier {
    WebhookVerifier::new(scheme, WebhookSecret::new(secret_for(scheme)))
        .with_replay_guard(ReplayGuard::in_memory())
}

/// The header a replay of `scheme` is reported under.
fn key_header(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::ClayHex | Scheme::ClayTimestamped => "x-clay-signature",
        Scheme::StandardWebhooks => "webhook-id",
        Scheme::GitHub => "x-hub-signature-256",
        Scheme::Stripe => "stripe-signature",
    }
}

fn with(mut headers: HeaderMap, name: &'static str, value: &[u8]) -> HeaderMap {
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_bytes(value).expect("a header value"),
    );
    headers
}

/// Polls a future that never waits: the in-memory store answers at once.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[test]
fn every_scheme_accepts_a_delivery_once() {
    for scheme in Scheme::ALL {
        let verifier = guarded(scheme);
        let body = format!(r#"{{"scheme":"{scheme}"}}"#).into_bytes();
        let headers = verifier.sign(&body).expect("signed");
        assert_eq!(verifier.verify(&headers, &body), Ok(()), "{scheme}");
        let replay = verifier.verify(&headers, &body);
        assert_eq!(
            replay,
            Err(WebhookError::Replayed {
                header: key_header(scheme)
            }),
            "{scheme}"
        );
        let error = replay.expect_err("a replay");
        assert_eq!(error.code(), "replayed");
        assert!(error.to_string().contains("replay"), "{error}");
        // The asynchronous path shares the record.
        assert_eq!(
            block_on(verifier.verify_async(&headers, &body)),
            Err(WebhookError::Replayed {
                header: key_header(scheme)
            }),
            "{scheme}"
        );
        // Another delivery is not a replay.
        let other = verifier.sign(b"another body").expect("signed");
        assert_eq!(
            block_on(verifier.verify_async(&other, b"another body")),
            Ok(()),
            "{scheme}"
        );
        assert_eq!(
            verifier
                .verify(&other, b"another body")
                .map_err(|e| e.code()),
            Err("replayed")
        );
    }
}

#[test]
fn without_a_guard_nothing_is_remembered() {
    let verifier = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(PLAIN_SECRET));
    let headers = verifier.sign(b"{}").expect("signed");
    for _ in 0..3 {
        assert_eq!(verifier.verify(&headers, b"{}"), Ok(()));
    }
    assert!(verifier.replay_guard().is_none());
}

#[test]
fn only_verified_deliveries_are_recorded() {
    let verifier = guarded(Scheme::ClayTimestamped);
    let body = b"{\"n\":1}";
    let headers = verifier.sign(body).expect("signed");
    // A tampered body and a stranger's signature fail verification and record nothing ...
    assert!(matches!(
        verifier.verify(&headers, b"{\"n\":2}"),
        Err(WebhookError::WrongSignature { .. })
    ));
    let stranger = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("not-ours"))
        .sign(body)
        .expect("signed");
    assert!(matches!(
        verifier.verify(&stranger, body),
        Err(WebhookError::WrongSignature { .. })
    ));
    // ... so the genuine delivery still goes through, once.
    assert_eq!(verifier.verify(&headers, body), Ok(()));
    assert!(matches!(
        verifier.verify(&headers, body),
        Err(WebhookError::Replayed { .. })
    ));
}

#[test]
fn a_stale_replay_is_refused_by_its_timestamp() {
    let verifier = guarded(Scheme::Stripe);
    let sent = SystemTime::now();
    let headers = verifier.sign_at(b"{}", sent).expect("signed");
    assert_eq!(verifier.verify_at(&headers, b"{}", sent), Ok(()));
    let later = sent + Duration::from_secs(301);
    assert!(matches!(
        verifier.verify_at(&headers, b"{}", later),
        Err(WebhookError::StaleTimestamp { .. })
    ));
}

#[test]
fn a_delivery_signed_with_either_secret_is_one_delivery() {
    // During a rotation a sender may sign with both secrets; a replay carrying only the
    // other signature is the same delivery.
    let at = SystemTime::now();
    let current = "whsec_current-rotation-secret";
    let previous = "whsec_previous-rotation-secret";
    let receiver = WebhookVerifier::new(Scheme::Stripe, WebhookSecret::new(current))
        .with_previous(WebhookSecret::new(previous))
        .with_replay_guard(ReplayGuard::in_memory());
    let timestamp = at.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    let body = b"{\"id\":\"evt_1\"}";
    let by_current = stripe::sign(&WebhookSecret::new(current), timestamp, body).expect("signed");
    let by_previous = stripe::sign(&WebhookSecret::new(previous), timestamp, body).expect("signed");
    let v1 = |header: &str| header.split(',').nth(1).expect("a v1 entry").to_owned();
    let both = format!("t={timestamp},{},{}", v1(&by_previous), v1(&by_current));
    let headers = |value: &str| with(HeaderMap::new(), "stripe-signature", value.as_bytes());

    assert_eq!(receiver.verify_at(&headers(&both), body, at), Ok(()));
    for replay in [&by_current, &by_previous, &both] {
        assert!(
            matches!(
                receiver.verify_at(&headers(replay), body, at),
                Err(WebhookError::Replayed { .. })
            ),
            "{replay}"
        );
    }
    // Same for a scheme without timestamp: the body signed by the old secret, then the new.
    let receiver = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new("new-hex-secret"))
        .with_previous(WebhookSecret::new("old-hex-secret"))
        .with_replay_guard(ReplayGuard::in_memory());
    let old = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new("old-hex-secret"))
        .sign(body)
        .expect("signed");
    let new = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new("new-hex-secret"))
        .sign(body)
        .expect("signed");
    assert_eq!(receiver.verify(&old, body), Ok(()));
    assert!(matches!(
        receiver.verify(&new, body),
        Err(WebhookError::Replayed { .. })
    ));
}

#[test]
fn standard_webhooks_is_keyed_on_the_signed_id() {
    let verifier = guarded(Scheme::StandardWebhooks);
    let secret = WebhookSecret::new(STANDARD_SECRET);
    let now = SystemTime::now();
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let body = br#"{"type":"invoice.paid"}"#;
    let delivery = |id: &[u8]| {
        let id_text = String::from_utf8_lossy(id).into_owned();
        let signature =
            standard_webhooks::sign(&secret, &id_text, timestamp, body).expect("signed");
        let headers = with(HeaderMap::new(), "webhook-id", id);
        let headers = with(
            headers,
            "webhook-timestamp",
            timestamp.to_string().as_bytes(),
        );
        with(headers, "webhook-signature", signature.as_bytes())
    };
    // Two messages with the same body and time but different ids are two deliveries.
    assert_eq!(verifier.verify_at(&delivery(b"msg_1"), body, now), Ok(()));
    assert_eq!(verifier.verify_at(&delivery(b"msg_2"), body, now), Ok(()));
    assert_eq!(
        verifier.verify_at(&delivery(b"msg_1"), body, now),
        Err(WebhookError::Replayed {
            header: "webhook-id"
        })
    );
    // Changing the id of a captured delivery breaks its signature.
    let mut renamed = delivery(b"msg_3");
    renamed.insert("webhook-id", HeaderValue::from_static("msg_4"));
    assert!(matches!(
        verifier.verify_at(&renamed, body, now),
        Err(WebhookError::WrongSignature { .. })
    ));
    // Hostile ids (long, with spaces or non-ASCII bytes) are keys like any other.
    let long = vec![b'x'; 64 * 1024];
    for hostile in [&long[..], b"id with spaces", "\u{202e}ïd-ü".as_bytes()] {
        assert_eq!(verifier.verify_at(&delivery(hostile), body, now), Ok(()));
        assert!(matches!(
            verifier.verify_at(&delivery(hostile), body, now),
            Err(WebhookError::Replayed { .. })
        ));
    }
    // A long id and the same id one byte longer are different deliveries.
    let longer = vec![b'x'; 64 * 1024 + 1];
    assert_eq!(verifier.verify_at(&delivery(&longer), body, now), Ok(()));
}

#[test]
fn github_is_keyed_on_the_delivery_id_and_the_signature() {
    let verifier = guarded(Scheme::GitHub);
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let signed = with(
        HeaderMap::new(),
        "x-hub-signature-256",
        github::sign(&WebhookSecret::new(PLAIN_SECRET), body)
            .expect("signed")
            .as_bytes(),
    );
    let delivery = |id: &str| with(signed.clone(), "x-github-delivery", id.as_bytes());

    assert_eq!(
        verifier.verify(&delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958"), body),
        Ok(())
    );
    assert_eq!(
        verifier.verify(&delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958"), body),
        Err(WebhookError::Replayed {
            header: "x-github-delivery"
        })
    );
    // The delivery id is not signed: a replay under a fresh id is the same signature.
    assert!(matches!(
        verifier.verify(&delivery("a-fresh-id-chosen-by-the-replayer"), body),
        Err(WebhookError::Replayed { .. })
    ));
    // Nor is one without the id.
    assert_eq!(
        verifier.verify(&signed, body),
        Err(WebhookError::Replayed {
            header: "x-hub-signature-256"
        })
    );
    // Two ids in one request: ambiguous, refused before anything is recorded.
    let mut twice = delivery("id-1");
    twice.append("x-github-delivery", HeaderValue::from_static("id-2"));
    let other_body = b"{}";
    let mut twice_other = twice.clone();
    twice_other.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(
            &github::sign(&WebhookSecret::new(PLAIN_SECRET), other_body).expect("signed"),
        )
        .expect("a header value"),
    );
    assert_eq!(
        verifier.verify(&twice_other, other_body),
        Err(WebhookError::DuplicateHeader {
            header: "x-github-delivery"
        })
    );
    let mut once_other = twice_other.clone();
    once_other.remove("x-github-delivery");
    assert_eq!(verifier.verify(&once_other, other_body), Ok(()));
}

#[test]
fn an_untimestamped_delivery_is_remembered_for_the_tolerance_only() {
    // What the guard can promise for ClayHex: a replay within the tolerance is refused; after
    // it, nothing in the request says it is old, and it is accepted again.
    let verifier = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(PLAIN_SECRET))
        .with_tolerance(Duration::from_millis(300))
        .with_replay_guard(ReplayGuard::in_memory());
    let headers = verifier.sign(b"{}").expect("signed");
    assert_eq!(verifier.verify(&headers, b"{}"), Ok(()));
    assert!(matches!(
        verifier.verify(&headers, b"{}"),
        Err(WebhookError::Replayed { .. })
    ));
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(verifier.verify(&headers, b"{}"), Ok(()));
}

#[test]
fn a_timestamped_delivery_is_remembered_until_its_timestamp_leaves_the_window() {
    // Stamped ahead of the receiver's clock (as far as the tolerance allows), the delivery
    // verifies until its timestamp is a tolerance old: its record must live that long, not
    // merely the tolerance from its arrival.
    let tolerance = Duration::from_secs(2);
    let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(PLAIN_SECRET))
        .with_tolerance(tolerance)
        .with_replay_guard(ReplayGuard::in_memory());
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    // Between one and two seconds ahead.
    let stamped = UNIX_EPOCH + Duration::from_secs(seconds + 2);
    let headers = verifier.sign_at(b"{}", stamped).expect("signed");
    assert_eq!(verifier.verify(&headers, b"{}"), Ok(()));
    std::thread::sleep(Duration::from_millis(2500));
    // Past the tolerance since it arrived, still inside its window by the clock ...
    assert!(SystemTime::now() < stamped + tolerance);
    // ... so still refused as a replay.
    assert!(matches!(
        verifier.verify(&headers, b"{}"),
        Err(WebhookError::Replayed { .. })
    ));
}

#[test]
fn a_full_store_refuses_new_deliveries_and_still_refuses_replays() {
    let store = ReplayGuard::new(MemoryStore::with_capacity(2));
    let verifier = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(PLAIN_SECRET))
        .with_replay_guard(store.clone());
    let deliveries: Vec<(HeaderMap, Vec<u8>)> = (0..3)
        .map(|n| {
            let body = format!("{{\"n\":{n}}}").into_bytes();
            (verifier.sign(&body).expect("signed"), body)
        })
        .collect();
    assert_eq!(verifier.verify(&deliveries[0].0, &deliveries[0].1), Ok(()));
    assert_eq!(verifier.verify(&deliveries[1].0, &deliveries[1].1), Ok(()));
    let full = Err(WebhookError::ReplayStoreUnavailable {
        store: "memory",
        problem: StoreProblem::Full,
    });
    assert_eq!(verifier.verify(&deliveries[2].0, &deliveries[2].1), full);
    let error = WebhookError::ReplayStoreUnavailable {
        store: "memory",
        problem: StoreProblem::Full,
    };
    assert_eq!(error.code(), "replay_store_unavailable");
    assert!(error.to_string().contains("full"), "{error}");
    for (headers, body) in &deliveries[..2] {
        assert!(matches!(
            verifier.verify(headers, body),
            Err(WebhookError::Replayed { .. })
        ));
    }
    // Failing open, the new delivery is accepted unrecorded; replays of recorded ones are
    // still refused.
    let open = verifier.clone().with_replay_guard(store.fail_open());
    assert_eq!(open.verify(&deliveries[2].0, &deliveries[2].1), Ok(()));
    assert_eq!(open.verify(&deliveries[2].0, &deliveries[2].1), Ok(()));
    assert!(matches!(
        open.verify(&deliveries[0].0, &deliveries[0].1),
        Err(WebhookError::Replayed { .. })
    ));
}

#[test]
fn concurrent_duplicates_are_accepted_exactly_once() {
    let verifier = Arc::new(guarded(Scheme::StandardWebhooks));
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|n| format!("{{\"n\":{n}}}").into_bytes())
        .collect();
    let deliveries: Arc<Vec<(HeaderMap, Vec<u8>)>> = Arc::new(
        bodies
            .into_iter()
            .map(|body| (verifier.sign(&body).expect("signed"), body))
            .collect(),
    );
    let accepted = Arc::new(AtomicUsize::new(0));
    let replayed = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let (verifier, deliveries) = (Arc::clone(&verifier), Arc::clone(&deliveries));
            let (accepted, replayed, other) = (
                Arc::clone(&accepted),
                Arc::clone(&replayed),
                Arc::clone(&other),
            );
            std::thread::spawn(move || {
                // Each thread sends every delivery, in its own order.
                for n in 0..deliveries.len() {
                    let (headers, body) = &deliveries[(n * 7 + thread) % deliveries.len()];
                    match verifier.verify(headers, body) {
                        Ok(()) => accepted.fetch_add(1, Ordering::Relaxed),
                        Err(WebhookError::Replayed { .. }) => {
                            replayed.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(_) => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a sender thread");
    }
    assert_eq!(other.load(Ordering::Relaxed), 0);
    assert_eq!(accepted.load(Ordering::Relaxed), 20);
    assert_eq!(replayed.load(Ordering::Relaxed), 20 * 7);
}

#[test]
fn clones_of_a_guard_share_it_as_two_receivers_would() {
    let guard = ReplayGuard::in_memory();
    let first = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(PLAIN_SECRET))
        .with_replay_guard(guard.clone());
    let second = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(PLAIN_SECRET))
        .with_replay_guard(guard);
    let headers = first.sign(b"{}").expect("signed");
    assert_eq!(second.verify(&headers, b"{}"), Ok(()));
    assert!(matches!(
        first.verify(&headers, b"{}"),
        Err(WebhookError::Replayed { .. })
    ));
    // A guard of its own knows nothing of them.
    let third = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(PLAIN_SECRET))
        .with_replay_guard(ReplayGuard::in_memory());
    assert_eq!(third.verify(&headers, b"{}"), Ok(()));
}

/// A store over the network that is down: answers only asynchronously, with an error.
struct Unreachable;

impl ReplayStore for Unreachable {
    fn name(&self) -> &'static str {
        "unreachable"
    }

    fn record<'a>(&'a self, _: &'a [ReplayKey], _: Duration) -> StoreFuture<'a> {
        Box::pin(async { Err(StoreError::unreachable("connection refused")) })
    }
}

#[test]
fn a_store_that_cannot_answer_fails_closed_by_default_and_open_when_asked() {
    let closed = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(PLAIN_SECRET))
        .with_replay_guard(ReplayGuard::new(Unreachable));
    let headers = closed.sign(b"{}").expect("signed");
    let unavailable = |problem| {
        Err(WebhookError::ReplayStoreUnavailable {
            store: "unreachable",
            problem,
        })
    };
    assert_eq!(
        block_on(closed.verify_async(&headers, b"{}")),
        unavailable(StoreProblem::Unreachable)
    );
    // A forged delivery is still a wrong signature, not a store problem.
    assert!(matches!(
        block_on(closed.verify_async(&headers, b"{\"forged\":1}")),
        Err(WebhookError::WrongSignature { .. })
    ));
    // The synchronous verify cannot wait for such a store: refused, and the message says why.
    let sync = closed.verify(&headers, b"{}");
    assert_eq!(sync, unavailable(StoreProblem::AsyncOnly));
    assert!(
        sync.expect_err("refused")
            .to_string()
            .contains("verify_async"),
        "names the fix"
    );

    let open = closed
        .clone()
        .with_replay_guard(ReplayGuard::new(Unreachable).fail_open());
    assert_eq!(block_on(open.verify_async(&headers, b"{}")), Ok(()));
    assert_eq!(block_on(open.verify_async(&headers, b"{}")), Ok(()));
    // A mistake in the receiver is not an outage: still refused.
    assert_eq!(
        open.verify(&headers, b"{}"),
        unavailable(StoreProblem::AsyncOnly)
    );
}

#[test]
fn debug_shows_the_guard_not_the_secret() {
    let verifier = guarded(Scheme::ClayHex);
    let shown = format!("{verifier:?}");
    assert!(
        shown.contains("ReplayGuard { store: \"memory\", fail_open: false }"),
        "{shown}"
    );
    assert!(!shown.contains(PLAIN_SECRET), "{shown}");
}

#[test]
fn a_custom_store_sees_namespaced_keys_and_the_time_to_live() {
    use std::sync::Mutex;

    type Calls = Arc<Mutex<Vec<(Vec<String>, Duration)>>>;
    struct Recording(Calls);

    impl ReplayStore for Recording {
        fn name(&self) -> &'static str {
            "recording"
        }

        fn record<'a>(&'a self, keys: &'a [ReplayKey], ttl: Duration) -> StoreFuture<'a> {
            let keys = keys.iter().map(ToString::to_string).collect();
            self.0.lock().expect("not poisoned").push((keys, ttl));
            Box::pin(async { Ok(Recorded::New) })
        }
    }

    let recording = Calls::default();
    let tolerance = Duration::from_secs(300);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for scheme in Scheme::ALL {
        let verifier = WebhookVerifier::new(scheme, WebhookSecret::new(secret_for(scheme)))
            .with_tolerance(tolerance)
            .with_replay_guard(ReplayGuard::new(Recording(Arc::clone(&recording))));
        let headers = verifier
            .sign_at(b"{}", now - Duration::from_secs(10))
            .expect("signed");
        let headers = with(
            headers,
            "x-github-delivery",
            b"72d3162e-cc78-11e3-81ab-4c9367dc0958",
        );
        assert_eq!(
            block_on(verifier.verify_async_at(&headers, b"{}", now)),
            Ok(())
        );
    }
    let calls = recording.lock().expect("not poisoned").clone();
    let described: Vec<(Vec<String>, u64)> = calls
        .into_iter()
        .map(|(keys, ttl)| {
            let keys = keys
                .into_iter()
                .map(|key| {
                    // Signatures differ per secret: show their shape, not their value.
                    match key.split_once(":sig:") {
                        Some((start, digest)) => {
                            assert_eq!(digest.len(), 32, "{key}");
                            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
                            format!("{start}:sig:…")
                        }
                        None => key,
                    }
                })
                .collect();
            (keys, ttl.as_millis() as u64)
        })
        .collect();
    // Timestamped: until the timestamp (10 s ago) leaves the 300 s window, plus a second.
    let timestamped = (300 - 10 + 1) * 1000;
    assert_eq!(
        described,
        vec![
            (
                vec!["clay-config:webhook:clay-hex:sig:…".to_owned()],
                300_000
            ),
            (
                vec!["clay-config:webhook:clay-timestamped:sig:…".to_owned()],
                timestamped
            ),
            (
                vec![format!(
                    "clay-config:webhook:standard-webhooks:id:{}",
                    WebhookVerifier::new(
                        Scheme::StandardWebhooks,
                        WebhookSecret::new(STANDARD_SECRET)
                    )
                    .sign_at(b"{}", now - Duration::from_secs(10))
                    .expect("signed")["webhook-id"]
                        .to_str()
                        .expect("ASCII")
                )],
                timestamped
            ),
            (
                vec![
                    "clay-config:webhook:github:id:72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
                    "clay-config:webhook:github:sig:…".to_owned()
                ],
                300_000
            ),
            (
                vec!["clay-config:webhook:stripe:sig:…".to_owned()],
                timestamped
            ),
        ]
    );
}
