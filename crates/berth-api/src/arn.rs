//! ECS resource ARNs: `arn:aws:ecs:REGION:ACCOUNT:TYPE/ID`.
//!
//! Every resource Berth keeps belongs to one region and one account, and its ARN says which, as in
//! ECS. Callers may name a resource by short name or by ARN; [`Arn::parse`] tells the two apart and
//! [`Scope`] builds the ARNs of one region and account.

use std::fmt;

use crate::EcsError;

/// The region and account a request acts in: the partition of all state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The AWS region name, e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Scope {
    /// A scope for a region and account.
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Self { region: region.into(), account: account.into() }
    }

    /// `arn:aws:ecs:REGION:ACCOUNT:RESOURCE`.
    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:ecs:{}:{}:{}", self.region, self.account, resource)
    }

    /// The ARN of a cluster.
    pub fn cluster_arn(&self, name: &str) -> String {
        self.arn(&format!("cluster/{name}"))
    }

    /// The ARN of one revision of a task definition.
    pub fn task_definition_arn(&self, family: &str, revision: i32) -> String {
        self.arn(&format!("task-definition/{family}:{revision}"))
    }

    /// The ARN of a capacity provider.
    pub fn capacity_provider_arn(&self, name: &str) -> String {
        self.arn(&format!("capacity-provider/{name}"))
    }

    /// The ARN of a container instance (`container-instance/CLUSTER/ID`, ECS's long format).
    pub fn container_instance_arn(&self, cluster: &str, id: &str) -> String {
        self.arn(&format!("container-instance/{cluster}/{id}"))
    }

    /// The ARN of a task (`task/CLUSTER/ID`, ECS's long format).
    pub fn task_arn(&self, cluster: &str, id: &str) -> String {
        self.arn(&format!("task/{cluster}/{id}"))
    }

    /// The ARN of a service (`service/CLUSTER/NAME`, ECS's long format).
    pub fn service_arn(&self, cluster: &str, name: &str) -> String {
        self.arn(&format!("service/{cluster}/{name}"))
    }

    /// The ARN of one deployment of a service, as the service deployment history names it.
    pub fn service_deployment_arn(&self, cluster: &str, service: &str, id: &str) -> String {
        self.arn(&format!("service-deployment/{cluster}/{service}/{id}"))
    }

    /// The ARN of one revision of a service's configuration.
    pub fn service_revision_arn(&self, cluster: &str, service: &str, id: &str) -> String {
        self.arn(&format!("service-revision/{cluster}/{service}/{id}"))
    }

    /// The ARN of a task set of a service.
    pub fn task_set_arn(&self, cluster: &str, service: &str, id: &str) -> String {
        self.arn(&format!("task-set/{cluster}/{service}/{id}"))
    }

    /// The ARN of one container of a task.
    pub fn container_arn(&self, cluster: &str, task_id: &str, id: &str) -> String {
        self.arn(&format!("container/{cluster}/{task_id}/{id}"))
    }
}

/// Reduces a reference to a resource that lives in a cluster (a task or container instance: its
/// id, or its ARN in the long `TYPE/CLUSTER/ID` or old `TYPE/ID` format) to its id, checking that
/// an ARN is of `resource_type`, of `scope` and, in the long format, of `cluster`.
///
/// `Ok(None)` means the reference is well formed but names something this scope or cluster cannot
/// hold, which callers report as not found (or as a `MISSING` failure).
pub fn member_id(
    scope: &Scope,
    cluster: &str,
    resource_type: &str,
    reference: &str,
) -> Result<Option<String>, EcsError> {
    if !reference.starts_with("arn:") {
        if reference.is_empty() || reference.contains('/') {
            return Err(EcsError::invalid_parameter(format!("Invalid {resource_type} id: '{reference}'.")));
        }
        return Ok(Some(reference.to_string()));
    }
    let arn = Arn::parse(reference)
        .filter(|arn| arn.service == "ecs" && arn.resource_type == resource_type)
        .ok_or_else(|| EcsError::invalid_parameter(format!("Invalid {resource_type} ARN: {reference}")))?;
    if !arn.is_in(scope) {
        return Ok(None);
    }
    match arn.resource_id.split_once('/') {
        Some((arn_cluster, id)) if !id.is_empty() && !id.contains('/') => {
            Ok((arn_cluster == cluster).then(|| id.to_string()))
        }
        Some(_) => Err(EcsError::invalid_parameter(format!("Invalid {resource_type} ARN: {reference}"))),
        None => Ok(Some(arn.resource_id)),
    }
}

