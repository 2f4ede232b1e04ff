//! SubmitTaskStateChange: an agent's report of a task, in its API form.
//!
//! The report is turned into the session protocol's [`TaskReport`] and applied exactly as a
//! report over the agent session is, on the task's own instance, so both paths share one set of
//! lifecycle rules (statuses only move forward; STOPPED gives the resources back).

use berth_api::EcsError;
use berth_api::agent_protocol::{ContainerReport, TaskReport};
use berth_api::model::{ContainerStateChange, SubmitTaskStateChangeRequest, SubmitTaskStateChangeResponse};

use super::{find_task, task_not_found};
use crate::Ctx;
use crate::ops::{clusters, required};
use crate::state::tasks::{self, LIFECYCLE, ReportOutcome, TaskRecord, lifecycle_rank};

/// The answer ECS gives an accepted state change.
pub const ACK: &str = "ACK";

/// The statuses a container can be reported in.
pub const CONTAINER_STATUSES: [&str; 3] = ["PENDING", "RUNNING", "STOPPED"];

/// Handles SubmitTaskStateChange.
pub async fn handle(
    ctx: Ctx,
    input: SubmitTaskStateChangeRequest,
) -> Result<SubmitTaskStateChangeResponse, EcsError> {
    let reference = required(&input.task, "task")?;
    if let Some(status) = input.status.as_deref()
        && !LIFECYCLE.contains(&status)
    {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid task status '{status}': use one of {}.",
            LIFECYCLE.join(", ")
        )));
    }
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let task = find_task(&ctx, &cluster_name, reference).await?.value;
    let containers = input
        .containers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|change| container_report(&task, change))
        .collect::<Result<Vec<_>, _>>()?;
    let status = input.status.clone().unwrap_or_else(|| current_status(&task));
    let report = TaskReport {
        task_arn: task.task.task_arn.clone().unwrap_or_default(),
        stop_code: (status == "STOPPED").then(|| stop_code(&task).to_string()),
        status,
        reason: input.reason.clone(),
        pull_started_at: input.pull_started_at,
        pull_stopped_at: input.pull_stopped_at,
        execution_stopped_at: input.execution_stopped_at,
        containers,
        ..TaskReport::default()
    };
    apply(&ctx, &task, &report).await?;
    Ok(SubmitTaskStateChangeResponse { acknowledgment: Some(ACK.to_string()) })
}

/// Applies a report on the task's own instance.
pub async fn apply(ctx: &Ctx, task: &TaskRecord, report: &TaskReport) -> Result<(), EcsError> {
    let instance = task.instance_id.as_deref().ok_or_else(task_not_found)?;
    match tasks::apply_report(&*ctx.store, &ctx.scope, &task.cluster, instance, report).await? {
        ReportOutcome::Applied => Ok(()),
        ReportOutcome::Unknown => Err(task_not_found()),
    }
}

/// The task's status as recorded, which a report that names none leaves as it is.
pub fn current_status(task: &TaskRecord) -> String {
    task.task.last_status.clone().unwrap_or_else(|| "PROVISIONING".to_string())
}

/// Why a task reported STOPPED stopped, when no one asked it to: it never got going, or one of
/// its essential containers exited. A code the user gave with StopTask is kept regardless.
fn stop_code(task: &TaskRecord) -> &'static str {
    let status = task.task.last_status.as_deref().unwrap_or_default();
    if lifecycle_rank(status) < lifecycle_rank("RUNNING") {
        "TaskFailedToStart"
    } else {
        "EssentialContainerExited"
    }
}

/// One container's change as the session protocol reports it; the container must be the task's.
pub fn container_report(
    task: &TaskRecord,
    change: &ContainerStateChange,
) -> Result<ContainerReport, EcsError> {
    let name = change.container_name.as_deref().unwrap_or_default();
    let status = change.status.clone().unwrap_or_default();
    check_container(task, name, &status)?;
    Ok(ContainerReport {
        name: name.to_string(),
        runtime_id: change.runtime_id.clone(),
        status,
        exit_code: change.exit_code,
        reason: change.reason.clone(),
        image_digest: change.image_digest.clone(),
        network_bindings: change.network_bindings.clone().unwrap_or_default(),
        ..ContainerReport::default()
    })
}

/// Checks that `name` is a container of the task and `status` one a container can be in (empty
/// meaning unchanged).
pub fn check_container(task: &TaskRecord, name: &str, status: &str) -> Result<(), EcsError> {
    let known = task.task.containers.iter().flatten().any(|c| c.name.as_deref() == Some(name));
    if name.is_empty() || !known {
        return Err(EcsError::invalid_parameter(format!("The task has no container named '{name}'.")));
    }
    if !status.is_empty() && !CONTAINER_STATUSES.contains(&status) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid container status '{status}': use PENDING, RUNNING or STOPPED."
        )));
    }
    Ok(())
}
