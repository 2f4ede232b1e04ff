//! The agent's settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::runtime::{PullBehavior, RegistryAuth};

/// The metadata endpoint's default port: the one the ECS agent reserves for its credentials and
/// metadata server, so it is in the default reserved ports and no task can take it.
pub const DEFAULT_METADATA_PORT: u16 = 51679;

/// Everything `berth agent` is told.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The control plane's URL, e.g. `http://127.0.0.1:4566`.
    pub server: String,
    /// The cluster to join.
    pub cluster: String,
    /// Where the agent keeps its identity.
    pub data_dir: PathBuf,
    /// The region to sign requests for (the server's default when `None`).
    pub region: Option<String>,
    /// The `ecs.availability-zone` attribute.
    pub availability_zone: Option<String>,
    /// The `ecs.instance-type` attribute.
    pub instance_type: String,
    /// Custom attributes (`--attribute KEY=VALUE`; a key alone has no value).
    pub attributes: BTreeMap<String, Option<String>>,
    /// Memory (MiB) kept back from tasks for the host itself (ECS_RESERVED_MEMORY).
    pub reserved_memory_mib: i64,
    /// Host TCP ports tasks may not use (ECS_RESERVED_PORTS).
    pub reserved_ports: Vec<u16>,
    /// Host UDP ports tasks may not use (ECS_RESERVED_PORTS_UDP).
    pub reserved_udp_ports: Vec<u16>,
    /// How images are pulled (ECS_IMAGE_PULL_BEHAVIOR).
    pub pull_behavior: PullBehavior,
    /// How long a stopped task's containers are kept before removal
    /// (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION).
    pub task_cleanup_wait: Duration,
    /// The default stop timeout of containers (ECS_CONTAINER_STOP_TIMEOUT).
    pub container_stop_timeout: Duration,
    /// CPU units to register (1024 per core when `None`).
    pub cpu_units: Option<i64>,
    /// Memory (MiB) to register (the host's total when `None`).
    pub memory_mib: Option<i64>,
    /// Registry credentials by the name a task definition's `repositoryCredentials.
    /// credentialsParameter` gives (until a secrets store resolves them on the server).
    pub registry_credentials: BTreeMap<String, RegistryAuth>,
    /// Where the task metadata endpoint listens.
    pub metadata: MetadataBind,
}

/// Where the task metadata endpoint (v4) listens.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataBind {
    /// No endpoint (the simulated runtime has no containers to serve).
    Off,
    /// On the Docker bridge's gateway address (reachable from bridge and host-mode containers)
    /// at this port (0: any free port).
    BridgeGateway(u16),
    /// At this address.
    Address(std::net::SocketAddr),
}

impl AgentConfig {
    /// Settings with ECS's defaults for `server`, `cluster` and `data_dir`.
    pub fn new(server: impl Into<String>, cluster: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            server: server.into(),
            cluster: cluster.into(),
            data_dir: data_dir.into(),
            region: None,
            availability_zone: None,
            instance_type: "berth.host".to_string(),
            attributes: BTreeMap::new(),
            reserved_memory_mib: 0,
            // The ECS agent's defaults: SSH, the Docker API ports, and its own introspection ports.
            reserved_ports: vec![22, 2375, 2376, 51678, 51679],
            reserved_udp_ports: Vec::new(),
            pull_behavior: PullBehavior::Default,
            task_cleanup_wait: Duration::from_secs(3 * 60 * 60),
            container_stop_timeout: Duration::from_secs(30),
            cpu_units: None,
            memory_mib: None,
            registry_credentials: BTreeMap::new(),
            metadata: MetadataBind::BridgeGateway(DEFAULT_METADATA_PORT),
        }
    }
}
