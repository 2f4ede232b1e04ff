//! Capacity providers: CreateCapacityProvider, DescribeCapacityProviders, UpdateCapacityProvider,
//! DeleteCapacityProvider, and the check the cluster operations make before associating one.
//!
//! A created provider is one `model::CapacityProvider` record at `keys::capacity_provider`, its tags
//! in its `tags` member (the tagging operations edit them there). An Auto Scaling group serves one
//! provider at most; a second record, the group's claim (see [`keys::capacity_provider_asg_claim`]), makes that rule
//! hold under concurrent creates. `FARGATE` and `FARGATE_SPOT` are not stored: every account has
//! them, always ACTIVE, and they can be neither created, updated nor deleted. A deleted provider's
//! record is removed at once (ECS lists it as INACTIVE for a while; Berth answers the delete with
//! the INACTIVE description and then reports the name as missing), so the name and the group can
//! be used again right away. Scaling the group is not done here yet.

pub mod create;
pub mod delete;
pub mod describe;
pub mod update;
mod validate;

use berth_api::EcsError;
use berth_api::arn::{Arn, Scope};
use berth_api::model::{CapacityProvider, Cluster};

use crate::Ctx;
use crate::state::keys;
use crate::state::records::{self, Record};

/// The providers every account has without creating them, in the order they are described.
pub const BUILT_IN: [&str; 2] = ["FARGATE", "FARGATE_SPOT"];

/// The `type` of a provider backed by an Auto Scaling group.
const TYPE_ASG: &str = "EC2_AUTOSCALING";
/// The `type` of a provider whose instances ECS manages for one cluster.
const TYPE_MANAGED_INSTANCES: &str = "MANAGED_INSTANCES";
const ACTIVE: &str = "ACTIVE";
const INACTIVE: &str = "INACTIVE";

/// Whether `name` is one of the providers every account has.
pub fn is_built_in(name: &str) -> bool {
    BUILT_IN.contains(&name)
}

/// How ECS describes a built-in provider: ACTIVE, typed after itself, with no Auto Scaling group.
fn built_in(scope: &Scope, name: &str) -> CapacityProvider {
    CapacityProvider {
        capacity_provider_arn: Some(scope.capacity_provider_arn(name)),
        name: Some(name.to_string()),
        status: Some(ACTIVE.to_string()),
        r#type: Some(name.to_string()),
        tags: Some(Vec::new()),
        ..CapacityProvider::default()
    }
}

/// The provider name a reference (short name or ARN) names in `scope`; `None` for an ARN that is
/// malformed, not a capacity provider's, or of another region or account.
fn reference_name(scope: &Scope, reference: &str) -> Option<String> {
    if !reference.starts_with("arn:") {
        return Some(reference.to_string());
    }
    Arn::parse(reference)
        .filter(|arn| arn.service == "ecs" && arn.resource_type == "capacity-provider" && arn.is_in(scope))
        .map(|arn| arn.resource_id)
}

/// The error ECS gives for a provider that does not exist (tools match on its wording).
fn not_found() -> EcsError {
    EcsError::client(
        "The specified capacity provider does not exist. Specify a valid name or ARN and try again.",
    )
}

/// The error for an attempt to change or remove `FARGATE` or `FARGATE_SPOT`.
fn reserved(name: &str, action: &str) -> EcsError {
    EcsError::client(format!("The {name} capacity provider is reserved by AWS and can't be {action}."))
}

/// Reads one created provider.
async fn load(ctx: &Ctx, name: &str) -> Result<Option<Record<CapacityProvider>>, EcsError> {
    records::get(&*ctx.store, &keys::capacity_provider(&ctx.scope, name)).await
}

/// Every created provider of the scope, in name order.
async fn load_all(ctx: &Ctx) -> Result<Vec<CapacityProvider>, EcsError> {
    let page = records::list::<CapacityProvider>(&*ctx.store, &keys::capacity_providers(&ctx.scope), None, 0)
        .await?;
    Ok(page.items.into_iter().map(|(_, provider)| provider).collect())
}

/// The group an `autoScalingGroupArn` names: ECS accepts the group's ARN or its bare name, and both
/// forms of one group must collide.
fn asg_identity(reference: &str) -> &str {
    reference.rsplit_once("autoScalingGroupName/").map_or(reference, |(_, name)| name)
}

/// The Auto Scaling group of a provider, if it has one.
fn asg_of(provider: &CapacityProvider) -> Option<&str> {
    provider
        .auto_scaling_group_provider
        .as_ref()
        .and_then(|asg| asg.auto_scaling_group_arn.as_deref())
        .map(asg_identity)
}

/// A Managed Instances provider is updated or deleted within its own cluster: a request that names
/// another cluster is refused rather than silently acting on the provider.
fn check_cluster_param(provider: &CapacityProvider, cluster: Option<&str>) -> Result<(), EcsError> {
    match (provider.cluster.as_deref(), cluster) {
        (Some(own), Some(given)) if own != given => Err(EcsError::client(format!(
            "The capacity provider {} belongs to cluster {own}, not {given}.",
            provider.name.as_deref().unwrap_or_default()
        ))),
        _ => Ok(()),
    }
}

/// Every cluster of the scope that still exists (a deleted cluster may linger as INACTIVE).
async fn live_clusters(ctx: &Ctx) -> Result<Vec<Cluster>, EcsError> {
    let page = records::list::<Cluster>(&*ctx.store, &keys::clusters(&ctx.scope), None, 0).await?;
    Ok(page
        .items
        .into_iter()
        .map(|(_, cluster)| cluster)
        .filter(|cluster| cluster.status.as_deref() != Some(INACTIVE))
        .collect())
}

