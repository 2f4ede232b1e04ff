//! UpdateCapacityProvider: changes the settings of a created provider.
//!
//! The update must match the provider's kind (`autoScalingGroupProvider` for an Auto Scaling group
//! provider, `managedInstancesProvider` for a Managed Instances one); members it leaves out keep
//! their values. The Auto Scaling group itself never changes. The result is `UPDATE_COMPLETE` at
//! once, since Berth has no scaling to reconfigure yet. FARGATE and FARGATE_SPOT cannot be updated,
//! and an unknown provider is ECS's ClientException "does not exist".

use berth_api::EcsError;
use berth_api::model::{CapacityProvider, UpdateCapacityProviderRequest, UpdateCapacityProviderResponse};

use super::{
    ACTIVE, TYPE_MANAGED_INSTANCES, check_cluster_param, existing_cluster, is_built_in, not_found,
    reference_name, reserved, validate,
};
use crate::Ctx;
use crate::ops::required;
use crate::state::keys;
use crate::state::records;

/// Handles UpdateCapacityProvider.
pub async fn handle(
    ctx: Ctx,
    input: UpdateCapacityProviderRequest,
) -> Result<UpdateCapacityProviderResponse, EcsError> {
    let reference = required(&input.name, "name")?;
    let name = reference_name(&ctx.scope, reference).ok_or_else(not_found)?;
    if is_built_in(&name) {
        return Err(reserved(&name, "updated"));
    }
    let cluster = match &input.cluster {
        Some(reference) => existing_cluster(&ctx, reference).await?.cluster_name,
        None => None,
    };
    let key = keys::capacity_provider(&ctx.scope, &name);
    let updated = records::update(&*ctx.store, &key, |current: Option<CapacityProvider>| {
        let current =
            current.filter(|provider| provider.status.as_deref() == Some(ACTIVE)).ok_or_else(not_found)?;
        check_cluster_param(&current, cluster.as_deref())?;
        apply(current, &input)
    })
    .await?;
    Ok(UpdateCapacityProviderResponse { capacity_provider: Some(updated) })
}

/// The provider with the update applied, or the error that leaves it unchanged.
fn apply(
    mut provider: CapacityProvider,
    input: &UpdateCapacityProviderRequest,
) -> Result<CapacityProvider, EcsError> {
    let managed_instances = provider.r#type.as_deref() == Some(TYPE_MANAGED_INSTANCES);
    match (&input.auto_scaling_group_provider, &input.managed_instances_provider) {
        (Some(update), None) if !managed_instances => {
            let current = provider.auto_scaling_group_provider.clone().unwrap_or_default();
            provider.auto_scaling_group_provider = Some(validate::updated_asg_provider(&current, update)?);
        }
        (None, Some(update)) if managed_instances => {
            let current = provider.managed_instances_provider.clone().unwrap_or_default();
            provider.managed_instances_provider =
                Some(validate::updated_managed_instances(&current, update)?);
        }
        _ => {
            let member =
                if managed_instances { "managedInstancesProvider" } else { "autoScalingGroupProvider" };
            return Err(EcsError::invalid_parameter(format!(
                "Updating capacity provider {} takes {member}, and only that.",
                provider.name.as_deref().unwrap_or_default()
            )));
        }
    }
    provider.update_status = Some("UPDATE_COMPLETE".to_string());
    provider.update_status_reason = None;
    Ok(provider)
}
