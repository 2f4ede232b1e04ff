//! The container runtime seam: the operations the task engine needs, whatever runs containers.
//!
//! The task engine decides *what* happens to a task (pull, create and start its containers in
//! `dependsOn` order, watch them, stop them); a [`Runtime`] does each step. Containers carry
//! labels naming their task ([`labels`]), so a restarted agent finds and re-adopts what runs.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use berth_api::model::{ContainerDefinition, NetworkBinding, TaskDefinition};

pub mod docker;
pub mod simulated;

/// The labels the ECS agent puts on containers, which Berth puts on them too.
pub mod labels {
    /// The task's ARN.
    pub const TASK_ARN: &str = "com.amazonaws.ecs.task-arn";
    /// The cluster's name.
    pub const CLUSTER: &str = "com.amazonaws.ecs.cluster";
    /// The container's name in the task definition.
    pub const CONTAINER_NAME: &str = "com.amazonaws.ecs.container-name";
    /// The task definition family.
    pub const FAMILY: &str = "com.amazonaws.ecs.task-definition-family";
    /// The task definition revision.
    pub const VERSION: &str = "com.amazonaws.ecs.task-definition-version";
    /// The ARN of the container instance whose agent made the container. Several agents may
    /// share one Docker Engine (hosts simulated as containers, or a test machine); each adopts
    /// and cleans up only its own instance's containers.
    pub const CONTAINER_INSTANCE: &str = "com.berth.container-instance";
}

/// How an agent pulls images (ECS_IMAGE_PULL_BEHAVIOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullBehavior {
    /// Pull; if the pull fails, use the cached image when there is one.
    #[default]
    Default,
    /// Always pull; a failed pull fails the task.
    Always,
    /// Pull only if the image is not cached (the first time).
    Once,
    /// Use the cached image when there is one; pull otherwise.
    PreferCached,
}

/// Credentials for a private registry (from `repositoryCredentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

/// Everything needed to create one container of a task.
#[derive(Debug, Clone)]
pub struct ContainerRequest {
    /// The task's ARN.
    pub task_arn: String,
    /// The cluster's name.
    pub cluster: String,
    /// The task definition (network mode, volumes, task-level cpu and memory, family, revision).
    /// The engine leaves its container definitions out: the request's own is `container`.
    pub task_definition: TaskDefinition,
    /// The container's definition, with the task's overrides already applied.
    pub container: ContainerDefinition,
    /// Extra environment the agent adds (ECS_CONTAINER_METADATA_URI_V4, ...).
    pub extra_environment: BTreeMap<String, String>,
    /// Runtime ids of the task's containers already created, by container name (volumesFrom,
    /// links).
    pub siblings: BTreeMap<String, String>,
    /// The name to give the container in the runtime.
    pub runtime_name: String,
}

/// A container the runtime manages, as found by its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedContainer {
    /// The runtime's id.
    pub id: String,
    /// The labels (task ARN, container name, ...).
    pub labels: BTreeMap<String, String>,
    /// Its state.
    pub state: ContainerState,
}

/// A container's state in the runtime.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerState {
    /// Whether it runs.
    pub running: bool,
    /// The exit code, once it has exited.
    pub exit_code: Option<i32>,
    /// Why it exited, if the runtime says (OOM killed, ...).
    pub error: Option<String>,
    /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN` (no health check: `None`).
    pub health: Option<String>,
    /// Host ports bound to container ports.
    pub network_bindings: Vec<NetworkBinding>,
    /// The image digest, if known.
    pub image_digest: Option<String>,
    /// When it started (epoch seconds).
    pub started_at: Option<f64>,
    /// When it exited (epoch seconds).
    pub finished_at: Option<f64>,
}

/// Something that happened to a container, as the runtime's event stream tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum ContainerEvent {
    /// The container exited (or was killed).
    Died {
        /// The runtime's id.
        id: String,
    },
    /// The container's health status changed.
    Health {
        /// The runtime's id.
        id: String,
        /// `HEALTHY` or `UNHEALTHY`.
        status: String,
    },
}

/// A runtime failure, phrased as ECS phrases it where ECS has a phrase.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image could not be pulled (and no usable cached image).
    #[error("CannotPullContainerError: {0}")]
    Pull(String),
    /// The container could not be created.
    #[error("CannotCreateContainerError: {0}")]
    Create(String),
    /// The container could not be started.
    #[error("CannotStartContainerError: {0}")]
    Start(String),
    /// The container could not be stopped.
    #[error("CannotStopContainerError: {0}")]
    Stop(String),
    /// The container does not exist.
    #[error("no such container: {0}")]
    NotFound(String),
    /// Anything else (the engine is unreachable, ...).
    #[error("{0}")]
    Other(String),
}

/// What a runtime says about itself at registration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeInfo {
    /// The engine's version, if it has one.
    pub version: Option<String>,
    /// Capability attributes, name and optional value.
    pub capabilities: Vec<(String, Option<String>)>,
}

/// What runs containers.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Makes `image` available under `behavior`. Returns the image digest when known.
    async fn pull(
        &self,
        image: &str,
        behavior: PullBehavior,
        auth: Option<&RegistryAuth>,
    ) -> Result<Option<String>, RuntimeError>;
    /// Creates a container (not started); returns its runtime id. Creating a container whose
    /// `runtime_name` exists already returns the existing one's id (idempotent, so a retried
    /// start never makes two).
    async fn create(&self, request: &ContainerRequest) -> Result<String, RuntimeError>;
    /// Starts a created container.
    async fn start(&self, id: &str) -> Result<(), RuntimeError>;
    /// Sends SIGTERM (or the image's stop signal), then SIGKILL after `timeout`.
    async fn stop(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError>;
    /// The container's state.
    async fn inspect(&self, id: &str) -> Result<ContainerState, RuntimeError>;
    /// Removes a container (and its anonymous volumes).
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// Every container carrying the task labels, running or not.
    async fn list_managed(&self) -> Result<Vec<ManagedContainer>, RuntimeError>;
    /// Creates a Docker volume for a task (task scope) or reuses it (shared scope).
    async fn ensure_volume(
        &self,
        name: &str,
        driver: Option<&str>,
        options: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError>;
    /// Removes a task-scoped volume.
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError>;
    /// The runtime's version (reported in `versionInfo.dockerVersion`) and the capability
    /// attributes it gives the instance (`com.amazonaws.ecs.capability.*`).
    async fn describe(&self) -> RuntimeInfo {
        RuntimeInfo::default()
    }
    /// A stream of container events (deaths, health changes) for managed containers. The stream
    /// ends if the runtime goes away; the caller re-subscribes and re-inspects.
    fn events(&self) -> futures::stream::BoxStream<'static, ContainerEvent>;
}
