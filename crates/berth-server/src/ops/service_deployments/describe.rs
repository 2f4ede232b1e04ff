//! DescribeServiceDeployments.

use berth_api::EcsError;
use berth_api::model::{
    DescribeServiceDeploymentsRequest, DescribeServiceDeploymentsResponse, Failure, ServiceDeployment,
};

use crate::Ctx;
use crate::state::{keys, records, services};

/// Handles DescribeServiceDeployments: up to twenty service deployments by ARN; ARNs that match
/// nothing come back as `MISSING` failures.
pub async fn handle(
    ctx: Ctx,
    input: DescribeServiceDeploymentsRequest,
) -> Result<DescribeServiceDeploymentsResponse, EcsError> {
    let arns = super::check_arns(&input.service_deployment_arns, "serviceDeploymentArns")?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns {
        let record = match super::parse(&ctx, "service-deployment", arn)? {
            Some(at) => {
                let key = keys::service_deployment(&ctx.scope, &at.cluster, &at.service, &at.id);
                match records::get::<ServiceDeployment>(&*ctx.store, &key).await? {
                    Some(record) => {
                        let service =
                            services::load(&*ctx.store, &ctx.scope, &at.cluster, &at.service).await?;
                        Some(services::history_view(service.as_ref().map(|(s, _)| s), record.value))
                    }
                    None => None,
                }
            }
            None => None,
        };
        match record {
            Some(deployment) => found.push(deployment),
            None => failures.push(Failure {
                arn: Some(arn.clone()),
                reason: Some("MISSING".into()),
                detail: None,
            }),
        }
    }
    Ok(DescribeServiceDeploymentsResponse { service_deployments: Some(found), failures: Some(failures) })
}
