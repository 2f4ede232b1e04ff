//! The control plane's settings.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The default listen address: loopback, the port ECS-compatible tools commonly use for a local
/// endpoint.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4566";
/// The region of requests that carry no SigV4 credential scope.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account every resource belongs to until accounts come with the security layer.
pub const DEFAULT_ACCOUNT: &str = "000000000000";
/// The largest request body accepted. RegisterTaskDefinition's own limit is 64 KiB; the rest of
/// the margin is for JSON whitespace and future shapes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long stopped tasks stay describable by default: an hour, as ECS documents.
pub const DEFAULT_TASK_RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long an agent may stay disconnected before its instance is lost and its tasks stopped.
pub const DEFAULT_AGENT_LOST_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// How the control plane runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Where the embedded store keeps its file.
    pub data_dir: PathBuf,
    /// Which store holds the state: the durable embedded one, or memory.
    pub store: StoreKind,
    /// The region of requests that name none.
    pub region: String,
    /// The account id in every ARN.
    pub account_id: String,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long stopped tasks stay describable (ECS keeps them at least an hour).
    pub task_retention: std::time::Duration,
    /// How long an agent may stay disconnected before its instance counts as lost: its tasks
    /// are then stopped so that services replace them (see [`crate::lost_agents`]).
    pub agent_lost_after: std::time::Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("the default listen address is valid"),
            data_dir: PathBuf::from("berth-data"),
            store: StoreKind::Redb,
            region: DEFAULT_REGION.to_string(),
            account_id: DEFAULT_ACCOUNT.to_string(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            task_retention: DEFAULT_TASK_RETENTION,
            agent_lost_after: DEFAULT_AGENT_LOST_AFTER,
        }
    }
}

/// Which store a server keeps its state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded redb file in the data directory: every acknowledged write is on disk.
    Redb,
    /// Memory only: nothing is written to disk and nothing survives the process. For trying
    /// things out, and for measuring what the durable store costs (`berth bench cluster
    /// --store memory`).
    Memory,
}

impl StoreKind {
    /// The store named as `--store` and the config file's `store` name it.
    pub fn parse(text: &str) -> Result<StoreKind, String> {
        match text {
            "redb" => Ok(StoreKind::Redb),
            "memory" => Ok(StoreKind::Memory),
            other => Err(format!("'{other}' is not a store: use redb (durable, the default) or memory")),
        }
    }

    /// The name [`StoreKind::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Redb => "redb",
            StoreKind::Memory => "memory",
        }
    }
}
