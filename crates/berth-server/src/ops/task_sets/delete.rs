//! DeleteTaskSet.

use berth_api::EcsError;
use berth_api::model::{DeleteTaskSetRequest, DeleteTaskSetResponse};

use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::state::keys;

/// Handles DeleteTaskSet: the task set's record and its copy of the task definition go, and the
/// answer shows it DRAINING with nothing to run; the service controller stops the tasks it had
/// started for it, which no task set claims any more. The PRIMARY task set is kept unless `force`
/// is set, as in ECS.
pub async fn handle(ctx: Ctx, input: DeleteTaskSetRequest) -> Result<DeleteTaskSetResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let task_set = crate::ops::required(&input.task_set, "taskSet")?.clone();
    let force = input.force.unwrap_or(false);
    let cluster_name =
        clusters::load_active(&ctx, input.cluster.as_deref()).await?.value.cluster_name.unwrap_or_default();
    for _ in 0..crate::ops::services::MAX_ATTEMPTS {
        let (mut record, revision) = super::load_external(&ctx, &cluster_name, &reference).await?;
        let id = super::id_of(&ctx, &record, &task_set)?.ok_or_else(super::not_found)?;
        let (mut set, set_revision) = super::load(&ctx, &record, &id).await?;
        if set.status.as_deref() == Some(super::PRIMARY) && !force {
            return Err(EcsError::invalid_parameter(
                "The PRIMARY task set of a service can't be deleted unless force is set.",
            ));
        }
        record.definitions.remove(&id);
        record.task_set_tokens.retain(|_, set_id| set_id != &id);
        if set.status.as_deref() == Some(super::PRIMARY) {
            record.service.task_definition = None;
        }
        let key = keys::task_set(&ctx.scope, &cluster_name, record.name(), &id);
        if super::commit_with_service(&ctx, &record, revision, vec![(key, set_revision, None)]).await? {
            set.status = Some("DRAINING".to_string());
            set.computed_desired_count = Some(0);
            set.updated_at = Some(now());
            return Ok(DeleteTaskSetResponse { task_set: Some(super::view(set, false)) });
        }
    }
    Err(EcsError::server("The task set kept changing while it was deleted; try again."))
}
