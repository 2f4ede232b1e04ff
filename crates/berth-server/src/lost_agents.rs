//! Lost agents: an instance whose agent stays away too long gives up its tasks.
//!
//! An agent that is disconnected may be restarting (it reconnects within its backoff and its
//! tasks carry on), or its host may be gone for good. After `--agent-lost-after` (a minute by
//! default) the control plane stops waiting: [`sweep`] marks every task of such an instance that
//! is not yet STOPPED as STOPPED, with stop code [`STOP_CODE`] and a reason that says why, and
//! gives its reservation back to the instance, so services see the task gone and replace it on
//! another instance. Each task is stopped in one transaction that also compares the instance
//! record, so an agent that reconnects meanwhile (which rewrites that record) keeps its tasks.
//!
//! The task's entry in its instance's index stays, rewritten to desire STOPPED: when the agent
//! comes back, its session sends it the entry like any other, and the agent stops whatever of
//! the task it still runs. Nothing then runs twice for longer than the agent takes to reconnect.
//!
//! Time is counted from the later of the disconnection and the start of this server: while the
//! control plane was down no agent could reconnect, so a restart gives every agent the whole
//! duration again.

use std::sync::Arc;
use std::time::Duration;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_store::{Compare, Op, Store, Txn};

use crate::state::container_instances::{self, ContainerInstanceRecord};
use crate::state::records::{self, Record, commit, encode};
use crate::state::tasks::{Assignment, TaskRecord};
use crate::state::{keys, partitions};

/// The stop code of a task stopped because its instance was lost: the host, not the task or a
/// user, failed.
pub const STOP_CODE: &str = "InfrastructureHealth";

/// How often a task's stop retries when its records keep changing under it.
const MAX_ATTEMPTS: usize = 16;

/// When the sweep runs, and how it judges an instance.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Now (epoch seconds).
    pub now: f64,
    /// When this server started (epoch seconds): no agent could reconnect before.
    pub started_at: f64,
    /// How long an agent may stay disconnected.
    pub lost_after: Duration,
}

impl Clock {
    /// Whether the instance's agent has been away for longer than allowed.
    fn is_lost(&self, record: &ContainerInstanceRecord) -> bool {
        if record.instance.agent_connected == Some(true) {
            return false;
        }
        let Some(disconnected_at) = record.disconnected_at else { return false };
        self.now - disconnected_at.max(self.started_at) >= self.lost_after.as_secs_f64()
    }
}

/// The reason a lost instance's tasks carry.
pub fn reason(lost_after: Duration) -> String {
    format!(
        "Task stopped because its container instance's agent was disconnected for longer than {} \
         (instance lost).",
        human(lost_after)
    )
}

/// `60s` or `1500ms`: the duration in the flag's syntax.
fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Stops the tasks of every lost instance, in every region and account. Returns how many tasks
/// it stopped; a second sweep at once stops none.
pub async fn sweep(store: &dyn Store, clock: Clock) -> Result<usize, EcsError> {
    let mut stopped = 0;
    let mut after = None;
    while let Some(scope) = partitions::next(store, after.clone()).await? {
        let instances =
            records::list::<ContainerInstanceRecord>(store, &keys::all_container_instances(&scope), None, 0)
                .await?;
        for (key, record) in instances.items {
            if !clock.is_lost(&record) {
                continue;
            }
            let Some(id) = key.rsplit('/').next() else { continue };
            stopped += stop_tasks_of(store, &scope, &record.cluster, id, clock).await?;
        }
        after = Some(partitions::end_of(&scope));
    }
    Ok(stopped)
}

/// Stops the tasks of one lost instance that are not STOPPED yet.
async fn stop_tasks_of(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    instance_id: &str,
    clock: Clock,
) -> Result<usize, EcsError> {
    let index =
        records::list::<Assignment>(store, &keys::instance_tasks(scope, cluster, instance_id), None, 0)
            .await?;
    let mut stopped = 0;
    for (index_key, _) in index.items {
        let Some(task_id) = index_key.rsplit('/').next() else { continue };
        if stop_one(store, scope, cluster, instance_id, task_id, clock).await? {
            stopped += 1;
        }
    }
    if stopped > 0 {
        tracing::warn!(
            cluster,
            instance = instance_id,
            tasks = stopped,
            "container instance lost: its agent stayed disconnected; its tasks are stopped"
        );
    }
    Ok(stopped)
}

/// Stops one task of a lost instance; `false` when there was nothing to do (already STOPPED, or
/// the agent came back).
async fn stop_one(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    instance_id: &str,
    task_id: &str,
    clock: Clock,
) -> Result<bool, EcsError> {
    let task_key = keys::task(scope, cluster, task_id);
    let instance_key = keys::container_instance(scope, cluster, instance_id);
    for _ in 0..MAX_ATTEMPTS {
        let Some(Record { value: mut task, revision: task_revision }) =
            records::get::<TaskRecord>(store, &task_key).await?
        else {
            return Ok(false);
        };
        let Some(Record { value: mut instance, revision: instance_revision }) =
            records::get::<ContainerInstanceRecord>(store, &instance_key).await?
        else {
            return Ok(false);
        };
        let on_this_instance = task.instance_id.as_deref() == Some(instance_id);
        if !on_this_instance
            || task.task.last_status.as_deref() == Some("STOPPED")
            || !clock.is_lost(&instance)
        {
            return Ok(false);
        }
        mark_lost(&mut task, clock);
        if !task.released {
            container_instances::give_back(&mut instance, &task.reservation.demand());
            task.released = true;
        }
        let index_key = keys::instance_task(scope, cluster, instance_id, task_id);
        // The instance is compared even when only the task changes: its agent reconnecting
        // rewrites it, and then the task is the agent's again.
        let txn = Txn::new()
            .when(Compare::unchanged(&task_key, task_revision))
            .when(Compare::unchanged(&instance_key, instance_revision))
            .then(Op::put(&task_key, encode(&task)?))
            .then(Op::put(&instance_key, encode(&instance)?))
            .then(Op::put(&index_key, encode(&task.assignment())?));
        if commit(store, txn).await?.is_some() {
            return Ok(true);
        }
    }
    Err(EcsError::server("A lost instance's task kept changing while it was being stopped."))
}

/// Moves the task to STOPPED as lost. A stop asked for before (StopTask, a service) keeps its
/// code and reason: that is why the task was stopping.
fn mark_lost(task: &mut TaskRecord, clock: Clock) {
    let shape = &mut task.task;
    if shape.desired_status.as_deref() != Some("STOPPED") || shape.stop_code.is_none() {
        shape.stop_code = Some(STOP_CODE.to_string());
        shape.stopped_reason = Some(reason(clock.lost_after));
    }
    shape.desired_status = Some("STOPPED".to_string());
    shape.last_status = Some("STOPPED".to_string());
    shape.stopping_at.get_or_insert(clock.now);
    shape.execution_stopped_at.get_or_insert(clock.now);
    shape.stopped_at.get_or_insert(clock.now);
    for container in shape.containers.iter_mut().flatten() {
        container.last_status = Some("STOPPED".to_string());
    }
    shape.version = Some(shape.version.unwrap_or(0) + 1);
}

/// Sweeps every so often (a quarter of `lost_after`, between 100 ms and 15 s) until aborted.
pub async fn run(store: Arc<dyn Store>, lost_after: Duration, started_at: f64) {
    let every = (lost_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(15));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let clock = Clock { now: crate::context::now(), started_at, lost_after };
        if let Err(err) = sweep(&*store, clock).await {
            tracing::warn!(%err, "lost-agent sweep failed");
        }
    }
}

#[cfg(test)]
mod tests;
