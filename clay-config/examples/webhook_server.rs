//! A webhook receiver that refuses unsigned, tampered and replayed requests before the handler
//! runs.
//!
//! ```text
//! CLAY_WEBHOOK_SECRET=… [CLAY_WEBHOOK_SCHEME=clay-timestamped] [ADDR=127.0.0.1:3000] \
//!     cargo run -p clay-config --features axum --example webhook_server
//! REDIS_URL=redis://127.0.0.1:6379/ CLAY_WEBHOOK_SECRET=… \
//!     cargo run -p clay-config --features axum,redis --example webhook_server
//! ```
//!
//! `CLAY_WEBHOOK_SCHEME` is one of `clay-hex`, `clay-timestamped` (the default),
//! `standard-webhooks`, `github`, `stripe`; `CLAY_WEBHOOK_PREVIOUS_SECRET`, when set, keeps the
//! secret being rotated out working. Deliveries go to `POST /webhooks`; a verified one is
//! answered `204 No Content`, a replay of one `401` with `{"error":"replayed",…}`, anything
//! else that fails verification `401` with a JSON error.
//!
//! Each delivery is accepted once (a replay guard): with `REDIS_URL` set (and the `redis`
//! feature), the guard lives in that Redis and every instance of the receiver shares it; without
//! it, in this process's memory. When Redis cannot answer, deliveries are refused with `503`
//! (the sender retries) rather than accepted unchecked.
//!
//! The end-to-end test (`tests/webhook_e2e.rs`) serves this file's [`app`] on a free port.

use std::error::Error;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use clay_config::WebhookSecret;
use clay_config::webhook::axum::VerifiedBody;
use clay_config::webhook::{ReplayGuard, Scheme, WebhookVerifier};
use tokio::sync::mpsc;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    verifier: Arc<WebhookVerifier>,
    /// Each verified delivery's body, for whatever processes them.
    deliveries: mpsc::UnboundedSender<Bytes>,
}

/// `VerifiedBody` finds the verifier in the state through this.
impl FromRef<AppState> for Arc<WebhookVerifier> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.verifier)
    }
}

/// The receiver: `POST /webhooks`, verified by `verifier`, each delivery sent to `deliveries`.
/// A verifier without a replay guard is given one in memory: a receiver accepts a delivery
/// once.
pub(crate) fn app(verifier: WebhookVerifier, deliveries: mpsc::UnboundedSender<Bytes>) -> Router {
    let verifier = match verifier.replay_guard() {
        Some(_) => verifier,
        None => verifier.with_replay_guard(ReplayGuard::in_memory()),
    };
    Router::new()
        .route("/webhooks", post(receive))
        .with_state(AppState {
            verifier: Arc::new(verifier),
            deliveries,
        })
}

/// Runs only for a verified request: the extractor answered every other one.
async fn receive(State(state): State<AppState>, VerifiedBody(body): VerifiedBody) -> StatusCode {
    // Parse `body` here, after verification, from the very bytes that were signed.
    match state.deliveries.send(body) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let secret = std::env::var("CLAY_WEBHOOK_SECRET")
        .map_err(|_| "set CLAY_WEBHOOK_SECRET to the secret webhooks are signed with")?;
    let scheme_name =
        std::env::var("CLAY_WEBHOOK_SCHEME").unwrap_or_else(|_| "clay-timestamped".to_owned());
    let scheme = Scheme::from_name(&scheme_name)
        .ok_or_else(|| format!("unknown CLAY_WEBHOOK_SCHEME `{scheme_name}`"))?;
    let mut verifier = WebhookVerifier::new(scheme, WebhookSecret::new(secret));
    if let Ok(previous) = std::env::var("CLAY_WEBHOOK_PREVIOUS_SECRET") {
        verifier = verifier.with_previous(WebhookSecret::new(previous));
    }
    // Fail at start-up, not on every delivery, when a secret cannot be used.
    verifier.check_secrets()?;
    let verifier = verifier.with_replay_guard(replay_guard().await?);

    let (deliveries, mut received) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(body) = received.recv().await {
            println!("verified {scheme} webhook: {} bytes", body.len());
        }
    });

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("receiving {scheme} webhooks on http://{addr}/webhooks");
    axum::serve(listener, app(verifier, deliveries)).await?;
    Ok(())
}

/// Redis when `REDIS_URL` is set, so every instance shares one guard; this process's memory
/// otherwise. An unreachable Redis stops the start-up: a receiver that silently fell back to
/// memory would accept, on each instance, what another already accepted.
async fn replay_guard() -> Result<ReplayGuard, Box<dyn Error>> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        println!("replay guard: in memory (set REDIS_URL to share one between instances)");
        return Ok(ReplayGuard::in_memory());
    };
    redis_guard(&url).await
}

#[cfg(feature = "redis")]
async fn redis_guard(url: &str) -> Result<ReplayGuard, Box<dyn Error>> {
    let store = clay_config::webhook::RedisStore::connect(url)
        .await
        .map_err(|error| format!("REDIS_URL: cannot connect to Redis: {error}"))?;
    println!("replay guard: Redis (shared by every instance using it)");
    Ok(ReplayGuard::new(store))
}

#[cfg(not(feature = "redis"))]
async fn redis_guard(_url: &str) -> Result<ReplayGuard, Box<dyn Error>> {
    Err(
        "REDIS_URL is set, but this example was built without the `redis` feature: \
         run it with `--features axum,redis`"
            .into(),
    )
}
