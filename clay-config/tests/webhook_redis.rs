//! The replay guard over a real Redis (feature `redis`): the same delivery twice, two
//! verifiers sharing one Redis as two instances would, concurrent duplicates from many tasks,
//! expiry after the window, and Redis stopped mid-run (refused while down, then recovery).
//!
//! The Redis comes from `CLAY_TEST_REDIS_URL` (`.ci/run` installs `redis-server`, starts one on a
//! free loopback port and sets it). Without it each test prints why it is skipped and returns.
//! The stop-and-restart test starts a `redis-server` of its own on another free port, so the
//! shared one keeps running.

#![cfg(feature = "redis")]

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clay_config::WebhookSecret;
use clay_config::webhook::redis::aio::ConnectionManager;
use clay_config::webhook::{
    RedisStore, ReplayGuard, Scheme, StoreProblem, WebhookError, WebhookVerifier, clay_hex, github,
};
use http::{HeaderMap, HeaderValue};

const URL_VARIABLE: &str = "CLAY_TEST_REDIS_URL";

/// The shared Redis, or `None` after saying on stderr (uncaptured) why `test` is skipped.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "{test}: SKIPPED: {URL_VARIABLE} is not set. `.ci/run` starts a Redis and sets it; \
                 by hand: `redis-server --port 6390 --save '' --appendonly no` and \
                 {URL_VARIABLE}=redis://127.0.0.1:6390/"
            );
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A secret no other run has used: keys of earlier runs (still inside their window in the
/// shared Redis) cannot collide with this run's.
fn fresh_secret(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    format!("{test}-{}-{nanos}", std::process::id())
}

fn secret_for(scheme: Scheme, fresh: &str) -> String {
    match scheme {
        // Standard Webhooks secrets are base64; any base64 of the fresh text will do.
        Scheme::StandardWebhooks => {
            let hex: String = fresh.bytes().map(|b| format!("{b:02x}")).collect();
            format!("whsec_{}", &hex[..hex.len() - hex.len() % 4])
        }
        _ => fresh.to_owned(),
    }
}

async fn store(url: &str) -> RedisStore {
    RedisStore::connect(url)
        .await
        .expect("CLAY_TEST_REDIS_URL names a Redis that answers")
}

async fn raw_connection(url: &str) -> ConnectionManager {
    clay_config::webhook::redis::Client::open(url)
        .expect("a Redis URL")
        .get_connection_manager()
        .await
        .expect("a raw connection")
}

#[test]
fn the_same_delivery_twice_is_refused_the_second_time() {
    let Some(url) = redis_url("the_same_delivery_twice_is_refused_the_second_time") else {
        return;
    };
    runtime().block_on(async {
        let fresh = fresh_secret("twice");
        let guard = ReplayGuard::new(store(&url).await);
        for scheme in Scheme::ALL {
            let verifier =
                WebhookVerifier::new(scheme, WebhookSecret::new(secret_for(scheme, &fresh)))
                    .with_replay_guard(guard.clone());
            verifier.check_secrets().expect("usable secrets");
            let body = format!(r#"{{"scheme":"{scheme}"}}"#).into_bytes();
            let headers = verifier.sign(&body).expect("signed");
            assert_eq!(
                verifier.verify_async(&headers, &body).await,
                Ok(()),
                "{scheme}"
            );
            let replay = verifier.verify_async(&headers, &body).await;
            assert!(
                matches!(replay, Err(WebhookError::Replayed { .. })),
                "{scheme}: {replay:?}"
            );
            // A different delivery is not a replay.
            let other = verifier.sign(b"{}").expect("signed");
            assert_eq!(
                verifier.verify_async(&other, b"{}").await,
                Ok(()),
                "{scheme}"
            );
        }
    });
}

#[test]
fn two_verifiers_sharing_one_redis_refuse_each_others_replays() {
    let Some(url) = redis_url("two_verifiers_sharing_one_redis_refuse_each_others_replays") else {
        return;
    };
    runtime().block_on(async {
        let secret = fresh_secret("instances");
        // Two instances of one service: each its own verifier, its own connection.
        let first = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(&secret))
            .with_replay_guard(ReplayGuard::new(store(&url).await));
        let second = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(&secret))
            .with_replay_guard(ReplayGuard::new(store(&url).await));
        let a = first.sign(b"{\"n\":1}").expect("signed");
        let b = first.sign(b"{\"n\":2}").expect("signed");
        assert_eq!(first.verify_async(&a, b"{\"n\":1}").await, Ok(()));
        assert!(matches!(
            second.verify_async(&a, b"{\"n\":1}").await,
            Err(WebhookError::Replayed { .. })
        ));
        assert_eq!(second.verify_async(&b, b"{\"n\":2}").await, Ok(()));
        assert!(matches!(
            first.verify_async(&b, b"{\"n\":2}").await,
            Err(WebhookError::Replayed { .. })
        ));
        // An in-memory guard is per instance: it cannot see what the other accepted.
        let alone = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(&secret))
            .with_replay_guard(ReplayGuard::in_memory());
        assert_eq!(alone.verify_async(&a, b"{\"n\":1}").await, Ok(()));
    });
}

