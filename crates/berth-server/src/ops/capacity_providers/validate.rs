//! The rules ECS applies to a capacity provider's name and settings, and the defaults it fills in.
//!
//! Everything here is a pure function of the request, so a refused request has written nothing.
//! Ranges come from the service model (`ManagedScalingTargetCapacity` 1–100,
//! `ManagedScalingStepSize` 1–10000, `ManagedScalingInstanceWarmupPeriod` 0–10000); defaults from
//! the member docs (target 100, steps 1 and 10000, warm-up 300 seconds, termination protection off)
//! and the developer guide (managed draining on for new providers).

use berth_api::model::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CreateManagedInstancesProviderConfiguration,
    InstanceLaunchTemplate, InstanceLaunchTemplateUpdate, ManagedInstancesProvider, ManagedScaling,
    UpdateManagedInstancesProviderConfiguration, enums,
};
use berth_api::{EcsError, names};

/// The most characters a provider name may have.
const MAX_NAME: usize = 255;
/// Prefixes ECS keeps for itself, compared without regard to case.
const RESERVED_PREFIXES: [&str; 3] = ["aws", "ecs", "fargate"];

/// Checks a new provider's name: 1–255 letters, digits, `-` and `_`, not starting with a reserved
/// prefix. ECS answers both faults with one message.
pub(super) fn check_name(name: &str) -> Result<(), EcsError> {
    let lower = name.to_ascii_lowercase();
    if names::is_simple_name(name, MAX_NAME)
        && !RESERVED_PREFIXES.iter().any(|prefix| lower.starts_with(prefix))
    {
        return Ok(());
    }
    Err(EcsError::client(
        "The specified capacity provider name is invalid. Up to 255 characters are allowed, including letters (upper and lowercase), \
         numbers, underscores, and hyphens. The name cannot be prefixed with \"aws\", \"ecs\", or \"fargate\". Specify a valid name and try again.",
    ))
}

/// Checks that an enum-valued member holds one of its allowed values.
pub(super) fn one_of(member: &str, value: &str, allowed: &[&str]) -> Result<(), EcsError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(EcsError::invalid_parameter(format!(
        "Invalid value '{value}' for {member}; valid values are {}.",
        allowed.join(", ")
    )))
}

fn in_range(member: &str, value: i32, min: i32, max: i32) -> Result<(), EcsError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(EcsError::invalid_parameter(format!("{member} must be between {min} and {max}; got {value}.")))
}

/// The managed scaling of a provider that was given none.
fn default_scaling() -> ManagedScaling {
    ManagedScaling {
        status: Some("DISABLED".to_string()),
        target_capacity: Some(100),
        minimum_scaling_step_size: Some(1),
        maximum_scaling_step_size: Some(10_000),
        instance_warmup_period: Some(300),
    }
}

/// `base` with every member `given` sets replaced, checked as a whole (the step sizes are checked
/// against each other after merging, since an update may set only one of them).
fn merge_scaling(base: ManagedScaling, given: Option<&ManagedScaling>) -> Result<ManagedScaling, EcsError> {
    let Some(given) = given else {
        return Ok(base);
    };
    let merged = ManagedScaling {
        status: given.status.clone().or(base.status),
        target_capacity: given.target_capacity.or(base.target_capacity),
        minimum_scaling_step_size: given.minimum_scaling_step_size.or(base.minimum_scaling_step_size),
        maximum_scaling_step_size: given.maximum_scaling_step_size.or(base.maximum_scaling_step_size),
        instance_warmup_period: given.instance_warmup_period.or(base.instance_warmup_period),
    };
    check_scaling(&merged)?;
    Ok(merged)
}

fn check_scaling(scaling: &ManagedScaling) -> Result<(), EcsError> {
    if let Some(status) = &scaling.status {
        one_of("managedScaling.status", status, enums::MANAGED_SCALING_STATUS)?;
    }
    let min = scaling.minimum_scaling_step_size.unwrap_or(1);
    let max = scaling.maximum_scaling_step_size.unwrap_or(10_000);
    in_range("managedScaling.targetCapacity", scaling.target_capacity.unwrap_or(100), 1, 100)?;
    in_range("managedScaling.minimumScalingStepSize", min, 1, 10_000)?;
    in_range("managedScaling.maximumScalingStepSize", max, 1, 10_000)?;
    in_range(
        "managedScaling.instanceWarmupPeriod",
        scaling.instance_warmup_period.unwrap_or(300),
        0,
        10_000,
    )?;
    if min > max {
        return Err(EcsError::invalid_parameter(format!(
            "managedScaling.minimumScalingStepSize ({min}) must not be greater than maximumScalingStepSize ({max})."
        )));
    }
    Ok(())
}

