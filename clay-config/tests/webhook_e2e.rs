//! End to end: the example's receiver (`examples/webhook_server.rs`, included as a module) served
//! on 127.0.0.1 on a free port, real HTTP requests from a real client (ureq), and a check that
//! the handler ran for the valid deliveries, once each, and for nothing else.
//!
//! Needs the `axum` feature; without it this file compiles to no test. With the `redis` feature
//! and `CLAY_TEST_REDIS_URL` set, two receivers share a guard in that Redis, as two instances of
//! a service would.
#![cfg(feature = "axum")]

#[path = "../examples/webhook_server.rs"]
#[allow(dead_code)]
mod webhook_server;

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use clay_config::WebhookSecret;
use clay_config::webhook::{ReplayGuard, Scheme, WebhookVerifier};
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::sync::{mpsc, oneshot};

const SECRET: &str = "e2e-current-secret-5f3a9c";
const PREVIOUS_SECRET: &str = "e2e-previous-secret-81b2d7";

/// The example's app on a free loopback port, on its own thread; stopped on drop.
struct Server {
    url: String,
    deliveries: mpsc::UnboundedReceiver<Bytes>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(verifier: WebhookVerifier) -> Server {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Server::start_in(runtime, verifier)
    }

    /// Serves on `runtime`, the one the verifier's Redis connection (if any) was made on.
    fn start_in(runtime: tokio::runtime::Runtime, verifier: WebhookVerifier) -> Server {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a free port on 127.0.0.1");
        let addr: SocketAddr = listener.local_addr().expect("the bound address");
        let (deliveries_tx, deliveries) = mpsc::unbounded_channel();
        let (shutdown, stop) = oneshot::channel::<()>();
        let app = webhook_server::app(verifier, deliveries_tx);
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stop.await;
                        })
                        .await
                })
                .expect("the server runs");
        });
        Server {
            url: format!("http://{addr}/webhooks"),
            deliveries,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// POSTs `body` with `headers` (each value sent as raw bytes); the status and the body.
    fn post(&self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Straight to the loopback server, whatever HTTP_PROXY says.
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let mut request = agent.post(&self.url);
        for (name, value) in headers {
            request = request.header_raw(name.as_str(), value.as_bytes());
        }
        let response = request.send(body).expect("the server answers");
        let status = response.status();
        let text = response
            .into_body()
            .read_to_string()
            .expect("a readable body");
        (status, text)
    }

    /// Every body the handler received so far.
    fn delivered(&mut self) -> Vec<Bytes> {
        let mut bodies = Vec::new();
        while let Ok(body) = self.deliveries.try_recv() {
            bodies.push(body);
        }
        bodies
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn with_header(mut headers: HeaderMap, name: &'static str, value: &str) -> HeaderMap {
    headers.insert(name, HeaderValue::from_str(value).expect("a header value"));
    headers
}

/// Asserts a 401 whose JSON names `code` and leaks neither the secrets nor `expected`.
fn assert_refused(answer: (StatusCode, String), code: &str, expected_signature: &str) {
    let (status, body) = answer;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_json_error(&body, code, expected_signature);
}

fn assert_json_error(body: &str, code: &str, expected_signature: &str) {
    assert!(
        body.starts_with(&format!("{{\"error\":\"{code}\",\"message\":\"")),
        "{body}"
    );
    assert!(body.ends_with("\"}"), "{body}");
    for secret in [SECRET, PREVIOUS_SECRET, expected_signature] {
        assert!(!body.contains(secret), "{body} leaks {secret}");
    }
}

#[test]
fn clay_timestamped_receiver_runs_the_handler_only_for_valid_deliveries() {
    let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(SECRET));
    let mut server = Server::start(verifier.clone());
    let body = br#"{"event":"row.created","row":{"id":42}}"#;
    let now = SystemTime::now();
    let valid = verifier.sign_at(body, now).expect("signed");
    let signature = valid["x-clay-signature"]
        .to_str()
        .expect("ASCII")
        .to_owned();

    // Valid: the handler runs and gets the exact bytes.
    let (status, text) = server.post(&valid, body);
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert_eq!(server.delivered(), vec![Bytes::from_static(body)]);

    // Tampered body, same headers.
    let tampered = br#"{"event":"row.created","row":{"id":43}}"#;
    assert_refused(server.post(&valid, tampered), "wrong_signature", &signature);
    let expected_for_tampered = verifier.sign_at(tampered, now).expect("signed");
    assert_refused(
        server.post(&valid, tampered),
        "wrong_signature",
        expected_for_tampered["x-clay-signature"]
            .to_str()
            .expect("ASCII"),
    );

    // Stale: a capture replayed ten minutes later.
    let stale = verifier
        .sign_at(body, now - Duration::from_secs(600))
        .expect("signed");
    assert_refused(server.post(&stale, body), "stale_timestamp", &signature);

    // From the future: signed ten minutes ahead.
    let future = verifier
        .sign_at(body, now + Duration::from_secs(600))
        .expect("signed");
    assert_refused(server.post(&future, body), "future_timestamp", &signature);

    // Missing headers.
    let mut no_signature = valid.clone();
    no_signature.remove("x-clay-signature");
    assert_refused(
        server.post(&no_signature, body),
        "missing_header",
        &signature,
    );
    let mut no_timestamp = valid.clone();
    no_timestamp.remove("x-clay-timestamp");
    assert_refused(
        server.post(&no_timestamp, body),
        "missing_header",
        &signature,
    );
    assert_refused(
        server.post(&HeaderMap::new(), body),
        "missing_header",
        &signature,
    );

    // Wrong lengths: a `timingSafeEqual` on unequal lengths throws on these.
    for length in [0, 1, 63, 65, 128] {
        let sig: String = signature.chars().cycle().take(length).collect();
        let headers = with_header(valid.clone(), "x-clay-signature", &sig);
        assert_refused(
            server.post(&headers, body),
            "malformed_signature",
            &signature,
        );
    }

    // Uppercase hex and a non-numeric timestamp.
    let upper = with_header(valid.clone(), "x-clay-signature", &signature.to_uppercase());
    assert_refused(server.post(&upper, body), "malformed_signature", &signature);
    let words = with_header(valid.clone(), "x-clay-timestamp", "yesterday");
    assert_refused(server.post(&words, body), "malformed_timestamp", &signature);

    // Two signature headers: ambiguous, refused even though one is right.
    let mut twice = valid.clone();
    twice.append(
        "x-clay-signature",
        HeaderValue::from_static(
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
    );
    assert_refused(server.post(&twice, body), "duplicate_header", &signature);

    // Signed with a key the receiver does not have.
    let stranger = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("not-ours"))
        .sign_at(body, now)
        .expect("signed");
    assert_refused(server.post(&stranger, body), "wrong_signature", &signature);

    // The valid request again is a replay: refused, and the handler does not run twice.
    let replay = server.post(&valid, body);
    assert!(replay.1.contains("replay"), "{}", replay.1);
    assert_refused(replay, "replayed", &signature);
    assert_eq!(server.delivered(), Vec::<Bytes>::new());
}

#[test]
fn every_scheme_runs_the_handler_once_per_delivery() {
    for scheme in Scheme::ALL {
        let secret = match scheme {
            Scheme::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => SECRET,
        };
        let verifier = WebhookVerifier::new(scheme, WebhookSecret::new(secret));
        // The example's `app` gives a verifier without a guard one in memory.
        let mut server = Server::start(verifier.clone());
        let body = format!(r#"{{"scheme":"{scheme}"}}"#).into_bytes();
        let headers = verifier.sign(&body).expect("signed");
        assert_eq!(
            server.post(&headers, &body).0,
            StatusCode::NO_CONTENT,
            "{scheme}"
        );
        let (status, text) = server.post(&headers, &body);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}: {text}");
        assert!(
            text.starts_with(r#"{"error":"replayed","message":"a replay"#),
            "{scheme}: {text}"
        );
        assert_eq!(server.delivered(), vec![Bytes::from(body)], "{scheme}");
    }
}

/// A store that cannot be reached, to see what the sender is told.
struct Down;

impl clay_config::webhook::ReplayStore for Down {
    fn name(&self) -> &'static str {
        "down"
    }

    fn record<'a>(
        &'a self,
        _: &'a [clay_config::webhook::ReplayKey],
        _: Duration,
    ) -> clay_config::webhook::StoreFuture<'a> {
        Box::pin(async {
            Err(clay_config::webhook::StoreError::unreachable(
                "connection refused",
            ))
        })
    }
}

