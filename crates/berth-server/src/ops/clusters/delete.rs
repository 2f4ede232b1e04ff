//! DeleteCluster.

use berth_api::model::{DeleteClusterRequest, DeleteClusterResponse};
use berth_api::{EcsError, ErrorCode};
use berth_store::{Compare, Op, Txn};

use super::INACTIVE;
use crate::Ctx;
use crate::ops::{capacity_providers, required};
use crate::state::records::{self, Record};
use crate::state::services::{self, ServiceRecord};
use crate::state::{container_instances, keys};

/// How often DeleteCluster checks again when the cluster record keeps changing under it.
const MAX_ATTEMPTS: usize = 64;

/// Handles DeleteCluster: refused while the cluster holds services, tasks, cluster-scoped capacity
/// providers or registered (not deregistered) container instances;
/// otherwise the cluster becomes INACTIVE, which DescribeClusters keeps showing, as in ECS.
///
/// The checks and the write must agree: the INACTIVE record is written under a compare on the
/// revision the cluster had before the checks. A container instance registration rewrites the
/// cluster record in its own transaction, so one that lands after the checks makes this write
/// fail and the checks run again (and one that comes after this write finds the cluster INACTIVE).
pub async fn handle(ctx: Ctx, input: DeleteClusterRequest) -> Result<DeleteClusterResponse, EcsError> {
    let reference = required(&input.cluster, "cluster")?.clone();
    for _ in 0..MAX_ATTEMPTS {
        let Record { value: mut cluster, revision } = super::load_active(&ctx, Some(&reference)).await?;
        let name = cluster.cluster_name.clone().unwrap_or_default();
        check_empty(&ctx, &name).await?;
        cluster.status = Some(INACTIVE.to_string());
        let key = keys::cluster(&ctx.scope, &name);
        let txn = Txn::new()
            .when(Compare::unchanged(&key, revision))
            .then(Op::put(&key, records::encode(&cluster)?));
        if records::commit(&*ctx.store, txn).await?.is_some() {
            let parts = ["SETTINGS".to_string(), "TAGS".to_string()];
            return Ok(DeleteClusterResponse { cluster: Some(super::view(&ctx, cluster, &parts).await?) });
        }
    }
    Err(EcsError::server("The cluster kept changing while it was deleted; try again."))
}

async fn check_empty(ctx: &Ctx, name: &str) -> Result<(), EcsError> {
    let scope = &ctx.scope;
    // A deleted service stays describable INACTIVE for a while but no longer holds the cluster,
    // as in ECS; a DRAINING one still has tasks to stop.
    let (holding, _) =
        records::filtered_page(&*ctx.store, &keys::services(scope, name), None, 1, |s: &ServiceRecord| {
            s.status() != services::INACTIVE
        })
        .await?;
    if !holding.is_empty() {
        return Err(EcsError::new(
            ErrorCode::ClusterContainsServicesException,
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    // Stopped tasks stay visible for a while after they stop, but no longer hold the cluster.
    if crate::ops::tasks::any_active(ctx, name).await? {
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
    if container_instances::registered_count(&*ctx.store, scope, name).await? > 0 {
        return Err(EcsError::new(
            ErrorCode::ClusterContainsContainerInstancesException,
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        ));
    }
    Ok(())
}
