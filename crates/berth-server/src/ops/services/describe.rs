//! DescribeServices.

use berth_api::EcsError;
use berth_api::model::{DescribeServicesRequest, DescribeServicesResponse, Failure, TaskSet};

use crate::Ctx;
use crate::ops::clusters;
use crate::state::services::{self, ServiceRecord};
use crate::state::{keys, records};

/// The most services one DescribeServices call may name.
pub const MAX_SERVICES: usize = 10;

/// Handles DescribeServices: up to ten services of one cluster by name or ARN, in any status
/// (INACTIVE ones stay describable for a while, as in ECS); names that match nothing come back as
/// `MISSING` failures. Tags are returned only with `include` TAGS. Services driven by an EXTERNAL
/// controller list their task sets.
pub async fn handle(ctx: Ctx, input: DescribeServicesRequest) -> Result<DescribeServicesResponse, EcsError> {
    let references = crate::ops::required(&input.services, "services")?;
    if references.is_empty() || references.len() > MAX_SERVICES {
        return Err(EcsError::invalid_parameter(format!(
            "services must name 1 to {MAX_SERVICES} services; got {}.",
            references.len()
        )));
    }
    let with_tags = check_include(input.include.as_deref())?;
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for reference in references {
        let missing =
            |arn: String| Failure { arn: Some(arn), reason: Some("MISSING".to_string()), detail: None };
        let Some(name) = super::name_of(&ctx, &cluster_name, reference).ok().flatten() else {
            failures.push(missing(reference.clone()));
            continue;
        };
        match services::load(&*ctx.store, &ctx.scope, &cluster_name, &name).await? {
            Some((record, _)) => found.push(with_task_sets(&ctx, &record, with_tags).await?),
            None => failures.push(missing(ctx.scope.service_arn(&cluster_name, &name))),
        }
    }
    Ok(DescribeServicesResponse { services: Some(found), failures: Some(failures) })
}

/// Checks `include`: TAGS is the one value ECS knows. Returns whether tags are wanted.
pub fn check_include(include: Option<&[String]>) -> Result<bool, EcsError> {
    let mut tags = false;
    for item in include.unwrap_or_default() {
        match item.as_str() {
            "TAGS" => tags = true,
            other => {
                return Err(EcsError::invalid_parameter(format!("Invalid include '{other}': use TAGS.")));
            }
        }
    }
    Ok(tags)
}

/// The service as described, with its task sets when it has an EXTERNAL controller.
async fn with_task_sets(
    ctx: &Ctx,
    record: &ServiceRecord,
    with_tags: bool,
) -> Result<berth_api::model::Service, EcsError> {
    let mut service = super::view(record, with_tags);
    if record.is_external() {
        let prefix = keys::task_sets(&ctx.scope, &record.cluster, record.name());
        let sets = records::list::<TaskSet>(&*ctx.store, &prefix, None, 0).await?.items;
        service.task_sets = Some(
            sets.into_iter()
                .map(|(_, mut set)| {
                    if !with_tags {
                        set.tags = None;
                    }
                    set
                })
                .collect(),
        );
    }
    Ok(service)
}
