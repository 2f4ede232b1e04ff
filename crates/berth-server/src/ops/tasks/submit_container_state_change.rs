//! SubmitContainerStateChange: an agent's report of one container, in its API form.
//!
//! A container rides along with its task in the session protocol, so this is a task report that
//! leaves the task's status as it is and carries the one container.

use berth_api::EcsError;
use berth_api::agent_protocol::{ContainerReport, TaskReport};
use berth_api::model::{SubmitContainerStateChangeRequest, SubmitContainerStateChangeResponse};

use super::find_task;
use super::submit_task_state_change::{ACK, apply, check_container, current_status};
use crate::Ctx;
use crate::ops::{clusters, required};

/// Handles SubmitContainerStateChange.
pub async fn handle(
    ctx: Ctx,
    input: SubmitContainerStateChangeRequest,
) -> Result<SubmitContainerStateChangeResponse, EcsError> {
    let reference = required(&input.task, "task")?;
    let name = required(&input.container_name, "containerName")?;
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let task = find_task(&ctx, &cluster_name, reference).await?.value;
    let status = input.status.clone().unwrap_or_default();
    check_container(&task, name, &status)?;
    let container = ContainerReport {
        name: name.clone(),
        runtime_id: input.runtime_id.clone(),
        status,
        exit_code: input.exit_code,
        reason: input.reason.clone(),
        network_bindings: input.network_bindings.clone().unwrap_or_default(),
        ..ContainerReport::default()
    };
    let report = TaskReport {
        task_arn: task.task.task_arn.clone().unwrap_or_default(),
        status: current_status(&task),
        containers: vec![container],
        ..TaskReport::default()
    };
    apply(&ctx, &task, &report).await?;
    Ok(SubmitContainerStateChangeResponse { acknowledgment: Some(ACK.to_string()) })
}