#[test]
fn a_store_that_cannot_answer_is_a_503_to_retry_not_a_401() {
    let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(SECRET))
        .with_replay_guard(ReplayGuard::new(Down));
    let mut server = Server::start(verifier.clone());
    let body = b"{}";
    let headers = verifier.sign(body).expect("signed");
    let signature = headers["x-clay-signature"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let (status, text) = server.post(&headers, body);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_json_error(&text, "replay_store_unavailable", &signature);
    assert!(text.contains("retry"), "{text}");
    // A forgery is still a 401: the store is consulted only for verified deliveries.
    assert_refused(
        server.post(&headers, b"{\"forged\":true}"),
        "wrong_signature",
        &signature,
    );
    assert_eq!(server.delivered(), Vec::<Bytes>::new());

    // Failing open, the delivery is accepted (unrecorded).
    let open = verifier.with_replay_guard(ReplayGuard::new(Down).fail_open());
    let mut server = Server::start(open);
    assert_eq!(server.post(&headers, body).0, StatusCode::NO_CONTENT);
    assert_eq!(server.post(&headers, body).0, StatusCode::NO_CONTENT);
    assert_eq!(server.delivered().len(), 2);
}

#[cfg(feature = "redis")]
#[test]
fn two_receivers_sharing_a_redis_guard_run_the_handler_once() {
    use std::io::Write as _;

    let Ok(url) = std::env::var("CLAY_TEST_REDIS_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "two_receivers_sharing_a_redis_guard_run_the_handler_once: SKIPPED: \
             CLAY_TEST_REDIS_URL is not set (`.ci/run` starts a Redis and sets it)"
        );
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    let run = format!("e2e-redis-{}-{nanos}", std::process::id());
    let instance = || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let store = runtime
            .block_on(clay_config::webhook::RedisStore::connect(&url))
            .expect("CLAY_TEST_REDIS_URL is reachable");
        let verifier = WebhookVerifier::new(
            Scheme::StandardWebhooks,
            WebhookSecret::new(format!("whsec_{}", &"0123456789abcdef".repeat(2))),
        )
        .with_replay_guard(ReplayGuard::new(store));
        Server::start_in(runtime, verifier)
    };
    let (mut first, mut second) = (instance(), instance());
    let sender = WebhookVerifier::new(
        Scheme::StandardWebhooks,
        WebhookSecret::new(format!("whsec_{}", &"0123456789abcdef".repeat(2))),
    );
    // A body only this run sends, so its id is new to the shared Redis.
    let body = format!(r#"{{"run":"{run}"}}"#).into_bytes();
    let headers = sender.sign(&body).expect("signed");
    assert_eq!(first.post(&headers, &body).0, StatusCode::NO_CONTENT);
    let (status, text) = second.post(&headers, &body);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert!(text.contains("replay"), "{text}");
    assert_eq!(first.delivered(), vec![Bytes::from(body)]);
    assert_eq!(second.delivered(), Vec::<Bytes>::new());
}

