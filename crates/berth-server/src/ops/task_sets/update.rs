//! UpdateTaskSet.

use berth_api::EcsError;
use berth_api::model::{UpdateTaskSetRequest, UpdateTaskSetResponse};

use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::state::keys;

/// Handles UpdateTaskSet: a new scale, and with it the number of tasks the task set runs.
pub async fn handle(ctx: Ctx, input: UpdateTaskSetRequest) -> Result<UpdateTaskSetResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let task_set = crate::ops::required(&input.task_set, "taskSet")?.clone();
    let scale = super::check_scale(Some(crate::ops::required(&input.scale, "scale")?))?;
    let cluster_name =
        clusters::load_active(&ctx, input.cluster.as_deref()).await?.value.cluster_name.unwrap_or_default();
    for _ in 0..crate::ops::services::MAX_ATTEMPTS {
        let (record, revision) = super::load_external(&ctx, &cluster_name, &reference).await?;
        let id = super::id_of(&ctx, &record, &task_set)?.ok_or_else(super::not_found)?;
        let (mut set, set_revision) = super::load(&ctx, &record, &id).await?;
        set.computed_desired_count =
            Some(super::computed_desired_count(record.service.desired_count.unwrap_or(0), &scale));
        set.scale = Some(scale.clone());
        set.stability_status = Some("STABILIZING".to_string());
        set.updated_at = Some(now());
        set.stability_status_at = set.updated_at;
        let key = keys::task_set(&ctx.scope, &cluster_name, record.name(), &id);
        if super::commit_with_service(&ctx, &record, revision, vec![(key, set_revision, Some(set.clone()))])
            .await?
        {
            return Ok(UpdateTaskSetResponse { task_set: Some(super::view(set, false)) });
        }
    }
    Err(EcsError::server("The task set kept changing while it was updated; try again."))
}
