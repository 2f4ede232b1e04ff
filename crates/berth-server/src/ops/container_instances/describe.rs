//! DescribeContainerInstances.

use berth_api::EcsError;
use berth_api::model::{DescribeContainerInstancesRequest, DescribeContainerInstancesResponse, Failure};

use crate::Ctx;
use crate::ops::required;

/// ECS describes at most 100 container instances a call.
const MAX_INSTANCES: usize = 100;

/// Handles DescribeContainerInstances: each named instance (by id or ARN), registered or
/// deregistered; references that name none of the cluster's instances go to `failures` with
/// reason MISSING.
pub async fn handle(
    ctx: Ctx,
    input: DescribeContainerInstancesRequest,
) -> Result<DescribeContainerInstancesResponse, EcsError> {
    let references = required(&input.container_instances, "containerInstances")?;
    if references.is_empty() || references.len() > MAX_INSTANCES {
        return Err(EcsError::invalid_parameter(format!(
            "containerInstances must name 1 to {MAX_INSTANCES} container instances; {} were given.",
            references.len()
        )));
    }
    let include = input.include.unwrap_or_default();
    super::check_include(&include)?;
    let cluster = super::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let mut instances = Vec::with_capacity(references.len());
    let mut failures = Vec::new();
    for reference in references {
        match super::find(&ctx, &cluster, reference).await? {
            Some(record) => instances.push(super::view(&ctx, &record, &include).await?),
            None => failures.push(Failure {
                arn: Some(super::reference_arn(&ctx, &cluster, reference)),
                reason: Some("MISSING".into()),
                detail: None,
            }),
        }
    }
    Ok(DescribeContainerInstancesResponse { container_instances: Some(instances), failures: Some(failures) })
}