/// A parsed ECS ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    /// The partition, normally `aws`.
    pub partition: String,
    /// The service, `ecs` for every ARN Berth issues.
    pub service: String,
    /// The region of the resource.
    pub region: String,
    /// The account of the resource.
    pub account: String,
    /// The resource type: `cluster`, `task-definition`, `service`, ...
    pub resource_type: String,
    /// Everything after the first `/`: a name, `family:revision`, or `cluster/id`.
    pub resource_id: String,
}

impl Arn {
    /// Parses `arn:PARTITION:SERVICE:REGION:ACCOUNT:TYPE/ID`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Arn> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        let region = parts.next()?.to_string();
        let account = parts.next()?.to_string();
        let resource = parts.next()?;
        let (resource_type, resource_id) = resource.split_once('/')?;
        if partition.is_empty() || service.is_empty() || resource_type.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
        })
    }

    /// Whether this ARN names a resource of the given scope.
    pub fn is_in(&self, scope: &Scope) -> bool {
        self.region == scope.region && self.account == scope.account
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}/{}",
            self.partition, self.service, self.region, self.account, self.resource_type, self.resource_id
        )
    }
}

/// Reduces a cluster reference (short name or ARN) to the cluster's name in `scope`.
///
/// A cluster ARN of another region or account names a cluster this scope does not hold, which
/// ECS reports as not found; a malformed ARN is an invalid parameter.
pub fn cluster_name(scope: &Scope, reference: &str) -> Result<String, EcsError> {
    if !reference.starts_with("arn:") {
        return Ok(reference.to_string());
    }
    let arn = Arn::parse(reference)
        .filter(|arn| arn.service == "ecs" && arn.resource_type == "cluster")
        .ok_or_else(|| EcsError::invalid_parameter(format!("Invalid cluster ARN: {reference}")))?;
    if !arn.is_in(scope) {
        return Err(EcsError::cluster_not_found());
    }
    Ok(arn.resource_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("eu-west-1", "123456789012")
    }

    #[test]
    fn builds_and_parses_round_trip() {
        let arn = scope().task_definition_arn("web", 3);
        assert_eq!(arn, "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3");
        let parsed = Arn::parse(&arn).expect("our own ARN parses");
        assert_eq!(parsed.resource_type, "task-definition");
        assert_eq!(parsed.resource_id, "web:3");
        assert_eq!(parsed.to_string(), arn);
    }

    #[test]
    fn cluster_reference_by_name_or_arn() {
        assert_eq!(cluster_name(&scope(), "prod").as_deref(), Ok("prod"));
        let arn = scope().cluster_arn("prod");
        assert_eq!(cluster_name(&scope(), &arn).as_deref(), Ok("prod"));
        let other = Scope::new("us-east-1", "123456789012").cluster_arn("prod");
        assert_eq!(
            cluster_name(&scope(), &other).map_err(|e| e.code),
            Err(crate::ErrorCode::ClusterNotFoundException)
        );
        assert_eq!(
            cluster_name(&scope(), "arn:nonsense").map_err(|e| e.code),
            Err(crate::ErrorCode::InvalidParameterException)
        );
    }

    #[test]
    fn member_references_by_id_or_arn() {
        let scope = scope();
        let arn = scope.task_arn("prod", "abc");
        assert_eq!(member_id(&scope, "prod", "task", &arn), Ok(Some("abc".to_string())));
        assert_eq!(member_id(&scope, "prod", "task", "abc"), Ok(Some("abc".to_string())));
        assert_eq!(member_id(&scope, "other", "task", &arn), Ok(None));
        let old_format = scope.arn("task/abc");
        assert_eq!(member_id(&scope, "prod", "task", &old_format), Ok(Some("abc".to_string())));
        assert!(member_id(&scope, "prod", "task", &scope.container_instance_arn("prod", "x")).is_err());
        assert!(member_id(&scope, "prod", "task", "a/b").is_err());
    }

    #[test]
    fn malformed_arns_are_rejected() {
        for text in
            ["", "arn", "arn:aws", "arn:aws:ecs:r:a:cluster", "notarn:aws:ecs:r:a:x/y", "arn::ecs:r:a:x/y"]
        {
            assert_eq!(Arn::parse(text), None, "{text}");
        }
    }
}
