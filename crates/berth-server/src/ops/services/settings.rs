//! The configuration members CreateService and UpdateService share, checked as ECS checks them
//! and completed with ECS's defaults.
//!
//! Features that need infrastructure Berth does not have are refused with
//! `UnsupportedFeatureException` rather than stored and silently ignored: a service that names a
//! load balancer, a Cloud Map registry, Service Connect, EBS volumes, VPC Lattice, gateway
//! connectors, monitoring, CloudWatch alarms, lifecycle hooks or a blue/green, linear or canary
//! strategy would expect traffic, discovery or checks that nothing would provide.

use berth_api::model::{
    DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    GatewayConnector, LoadBalancer, MonitoringConfiguration, PlacementConstraint, PlacementStrategy,
    ServiceConnectConfiguration, ServiceRegistry, ServiceVolumeConfiguration, VpcLatticeConfiguration, enums,
};
use berth_api::{EcsError, ErrorCode};
use berth_scheduler::{validate_constraints, validate_strategies};

/// The REPLICA scheduling strategy (the default).
pub const REPLICA: &str = "REPLICA";
/// The DAEMON scheduling strategy: one task per instance.
pub const DAEMON: &str = "DAEMON";

/// The quota of tasks per service, which bounds desiredCount. ECS's default is 5,000 and can be
/// raised on request; a self-hosted cluster has no one to ask, so Berth starts at 10,000 (what
/// `berth bench services` runs in one service).
pub const MAX_DESIRED_COUNT: i32 = 10_000;

/// Checks a service name: up to 255 letters, numbers, hyphens and underscores.
pub fn check_name(name: &str) -> Result<(), EcsError> {
    if berth_api::names::is_simple_name(name, 255) {
        Ok(())
    } else {
        Err(EcsError::invalid_parameter(
            "Service name must be 1 to 255 characters: letters, numbers, hyphens and underscores.",
        ))
    }
}

/// Checks `schedulingStrategy`, REPLICA by default.
pub fn scheduling_strategy(given: Option<&str>) -> Result<String, EcsError> {
    match given {
        None => Ok(REPLICA.to_string()),
        Some(s) if enums::SCHEDULING_STRATEGY.contains(&s) => Ok(s.to_string()),
        Some(other) => Err(EcsError::invalid_parameter(format!(
            "Invalid schedulingStrategy '{other}': use REPLICA or DAEMON."
        ))),
    }
}

/// Checks a desired count: 0 to [`MAX_DESIRED_COUNT`].
pub fn check_desired_count(count: i32) -> Result<(), EcsError> {
    if count < 0 {
        return Err(EcsError::invalid_parameter("desiredCount can't be less than 0."));
    }
    if count > MAX_DESIRED_COUNT {
        return Err(EcsError::new(
            ErrorCode::LimitExceededException,
            format!("desiredCount {count} is above the quota of {MAX_DESIRED_COUNT} tasks per service."),
        ));
    }
    Ok(())
}

/// Checks `deploymentController`, ECS by default.
pub fn deployment_controller(given: Option<&DeploymentController>) -> Result<DeploymentController, EcsError> {
    let kind = given.and_then(|c| c.r#type.as_deref()).unwrap_or("ECS");
    if !enums::DEPLOYMENT_CONTROLLER_TYPE.contains(&kind) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid deploymentController type '{kind}': use ECS, CODE_DEPLOY or EXTERNAL."
        )));
    }
    Ok(DeploymentController { r#type: Some(kind.to_string()) })
}

/// Checks `propagateTags`, NONE by default.
pub fn propagate_tags(given: Option<&str>) -> Result<String, EcsError> {
    match given {
        None => Ok("NONE".to_string()),
        Some(p) if enums::PROPAGATE_TAGS.contains(&p) => Ok(p.to_string()),
        Some(other) => Err(EcsError::invalid_parameter(format!(
            "Invalid propagateTags '{other}': use TASK_DEFINITION, SERVICE or NONE."
        ))),
    }
}

/// Checks `availabilityZoneRebalancing`.
pub fn check_rebalancing(given: Option<&str>, scheduling: &str) -> Result<(), EcsError> {
    match given {
        None | Some("DISABLED") => Ok(()),
        Some("ENABLED") if scheduling == DAEMON => Err(EcsError::invalid_parameter(
            "availabilityZoneRebalancing can't be ENABLED for a service using the DAEMON scheduling strategy.",
        )),
        Some("ENABLED") => Ok(()),
        Some(other) => Err(EcsError::invalid_parameter(format!(
            "Invalid availabilityZoneRebalancing '{other}': use ENABLED or DISABLED."
        ))),
    }
}

/// Checks `healthCheckGracePeriodSeconds`: 0 to 2,147,483,647 seconds.
pub fn check_grace_period(given: Option<i32>) -> Result<(), EcsError> {
    match given {
        Some(n) if n < 0 => {
            Err(EcsError::invalid_parameter("healthCheckGracePeriodSeconds can't be less than 0."))
        }
        _ => Ok(()),
    }
}

/// An IAM role given by name becomes its ARN, as ECS reports `roleArn`.
pub fn role_arn(account: &str, role: &str) -> String {
    if role.starts_with("arn:") { role.to_string() } else { format!("arn:aws:iam::{account}:role/{role}") }
}

/// The integrations Berth does not provide, refused when a request asks for them.
#[derive(Default)]
pub struct Integrations<'a> {
    /// `loadBalancers`.
    pub load_balancers: Option<&'a [LoadBalancer]>,
    /// `serviceRegistries`.
    pub service_registries: Option<&'a [ServiceRegistry]>,
    /// `serviceConnectConfiguration`.
    pub service_connect: Option<&'a ServiceConnectConfiguration>,
    /// `volumeConfigurations`.
    pub volume_configurations: Option<&'a [ServiceVolumeConfiguration]>,
    /// `vpcLatticeConfigurations`.
    pub vpc_lattice: Option<&'a [VpcLatticeConfiguration]>,
    /// `gatewayConnectors`.
    pub gateway_connectors: Option<&'a [GatewayConnector]>,
    /// `monitoring`.
    pub monitoring: Option<&'a MonitoringConfiguration>,
}

