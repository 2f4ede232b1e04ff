//! The HTTP front of the control plane: routes, request limits and the wire form of responses.

mod protocol;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_store::Store;
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::ops;

pub use protocol::{error_response, region_of};

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The server's settings.
    pub config: Arc<ServerConfig>,
    /// The current agent session of each container instance.
    pub connections: crate::agents::connections::Connections,
}

/// The control plane's routes: `POST /` for the ECS API, `GET /health` for readiness, and the
/// agents' session WebSocket.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", post(api).fallback(wrong_method))
        .route("/health", get(health))
        .route(berth_api::agent_protocol::SESSION_PATH, get(crate::agents::session::upgrade))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Answers are small and latency matters more than packet count: send them at once.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "failed to set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

async fn api(State(state): State<AppState>, request: Request<Body>) -> Response {
    let (call, body) = match protocol::read_request(&state.config, request).await {
        Ok(parts) => parts,
        Err(err) => return error_response(&err),
    };
    let ctx = crate::Ctx::new(state.store.clone(), call.scope)
        .with_endpoint(format!("http://{}", state.config.listen));
    match ops::dispatch(ctx, &call.operation, &body).await {
        Ok(json) => protocol::json_response(json),
        Err(err) => {
            if err.http_status() >= 500 {
                tracing::error!(operation = %call.operation, %err, "request failed");
            } else {
                tracing::debug!(operation = %call.operation, %err, "request refused");
            }
            error_response(&err)
        }
    }
}

async fn wrong_method() -> Response {
    error_response(&berth_api::EcsError::new(
        berth_api::ErrorCode::MissingAction,
        "The ECS API is served on POST / with an X-Amz-Target header.",
    ))
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store.revision().await {
        Ok(revision) => {
            axum::Json(serde_json::json!({ "status": "ok", "revision": revision })).into_response()
        }
        Err(err) => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "unavailable", "error": err.to_string() })),
        )
            .into_response(),
    }
}
