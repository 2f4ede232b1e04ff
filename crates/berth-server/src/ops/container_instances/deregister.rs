//! DeregisterContainerInstance.

use berth_api::EcsError;
use berth_api::model::{DeregisterContainerInstanceRequest, DeregisterContainerInstanceResponse};

use super::{INACTIVE, Updated};
use crate::Ctx;
use crate::ops::required;
use crate::state::container_instances;

/// Handles DeregisterContainerInstance: the instance becomes INACTIVE, which is final; it is kept
/// for DescribeContainerInstances. An instance that still has tasks (pending or running) is only
/// deregistered with `force`, and then its tasks are left to run, orphaned, as in ECS: nothing
/// stops them, and the control plane no longer places anything on the instance. Deregistering an
/// instance that is already INACTIVE returns it unchanged.
pub async fn handle(
    ctx: Ctx,
    input: DeregisterContainerInstanceRequest,
) -> Result<DeregisterContainerInstanceResponse, EcsError> {
    let reference = required(&input.container_instance, "containerInstance")?;
    let cluster = super::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let force = input.force.unwrap_or(false);
    let not_found = || {
        EcsError::invalid_parameter(format!(
            "Container instance {reference} was not found in cluster {cluster}."
        ))
    };
    let id = super::instance_id(&ctx, &cluster, reference)?.ok_or_else(not_found)?;
    let updated = super::update(&ctx, &cluster, &id, |record| {
        let instance = &mut record.instance;
        if instance.status.as_deref() == Some(INACTIVE) {
            return Ok(false);
        }
        let tasks = container_instances::reserved_tasks(instance);
        if tasks > 0 && !force {
            return Err(EcsError::invalid_parameter(format!(
                "Found {tasks} running or pending tasks on container instance {reference}: stop them \
                 first, or deregister with force to leave them running, orphaned."
            )));
        }
        instance.status = Some(INACTIVE.to_string());
        Ok(true)
    })
    .await?;
    match updated {
        Updated::Missing => Err(not_found()),
        Updated::Done(record) => {
            tracing::info!(%cluster, %id, force, "container instance deregistered");
            Ok(DeregisterContainerInstanceResponse {
                container_instance: Some(super::view(&ctx, &record, &[]).await?),
            })
        }
    }
}
