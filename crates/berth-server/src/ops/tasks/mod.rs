//! Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks, SubmitTaskStateChange and
//! SubmitContainerStateChange.
//!
//! The handlers only write records. A task is placed by committing its record, its assignment
//! and its instance's reservation together ([`crate::state::task_placement`]); the agent session
//! of the instance watches the assignments and runs what it is given, and the agent's reports
//! (or the two Submit*StateChange calls, their API form) move the task through its lifecycle
//! with [`crate::state::tasks::apply_report`]. Stopped tasks stay describable until the
//! retention sweep ([`crate::retention`]) removes them.

pub mod client_token;
pub mod demand;
pub mod describe;
pub mod launch;
pub mod list;
pub mod params;
pub mod placement;
pub mod run;
pub mod start;
pub mod stop;
pub mod submit_container_state_change;
pub mod submit_task_state_change;

use berth_api::{EcsError, arn};

use crate::Ctx;
use crate::state::keys;
use crate::state::records::{self, Record};
use crate::state::task_placement::load_task_summaries;
use crate::state::tasks::{TaskRecord, lifecycle_rank};

/// ECS's answer for a task reference that names no task of the cluster.
pub fn task_not_found() -> EcsError {
    EcsError::invalid_parameter("The referenced task was not found.")
}

/// Finds a task of `cluster` by id or ARN.
pub async fn find_task(ctx: &Ctx, cluster: &str, reference: &str) -> Result<Record<TaskRecord>, EcsError> {
    let id = arn::member_id(&ctx.scope, cluster, "task", reference)?.ok_or_else(task_not_found)?;
    records::get::<TaskRecord>(&*ctx.store, &keys::task(&ctx.scope, cluster, &id))
        .await?
        .ok_or_else(task_not_found)
}

/// Whether `cluster` holds a task that has not stopped: what keeps ECS from deleting a cluster.
/// Stopped tasks, which stay visible for a while, do not count.
pub async fn any_active(ctx: &Ctx, cluster: &str) -> Result<bool, EcsError> {
    Ok(load_task_summaries(&*ctx.store, &ctx.scope, cluster)
        .await?
        .iter()
        .any(|(_, task)| !task.is_stopped()))
}

/// A cluster's task counts, as DescribeClusters reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Tasks that reached RUNNING and have not stopped.
    pub running: i32,
    /// Tasks not yet RUNNING (PROVISIONING, PENDING, ACTIVATING).
    pub pending: i32,
}

/// Counts the tasks of `cluster` by where they are in their lifecycle.
pub async fn counts(ctx: &Ctx, cluster: &str) -> Result<TaskCounts, EcsError> {
    let mut counts = TaskCounts::default();
    for (_, task) in load_task_summaries(&*ctx.store, &ctx.scope, cluster).await? {
        if task.is_stopped() {
            continue;
        }
        if lifecycle_rank(task.task.last_status.as_deref().unwrap_or_default()) >= lifecycle_rank("RUNNING") {
            counts.running += 1;
        } else {
            counts.pending += 1;
        }
    }
    Ok(counts)
}