/// Refuses the integrations of `wanted` that are asked for (empty lists ask for nothing).
pub fn check_integrations(wanted: &Integrations<'_>) -> Result<(), EcsError> {
    let refuse = |what: &str| {
        Err(EcsError::unsupported(format!(
            "{what} Berth does not provide this yet, so the service would not get it; remove the member."
        )))
    };
    if wanted.load_balancers.is_some_and(|l| !l.is_empty()) {
        return refuse(
            "loadBalancers: registering tasks with Elastic Load Balancing target groups is not supported.",
        );
    }
    if wanted.service_registries.is_some_and(|r| !r.is_empty()) {
        return refuse("serviceRegistries: AWS Cloud Map service discovery is not supported.");
    }
    if wanted.service_connect.is_some_and(|c| c.enabled == Some(true)) {
        return refuse("serviceConnectConfiguration: Service Connect is not supported.");
    }
    if wanted.volume_configurations.is_some_and(|v| !v.is_empty()) {
        return refuse("volumeConfigurations: Amazon EBS volumes attached at deployment are not supported.");
    }
    if wanted.vpc_lattice.is_some_and(|v| !v.is_empty()) {
        return refuse("vpcLatticeConfigurations: VPC Lattice is not supported.");
    }
    if wanted.gateway_connectors.is_some_and(|g| !g.is_empty()) {
        return refuse("gatewayConnectors: gateway connectors are not supported.");
    }
    if wanted.monitoring.is_some_and(|m| m.metric_configurations.as_ref().is_some_and(|c| !c.is_empty())) {
        return refuse("monitoring: metric configurations are not supported.");
    }
    Ok(())
}

/// The deployment configuration: `given`'s members over `current`'s (an update changes only what
/// it names), then ECS's defaults (maximumPercent 200 and minimumHealthyPercent 100 for REPLICA,
/// 100 and 0 for DAEMON; a circuit breaker neither enabled nor rolling back), then ECS's checks.
pub fn deployment_configuration(
    given: Option<&DeploymentConfiguration>,
    current: Option<&DeploymentConfiguration>,
    scheduling: &str,
) -> Result<DeploymentConfiguration, EcsError> {
    let mut config = current.cloned().unwrap_or_default();
    if let Some(given) = given {
        let merged = serde_json::to_value(&config)
            .and_then(|mut base| {
                if let (Some(base), serde_json::Value::Object(new)) =
                    (base.as_object_mut(), serde_json::to_value(given)?)
                {
                    base.extend(new);
                }
                serde_json::from_value::<DeploymentConfiguration>(base)
            })
            .map_err(|err| {
                EcsError::server(format!("failed to merge the deployment configuration: {err}"))
            })?;
        config = merged;
    }
    let daemon = scheduling == DAEMON;
    let maximum = *config.maximum_percent.get_or_insert(if daemon { 100 } else { 200 });
    let minimum = *config.minimum_healthy_percent.get_or_insert(if daemon { 0 } else { 100 });
    if !(0..=100).contains(&minimum) {
        return Err(EcsError::invalid_parameter("minimumHealthyPercent must be between 0 and 100."));
    }
    if maximum < 100 {
        return Err(EcsError::invalid_parameter("maximumPercent must be at least 100."));
    }
    if daemon && maximum != 100 {
        return Err(EcsError::invalid_parameter(
            "maximumPercent must be 100 for a service using the DAEMON scheduling strategy.",
        ));
    }
    if maximum == 100 && minimum == 100 {
        return Err(EcsError::invalid_parameter(
            "maximumPercent must be greater than 100 when minimumHealthyPercent is 100: a deployment could never replace a task.",
        ));
    }
    let breaker = config.deployment_circuit_breaker.get_or_insert_with(DeploymentCircuitBreaker::default);
    breaker.enable.get_or_insert(false);
    breaker.rollback.get_or_insert(false);
    if let Some(strategy) = config.strategy.as_deref() {
        match strategy {
            "ROLLING" => {}
            other if enums::DEPLOYMENT_STRATEGY.contains(&other) => {
                return Err(EcsError::unsupported(format!(
                    "The {other} deployment strategy is not supported by Berth; use ROLLING."
                )));
            }
            other => {
                return Err(EcsError::invalid_parameter(format!(
                    "Invalid deployment strategy '{other}': use ROLLING."
                )));
            }
        }
    }
    if config.alarms.as_ref().is_some_and(|a: &DeploymentAlarms| a.enable == Some(true)) {
        return Err(EcsError::unsupported(
            "Deployment alarms need Amazon CloudWatch, which Berth does not have; disable them and use the circuit breaker.",
        ));
    }
    if config.lifecycle_hooks.as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(EcsError::unsupported("Deployment lifecycle hooks are not supported by Berth."));
    }
    if config.bake_time_in_minutes.is_some_and(|m| m < 0) {
        return Err(EcsError::invalid_parameter("bakeTimeInMinutes can't be less than 0."));
    }
    Ok(config)
}