fn check_protection_and_draining(protection: Option<&str>, draining: Option<&str>) -> Result<(), EcsError> {
    if let Some(protection) = protection {
        one_of("managedTerminationProtection", protection, enums::MANAGED_TERMINATION_PROTECTION)?;
    }
    if let Some(draining) = draining {
        one_of("managedDraining", draining, enums::MANAGED_DRAINING)?;
    }
    Ok(())
}

/// The Auto Scaling group settings of a new provider, checked and with ECS's defaults filled in.
pub(super) fn new_asg_provider(
    given: &AutoScalingGroupProvider,
) -> Result<AutoScalingGroupProvider, EcsError> {
    let group = given.auto_scaling_group_arn.as_deref().unwrap_or_default();
    if group.trim().is_empty() {
        return Err(EcsError::invalid_parameter(
            "The autoScalingGroupProvider.autoScalingGroupArn parameter is required.",
        ));
    }
    check_protection_and_draining(
        given.managed_termination_protection.as_deref(),
        given.managed_draining.as_deref(),
    )?;
    Ok(AutoScalingGroupProvider {
        auto_scaling_group_arn: Some(group.to_string()),
        managed_scaling: Some(merge_scaling(default_scaling(), given.managed_scaling.as_ref())?),
        managed_termination_protection: Some(
            given.managed_termination_protection.clone().unwrap_or_else(|| "DISABLED".into()),
        ),
        managed_draining: Some(given.managed_draining.clone().unwrap_or_else(|| "ENABLED".into())),
    })
}

/// A provider's Auto Scaling group settings after an update: each member given replaces the
/// current one, and a partial `managedScaling` changes only the members it sets.
pub(super) fn updated_asg_provider(
    current: &AutoScalingGroupProvider,
    update: &AutoScalingGroupProviderUpdate,
) -> Result<AutoScalingGroupProvider, EcsError> {
    check_protection_and_draining(
        update.managed_termination_protection.as_deref(),
        update.managed_draining.as_deref(),
    )?;
    let base = current.managed_scaling.clone().unwrap_or_else(default_scaling);
    Ok(AutoScalingGroupProvider {
        auto_scaling_group_arn: current.auto_scaling_group_arn.clone(),
        managed_scaling: Some(merge_scaling(base, update.managed_scaling.as_ref())?),
        managed_termination_protection: update
            .managed_termination_protection
            .clone()
            .or_else(|| current.managed_termination_protection.clone()),
        managed_draining: update.managed_draining.clone().or_else(|| current.managed_draining.clone()),
    })
}

fn required_text(value: Option<&str>, member: &str) -> Result<String, EcsError> {
    match value.map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(EcsError::invalid_parameter(format!("The {member} parameter is required."))),
    }
}

/// The Managed Instances settings of a new provider, checked. The service model requires the
/// infrastructure role, and a launch template with an instance profile and a network
/// configuration with at least one subnet.
pub(super) fn new_managed_instances(
    given: &CreateManagedInstancesProviderConfiguration,
) -> Result<ManagedInstancesProvider, EcsError> {
    let role = required_text(
        given.infrastructure_role_arn.as_deref(),
        "managedInstancesProvider.infrastructureRoleArn",
    )?;
    let template = given.instance_launch_template.as_ref().ok_or_else(|| {
        EcsError::invalid_parameter(
            "The managedInstancesProvider.instanceLaunchTemplate parameter is required.",
        )
    })?;
    check_template(template)?;
    check_managed_options(
        given.propagate_tags.as_deref(),
        given.auto_repair_configuration.as_ref().and_then(|c| c.actions_status.as_deref()),
    )?;
    Ok(ManagedInstancesProvider {
        infrastructure_role_arn: Some(role),
        instance_launch_template: Some(template.clone()),
        propagate_tags: given.propagate_tags.clone(),
        infrastructure_optimization: given.infrastructure_optimization.clone(),
        auto_repair_configuration: given.auto_repair_configuration.clone(),
    })
}

fn check_template(template: &InstanceLaunchTemplate) -> Result<(), EcsError> {
    required_text(
        template.ec2_instance_profile_arn.as_deref(),
        "managedInstancesProvider.instanceLaunchTemplate.ec2InstanceProfileArn",
    )?;
    let subnets = template.network_configuration.as_ref().and_then(|network| network.subnets.as_ref());
    if subnets.is_none_or(Vec::is_empty) {
        return Err(EcsError::invalid_parameter(
            "The managedInstancesProvider.instanceLaunchTemplate.networkConfiguration parameter needs at least one subnet.",
        ));
    }
    check_template_options(template.monitoring.as_deref(), template.capacity_option_type.as_deref())
}

