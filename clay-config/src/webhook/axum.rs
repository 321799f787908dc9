//! An axum extractor that verifies a webhook before the handler sees it (feature `axum`).
//!
//! [`VerifiedBody`] reads the raw body, verifies it with the [`WebhookVerifier`] in the
//! router's state (through [`verify_async`](WebhookVerifier::verify_async), so its
//! [replay guard](WebhookVerifier::with_replay_guard) may wait for Redis), and hands the
//! handler the bytes that were signed. An unsigned, tampered, stale, malformed or replayed
//! request never reaches the handler: it is answered `401 Unauthorized` with a JSON body such
//! as `{"error":"wrong_signature","message":"signature in `x-clay-signature` does not match
//! the body"}`, or for a replay `{"error":"replayed","message":"a replay: a delivery with the
//! same `webhook-id` was already accepted within the replay window"}`.
//!
//! When the replay guard's store cannot answer (and the guard fails closed), the request is
//! answered `503 Service Unavailable` with `Retry-After: 5` and
//! `{"error":"replay_store_unavailable",…}`: the delivery was not judged, and a `401` would
//! tell a sender that stops at client errors to give up on a delivery that may be genuine.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use clay_config::WebhookSecret;
//! use clay_config::webhook::{Scheme, WebhookVerifier, axum::VerifiedBody};
//!
//! async fn receive(VerifiedBody(body): VerifiedBody) -> &'static str {
//!     // `body` is exactly what was signed: parse it now, not before.
//!     let _ = body;
//!     "ok"
//! }
//!
//! let verifier = WebhookVerifier::new(Scheme::ClayTimestamped, WebhookSecret::new("s3cr3t-s3cr3t"));
//! let app: Router = Router::new()
//!     .route("/webhooks/clay", post(receive))
//!     .with_state(Arc::new(verifier));
//! ```
//!
//! With a larger state, implement `FromRef<YourState> for Arc<WebhookVerifier>` (or derive
//! `FromRef`). The body is read under axum's body limit (`DefaultBodyLimit`, 2 MB unless
//! changed); a larger one is refused before any HMAC is computed.

use std::sync::Arc;

use ::axum::body::Bytes;
use ::axum::extract::rejection::BytesRejection;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::{HeaderValue, StatusCode, header};
use ::axum::response::{IntoResponse, Response};

use super::{WebhookError, WebhookVerifier};

/// The raw body of a webhook whose signature was verified; the handler's last argument.
#[derive(Debug, Clone)]
pub struct VerifiedBody(pub Bytes);

impl VerifiedBody {
    /// The verified bytes.
    pub fn into_inner(self) -> Bytes {
        self.0
    }
}

impl std::ops::Deref for VerifiedBody {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<S> FromRequest<S> for VerifiedBody
where
    S: Send + Sync,
    Arc<WebhookVerifier>: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<WebhookVerifier>::from_ref(state);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(WebhookRejection::Body)?;
        match verifier.verify_async(&headers, &body).await {
            Ok(()) => Ok(VerifiedBody(body)),
            Err(error) => {
                tracing::warn!(
                    scheme = %verifier.scheme(),
                    code = error.code(),
                    "webhook refused: {error}"
                );
                Err(WebhookRejection::Unverified(error))
            }
        }
    }
}

/// Why [`VerifiedBody`] refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The request did not verify, or was a replay: answered `401 Unauthorized` with a JSON
    /// error; or the replay guard's store could not answer
    /// ([`WebhookError::ReplayStoreUnavailable`]): `503 Service Unavailable` with
    /// `Retry-After: 5`, so the sender retries.
    Unverified(WebhookError),
    /// The body could not be read (too large, broken connection): axum's own answer.
    Body(BytesRejection),
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        match self {
            WebhookRejection::Unverified(error @ WebhookError::ReplayStoreUnavailable { .. }) => (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (header::RETRY_AFTER, HeaderValue::from_static("5")),
                ],
                error_json(&error),
            )
                .into_response(),
            WebhookRejection::Unverified(error) => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                error_json(&error),
            )
                .into_response(),
            WebhookRejection::Body(rejection) => rejection.into_response(),
        }
    }
}

/// `{"error":"<code>","message":"<text>"}`. Built by hand to keep serde out of the feature; the
/// message is the crate's own text, escaped all the same.
fn error_json(error: &WebhookError) -> String {
    let mut json = String::from("{\"error\":\"");
    json.push_str(error.code());
    json.push_str("\",\"message\":\"");
    for c in error.to_string().chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            c if u32::from(c) < 0x20 => json.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => json.push(c),
        }
    }
    json.push_str("\"}");
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::Malformed;

    #[test]
    fn replays_are_401_and_an_unanswering_store_503() {
        let replayed = WebhookRejection::Unverified(WebhookError::Replayed {
            header: "webhook-id",
        })
        .into_response();
        assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
        assert!(replayed.headers().get(header::RETRY_AFTER).is_none());
        assert!(
            error_json(&WebhookError::Replayed {
                header: "webhook-id"
            })
            .contains("replay")
        );
        let unavailable = WebhookRejection::Unverified(WebhookError::ReplayStoreUnavailable {
            store: "redis",
            problem: crate::webhook::StoreProblem::Unreachable,
        })
        .into_response();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn error_json_is_escaped() {
        let json = error_json(&WebhookError::MalformedSignature {
            header: "x-\"quoted\"\\\n",
            problem: Malformed::Empty,
        });
        assert_eq!(
            json,
            r#"{"error":"malformed_signature","message":"malformed signature in `x-\"quoted\"\\\u000a`: empty"}"#
        );
    }
}
