//! Service deployment history: ListServiceDeployments, DescribeServiceDeployments,
//! DescribeServiceRevisions, StopServiceDeployment.
//!
//! Each deployment of a service has a `ServiceDeployment` record and the `ServiceRevision` it
//! deploys, written with the service when the deployment starts (see
//! [`crate::state::services`]). These operations read them; StopServiceDeployment records a
//! request in the service record that the service controller carries out.

pub mod describe;
pub mod describe_revisions;
pub mod list;
pub mod stop;

use berth_api::EcsError;
use berth_api::arn::Arn;

use crate::Ctx;

/// The most ARNs one Describe call of the history may name.
pub const MAX_ARNS: usize = 20;

/// Where an ARN of the history (`TYPE/CLUSTER/SERVICE/ID`) points.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRef {
    /// The cluster name.
    pub cluster: String,
    /// The service name.
    pub service: String,
    /// The id ending the ARN.
    pub id: String,
}

/// Parses an ARN of `resource_type` (`service-deployment` or `service-revision`). `Ok(None)`: a
/// well-formed ARN of another region or account, which holds nothing here.
pub fn parse(ctx: &Ctx, resource_type: &str, text: &str) -> Result<Option<HistoryRef>, EcsError> {
    let invalid = || EcsError::invalid_parameter(format!("Invalid {resource_type} ARN: '{text}'."));
    let arn = Arn::parse(text)
        .filter(|a| a.service == "ecs" && a.resource_type == resource_type)
        .ok_or_else(invalid)?;
    let mut parts = arn.resource_id.split('/');
    let (Some(cluster), Some(service), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let simple = |s: &str| berth_api::names::is_simple_name(s, 255);
    if !simple(cluster) || !simple(service) || !simple(id) {
        return Err(invalid());
    }
    if !arn.is_in(&ctx.scope) {
        return Ok(None);
    }
    Ok(Some(HistoryRef { cluster: cluster.to_string(), service: service.to_string(), id: id.to_string() }))
}

/// Checks the ARN list of a Describe call: 1 to [`MAX_ARNS`].
pub fn check_arns<'a>(arns: &'a Option<Vec<String>>, member: &str) -> Result<&'a [String], EcsError> {
    let arns = crate::ops::required(arns, member)?;
    if arns.is_empty() || arns.len() > MAX_ARNS {
        return Err(EcsError::invalid_parameter(format!(
            "{member} must name 1 to {MAX_ARNS} ARNs; got {}.",
            arns.len()
        )));
    }
    Ok(arns)
}
