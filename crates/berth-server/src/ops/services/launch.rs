//! How a service launches its tasks: a launch type, or a capacity provider strategy.
//!
//! As in ECS, a service has one or the other: a given launch type, a given strategy, or else the
//! cluster's default strategy, or else the EC2 launch type. Berth runs tasks on the instances
//! registered to the cluster, so EC2 and EXTERNAL are the launch types it runs, and a capacity
//! provider stands for EC2 capacity; Fargate (and managed instances) are refused.

use berth_api::EcsError;
use berth_api::model::{CapacityProviderStrategyItem, Cluster};

use crate::ops::clusters;

/// How a service launches its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// The launch type, when the service has one.
    pub launch_type: Option<String>,
    /// The capacity provider strategy, when the service uses one.
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
}

impl Launch {
    /// The launch type the tasks run with: a capacity provider gives EC2 capacity.
    pub fn effective_launch_type(&self) -> &str {
        self.launch_type.as_deref().unwrap_or("EC2")
    }
}

/// Resolves a request's `launchType` and `capacityProviderStrategy` against the cluster.
pub fn resolve(
    launch_type: Option<&str>,
    strategy: Option<&[CapacityProviderStrategyItem]>,
    cluster: &Cluster,
) -> Result<Launch, EcsError> {
    let providers = cluster.capacity_providers.clone().unwrap_or_default();
    let strategy = strategy.filter(|s| !s.is_empty());
    match (launch_type, strategy) {
        (Some(_), Some(_)) => Err(EcsError::invalid_parameter(
            "Specifying both a launchType and capacityProviderStrategy is not supported.",
        )),
        (Some(kind), None) => {
            Ok(Launch { launch_type: Some(check_launch_type(kind)?), capacity_provider_strategy: None })
        }
        (None, Some(strategy)) => {
            clusters::check_launch_strategy(strategy, &providers)?;
            Ok(Launch { launch_type: None, capacity_provider_strategy: Some(strategy.to_vec()) })
        }
        (None, None) => match cluster.default_capacity_provider_strategy.as_deref() {
            Some(default) if !default.is_empty() => {
                clusters::check_launch_strategy(default, &providers)?;
                Ok(Launch { launch_type: None, capacity_provider_strategy: Some(default.to_vec()) })
            }
            _ => Ok(Launch { launch_type: Some("EC2".to_string()), capacity_provider_strategy: None }),
        },
    }
}

/// Checks a launch type Berth can run.
pub fn check_launch_type(kind: &str) -> Result<String, EcsError> {
    match kind {
        "EC2" | "EXTERNAL" => Ok(kind.to_string()),
        "FARGATE" | "MANAGED_INSTANCES" => Err(EcsError::unsupported(format!(
            "Berth runs tasks on the container instances registered to the cluster; the {kind} launch type is not supported. Use EC2 or EXTERNAL."
        ))),
        other => {
            Err(EcsError::invalid_parameter(format!("Invalid launchType '{other}': use EC2 or EXTERNAL.")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_has_a_launch_type_or_a_strategy() {
        let cluster = Cluster {
            capacity_providers: Some(vec!["cp".into()]),
            default_capacity_provider_strategy: Some(vec![CapacityProviderStrategyItem {
                capacity_provider: Some("cp".into()),
                weight: Some(1),
                base: Some(0),
            }]),
            ..Default::default()
        };
        let by_default = resolve(None, None, &cluster).expect("valid");
        assert_eq!(by_default.launch_type, None);
        assert_eq!(by_default.capacity_provider_strategy.as_ref().map(Vec::len), Some(1));
        assert_eq!(by_default.effective_launch_type(), "EC2");
        let ec2 = resolve(Some("EC2"), None, &cluster).expect("valid");
        assert_eq!(ec2.launch_type.as_deref(), Some("EC2"));
        assert!(resolve(Some("FARGATE"), None, &cluster).is_err());
        assert!(
            resolve(Some("EC2"), cluster.default_capacity_provider_strategy.as_deref(), &cluster).is_err()
        );
        let plain = resolve(None, None, &Cluster::default()).expect("valid");
        assert_eq!(plain.launch_type.as_deref(), Some("EC2"));
    }
}