#[test]
fn concurrent_duplicates_from_many_tasks_are_accepted_exactly_once() {
    let Some(url) = redis_url("concurrent_duplicates_from_many_tasks_are_accepted_exactly_once")
    else {
        return;
    };
    runtime().block_on(async {
        let secret = secret_for(Scheme::StandardWebhooks, &fresh_secret("concurrent"));
        // Three instances, sixteen tasks each, every task sending every delivery.
        let mut verifiers = Vec::new();
        for _ in 0..3 {
            verifiers.push(Arc::new(
                WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new(&secret))
                    .with_replay_guard(ReplayGuard::new(store(&url).await)),
            ));
        }
        const DELIVERIES: usize = 25;
        let deliveries: Arc<Vec<(HeaderMap, Vec<u8>)>> = Arc::new(
            (0..DELIVERIES)
                .map(|n| {
                    let body = format!("{{\"n\":{n}}}").into_bytes();
                    (verifiers[0].sign(&body).expect("signed"), body)
                })
                .collect(),
        );
        let accepted: Arc<Vec<AtomicUsize>> =
            Arc::new((0..DELIVERIES).map(|_| AtomicUsize::new(0)).collect());
        let replayed = Arc::new(AtomicUsize::new(0));
        let unexpected = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for task in 0..48 {
            let verifier = Arc::clone(&verifiers[task % verifiers.len()]);
            let (deliveries, accepted, replayed, unexpected) = (
                Arc::clone(&deliveries),
                Arc::clone(&accepted),
                Arc::clone(&replayed),
                Arc::clone(&unexpected),
            );
            tasks.push(tokio::spawn(async move {
                for n in 0..DELIVERIES {
                    let index = (n * 7 + task) % DELIVERIES;
                    let (headers, body) = &deliveries[index];
                    match verifier.verify_async(headers, body).await {
                        Ok(()) => accepted[index].fetch_add(1, Ordering::Relaxed),
                        Err(WebhookError::Replayed { .. }) => {
                            replayed.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(other) => {
                            let mut unexpected = unexpected.lock().expect("not poisoned");
                            unexpected.push((index, other));
                            unexpected.len()
                        }
                    };
                }
            }));
        }
        for task in tasks {
            task.await.expect("a sending task");
        }
        assert_eq!(*unexpected.lock().expect("not poisoned"), Vec::new());
        for (index, count) in accepted.iter().enumerate() {
            assert_eq!(count.load(Ordering::Relaxed), 1, "delivery {index}");
        }
        assert_eq!(replayed.load(Ordering::Relaxed), DELIVERIES * 47);
    });
}

