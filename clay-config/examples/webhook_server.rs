//! A webhook receiver that refuses unsigned, tampered and replayed requests before the handler
//! runs.
//!
//! ```text
//! CLAY_WEBHOOK_SECRET=… [CLAY_WEBHOOK_SCHEME=clay-timestamped] [ADDR=127.0.0.1:3000] \
//!     cargo run -p clay-config --features axum --example webhook_server
//! ```
//!
//! `CLAY_WEBHOOK_SCHEME` is one of `clay-hex`, `clay-timestamped` (the default),
//! `standard-webhooks`, `github`, `stripe`; `CLAY_WEBHOOK_PREVIOUS_SECRET`, when set, keeps the
//! secret being rotated out working. Deliveries go to `POST /webhooks`; a verified one is
//! answered `204 No Content`, anything else `401` with a JSON error.
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
use clay_config::webhook::{Scheme, WebhookVerifier};
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
pub(crate) fn app(verifier: WebhookVerifier, deliveries: mpsc::UnboundedSender<Bytes>) -> Router {
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
