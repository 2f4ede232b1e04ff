//! CreateCapacityProvider: records a new Auto Scaling group or Managed Instances provider.
//!
//! The name must be new in the scope, and an Auto Scaling group may back one provider only; both
//! are ClientExceptions in ECS ("already exists" / "already being used by another capacity
//! provider"). The provider and its group's claim are written in one transaction that requires
//! both keys absent, so concurrent creates cannot break either rule. A Managed Instances provider
//! names the existing cluster it belongs to.

use berth_api::EcsError;
use berth_api::model::{CapacityProvider, CreateCapacityProviderRequest, CreateCapacityProviderResponse};
use berth_api::tags::check_tags;
use berth_store::{Compare, Op, Txn};

use super::{ACTIVE, TYPE_ASG, TYPE_MANAGED_INSTANCES, asg_of, existing_cluster, load, validate};
use crate::Ctx;
use crate::ops::required;
use crate::state::keys;
use crate::state::records;

/// Handles CreateCapacityProvider.
pub async fn handle(
    ctx: Ctx,
    input: CreateCapacityProviderRequest,
) -> Result<CreateCapacityProviderResponse, EcsError> {
    let name = required(&input.name, "name")?;
    validate::check_name(name)?;
    let tags = input.tags.clone().unwrap_or_default();
    check_tags(&tags)?;
    let mut provider = match (&input.auto_scaling_group_provider, &input.managed_instances_provider) {
        (Some(_), None) => asg_provider(&input)?,
        (None, Some(_)) => managed_instances_provider(&ctx, &input).await?,
        _ => {
            return Err(EcsError::invalid_parameter(
                "A capacity provider takes exactly one of autoScalingGroupProvider and managedInstancesProvider.",
            ));
        }
    };
    provider.capacity_provider_arn = Some(ctx.scope.capacity_provider_arn(name));
    provider.name = Some(name.clone());
    provider.status = Some(ACTIVE.to_string());
    provider.tags = Some(tags);
    insert(&ctx, &provider).await?;
    Ok(CreateCapacityProviderResponse { capacity_provider: Some(provider) })
}

/// An Auto Scaling group provider, before it has a name. `cluster` belongs to Managed Instances
/// providers only; accepting it here would suggest an association that nothing makes.
fn asg_provider(input: &CreateCapacityProviderRequest) -> Result<CapacityProvider, EcsError> {
    if input.cluster.is_some() {
        return Err(EcsError::invalid_parameter(
            "The cluster parameter applies only to Managed Instances capacity providers; associate an Auto Scaling group capacity provider with a cluster with PutClusterCapacityProviders.",
        ));
    }
    let given = input.auto_scaling_group_provider.as_ref().map(validate::new_asg_provider).transpose()?;
    Ok(CapacityProvider {
        auto_scaling_group_provider: given,
        r#type: Some(TYPE_ASG.to_string()),
        ..CapacityProvider::default()
    })
}

/// A Managed Instances provider, before it has a name: it serves the one cluster it names.
async fn managed_instances_provider(
    ctx: &Ctx,
    input: &CreateCapacityProviderRequest,
) -> Result<CapacityProvider, EcsError> {
    let managed =
        input.managed_instances_provider.as_ref().map(validate::new_managed_instances).transpose()?;
    let reference = input.cluster.as_ref().ok_or_else(|| {
        EcsError::invalid_parameter(
            "The cluster parameter is required for a Managed Instances capacity provider.",
        )
    })?;
    let cluster = existing_cluster(ctx, reference).await?;
    Ok(CapacityProvider {
        cluster: cluster.cluster_name,
        managed_instances_provider: managed,
        r#type: Some(TYPE_MANAGED_INSTANCES.to_string()),
        ..CapacityProvider::default()
    })
}

/// Writes the provider (and its group's claim) if neither exists yet.
async fn insert(ctx: &Ctx, provider: &CapacityProvider) -> Result<(), EcsError> {
    let name = provider.name.as_deref().unwrap_or_default();
    let key = keys::capacity_provider(&ctx.scope, name);
    let mut txn = Txn::new().when(Compare::absent(&key)).then(Op::put(&key, records::encode(provider)?));
    let claim = asg_of(provider).map(|group| keys::capacity_provider_asg_claim(&ctx.scope, group));
    if let Some(claim) = &claim {
        txn = txn.when(Compare::absent(claim)).then(Op::put(claim, records::encode(&name)?));
    }
    if records::commit(&*ctx.store, txn).await?.is_some() {
        return Ok(());
    }
    // A compare failed: say which rule the request broke.
    if load(ctx, name).await?.is_some() {
        return Err(EcsError::client(
            "The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.",
        ));
    }
    Err(EcsError::client(
        "The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a unique Auto Scaling group ARN and try again.",
    ))
}
