//! Task sets of services with the EXTERNAL deployment controller.
//!
//! With EXTERNAL, whoever drives the rollout (a pipeline, a custom controller) decides how many
//! tasks each task set runs, through its scale; the controller keeps each task set at its
//! `computedDesiredCount`, with no rolling bounds of its own, and writes back its running and
//! pending counts and its stability. Tasks carry their task set's id as `startedBy`, so a task
//! that no task set claims any more (DeleteTaskSet, DeleteService) is stopped, and a DRAINING
//! service whose tasks are all gone becomes INACTIVE.

use std::collections::{BTreeMap, BTreeSet};

use berth_api::EcsError;
use berth_api::model::TaskSet;
use berth_store::{Compare, Op, Revision, Txn};

use super::launch;
use super::views::{SCHEDULER_STOP_CODE, StoredTask};
use crate::Ctx;
use crate::context::now;
use crate::ops::tasks::stop::stop_task;
use crate::state::keys;
use crate::state::records::{self, commit, encode};
use crate::state::services::{DRAINING, INACTIVE, ServiceRecord};
use crate::state::store_error;

/// A task set's stability once it runs what it should.
const STEADY_STATE: &str = "STEADY_STATE";
/// A task set's stability while tasks still start or stop.
const STABILIZING: &str = "STABILIZING";

/// One stored task set with the revision that wrote it.
struct StoredSet {
    key: String,
    revision: Revision,
    set: TaskSet,
}

/// Brings every task set of the EXTERNAL service in `record` to its computed desired count.
pub async fn reconcile(ctx: &Ctx, record: &ServiceRecord, tasks: &[StoredTask]) -> Result<(), EcsError> {
    let sets = load(ctx, record).await?;
    let claimed: BTreeSet<&str> = sets.iter().filter_map(|s| s.set.id.as_deref()).collect();
    let live: Vec<&StoredTask> = tasks.iter().filter(|t| is_live(t)).collect();
    let mut by_set: BTreeMap<&str, Vec<&StoredTask>> = BTreeMap::new();
    for task in &live {
        let set = task.task.started_by.as_deref().unwrap_or_default();
        if claimed.contains(set) {
            by_set.entry(set).or_default().push(task);
        } else {
            stop(ctx, record, task, set).await;
        }
    }
    for stored in &sets {
        let id = stored.set.id.clone().unwrap_or_default();
        let mut mine = by_set.remove(id.as_str()).unwrap_or_default();
        let desired = usize::try_from(stored.set.computed_desired_count.unwrap_or(0)).unwrap_or(0);
        let mut started = 0;
        if mine.len() < desired {
            let wanted = u32::try_from(desired - mine.len()).unwrap_or(u32::MAX);
            let launched = launch::start(ctx, record, &id, wanted, false).await;
            if let Some(refused) = &launched.refused {
                tracing::debug!(service = record.name(), task_set = %id, refused, "task set short of tasks");
            }
            started = launched.tasks.len();
        } else if mine.len() > desired {
            // Tasks not yet RUNNING go first: stopping them costs the least.
            mine.sort_by_key(|t| t.task.last_status.as_deref() == Some("RUNNING"));
            for task in mine.drain(..mine.len() - desired) {
                stop(ctx, record, task, &id).await;
            }
        }
        let running = mine.iter().filter(|t| t.task.last_status.as_deref() == Some("RUNNING")).count();
        let pending = mine.len() - running + started;
        write_counts(ctx, stored, desired, running, pending).await?;
    }
    if record.status() == DRAINING && live.is_empty() {
        mark_inactive(ctx, record).await?;
    }
    Ok(())
}

/// Whether a task still runs or is on its way to running, and nobody asked it to stop.
fn is_live(task: &StoredTask) -> bool {
    task.task.last_status.as_deref() != Some("STOPPED")
        && task.task.desired_status.as_deref() != Some("STOPPED")
}

async fn load(ctx: &Ctx, record: &ServiceRecord) -> Result<Vec<StoredSet>, EcsError> {
    let prefix = keys::task_sets(&ctx.scope, &record.cluster, record.name());
    let range = ctx.store.range(&prefix, None, 0).await.map_err(store_error)?;
    let mut sets = Vec::with_capacity(range.kvs.len());
    for kv in range.kvs {
        match serde_json::from_slice::<TaskSet>(&kv.value) {
            Ok(set) => sets.push(StoredSet { key: kv.key, revision: kv.mod_revision, set }),
            Err(err) => tracing::warn!(key = %kv.key, %err, "undecodable task set skipped"),
        }
    }
    Ok(sets)
}

async fn stop(ctx: &Ctx, record: &ServiceRecord, task: &StoredTask, task_set: &str) {
    let Some(arn) = task.task.task_arn.as_deref() else { return };
    let reason = format!("Scaling activity initiated by (deployment {task_set})");
    if let Err(err) = stop_task(ctx, &record.cluster, arn, SCHEDULER_STOP_CODE, &reason).await {
        tracing::warn!(task = arn, %err, "failed to stop a task set's task");
    }
}

/// Writes the task set's counts and stability when they changed. A compare on the task set keeps
/// an API write that came first; the next pass writes the counts again.
async fn write_counts(
    ctx: &Ctx,
    stored: &StoredSet,
    desired: usize,
    running: usize,
    pending: usize,
) -> Result<(), EcsError> {
    let as_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let stability = if running == desired && pending == 0 { STEADY_STATE } else { STABILIZING };
    let mut set = stored.set.clone();
    if set.running_count == Some(as_i32(running))
        && set.pending_count == Some(as_i32(pending))
        && set.stability_status.as_deref() == Some(stability)
    {
        return Ok(());
    }
    let now = now();
    if set.stability_status.as_deref() != Some(stability) {
        set.stability_status = Some(stability.to_string());
        set.stability_status_at = Some(now);
    }
    set.running_count = Some(as_i32(running));
    set.pending_count = Some(as_i32(pending));
    set.updated_at = Some(now);
    let txn = Txn::new()
        .when(Compare::unchanged(&stored.key, stored.revision))
        .then(Op::put(&stored.key, encode(&set)?));
    commit(&*ctx.store, txn).await?;
    Ok(())
}

/// A deleted EXTERNAL service with nothing left running is INACTIVE.
async fn mark_inactive(ctx: &Ctx, record: &ServiceRecord) -> Result<(), EcsError> {
    let key = keys::service(&ctx.scope, &record.cluster, record.name());
    records::update::<ServiceRecord, _>(&*ctx.store, &key, |current| {
        let mut current = current.ok_or_else(|| EcsError::server("the service record vanished"))?;
        if current.status() == DRAINING {
            current.service.status = Some(INACTIVE.to_string());
            current.status_changed_at = Some(now());
        }
        Ok(current)
    })
    .await?;
    Ok(())
}
