//! The service controller: keeps every service's tasks in line with what the service asks for.
//!
//! [`plan`] decides, as a pure function of a service, its deployments, its tasks, the cluster's
//! instances and the clock, what to start, what to stop and what to write back (counts,
//! rollout states, events). [`run`] is the reconcile loop: woken by store watches and by a
//! periodic resync, it reads each service's current state, asks the planner, and applies the
//! plan through the same placement and stop paths as RunTask and StopTask, writing the service
//! record under a compare-and-set on its revision. It never acts on "the event that happened":
//! every pass starts from what the store says now, so a missed or repeated wake-up changes
//! nothing. [`Bookkeeping`] is the little the controller remembers between passes, kept in the
//! service record itself.

mod book;
mod launch;
pub mod plan;
mod reconcile;
mod run;
mod task_sets;
mod views;
mod write;

use std::sync::Arc;

use berth_store::Store;
use tokio::task::JoinHandle;

pub use book::Bookkeeping;
pub use run::RESYNC_EVERY;

/// Starts the controller over `store`; it runs until the returned task is aborted.
pub fn spawn(store: Arc<dyn Store>) -> JoinHandle<()> {
    tokio::spawn(run::run(store, plan::Settings::default()))
}
