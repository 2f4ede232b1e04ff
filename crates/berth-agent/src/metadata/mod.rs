//! The task metadata endpoint, version 4: what the ECS agent serves at
//! `ECS_CONTAINER_METADATA_URI_V4`, so that software that reads its task's metadata or stats from
//! inside an ECS container (log routers, monitoring agents, applications finding their cluster
//! and task) works unchanged under Berth.
//!
//! Paths, relative to a container's URI `{base}/v4/{token}`:
//!
//! | path | document |
//! |---|---|
//! | (none) | the container's metadata ([`ContainerMetadata`]) |
//! | `/task` | the task's metadata with all its containers ([`TaskMetadata`]) |
//! | `/taskWithTags` | the same with `TaskTags` and `ContainerInstanceTags` |
//! | `/stats` | the container's Docker stats |
//! | `/task/stats` | every container's Docker stats, by Docker id |
//!
//! The task engine owns the documents: it calls [`MetadataRegistry::upsert_task`] whenever a
//! task changes and [`MetadataRegistry::remove_task`] when it is cleaned up. The server only
//! reads them. Containers on Docker's default bridge reach the host at the bridge's gateway
//! ([`bridge_gateway`]), and so do host-network containers, so the agent binds the server there.

mod docker_stats;
mod gateway;
mod registry;
mod server;
mod shapes;

use async_trait::async_trait;

pub use docker_stats::DockerStats;
pub use gateway::{bridge_gateway, network_gateway};
pub use registry::MetadataRegistry;
pub use server::MetadataServer;
pub use shapes::{
    ContainerMetadata, HealthMetadata, Limits, NetworkMetadata, PortMetadata, TaskMetadata, VolumeMetadata,
    rfc3339,
};

/// Where the `/stats` paths get a container's stats.
#[async_trait]
pub trait StatsSource: Send + Sync + 'static {
    /// The container's stats in Docker's JSON shape, or `None` when there are none (the
    /// container is gone, the engine unreachable).
    async fn stats(&self, docker_id: &str) -> Option<serde_json::Value>;
}

/// A client of the local engine (`DOCKER_HOST` or the default socket), its API version agreed.
async fn connect_local() -> Result<bollard::Docker, bollard::errors::Error> {
    bollard::Docker::connect_with_local_defaults()?.negotiate_version().await
}