#[test]
fn an_entry_expires_with_the_window() {
    let Some(url) = redis_url("an_entry_expires_with_the_window") else {
        return;
    };
    runtime().block_on(async {
        let secret = fresh_secret("expiry");
        let mut raw = raw_connection(&url).await;

        // ClayHex has no timestamp: remembered for the tolerance, then accepted again.
        let verifier = WebhookVerifier::new(Scheme::ClayHex, WebhookSecret::new(&secret))
            .with_tolerance(Duration::from_millis(400))
            .with_replay_guard(ReplayGuard::new(store(&url).await));
        let headers = verifier.sign(b"{}").expect("signed");
        assert_eq!(verifier.verify_async(&headers, b"{}").await, Ok(()));
        let signature = clay_hex::sign(&WebhookSecret::new(&secret), b"{}").expect("signed");
        let key = format!("clay-config:webhook:clay-hex:sig:{}", &signature[..32]);
        let ttl: i64 = clay_config::webhook::redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut raw)
            .await
            .expect("PTTL");
        assert!((1..=400).contains(&ttl), "{key} expires in {ttl} ms");
        assert!(matches!(
            verifier.verify_async(&headers, b"{}").await,
            Err(WebhookError::Replayed { .. })
        ));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(verifier.verify_async(&headers, b"{}").await, Ok(()));

        // Standard Webhooks: kept until the timestamp leaves the window, plus a second.
        let secret = secret_for(Scheme::StandardWebhooks, &secret);
        let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new(&secret))
            .with_tolerance(Duration::from_secs(1))
            .with_replay_guard(ReplayGuard::new(store(&url).await));
        let now = SystemTime::now();
        let headers = verifier.sign_at(b"{}", now).expect("signed");
        assert_eq!(verifier.verify_async_at(&headers, b"{}", now).await, Ok(()));
        let id = headers["webhook-id"].to_str().expect("ASCII");
        let key = format!("clay-config:webhook:standard-webhooks:id:{id}");
        let ttl: i64 = clay_config::webhook::redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut raw)
            .await
            .expect("PTTL");
        // The timestamp is whole seconds, under a second old: 0 to 1 s of window left, plus 1 s.
        assert!((1000..=2000).contains(&ttl), "{key} expires in {ttl} ms");
        assert!(matches!(
            verifier.verify_async_at(&headers, b"{}", now).await,
            Err(WebhookError::Replayed {
                header: "webhook-id"
            })
        ));
        tokio::time::sleep(Duration::from_millis(u64::try_from(ttl).unwrap_or(0) + 200)).await;
        // The record is gone, and the timestamp refuses the replay on its own.
        let exists: bool = clay_config::webhook::redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut raw)
            .await
            .expect("EXISTS");
        assert!(!exists, "{key} outlived its window");
        assert!(matches!(
            verifier.verify_async(&headers, b"{}").await,
            Err(WebhookError::StaleTimestamp { .. })
        ));
    });
}

#[test]
fn github_records_the_delivery_id_and_the_signature_in_one_transaction() {
    let Some(url) =
        redis_url("github_records_the_delivery_id_and_the_signature_in_one_transaction")
    else {
        return;
    };
    runtime().block_on(async {
        let secret = fresh_secret("github");
        let verifier = WebhookVerifier::new(Scheme::GitHub, WebhookSecret::new(&secret))
            .with_replay_guard(ReplayGuard::new(store(&url).await));
        let signature = github::sign(&WebhookSecret::new(&secret), b"{}").expect("signed");
        let delivery = |id: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                "x-hub-signature-256",
                HeaderValue::from_str(&signature).expect("a header value"),
            );
            headers.insert(
                "x-github-delivery",
                HeaderValue::from_str(id).expect("a header value"),
            );
            headers
        };
        let id = format!("{}-guid", std::process::id());
        assert_eq!(verifier.verify_async(&delivery(&id), b"{}").await, Ok(()));
        let mut raw = raw_connection(&url).await;
        for key in [
            format!("clay-config:webhook:github:id:{id}"),
            format!("clay-config:webhook:github:sig:{}", &signature[7..39]),
        ] {
            let exists: bool = clay_config::webhook::redis::cmd("EXISTS")
                .arg(&key)
                .query_async(&mut raw)
                .await
                .expect("EXISTS");
            assert!(exists, "{key}");
        }
        assert_eq!(
            verifier.verify_async(&delivery(&id), b"{}").await,
            Err(WebhookError::Replayed {
                header: "x-github-delivery"
            })
        );
        assert!(matches!(
            verifier.verify_async(&delivery("fresh-id"), b"{}").await,
            Err(WebhookError::Replayed { .. })
        ));
    });
}

