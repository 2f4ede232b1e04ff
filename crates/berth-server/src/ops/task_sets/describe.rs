//! DescribeTaskSets.

use berth_api::EcsError;
use berth_api::model::{DescribeTaskSetsRequest, DescribeTaskSetsResponse, Failure, TaskSet};

use crate::Ctx;
use crate::ops::clusters;
use crate::ops::services::describe::check_include;
use crate::state::{keys, records};

/// Handles DescribeTaskSets: the named task sets of a service (all of them when none is named);
/// names that match nothing come back as `MISSING` failures. Tags only with `include` TAGS.
pub async fn handle(ctx: Ctx, input: DescribeTaskSetsRequest) -> Result<DescribeTaskSetsResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let with_tags = check_include(input.include.as_deref())?;
    let cluster_name =
        clusters::load_active(&ctx, input.cluster.as_deref()).await?.value.cluster_name.unwrap_or_default();
    let (record, _) = super::load_external(&ctx, &cluster_name, &reference).await?;
    let prefix = keys::task_sets(&ctx.scope, &cluster_name, record.name());
    let all = records::list::<TaskSet>(&*ctx.store, &prefix, None, 0).await?.items;
    let Some(wanted) = input.task_sets.as_ref().filter(|w| !w.is_empty()) else {
        let sets = all.into_iter().map(|(_, set)| super::view(set, with_tags)).collect();
        return Ok(DescribeTaskSetsResponse { task_sets: Some(sets), failures: Some(Vec::new()) });
    };
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in wanted {
        let id = super::id_of(&ctx, &record, name).ok().flatten();
        match id.and_then(|id| all.iter().find(|(_, set)| set.id.as_deref() == Some(id.as_str()))) {
            Some((_, set)) => found.push(super::view(set.clone(), with_tags)),
            None => failures.push(Failure {
                arn: Some(name.clone()),
                reason: Some("MISSING".into()),
                detail: None,
            }),
        }
    }
    Ok(DescribeTaskSetsResponse { task_sets: Some(found), failures: Some(failures) })
}
