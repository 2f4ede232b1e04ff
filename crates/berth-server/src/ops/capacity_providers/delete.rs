//! DeleteCapacityProvider: removes a provider no cluster uses.
//!
//! While a cluster lists the provider, ECS does not fail the call: it answers with the provider
//! still ACTIVE, `updateStatus` `DELETE_FAILED` and a reason naming the cluster, and keeps that
//! status on the provider (tools such as Terraform poll for it). Berth does the same. Otherwise the
//! record and its group's claim are removed in one transaction guarded by the record's revision,
//! and the answer is the provider as INACTIVE with `DELETE_COMPLETE`; afterwards the name
//! describes as MISSING. FARGATE and FARGATE_SPOT cannot be deleted.

use berth_api::EcsError;
use berth_api::model::{CapacityProvider, DeleteCapacityProviderRequest, DeleteCapacityProviderResponse};
use berth_store::{Compare, Op, Txn};

use super::{
    INACTIVE, asg_of, check_cluster_param, existing_cluster, is_built_in, lists, live_clusters, load,
    not_found, reference_name, reserved,
};
use crate::Ctx;
use crate::ops::required;
use crate::state::keys;
use crate::state::records::{self, Record};

/// How many times a delete re-reads a provider that keeps changing under it.
const ATTEMPTS: usize = 16;

/// Handles DeleteCapacityProvider.
pub async fn handle(
    ctx: Ctx,
    input: DeleteCapacityProviderRequest,
) -> Result<DeleteCapacityProviderResponse, EcsError> {
    let reference = required(&input.capacity_provider, "capacityProvider")?;
    let name = reference_name(&ctx.scope, reference).ok_or_else(not_found)?;
    if is_built_in(&name) {
        return Err(reserved(&name, "deleted"));
    }
    let cluster = match &input.cluster {
        Some(reference) => existing_cluster(&ctx, reference).await?.cluster_name,
        None => None,
    };
    for _ in 0..ATTEMPTS {
        let record = load(&ctx, &name).await?.ok_or_else(not_found)?;
        check_cluster_param(&record.value, cluster.as_deref())?;
        if let Some(user) = using_cluster(&ctx, &name).await? {
            let failed = mark_failed(&ctx, &name, &user).await?;
            return Ok(DeleteCapacityProviderResponse { capacity_provider: Some(failed) });
        }
        if let Some(deleted) = remove(&ctx, record).await? {
            return Ok(DeleteCapacityProviderResponse { capacity_provider: Some(deleted) });
        }
    }
    Err(EcsError::server(format!("Capacity provider {name} is changing too fast to delete; try again.")))
}

/// The name of a cluster that lists the provider, if any does.
async fn using_cluster(ctx: &Ctx, name: &str) -> Result<Option<String>, EcsError> {
    Ok(live_clusters(ctx)
        .await?
        .into_iter()
        .find(|cluster| lists(&ctx.scope, cluster, name))
        .map(|cluster| cluster.cluster_name.unwrap_or_default()))
}

/// Records on the provider that the delete failed because `cluster` uses it.
async fn mark_failed(ctx: &Ctx, name: &str, cluster: &str) -> Result<CapacityProvider, EcsError> {
    let key = keys::capacity_provider(&ctx.scope, name);
    records::update(&*ctx.store, &key, |current: Option<CapacityProvider>| {
        let mut provider = current.ok_or_else(not_found)?;
        provider.update_status = Some("DELETE_FAILED".to_string());
        provider.update_status_reason = Some(format!(
            "The capacity provider cannot be deleted because it is associated with cluster: {cluster}. Remove the capacity provider from the cluster and try again."
        ));
        Ok(provider)
    })
    .await
}

/// Removes the provider and its group's claim if the record is still as read; `None` when it
/// changed in between and the caller should look again.
async fn remove(ctx: &Ctx, record: Record<CapacityProvider>) -> Result<Option<CapacityProvider>, EcsError> {
    let mut provider = record.value;
    let key = keys::capacity_provider(&ctx.scope, provider.name.as_deref().unwrap_or_default());
    let mut txn = Txn::new().when(Compare::unchanged(&key, record.revision)).then(Op::delete(&key));
    if let Some(group) = asg_of(&provider) {
        txn = txn.then(Op::delete(keys::capacity_provider_asg_claim(&ctx.scope, group)));
    }
    if records::commit(&*ctx.store, txn).await?.is_none() {
        return Ok(None);
    }
    provider.status = Some(INACTIVE.to_string());
    provider.update_status = Some("DELETE_COMPLETE".to_string());
    provider.update_status_reason = None;
    Ok(Some(provider))
}