/// Checks the placement rules of a service with the placement engine's own validation, and
/// completes them: a REPLICA service without strategies spreads across Availability Zones, then
/// across instances (ECS's default for services); a DAEMON service takes no strategy.
pub fn placement(
    constraints: Option<&[PlacementConstraint]>,
    strategies: Option<&[PlacementStrategy]>,
    scheduling: &str,
) -> Result<(Vec<PlacementConstraint>, Vec<PlacementStrategy>), EcsError> {
    let constraints = constraints.unwrap_or_default();
    validate_constraints(constraints.iter().map(|c| (c.r#type.as_deref(), c.expression.as_deref())))
        .map_err(EcsError::invalid_parameter)?;
    let strategies = strategies.unwrap_or_default();
    if scheduling == DAEMON {
        if !strategies.is_empty() {
            return Err(EcsError::invalid_parameter(
                "Placement strategies are not supported with the DAEMON scheduling strategy.",
            ));
        }
        return Ok((constraints.to_vec(), Vec::new()));
    }
    if strategies.is_empty() {
        return Ok((constraints.to_vec(), default_strategies()));
    }
    validate_strategies(strategies.iter().map(|s| (s.r#type.as_deref(), s.field.as_deref())))
        .map_err(EcsError::invalid_parameter)?;
    Ok((constraints.to_vec(), strategies.to_vec()))
}

/// ECS's default placement of a REPLICA service's tasks, as the API shapes.
pub fn default_strategies() -> Vec<PlacementStrategy> {
    vec![
        PlacementStrategy {
            r#type: Some("spread".into()),
            field: Some("attribute:ecs.availability-zone".into()),
        },
        PlacementStrategy { r#type: Some("spread".into()), field: Some("instanceId".into()) },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_configuration_defaults_follow_the_scheduling_strategy() {
        let replica = deployment_configuration(None, None, REPLICA).expect("valid");
        assert_eq!((replica.maximum_percent, replica.minimum_healthy_percent), (Some(200), Some(100)));
        let breaker = replica.deployment_circuit_breaker.clone().expect("breaker");
        assert_eq!((breaker.enable, breaker.rollback), (Some(false), Some(false)));
        let daemon = deployment_configuration(None, None, DAEMON).expect("valid");
        assert_eq!((daemon.maximum_percent, daemon.minimum_healthy_percent), (Some(100), Some(0)));
        let given = DeploymentConfiguration { maximum_percent: Some(150), ..Default::default() };
        let merged = deployment_configuration(Some(&given), Some(&replica), REPLICA).expect("valid");
        assert_eq!((merged.maximum_percent, merged.minimum_healthy_percent), (Some(150), Some(100)));
        let bad = DeploymentConfiguration { maximum_percent: Some(90), ..Default::default() };
        assert!(deployment_configuration(Some(&bad), None, REPLICA).is_err());
    }

    #[test]
    fn replica_services_spread_by_default_and_daemons_take_no_strategy() {
        let (_, strategies) = placement(None, None, REPLICA).expect("valid");
        assert_eq!(strategies, default_strategies());
        let random = [PlacementStrategy { r#type: Some("random".into()), field: None }];
        assert!(placement(None, Some(&random), DAEMON).is_err());
        assert!(placement(None, Some(&random), REPLICA).is_ok());
    }
}