/// Whether `cluster` lists the provider named `provider`, by name or by ARN.
fn lists(scope: &Scope, cluster: &Cluster, provider: &str) -> bool {
    cluster
        .capacity_providers
        .iter()
        .flatten()
        .any(|reference| reference_name(scope, reference).as_deref() == Some(provider))
}

/// The existing cluster a reference (short name or ARN) names, or `ClusterNotFoundException`.
async fn existing_cluster(ctx: &Ctx, reference: &str) -> Result<Cluster, EcsError> {
    crate::ops::clusters::load_active(ctx, Some(reference)).await.map(|record| record.value)
}

/// Checks that every named capacity provider can be associated with `cluster`: it is FARGATE,
/// FARGATE_SPOT, or an ACTIVE provider of this scope not associated with another cluster.
///
/// CreateCluster and PutClusterCapacityProviders call this before writing the cluster. Every
/// refusal is an `InvalidParameterException` naming the provider, as both operations report it.
pub async fn check_usable(ctx: &Ctx, cluster: &str, names: &[String]) -> Result<(), EcsError> {
    let mut clusters: Option<Vec<Cluster>> = None;
    for reference in names {
        let name = reference_name(&ctx.scope, reference).ok_or_else(|| unknown_to_cluster(reference))?;
        if is_built_in(&name) {
            continue;
        }
        let provider = usable_provider(ctx, &name, reference).await?;
        if provider.r#type.as_deref() == Some(TYPE_MANAGED_INSTANCES) {
            check_own_cluster(&provider, reference, cluster)?;
            continue;
        }
        // Read the clusters once, and only when a group-backed provider needs them.
        if clusters.is_none() {
            clusters = Some(live_clusters(ctx).await?);
        }
        check_unshared(&ctx.scope, clusters.as_deref().unwrap_or_default(), &name, cluster)?;
    }
    Ok(())
}

/// The refusal for a provider a cluster names that does not exist.
fn unknown_to_cluster(reference: &str) -> EcsError {
    EcsError::invalid_parameter(format!(
        "The specified capacity provider '{reference}' was not found. Specify a valid capacity provider and try again."
    ))
}

/// The created provider `name` a cluster names by `reference`, if it exists and is ACTIVE.
async fn usable_provider(ctx: &Ctx, name: &str, reference: &str) -> Result<CapacityProvider, EcsError> {
    let provider =
        load(ctx, name).await?.map(|record| record.value).ok_or_else(|| unknown_to_cluster(reference))?;
    if provider.status.as_deref() != Some(ACTIVE) {
        return Err(EcsError::invalid_parameter(format!(
            "The specified capacity provider '{reference}' is not in an ACTIVE state. Specify a valid capacity provider and try again."
        )));
    }
    Ok(provider)
}

/// A Managed Instances provider belongs to the cluster it was created for and no other.
fn check_own_cluster(provider: &CapacityProvider, name: &str, cluster: &str) -> Result<(), EcsError> {
    if provider.cluster.as_deref() == Some(cluster) {
        return Ok(());
    }
    Err(EcsError::invalid_parameter(format!(
        "The capacity provider '{name}' is a Managed Instances capacity provider of another cluster; \
         Managed Instances capacity providers are associated with the cluster they are created for and can't be associated with others."
    )))
}

/// An Auto Scaling group provider may serve one cluster only.
fn check_unshared(scope: &Scope, clusters: &[Cluster], name: &str, cluster: &str) -> Result<(), EcsError> {
    let other = clusters
        .iter()
        .find(|other| other.cluster_name.as_deref() != Some(cluster) && lists(scope, other, name));
    match other {
        None => Ok(()),
        Some(other) => Err(EcsError::invalid_parameter(format!(
            "The capacity provider '{name}' is already associated with cluster '{}'. A capacity provider that uses an Auto Scaling group can be associated with only one cluster.",
            other.cluster_name.as_deref().unwrap_or_default()
        ))),
    }
}

/// The Managed Instances providers created for `cluster`: DeleteCluster must refuse while any
/// remains, as ECS refuses to delete a cluster with cluster-scoped capacity providers.
pub async fn cluster_scoped(ctx: &Ctx, cluster: &str) -> Result<Vec<String>, EcsError> {
    Ok(load_all(ctx)
        .await?
        .into_iter()
        .filter(|provider| provider.cluster.as_deref() == Some(cluster))
        .filter_map(|provider| provider.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_names_of_this_scope_only() {
        let scope = Scope::new("us-east-1", "000000000000");
        assert_eq!(reference_name(&scope, "cp").as_deref(), Some("cp"));
        assert_eq!(reference_name(&scope, &scope.capacity_provider_arn("cp")).as_deref(), Some("cp"));
        let other = Scope::new("eu-west-1", "000000000000").capacity_provider_arn("cp");
        assert_eq!(reference_name(&scope, &other), None);
        assert_eq!(reference_name(&scope, &scope.cluster_arn("cp")), None);
        assert_eq!(reference_name(&scope, "arn:nonsense"), None);
    }

    #[test]
    fn a_managed_instances_provider_is_changed_from_its_own_cluster() {
        let provider =
            CapacityProvider { name: Some("mi".into()), cluster: Some("prod".into()), ..Default::default() };
        assert!(check_cluster_param(&provider, Some("prod")).is_ok());
        assert!(check_cluster_param(&provider, None).is_ok());
        assert!(check_cluster_param(&provider, Some("dev")).is_err());
    }

    #[test]
    fn a_group_collides_by_name_or_arn() {
        let arn = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1a2b:autoScalingGroupName/web";
        assert_eq!(asg_identity(arn), "web");
        assert_eq!(asg_identity("web"), "web");
    }
}
