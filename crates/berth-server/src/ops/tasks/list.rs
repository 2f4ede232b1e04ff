//! ListTasks.

use berth_api::model::{ListTasksRequest, ListTasksResponse, enums};
use berth_api::pagination::{decode_token, encode_token, page_size};
use berth_api::{EcsError, arn};

use crate::Ctx;
use crate::ops::clusters;
use crate::state::keys;
use crate::state::records;
use crate::state::task_placement::TaskSummary;

/// The listing name pagination tokens carry.
const LISTING: &str = "ListTasks";

/// Handles ListTasks: the ARNs of a cluster's tasks whose desired status is RUNNING (the
/// default), PENDING (never any, as ECS never desires it) or STOPPED, narrowed by container
/// instance, family, startedBy, service, launch type or daemon, in pages of up to 100.
pub async fn handle(ctx: Ctx, input: ListTasksRequest) -> Result<ListTasksResponse, EcsError> {
    let desired = input.desired_status.as_deref().unwrap_or("RUNNING");
    if !enums::DESIRED_STATUS.contains(&desired) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid desiredStatus '{desired}': use RUNNING, PENDING or STOPPED."
        )));
    }
    if let Some(launch_type) = input.launch_type.as_deref()
        && !enums::LAUNCH_TYPE.contains(&launch_type)
    {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid launchType '{launch_type}': use {}.",
            enums::LAUNCH_TYPE.join(", ")
        )));
    }
    let limit = page_size(input.max_results, 100, 100)?;
    let after = input.next_token.as_deref().map(|token| decode_token(LISTING, token)).transpose()?;
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let instance = match input.container_instance.as_deref() {
        Some(reference) => {
            match arn::member_id(&ctx.scope, &cluster_name, "container-instance", reference)? {
                Some(id) => Some(id),
                // An instance of another cluster or account holds none of this cluster's tasks.
                None => return Ok(ListTasksResponse { task_arns: Some(Vec::new()), next_token: None }),
            }
        }
        None => None,
    };
    let service_group = input.service_name.as_deref().map(|name| format!("service:{name}"));
    let keep = |task: &TaskSummary| {
        let fields = &task.task;
        // No task belongs to a daemon: Berth does not run daemons yet.
        input.daemon_name.is_none()
            && fields.desired_status.as_deref() == Some(desired)
            && instance.as_ref().is_none_or(|id| task.instance_id.as_ref() == Some(id))
            && input.family.as_deref().is_none_or(|family| task.family() == family)
            && input.started_by.as_ref().is_none_or(|by| fields.started_by.as_ref() == Some(by))
            && service_group.as_ref().is_none_or(|group| fields.group.as_ref() == Some(group))
            && input.launch_type.as_ref().is_none_or(|kind| fields.launch_type.as_ref() == Some(kind))
    };
    let prefix = keys::tasks(&ctx.scope, &cluster_name);
    let (items, next) = records::filtered_page(&*ctx.store, &prefix, after, limit, keep).await?;
    Ok(ListTasksResponse {
        task_arns: Some(items.into_iter().filter_map(|(_, task)| task.task.task_arn).collect()),
        next_token: next.map(|key| encode_token(LISTING, &key)),
    })
}
