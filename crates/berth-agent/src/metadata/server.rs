//! The HTTP server of the endpoint: the v4 paths under `/v4/{token}`, each resolving the token
//! through the registry and serializing the task engine's documents.
//!
//! Errors are what the ECS agent answers: a status (404 for a token or container it does not
//! know) and a body that is a JSON string naming the handler and the reason.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::join_all;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::StatsSource;
use super::registry::{MetadataRegistry, Resolved};
use super::shapes::TaskWithTags;

/// A running metadata endpoint. Dropping it stops the server (connections in flight finish).
#[derive(Debug)]
pub struct MetadataServer {
    addr: SocketAddr,
    registry: MetadataRegistry,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Clone)]
struct Endpoint {
    registry: MetadataRegistry,
    stats: Arc<dyn StatsSource>,
}

// === impl MetadataServer ===

impl MetadataServer {
    /// Binds `bind` (port 0 picks a free port) and serves the endpoint until dropped. `stats`
    /// answers the `/stats` paths.
    pub async fn start(bind: SocketAddr, stats: Arc<dyn StatsSource>) -> std::io::Result<MetadataServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let registry = MetadataRegistry::new(format!("http://{addr}"));
        let app = router(Endpoint { registry: registry.clone(), stats });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // The sender is dropped or fires when the server is stopped: either ends the wait.
            let signal = async move {
                let _ = stopped.await;
            };
            if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(signal).await {
                tracing::error!(?err, %addr, "task metadata endpoint failed");
            }
        });
        tracing::info!(%addr, "task metadata endpoint listening");
        Ok(MetadataServer { addr, registry, shutdown: Some(shutdown), task: Some(task) })
    }

    /// `http://HOST:PORT`, the start of every container URI.
    pub fn base_url(&self) -> &str {
        self.registry.base_url()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registry the server serves; give a clone to the task engine.
    pub fn registry(&self) -> MetadataRegistry {
        self.registry.clone()
    }

    /// Stops accepting connections and waits for the ones in flight to finish.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

// === routes ===

fn router(endpoint: Endpoint) -> Router {
    Router::new()
        .route("/v4/{token}", get(container))
        .route("/v4/{token}/task", get(task))
        .route("/v4/{token}/taskWithTags", get(task_with_tags))
        .route("/v4/{token}/stats", get(container_stats))
        .route("/v4/{token}/task/stats", get(task_stats))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "V4 metadata handler", "no such path") })
        .with_state(endpoint)
}

async fn container(State(endpoint): State<Endpoint>, Path(token): Path<String>) -> Response {
    match endpoint.registry.resolve(&token) {
        Some(Resolved { task, container }) => Json(&task.containers[container]).into_response(),
        None => unknown_token("V4 container metadata handler"),
    }
}

async fn task(State(endpoint): State<Endpoint>, Path(token): Path<String>) -> Response {
    match endpoint.registry.resolve(&token) {
        Some(Resolved { task, .. }) => Json(&*task).into_response(),
        None => unknown_token("V4 task metadata handler"),
    }
}

async fn task_with_tags(State(endpoint): State<Endpoint>, Path(token): Path<String>) -> Response {
    match endpoint.registry.resolve(&token) {
        Some(Resolved { task, .. }) => Json(TaskWithTags {
            task: &task,
            task_tags: &task.task_tags,
            container_instance_tags: &task.container_instance_tags,
        })
        .into_response(),
        None => unknown_token("V4 task metadata handler"),
    }
}

async fn container_stats(State(endpoint): State<Endpoint>, Path(token): Path<String>) -> Response {
    const HANDLER: &str = "V4 container stats handler";
    let Some(Resolved { task, container }) = endpoint.registry.resolve(&token) else {
        return unknown_token(HANDLER);
    };
    let container = &task.containers[container];
    if container.docker_id.is_empty() {
        let reason = format!("container {} has not been created yet", container.name);
        return error(StatusCode::NOT_FOUND, HANDLER, &reason);
    }
    match endpoint.stats.stats(&container.docker_id).await {
        Some(stats) => Json(stats).into_response(),
        None => {
            let reason = format!("no stats are available for container {}", container.name);
            error(StatusCode::NOT_FOUND, HANDLER, &reason)
        }
    }
}

/// Every created container's stats by Docker id; `null` for one whose stats are unavailable.
async fn task_stats(State(endpoint): State<Endpoint>, Path(token): Path<String>) -> Response {
    let Some(Resolved { task, .. }) = endpoint.registry.resolve(&token) else {
        return unknown_token("V4 task stats handler");
    };
    let created = task.containers.iter().filter(|c| !c.docker_id.is_empty());
    let stats = join_all(created.map(|c| {
        let source = endpoint.stats.clone();
        async move { (c.docker_id.clone(), source.stats(&c.docker_id).await.unwrap_or(Value::Null)) }
    }))
    .await;
    Json(stats.into_iter().collect::<Map<String, Value>>()).into_response()
}

fn unknown_token(handler: &str) -> Response {
    error(StatusCode::NOT_FOUND, handler, "no container has this endpoint token")
}

fn error(status: StatusCode, handler: &str, reason: &str) -> Response {
    (status, Json(format!("{handler}: {reason}"))).into_response()
}
