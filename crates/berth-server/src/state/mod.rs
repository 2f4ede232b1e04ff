//! ECS resources as records of the store.
//!
//! Each resource is one JSON value under a key of its region and account ([`keys`]). [`records`]
//! reads and writes them with typed helpers and compare-and-set retries, so a handler states what a
//! record should become and never loses a concurrent update. The modules beside them hold what a
//! resource needs beyond one record, such as a task definition family's revision counter.

pub mod container_instances;
mod follow;
pub mod keys;
pub mod partitions;
mod per_store;
pub mod records;
pub mod services;
pub mod task_counts;
pub mod task_definitions;
pub mod task_placement;
pub mod tasks;

use berth_api::EcsError;
use berth_store::StoreError;

/// A store failure is never the client's fault: it is a `ServerException`.
pub fn store_error(err: StoreError) -> EcsError {
    tracing::error!(%err, "store operation failed");
    EcsError::server("The control plane could not reach its state store; try again.")
}
