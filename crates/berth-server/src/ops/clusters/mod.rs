//! Clusters: CreateCluster, DescribeClusters, ListClusters, UpdateCluster, UpdateClusterSettings,
//! PutClusterCapacityProviders, DeleteCluster.
//!
//! A cluster is stored as its `Cluster` shape, tags and settings included. The counts ECS reports
//! (instances, tasks, services) are not stored: they are read from the resources themselves when
//! the cluster is described, so they can never drift from what the cluster holds.

pub mod create;
pub mod delete;
pub mod describe;
pub mod list;
pub mod put_capacity_providers;
pub mod update;
pub mod update_settings;

use berth_api::model::{
    CapacityProviderStrategyItem, Cluster, ClusterServiceConnectDefaults,
    ClusterServiceConnectDefaultsRequest, ClusterSetting, KeyValuePair, enums,
};
use berth_api::{EcsError, arn};

use crate::Ctx;
use crate::state::keys;
use crate::state::records::{self, Record};

/// The cluster a request names when it names none, as in ECS.
pub const DEFAULT_CLUSTER: &str = "default";

/// Status of a cluster that can be used.
pub const ACTIVE: &str = "ACTIVE";
/// Status of a deleted cluster, which ECS keeps describing.
pub const INACTIVE: &str = "INACTIVE";

/// Resolves a cluster reference (name, ARN, or none for `default`) to its name.
pub fn name_of(ctx: &Ctx, reference: Option<&str>) -> Result<String, EcsError> {
    arn::cluster_name(&ctx.scope, reference.unwrap_or(DEFAULT_CLUSTER))
}

/// Loads an ACTIVE cluster; a missing or deleted one is `ClusterNotFoundException`.
pub async fn load_active(ctx: &Ctx, reference: Option<&str>) -> Result<Record<Cluster>, EcsError> {
    let name = name_of(ctx, reference)?;
    match records::get::<Cluster>(&*ctx.store, &keys::cluster(&ctx.scope, &name)).await? {
        Some(record) if record.value.status.as_deref() == Some(ACTIVE) => Ok(record),
        _ => Err(EcsError::cluster_not_found()),
    }
}

/// Updates an ACTIVE cluster with compare-and-set; `change` may refuse with an error.
pub async fn update_active(
    ctx: &Ctx,
    reference: Option<&str>,
    mut change: impl FnMut(&mut Cluster) -> Result<(), EcsError>,
) -> Result<Cluster, EcsError> {
    let name = name_of(ctx, reference)?;
    records::update::<Cluster, _>(&*ctx.store, &keys::cluster(&ctx.scope, &name), |current| {
        let mut cluster = current
            .filter(|c| c.status.as_deref() == Some(ACTIVE))
            .ok_or_else(EcsError::cluster_not_found)?;
        change(&mut cluster)?;
        Ok(cluster)
    })
    .await
}

/// Checks cluster settings: the only one is `containerInsights`, enabled, enhanced or disabled.
pub fn check_settings(settings: &[ClusterSetting]) -> Result<(), EcsError> {
    for setting in settings {
        let name = setting.name.as_deref().unwrap_or("");
        if !enums::CLUSTER_SETTING_NAME.contains(&name) {
            return Err(EcsError::invalid_parameter(format!(
                "Unknown cluster setting '{name}': the cluster setting is containerInsights."
            )));
        }
        let value = setting.value.as_deref().unwrap_or("");
        if !["enabled", "disabled", "enhanced"].contains(&value) {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid value '{value}' for cluster setting {name}: use enabled, enhanced or disabled."
            )));
        }
    }
    Ok(())
}

/// Replaces settings of the same name and adds new ones.
pub fn merge_settings(current: &mut Vec<ClusterSetting>, new: &[ClusterSetting]) {
    for setting in new {
        match current.iter_mut().find(|old| old.name == setting.name) {
            Some(old) => old.value = setting.value.clone(),
            None => current.push(setting.clone()),
        }
    }
}

