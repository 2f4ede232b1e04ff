//! DescribeServiceRevisions.

use berth_api::EcsError;
use berth_api::model::{
    DescribeServiceRevisionsRequest, DescribeServiceRevisionsResponse, Failure, ServiceRevision,
};

use crate::Ctx;
use crate::state::{keys, records};

/// Handles DescribeServiceRevisions: up to twenty service revisions by ARN; ARNs that match
/// nothing come back as `MISSING` failures.
pub async fn handle(
    ctx: Ctx,
    input: DescribeServiceRevisionsRequest,
) -> Result<DescribeServiceRevisionsResponse, EcsError> {
    let arns = super::check_arns(&input.service_revision_arns, "serviceRevisionArns")?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns {
        let record = match super::parse(&ctx, "service-revision", arn)? {
            Some(at) => {
                let key = keys::service_revision(&ctx.scope, &at.cluster, &at.service, &at.id);
                records::get::<ServiceRevision>(&*ctx.store, &key).await?
            }
            None => None,
        };
        match record {
            Some(record) => found.push(record.value),
            None => failures.push(Failure {
                arn: Some(arn.clone()),
                reason: Some("MISSING".into()),
                detail: None,
            }),
        }
    }
    Ok(DescribeServiceRevisionsResponse { service_revisions: Some(found), failures: Some(failures) })
}