#[test]
fn the_synchronous_verify_cannot_wait_for_redis_and_refuses() {
    let Some(url) = redis_url("the_synchronous_verify_cannot_wait_for_redis_and_refuses") else {
        return;
    };
    let runtime = runtime();
    let store = runtime.block_on(store(&url));
    let verifier = WebhookVerifier::new(
        Scheme::ClayTimestamped,
        WebhookSecret::new(fresh_secret("sync")),
    )
    .with_replay_guard(ReplayGuard::new(store).fail_open());
    let headers = verifier.sign(b"{}").expect("signed");
    assert_eq!(
        verifier.verify(&headers, b"{}"),
        Err(WebhookError::ReplayStoreUnavailable {
            store: "redis",
            problem: StoreProblem::AsyncOnly,
        })
    );
    assert_eq!(
        runtime.block_on(verifier.verify_async(&headers, b"{}")),
        Ok(())
    );
}

/// A `redis-server` of the test's own on `port`, killed on drop.
struct OwnRedis {
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("CLAY_TEST_REDIS_URL is set, so `redis-server` must be on PATH");
        let server = OwnRedis { child };
        let listening = (0..100).any(|_| {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if !up {
                std::thread::sleep(Duration::from_millis(50));
            }
            up
        });
        assert!(
            listening,
            "redis-server on port {port} did not start listening"
        );
        server
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

#[test]
fn redis_stopped_mid_run_refuses_deliveries_then_recovers() {
    if redis_url("redis_stopped_mid_run_refuses_deliveries_then_recovers").is_none() {
        return;
    }
    let port = free_port();
    let server = OwnRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    runtime().block_on(async {
        let secret = fresh_secret("outage");
        let store = store(&url).await.with_timeout(Duration::from_millis(500));
        let closed = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new(&secret))
            .with_replay_guard(ReplayGuard::new(store.clone()));
        let open = closed
            .clone()
            .with_replay_guard(ReplayGuard::new(store).fail_open());
        let mut sent = 0;
        let mut next = || {
            sent += 1;
            let body = format!("{{\"n\":{sent}}}").into_bytes();
            (closed.sign(&body).expect("signed"), body)
        };

        let (before, before_body) = next();
        assert_eq!(closed.verify_async(&before, &before_body).await, Ok(()));

        server.stop();
        let (during, during_body) = next();
        for _ in 0..3 {
            let answer = tokio::time::timeout(
                Duration::from_secs(15),
                closed.verify_async(&during, &during_body),
            )
            .await
            .expect("the guard answers while Redis is down, it does not hang");
            assert_eq!(
                answer,
                Err(WebhookError::ReplayStoreUnavailable {
                    store: "redis",
                    problem: StoreProblem::Unreachable,
                })
            );
        }
        // A replay is refused too while Redis is down (unjudged, not accepted).
        assert!(matches!(
            closed.verify_async(&before, &before_body).await,
            Err(WebhookError::ReplayStoreUnavailable { .. })
        ));
        // A forgery is still a wrong signature.
        assert!(matches!(
            closed.verify_async(&during, b"forged").await,
            Err(WebhookError::WrongSignature { .. })
        ));
        // Failing open was asked for here: accepted, unrecorded.
        let (opened, opened_body) = next();
        assert_eq!(open.verify_async(&opened, &opened_body).await, Ok(()));

        let server = OwnRedis::start(port);
        let mut recovered = None;
        for _ in 0..100 {
            let (headers, body) = next();
            let answer = closed.verify_async(&headers, &body).await;
            if answer == Ok(()) {
                recovered = Some((headers, body));
                break;
            }
            assert!(
                matches!(answer, Err(WebhookError::ReplayStoreUnavailable { .. })),
                "while reconnecting: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (headers, body) =
            recovered.expect("deliveries are accepted again after Redis restarts");
        assert!(matches!(
            closed.verify_async(&headers, &body).await,
            Err(WebhookError::Replayed { .. })
        ));
        // This Redis kept nothing across the restart (no persistence), so the delivery
        // accepted before the outage is accepted once more: why a guard's Redis should
        // persist (see `RedisStore`).
        assert_eq!(closed.verify_async(&before, &before_body).await, Ok(()));
        // The one refused during the outage was not recorded then, so its retry passes now.
        assert_eq!(closed.verify_async(&during, &during_body).await, Ok(()));
        drop(server);
    });
}
