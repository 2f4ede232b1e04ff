//! DescribeClusters.

use berth_api::model::{Cluster, DescribeClustersRequest, DescribeClustersResponse, Failure};
use berth_api::{EcsError, arn};

use super::DEFAULT_CLUSTER;
use crate::Ctx;
use crate::state::keys;
use crate::state::records;

/// ECS describes at most 100 clusters a call.
const MAX_CLUSTERS: usize = 100;

/// Handles DescribeClusters: each named cluster (the `default` one when none is named), ACTIVE or
/// INACTIVE; names it does not know go to `failures` with reason MISSING.
pub async fn handle(ctx: Ctx, input: DescribeClustersRequest) -> Result<DescribeClustersResponse, EcsError> {
    let include = input.include.unwrap_or_default();
    super::check_include(&include)?;
    let references = match input.clusters {
        Some(list) if !list.is_empty() => list,
        _ => vec![DEFAULT_CLUSTER.to_string()],
    };
    if references.len() > MAX_CLUSTERS {
        return Err(EcsError::invalid_parameter(format!(
            "At most {MAX_CLUSTERS} clusters can be described at once; {} were given.",
            references.len()
        )));
    }
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for reference in references {
        let found = match arn::cluster_name(&ctx.scope, &reference) {
            Ok(name) => records::get::<Cluster>(&*ctx.store, &keys::cluster(&ctx.scope, &name)).await?,
            Err(_) => None,
        };
        match found {
            Some(record) => clusters.push(super::view(&ctx, record.value, &include).await?),
            None => failures.push(missing(&ctx, &reference)),
        }
    }
    Ok(DescribeClustersResponse { clusters: Some(clusters), failures: Some(failures) })
}

fn missing(ctx: &Ctx, reference: &str) -> Failure {
    let arn =
        if reference.starts_with("arn:") { reference.to_string() } else { ctx.scope.cluster_arn(reference) };
    Failure { arn: Some(arn), reason: Some("MISSING".into()), detail: None }
}