/// ECS's quota of capacity providers associated with one cluster.
pub const MAX_CAPACITY_PROVIDERS: usize = 20;

/// Checks a strategy that tasks are launched through (RunTask, a service): as
/// [`check_strategy`], and refused when it names a Fargate provider, which Berth has no capacity
/// behind.
pub fn check_launch_strategy(
    strategy: &[CapacityProviderStrategyItem],
    providers: &[String],
) -> Result<(), EcsError> {
    if let Some(fargate) = strategy
        .iter()
        .filter_map(|item| item.capacity_provider.as_deref())
        .find(|name| name.starts_with("FARGATE"))
    {
        return Err(EcsError::unsupported(format!(
            "Berth has no Fargate capacity: the capacity provider {fargate} is not supported."
        )));
    }
    check_strategy(strategy, providers)
}

/// Checks a cluster's capacity providers (at most 20) and its default strategy: ECS's
/// bounds on weight (0 to 1,000) and base (0 to 100,000), at most one provider with a base, no
/// provider twice, and only providers associated with the cluster.
pub fn check_strategy(
    strategy: &[CapacityProviderStrategyItem],
    providers: &[String],
) -> Result<(), EcsError> {
    if providers.len() > MAX_CAPACITY_PROVIDERS {
        return Err(EcsError::new(
            berth_api::ErrorCode::LimitExceededException,
            format!(
                "A cluster can have at most {MAX_CAPACITY_PROVIDERS} capacity providers; {} were given.",
                providers.len()
            ),
        ));
    }
    let mut with_base = 0;
    for (index, item) in strategy.iter().enumerate() {
        let name = item.capacity_provider.as_deref().unwrap_or("");
        if name.is_empty() {
            return Err(EcsError::invalid_parameter(
                "Each capacity provider strategy item needs a capacityProvider.",
            ));
        }
        if !providers.iter().any(|p| p == name) {
            return Err(EcsError::invalid_parameter(format!(
                "The capacity provider strategy names {name}, which is not associated with the cluster."
            )));
        }
        if strategy[..index].iter().any(|earlier| earlier.capacity_provider == item.capacity_provider) {
            return Err(EcsError::invalid_parameter(format!(
                "Capacity provider {name} appears more than once in the strategy."
            )));
        }
        let weight = item.weight.unwrap_or(0);
        if !(0..=1000).contains(&weight) {
            return Err(EcsError::invalid_parameter(format!(
                "The weight of capacity provider {name} must be between 0 and 1000; got {weight}."
            )));
        }
        let base = item.base.unwrap_or(0);
        if !(0..=100_000).contains(&base) {
            return Err(EcsError::invalid_parameter(format!(
                "The base of capacity provider {name} must be between 0 and 100000; got {base}."
            )));
        }
        if base > 0 {
            with_base += 1;
        }
    }
    if with_base > 1 {
        return Err(EcsError::invalid_parameter(
            "Only one capacity provider in a strategy can have a base defined.",
        ));
    }
    Ok(())
}

/// The Service Connect defaults as a cluster shows them. The namespace is kept as given: Cloud Map
/// namespaces arrive with service discovery.
pub fn service_connect_defaults(
    request: &ClusterServiceConnectDefaultsRequest,
) -> ClusterServiceConnectDefaults {
    ClusterServiceConnectDefaults { namespace: request.namespace.clone() }
}

/// Checks the `include` values of DescribeClusters.
pub fn check_include(include: &[String]) -> Result<(), EcsError> {
    for field in include {
        if !enums::CLUSTER_FIELD.contains(&field.as_str()) {
            return Err(EcsError::invalid_parameter(format!(
                "Unknown include value '{field}': use ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS or TAGS."
            )));
        }
    }
    Ok(())
}

