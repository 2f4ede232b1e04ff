//! UpdateServicePrimaryTaskSet.

use berth_api::EcsError;
use berth_api::model::{TaskSet, UpdateServicePrimaryTaskSetRequest, UpdateServicePrimaryTaskSetResponse};

use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::state::{keys, records};

/// Handles UpdateServicePrimaryTaskSet (EXTERNAL services only): the named task set becomes
/// PRIMARY and the one that was becomes ACTIVE; the service reports the primary's task definition,
/// launch type, capacity provider strategy and network configuration, as ECS does.
pub async fn handle(
    ctx: Ctx,
    input: UpdateServicePrimaryTaskSetRequest,
) -> Result<UpdateServicePrimaryTaskSetResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let primary = crate::ops::required(&input.primary_task_set, "primaryTaskSet")?.clone();
    let cluster_name =
        clusters::load_active(&ctx, input.cluster.as_deref()).await?.value.cluster_name.unwrap_or_default();
    for _ in 0..crate::ops::services::MAX_ATTEMPTS {
        let (mut record, revision) = super::load_external(&ctx, &cluster_name, &reference).await?;
        let id = super::id_of(&ctx, &record, &primary)?.ok_or_else(super::not_found)?;
        let prefix = keys::task_sets(&ctx.scope, &cluster_name, record.name());
        let all = records::list::<TaskSet>(&*ctx.store, &prefix, None, 0).await?.items;
        let mut writes = Vec::new();
        let mut chosen = None;
        let at = now();
        for (key, listed) in all {
            let this = listed.id.as_deref() == Some(id.as_str());
            if !this && listed.status.as_deref() != Some(super::PRIMARY) {
                continue;
            }
            // A range read carries no revisions: read the record again to write it under one.
            let Some(current) = records::get::<TaskSet>(&*ctx.store, &key).await? else { continue };
            let (mut set, set_revision) = (current.value, current.revision);
            set.status = Some(if this { super::PRIMARY } else { super::ACTIVE }.to_string());
            set.updated_at = Some(at);
            if this {
                chosen = Some(set.clone());
            }
            writes.push((key, set_revision, Some(set)));
        }
        let chosen = chosen.ok_or_else(super::not_found)?;
        let service = &mut record.service;
        service.task_definition = chosen.task_definition.clone();
        service.launch_type = chosen.launch_type.clone();
        service.capacity_provider_strategy = chosen.capacity_provider_strategy.clone();
        service.network_configuration = chosen.network_configuration.clone();
        if super::commit_with_service(&ctx, &record, revision, writes).await? {
            return Ok(UpdateServicePrimaryTaskSetResponse { task_set: Some(super::view(chosen, false)) });
        }
    }
    Err(EcsError::server("The task sets kept changing while the primary was set; try again."))
}
