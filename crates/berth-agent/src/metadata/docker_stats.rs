//! Container stats from the local Docker Engine.

use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::query_parameters::StatsOptions;
use futures::StreamExt;
use serde_json::Value;

use super::{StatsSource, connect_local};

/// How long one stats request may take: a container reading its stats should not hang on a
/// stuck engine.
const STATS_TIMEOUT: Duration = Duration::from_secs(10);

/// [`StatsSource`] backed by Docker: one-shot stats (`stream=false`, `one-shot=true`), the same
/// document `docker stats --no-stream` reads.
#[derive(Debug, Clone)]
pub struct DockerStats {
    docker: Docker,
}

// === impl DockerStats ===

impl DockerStats {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and agrees on an API
    /// version with it.
    pub async fn connect() -> Result<DockerStats, bollard::errors::Error> {
        Ok(DockerStats::new(connect_local().await?))
    }

    /// Uses an existing connection.
    pub fn new(docker: Docker) -> DockerStats {
        DockerStats { docker }
    }
}

#[async_trait]
impl StatsSource for DockerStats {
    async fn stats(&self, docker_id: &str) -> Option<Value> {
        let options = StatsOptions { stream: false, one_shot: true };
        let mut samples = self.docker.stats(docker_id, Some(options));
        match tokio::time::timeout(STATS_TIMEOUT, samples.next()).await {
            Ok(Some(Ok(sample))) => match serde_json::to_value(sample) {
                Ok(value) => Some(value),
                Err(err) => {
                    tracing::warn!(?err, docker_id, "container stats do not serialize");
                    None
                }
            },
            Ok(Some(Err(err))) => {
                tracing::debug!(?err, docker_id, "no container stats from Docker");
                None
            }
            Ok(None) => None,
            Err(_) => {
                tracing::warn!(docker_id, timeout = ?STATS_TIMEOUT, "container stats timed out");
                None
            }
        }
    }
}