/// The cluster as DescribeClusters shows it: counts filled in from the resources the cluster
/// holds, and the optional parts only when `include` asks for them.
pub async fn view(ctx: &Ctx, mut cluster: Cluster, include: &[String]) -> Result<Cluster, EcsError> {
    let wants = |field: &str| include.iter().any(|f| f == field);
    let name = cluster.cluster_name.clone().unwrap_or_default();
    let counts = Counts::read(ctx, &name).await?;
    cluster.registered_container_instances_count = Some(counts.instances);
    cluster.running_tasks_count = Some(counts.running_tasks);
    cluster.pending_tasks_count = Some(counts.pending_tasks);
    cluster.active_services_count = Some(counts.services);
    cluster.statistics = Some(if wants("STATISTICS") { counts.statistics() } else { Vec::new() });
    cluster.tags = Some(if wants("TAGS") { cluster.tags.unwrap_or_default() } else { Vec::new() });
    if !wants("SETTINGS") {
        cluster.settings = None;
    }
    if !wants("CONFIGURATIONS") {
        cluster.configuration = None;
    }
    if !wants("ATTACHMENTS") {
        cluster.attachments = None;
        cluster.attachments_status = None;
    }
    Ok(cluster)
}

/// What a cluster holds, counted from the store.
struct Counts {
    instances: i32,
    services: i32,
    draining_services: i32,
    running_tasks: i32,
    pending_tasks: i32,
}

impl Counts {
    async fn read(ctx: &Ctx, cluster: &str) -> Result<Self, EcsError> {
        let scope = &ctx.scope;
        let instances =
            crate::state::container_instances::registered_count(&*ctx.store, scope, cluster).await?;
        let instances = i32::try_from(instances).unwrap_or(i32::MAX);
        let (services, draining_services) = service_counts(ctx, cluster).await?;
        let tasks = crate::state::task_counts::of(&ctx.store, scope, cluster).await?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Counts {
            instances,
            services,
            draining_services,
            running_tasks: count(tasks.running),
            pending_tasks: count(tasks.pending),
        })
    }

    fn statistics(&self) -> Vec<KeyValuePair> {
        let pair =
            |name: &str, value: i32| KeyValuePair { name: Some(name.into()), value: Some(value.to_string()) };
        vec![
            pair("runningEC2TasksCount", self.running_tasks),
            pair("runningFargateTasksCount", 0),
            pair("pendingEC2TasksCount", self.pending_tasks),
            pair("pendingFargateTasksCount", 0),
            pair("runningExternalTasksCount", 0),
            pair("pendingExternalTasksCount", 0),
            pair("activeEC2ServiceCount", self.services),
            pair("activeFargateServiceCount", 0),
            pair("drainingEC2ServiceCount", self.draining_services),
            pair("drainingFargateServiceCount", 0),
        ]
    }
}

/// The cluster's ACTIVE and DRAINING services: INACTIVE services stay describable for a while
/// but no longer count, as in ECS.
async fn service_counts(ctx: &Ctx, cluster: &str) -> Result<(i32, i32), EcsError> {
    #[derive(serde::Deserialize)]
    struct Status {
        service: StatusFields,
    }
    #[derive(serde::Deserialize)]
    struct StatusFields {
        status: Option<String>,
    }
    let counts =
        count_statuses(ctx, &keys::services(&ctx.scope, cluster), |s: Status| s.service.status).await?;
    let count = |status: &str| counts.get(status).copied().unwrap_or(0);
    Ok((count("ACTIVE"), count("DRAINING")))
}

/// The records under `prefix` counted by the status `status_of` reads, decoding each record only
/// as far as `T` reaches (its status), not whole.
async fn count_statuses<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    prefix: &str,
    status_of: impl Fn(T) -> Option<String>,
) -> Result<std::collections::HashMap<String, i32>, EcsError> {
    let page = ctx.store.range(prefix, None, 0).await.map_err(crate::state::store_error)?;
    let mut counts = std::collections::HashMap::new();
    for kv in page.kvs {
        let Some(status) = serde_json::from_slice::<T>(&kv.value).ok().and_then(&status_of) else { continue };
        *counts.entry(status).or_insert(0) += 1;
    }
    Ok(counts)
}
