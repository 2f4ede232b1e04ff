//! DeleteService.

use berth_api::EcsError;
use berth_api::model::{DeleteServiceRequest, DeleteServiceResponse, TaskSet};
use berth_store::Op;

use super::settings::DAEMON;
use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::state::keys;
use crate::state::records::{self, encode};
use crate::state::services::{self, ACTIVE, DRAINING};

/// Handles DeleteService: the service becomes DRAINING with a desired count of 0, and the service
/// controller stops its tasks and marks it INACTIVE once none is left (INACTIVE services stay
/// describable for a while). As in ECS, a REPLICA service still scaled above 0, or an EXTERNAL one
/// that still has task sets, is refused unless `force` is set; a force delete also scales its task
/// sets to 0 and marks them DRAINING. Deleting a DRAINING service again returns it unchanged.
pub async fn handle(ctx: Ctx, input: DeleteServiceRequest) -> Result<DeleteServiceResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let force = input.force.unwrap_or(false);
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let scope = &ctx.scope;
    for _ in 0..super::MAX_ATTEMPTS {
        let (mut record, revision) = super::load(&ctx, &cluster_name, &reference).await?;
        match record.status() {
            ACTIVE => {}
            DRAINING => return Ok(DeleteServiceResponse { service: Some(super::view(&record, false)) }),
            _ => return Err(super::not_active()),
        }
        let service = &mut record.service;
        let daemon = service.scheduling_strategy.as_deref() == Some(DAEMON);
        if !force && !daemon && service.desired_count.unwrap_or(0) > 0 {
            return Err(EcsError::invalid_parameter(
                "The service cannot be stopped while it is scaled above 0.",
            ));
        }
        let sets_prefix = keys::task_sets(scope, &cluster_name, record.name());
        let sets = records::list::<TaskSet>(&*ctx.store, &sets_prefix, None, 0).await?.items;
        if !force && !sets.is_empty() {
            return Err(EcsError::invalid_parameter(
                "The service cannot be deleted while it has task sets; delete them first or set force.",
            ));
        }
        let at = now();
        let mut extra = Vec::new();
        for (key, mut set) in sets {
            set.status = Some(DRAINING.to_string());
            set.computed_desired_count = Some(0);
            set.scale = Some(berth_api::model::Scale { value: Some(0.0), unit: Some("PERCENT".to_string()) });
            set.updated_at = Some(at);
            extra.push(Op::put(key, encode(&set)?));
        }
        let service = &mut record.service;
        service.status = Some(DRAINING.to_string());
        service.desired_count = Some(0);
        for deployment in service.deployments.iter_mut().flatten() {
            deployment.desired_count = Some(0);
            deployment.updated_at = Some(at);
        }
        record.status_changed_at = Some(at);
        record.refresh_current_revisions();
        if services::save_with(&*ctx.store, scope, &record, revision, None, extra).await?.is_some() {
            return Ok(DeleteServiceResponse { service: Some(super::view(&record, false)) });
        }
    }
    Err(EcsError::server("The service kept changing while it was deleted; try again."))
}
