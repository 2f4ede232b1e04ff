//! DeleteCluster.

use berth_api::model::{DeleteClusterRequest, DeleteClusterResponse};
use berth_api::{EcsError, ErrorCode};

use super::INACTIVE;
use crate::Ctx;
use crate::ops::{capacity_providers, required};
use crate::state::keys;
use crate::state::records;

/// Handles DeleteCluster: refused while the cluster holds services, tasks, cluster-scoped capacity
/// providers or container instances;
/// otherwise the cluster becomes INACTIVE, which DescribeClusters keeps showing, as in ECS.
pub async fn handle(ctx: Ctx, input: DeleteClusterRequest) -> Result<DeleteClusterResponse, EcsError> {
    let reference = required(&input.cluster, "cluster")?.clone();
    let name = super::load_active(&ctx, Some(&reference)).await?.value.cluster_name.unwrap_or_default();
    check_empty(&ctx, &name).await?;
    let cluster = super::update_active(&ctx, Some(&reference), |cluster| {
        cluster.status = Some(INACTIVE.to_string());
        Ok(())
    })
    .await?;
    let parts = ["SETTINGS".to_string(), "TAGS".to_string()];
    Ok(DeleteClusterResponse { cluster: Some(super::view(&ctx, cluster, &parts).await?) })
}

async fn check_empty(ctx: &Ctx, name: &str) -> Result<(), EcsError> {
    let scope = &ctx.scope;
    if records::any_under(&*ctx.store, &keys::services(scope, name)).await? {
        return Err(EcsError::new(
            ErrorCode::ClusterContainsServicesException,
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if records::any_under(&*ctx.store, &keys::tasks(scope, name)).await? {
        return Err(EcsError::new(
            ErrorCode::ClusterContainsTasksException,
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    if !capacity_providers::cluster_scoped(ctx, name).await?.is_empty() {
        return Err(EcsError::new(
            ErrorCode::ClusterContainsCapacityProviderException,
            "The Cluster cannot be deleted while Cluster Scoped Capacity Providers are attached.",
        ));
    }
    if records::any_under(&*ctx.store, &keys::container_instances(scope, name)).await? {
        return Err(EcsError::new(
            ErrorCode::ClusterContainsContainerInstancesException,
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        ));
    }
    Ok(())
}
