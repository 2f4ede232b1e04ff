//! StopTask.
//!
//! Stopping is a desire, not an act: the task's desired status becomes STOPPED, its assignment is
//! rewritten in the same transaction, and the instance's agent session, which watches the
//! assignments, stops the containers and reports STOPPED; that report gives the resources back.
//!
//! Two kinds of task have no agent that will ever do so, and would otherwise hold their
//! instance's resources forever: a task whose instance is deregistered or gone, and a task still
//! PROVISIONING on an instance whose agent is not connected (no agent has acted on it yet).
//! Those go straight to STOPPED here, with their reservation released and their assignment
//! removed in the same transaction. Should the agent reconnect, it is not sent the task, so it
//! stops anything of it that it may have started. A task that is further along on a
//! disconnected agent waits for the agent, as in ECS.

use berth_api::EcsError;
use berth_api::model::{StopTaskRequest, StopTaskResponse};
use berth_store::{Compare, Op, Revision, Txn};

use super::find_task;
use crate::Ctx;
use crate::context::now;
use crate::ops::{clusters, required};
use crate::state::container_instances::{self, ContainerInstanceRecord, INACTIVE};
use crate::state::keys;
use crate::state::records::{self, Record, commit, encode};
use crate::state::tasks::TaskRecord;

/// What a task stopped without a reason says, as in ECS.
pub const DEFAULT_REASON: &str = "Task stopped by user";

/// The longest reason ECS documents.
const MAX_REASON_CHARS: usize = 255;

/// How often a stop retries when the task or its instance keeps changing under it.
const MAX_ATTEMPTS: usize = 64;

/// Handles StopTask. A task already STOPPED, or already asked to stop and in an agent's hands, is
/// returned as it is.
pub async fn handle(ctx: Ctx, input: StopTaskRequest) -> Result<StopTaskResponse, EcsError> {
    let reference = required(&input.task, "task")?;
    let reason = match input.reason.as_deref() {
        Some(text) if text.chars().count() > MAX_REASON_CHARS => {
            return Err(EcsError::invalid_parameter(format!(
                "The reason for stopping a task must be at most {MAX_REASON_CHARS} characters."
            )));
        }
        Some(text) if !text.is_empty() => text.to_string(),
        _ => DEFAULT_REASON.to_string(),
    };
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let task = stop_task(&ctx, &cluster_name, reference, USER_INITIATED, &reason).await?;
    Ok(StopTaskResponse { task: Some(task.task) })
}

/// The stop code of a task stopped through StopTask.
pub const USER_INITIATED: &str = "UserInitiated";

/// Stops one task of `cluster` (by id or ARN) with `stop_code` and `reason`, as StopTask does;
/// the service controller stops its tasks through here too. Returns the task as it reads
/// afterwards (as it was, when it is already stopped or an agent is already stopping it).
pub async fn stop_task(
    ctx: &Ctx,
    cluster_name: &str,
    reference: &str,
    stop_code: &str,
    reason: &str,
) -> Result<TaskRecord, EcsError> {
    for _ in 0..MAX_ATTEMPTS {
        let Record { value: task, revision } = find_task(ctx, cluster_name, reference).await?;
        if task.task.last_status.as_deref() == Some("STOPPED") {
            return Ok(task);
        }
        let instance = match task.instance_id.as_deref() {
            Some(id) => {
                records::get::<ContainerInstanceRecord>(&*ctx.store, &instance_key(ctx, &task, id)).await?
            }
            None => None,
        };
        let asked_before = task.task.desired_status.as_deref() == Some("STOPPED");
        if asked_before && agent_will_act(&task, instance.as_ref().map(|r| &r.value)) {
            return Ok(task);
        }
        let (txn, stopped) = transaction(ctx, task, revision, instance, (stop_code, reason), now())?;
        if commit(&*ctx.store, txn).await?.is_some() {
            return Ok(stopped);
        }
    }
    Err(EcsError::server("The task kept changing while it was being stopped; try again."))
}

fn instance_key(ctx: &Ctx, task: &TaskRecord, id: &str) -> String {
    keys::container_instance(&ctx.scope, &task.cluster, id)
}

/// Whether an agent will ever act on the task (see the module documentation).
fn agent_will_act(task: &TaskRecord, instance: Option<&ContainerInstanceRecord>) -> bool {
    let Some(instance) = instance.filter(|i| i.instance.status.as_deref() != Some(INACTIVE)) else {
        return false;
    };
    instance.instance.agent_connected.unwrap_or(false)
        || task.task.last_status.as_deref() != Some("PROVISIONING")
}

/// The stop's one transaction, and the task as it will read afterwards.
fn transaction(
    ctx: &Ctx,
    mut task: TaskRecord,
    revision: Revision,
    instance: Option<Record<ContainerInstanceRecord>>,
    (stop_code, reason): (&str, &str),
    at: f64,
) -> Result<(Txn, TaskRecord), EcsError> {
    let task_key = keys::task(&ctx.scope, &task.cluster, task.id());
    let mut txn = Txn::new().when(Compare::unchanged(&task_key, revision));
    let finish_here = !agent_will_act(&task, instance.as_ref().map(|r| &r.value));
    let shape = &mut task.task;
    if shape.desired_status.as_deref() != Some("STOPPED") {
        // A task asked to stop before keeps the code and reason of that first request.
        shape.desired_status = Some("STOPPED".to_string());
        shape.stop_code = Some(stop_code.to_string());
        shape.stopped_reason = Some(reason.to_string());
        shape.stopping_at = Some(at);
        // The API reference: stopping a task deletes its tags.
        shape.tags = Some(Vec::new());
    }
    shape.version = Some(shape.version.unwrap_or(0) + 1);
    if finish_here {
        mark_stopped(&mut task, at);
        if let (Some(id), Some(Record { value: mut record, revision })) = (task.instance_id.clone(), instance)
            && !task.released
        {
            container_instances::give_back(&mut record, &task.reservation.demand());
            let key = instance_key(ctx, &task, &id);
            txn = txn.when(Compare::unchanged(&key, revision)).then(Op::put(&key, encode(&record)?));
        }
        task.released = true;
    }
    txn = txn.then(Op::put(&task_key, encode(&task)?));
    if let Some(id) = task.instance_id.as_deref() {
        let index_key = keys::instance_task(&ctx.scope, &task.cluster, id, task.id());
        txn = if finish_here {
            txn.then(Op::delete(index_key))
        } else {
            txn.then(Op::put(index_key, encode(&task.assignment())?))
        };
    }
    Ok((txn, task))
}

/// Moves a task no agent will report on to STOPPED, with its containers.
fn mark_stopped(task: &mut TaskRecord, at: f64) {
    let shape = &mut task.task;
    shape.last_status = Some("STOPPED".to_string());
    shape.execution_stopped_at.get_or_insert(at);
    shape.stopped_at.get_or_insert(at);
    for container in shape.containers.iter_mut().flatten() {
        container.last_status = Some("STOPPED".to_string());
    }
}
