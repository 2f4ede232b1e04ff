//! PutClusterCapacityProviders.

use berth_api::EcsError;
use berth_api::model::{PutClusterCapacityProvidersRequest, PutClusterCapacityProvidersResponse};

use crate::Ctx;
use crate::ops::{capacity_providers, required};

/// Handles PutClusterCapacityProviders: replaces the cluster's providers and default strategy as a
/// whole (an empty list removes them all), as ECS does.
pub async fn handle(
    ctx: Ctx,
    input: PutClusterCapacityProvidersRequest,
) -> Result<PutClusterCapacityProvidersResponse, EcsError> {
    let reference = required(&input.cluster, "cluster")?.clone();
    let providers = required(&input.capacity_providers, "capacityProviders")?.clone();
    let strategy =
        required(&input.default_capacity_provider_strategy, "defaultCapacityProviderStrategy")?.clone();
    let name = super::load_active(&ctx, Some(&reference)).await?.value.cluster_name.unwrap_or_default();
    super::check_strategy(&strategy, &providers)?;
    capacity_providers::check_usable(&ctx, &name, &providers).await?;
    let cluster = super::update_active(&ctx, Some(&reference), |cluster| {
        cluster.capacity_providers = Some(providers.clone());
        cluster.default_capacity_provider_strategy = Some(strategy.clone());
        Ok(())
    })
    .await?;
    let parts = ["SETTINGS".to_string(), "TAGS".to_string()];
    Ok(PutClusterCapacityProvidersResponse { cluster: Some(super::view(&ctx, cluster, &parts).await?) })
}
