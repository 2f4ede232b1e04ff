//! UpdateContainerInstancesState: drain an instance, or make a drained one ACTIVE again.

use berth_api::EcsError;
use berth_api::model::{
    Failure, UpdateContainerInstancesStateRequest, UpdateContainerInstancesStateResponse,
};

use super::{ACTIVE, DRAINING, INACTIVE, Updated};
use crate::Ctx;
use crate::ops::required;

/// ECS updates at most 10 container instances a call.
const MAX_INSTANCES: usize = 10;

/// Handles UpdateContainerInstancesState. The only statuses it sets are ACTIVE and DRAINING; an
/// instance already in the asked status is returned unchanged (and not rewritten). References
/// that name no instance of the cluster fail with reason MISSING, and deregistered instances,
/// whose status can no longer change, with reason INACTIVE; the others are still updated.
pub async fn handle(
    ctx: Ctx,
    input: UpdateContainerInstancesStateRequest,
) -> Result<UpdateContainerInstancesStateResponse, EcsError> {
    let references = required(&input.container_instances, "containerInstances")?;
    let status = required(&input.status, "status")?;
    if ![ACTIVE, DRAINING].contains(&status.as_str()) {
        return Err(EcsError::invalid_parameter(format!(
            "Container instance status '{status}' cannot be set: use ACTIVE or DRAINING."
        )));
    }
    if references.is_empty() || references.len() > MAX_INSTANCES {
        return Err(EcsError::invalid_parameter(format!(
            "containerInstances must name 1 to {MAX_INSTANCES} container instances; {} were given.",
            references.len()
        )));
    }
    let cluster = super::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let mut instances = Vec::with_capacity(references.len());
    let mut failures = Vec::new();
    for reference in references {
        let failure = |reason: &str, detail: Option<String>| Failure {
            arn: Some(super::reference_arn(&ctx, &cluster, reference)),
            reason: Some(reason.to_string()),
            detail,
        };
        let Ok(Some(id)) = super::instance_id(&ctx, &cluster, reference) else {
            failures.push(failure("MISSING", None));
            continue;
        };
        let updated = super::update(&ctx, &cluster, &id, |record| {
            let current = record.instance.status.as_deref();
            if current == Some(status.as_str()) || current == Some(INACTIVE) {
                return Ok(false);
            }
            record.instance.status = Some(status.clone());
            Ok(true)
        })
        .await?;
        match updated {
            Updated::Missing => failures.push(failure("MISSING", None)),
            Updated::Done(record) if record.instance.status.as_deref() == Some(INACTIVE) => {
                failures.push(failure(
                    "INACTIVE",
                    Some("The container instance is deregistered; its status can no longer change.".into()),
                ))
            }
            Updated::Done(record) => instances.push(super::view(&ctx, &record, &[]).await?),
        }
    }
    Ok(UpdateContainerInstancesStateResponse {
        container_instances: Some(instances),
        failures: Some(failures),
    })
}