#[test]
fn standard_webhooks_receiver_accepts_the_previous_secret_during_rotation() {
    let current = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let previous = "whsec_dGhlIHByZXZpb3VzIHNlY3JldCBrZXkgYnl0ZXM=";
    let receiver = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new(current))
        .with_previous(WebhookSecret::new(previous));
    let mut server = Server::start(receiver);
    let old_sender = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new(previous));
    let new_sender = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new(current));
    let body = br#"{"type":"invoice.paid"}"#;

    assert_eq!(
        server.post(&old_sender.sign(body).expect("signed"), body).0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.post(&new_sender.sign(body).expect("signed"), body).0,
        StatusCode::NO_CONTENT
    );
    // A header with only `v1,` carries no signature.
    let empty = with_header(
        new_sender.sign(body).expect("signed"),
        "webhook-signature",
        "v1,",
    );
    assert_eq!(server.post(&empty, body).0, StatusCode::UNAUTHORIZED);
    assert_eq!(server.delivered().len(), 2);
}

#[test]
fn github_receiver_accepts_githubs_documented_example_over_http() {
    // docs.github.com, "Validating webhook deliveries": testing the webhook payload validation.
    let verifier = WebhookVerifier::new(
        Scheme::GitHub,
        WebhookSecret::new("It's a Secret to Everybody"),
    );
    let mut server = Server::start(verifier);
    let headers = with_header(
        HeaderMap::new(),
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
    assert_eq!(
        server.post(&headers, b"Hello, World!").0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.post(&headers, b"Hello, World!\n").0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.delivered(),
        vec![Bytes::from_static(b"Hello, World!")]
    );
}
