//! CreateCluster: idempotent on the name, as in ECS.

use berth_api::model::{Cluster, ClusterSetting, CreateClusterRequest, CreateClusterResponse};
use berth_api::{EcsError, names, tags};

use super::{ACTIVE, DEFAULT_CLUSTER};
use crate::Ctx;
use crate::ops::{account_settings, capacity_providers};
use crate::state::keys;
use crate::state::records;

const ALL_PARTS: [&str; 5] = ["ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"];

/// Handles CreateCluster. An ACTIVE cluster of the same name is returned as it is; a deleted one
/// is created anew.
pub async fn handle(ctx: Ctx, input: CreateClusterRequest) -> Result<CreateClusterResponse, EcsError> {
    let name = input.cluster_name.clone().unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
    names::check_cluster_name(&name)?;
    let requested = new_cluster(&ctx, &name, input).await?;
    let key = keys::cluster(&ctx.scope, &name);
    let stored = records::update::<Cluster, _>(&*ctx.store, &key, |current| match current {
        Some(existing) if existing.status.as_deref() == Some(ACTIVE) => Ok(existing),
        _ => Ok(requested.clone()),
    })
    .await?;
    let parts = ALL_PARTS.map(String::from);
    Ok(CreateClusterResponse { cluster: Some(super::view(&ctx, stored, &parts).await?) })
}

/// Validates the request and builds the cluster it asks for.
async fn new_cluster(ctx: &Ctx, name: &str, input: CreateClusterRequest) -> Result<Cluster, EcsError> {
    let tag_list = input.tags.unwrap_or_default();
    tags::check_tags(&tag_list)?;
    let settings = match input.settings {
        Some(settings) => {
            super::check_settings(&settings)?;
            settings
        }
        None => vec![default_insights(ctx).await?],
    };
    let providers = input.capacity_providers.unwrap_or_default();
    let strategy = input.default_capacity_provider_strategy.unwrap_or_default();
    super::check_strategy(&strategy, &providers)?;
    capacity_providers::check_usable(ctx, name, &providers).await?;
    Ok(Cluster {
        cluster_arn: Some(ctx.scope.cluster_arn(name)),
        cluster_name: Some(name.to_string()),
        configuration: input.configuration,
        status: Some(ACTIVE.to_string()),
        tags: Some(tag_list),
        settings: Some(settings),
        capacity_providers: Some(providers),
        default_capacity_provider_strategy: Some(strategy),
        attachments: Some(Vec::new()),
        service_connect_defaults: input
            .service_connect_defaults
            .as_ref()
            .map(super::service_connect_defaults),
        ..Cluster::default()
    })
}

/// A new cluster's Container Insights follows the account's `containerInsights` setting.
async fn default_insights(ctx: &Ctx) -> Result<ClusterSetting, EcsError> {
    let value = account_settings::effective(ctx, "containerInsights").await?;
    Ok(ClusterSetting {
        name: Some("containerInsights".into()),
        value: Some(value.unwrap_or_else(|| "disabled".into())),
    })
}