fn check_template_options(monitoring: Option<&str>, capacity_option: Option<&str>) -> Result<(), EcsError> {
    if let Some(monitoring) = monitoring {
        one_of("instanceLaunchTemplate.monitoring", monitoring, enums::MANAGED_INSTANCES_MONITORING_OPTIONS)?;
    }
    if let Some(option) = capacity_option {
        one_of("instanceLaunchTemplate.capacityOptionType", option, enums::CAPACITY_OPTION_TYPE)?;
    }
    Ok(())
}

fn check_managed_options(propagate: Option<&str>, auto_repair: Option<&str>) -> Result<(), EcsError> {
    if let Some(propagate) = propagate {
        one_of("managedInstancesProvider.propagateTags", propagate, enums::PROPAGATE_MI_TAGS)?;
    }
    if let Some(status) = auto_repair {
        one_of("autoRepairConfiguration.actionsStatus", status, enums::AUTO_REPAIR_ACTIONS_STATUS)?;
    }
    Ok(())
}

/// A provider's Managed Instances settings after an update: each member given replaces the current
/// one; in the launch template, only the members the update sets change.
pub(super) fn updated_managed_instances(
    current: &ManagedInstancesProvider,
    update: &UpdateManagedInstancesProviderConfiguration,
) -> Result<ManagedInstancesProvider, EcsError> {
    check_managed_options(
        update.propagate_tags.as_deref(),
        update.auto_repair_configuration.as_ref().and_then(|c| c.actions_status.as_deref()),
    )?;
    let template = match &update.instance_launch_template {
        Some(change) => {
            Some(updated_template(current.instance_launch_template.clone().unwrap_or_default(), change)?)
        }
        None => current.instance_launch_template.clone(),
    };
    Ok(ManagedInstancesProvider {
        infrastructure_role_arn: update
            .infrastructure_role_arn
            .clone()
            .or_else(|| current.infrastructure_role_arn.clone()),
        instance_launch_template: template,
        propagate_tags: update.propagate_tags.clone().or_else(|| current.propagate_tags.clone()),
        infrastructure_optimization: update
            .infrastructure_optimization
            .clone()
            .or_else(|| current.infrastructure_optimization.clone()),
        auto_repair_configuration: update
            .auto_repair_configuration
            .clone()
            .or_else(|| current.auto_repair_configuration.clone()),
    })
}

fn updated_template(
    current: InstanceLaunchTemplate,
    change: &InstanceLaunchTemplateUpdate,
) -> Result<InstanceLaunchTemplate, EcsError> {
    let merged = InstanceLaunchTemplate {
        ec2_instance_profile_arn: change
            .ec2_instance_profile_arn
            .clone()
            .or(current.ec2_instance_profile_arn),
        network_configuration: change.network_configuration.clone().or(current.network_configuration),
        storage_configuration: change.storage_configuration.clone().or(current.storage_configuration),
        local_storage_configuration: change
            .local_storage_configuration
            .clone()
            .or(current.local_storage_configuration),
        monitoring: change.monitoring.clone().or(current.monitoring),
        instance_metadata_tags_propagation: change
            .instance_metadata_tags_propagation
            .or(current.instance_metadata_tags_propagation),
        instance_requirements: change.instance_requirements.clone().or(current.instance_requirements),
        capacity_reservations: change.capacity_reservations.clone().or(current.capacity_reservations),
        ..current
    };
    check_template(&merged)?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_ecs_rule() {
        assert!(check_name("web-asg_1").is_ok());
        assert!(check_name(&"a".repeat(255)).is_ok());
        for bad in ["", "has space", "dot.ted", "AWSthing", "ecs-x", "Fargate2", "FARGATE", &"a".repeat(256)]
        {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_are_filled_and_bounds_enforced() {
        let given =
            AutoScalingGroupProvider { auto_scaling_group_arn: Some("asg".into()), ..Default::default() };
        let filled = new_asg_provider(&given).expect("valid");
        assert_eq!(filled.managed_scaling, Some(default_scaling()));
        assert_eq!(filled.managed_termination_protection.as_deref(), Some("DISABLED"));
        assert_eq!(filled.managed_draining.as_deref(), Some("ENABLED"));
        let steps = ManagedScaling {
            minimum_scaling_step_size: Some(5),
            maximum_scaling_step_size: Some(4),
            ..Default::default()
        };
        assert!(merge_scaling(default_scaling(), Some(&steps)).is_err());
        let warmup = ManagedScaling { instance_warmup_period: Some(0), ..Default::default() };
        assert!(merge_scaling(default_scaling(), Some(&warmup)).is_ok());
    }
}
