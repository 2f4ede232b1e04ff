//! StopServiceDeployment.

use berth_api::model::{
    Rollback, ServiceDeployment, ServiceRevision, StopServiceDeploymentRequest,
    StopServiceDeploymentResponse, TaskDefinition,
};
use berth_api::{EcsError, ErrorCode};

use crate::Ctx;
use crate::context::now;
use crate::ops::services as service_ops;
use crate::state::services::{self, ACTIVE, ServiceRecord};
use crate::state::{keys, records, task_definitions};

/// Statuses in which a stop was already asked for or is under way: asking again changes nothing.
const STOPPING: [&str; 3] = ["STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"];

/// Handles StopServiceDeployment with the ROLLBACK stop type (the one ECS documents as valid). A
/// PENDING or IN_PROGRESS deployment is rolled back to the service revision that ran before it:
/// a new PRIMARY deployment of that revision's task definition starts (with its `rollback`
/// member saying why and to what), and the stopped one becomes ROLLBACK_IN_PROGRESS in the same
/// transaction, then reads ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED once the rollback's rollout
/// ends. The service controller rolls it out like any deployment. A deployment that already
/// ended cannot be stopped (`ConflictException`); one without an earlier revision has nothing to
/// roll back to.
pub async fn handle(
    ctx: Ctx,
    input: StopServiceDeploymentRequest,
) -> Result<StopServiceDeploymentResponse, EcsError> {
    let arn = crate::ops::required(&input.service_deployment_arn, "serviceDeploymentArn")?.clone();
    let stop_type = input.stop_type.clone().unwrap_or_else(|| "ROLLBACK".to_string());
    if stop_type != "ROLLBACK" {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid stopType '{stop_type}': the valid value is ROLLBACK."
        )));
    }
    let not_found = || {
        EcsError::new(
            ErrorCode::ServiceDeploymentNotFoundException,
            format!("The service deployment {arn} does not exist."),
        )
    };
    let at = super::parse(&ctx, "service-deployment", &arn)?.ok_or_else(not_found)?;
    let scope = &ctx.scope;
    let key = keys::service_deployment(scope, &at.cluster, &at.service, &at.id);
    for _ in 0..service_ops::MAX_ATTEMPTS {
        let deployment = records::get::<ServiceDeployment>(&*ctx.store, &key).await?.ok_or_else(not_found)?;
        let (mut record, revision) = services::load(&*ctx.store, scope, &at.cluster, &at.service)
            .await?
            .ok_or_else(service_ops::not_found)?;
        let shown = services::history_view(Some(&record), deployment.value.clone());
        let status = shown.status.clone().unwrap_or_default();
        if STOPPING.contains(&status.as_str()) {
            return Ok(StopServiceDeploymentResponse { service_deployment_arn: Some(arn) });
        }
        if status != "PENDING" && status != "IN_PROGRESS" {
            return Err(EcsError::new(
                ErrorCode::ConflictException,
                format!(
                    "The service deployment is {status}: only a PENDING or IN_PROGRESS deployment can be stopped."
                ),
            ));
        }
        if record.status() != ACTIVE {
            return Err(service_ops::not_active());
        }
        let Some(source) = shown.source_service_revisions.iter().flatten().find_map(|s| s.arn.clone()) else {
            return Err(EcsError::invalid_parameter(
                "The service deployment has no earlier service revision to roll back to.",
            ));
        };
        let definition = previous_definition(&ctx, &record, &source).await?;
        let now = now();
        let reason = format!("Rolling back to service revision {source}, as StopServiceDeployment asked.");
        let mut started = services::start_deployment(&mut record, definition, now, Some(&reason));
        started.service_deployment.rollback = Some(Rollback {
            reason: Some(reason),
            started_at: Some(now),
            service_revision_arn: Some(source),
        });
        if services::save(&*ctx.store, scope, &record, revision, Some(&started)).await?.is_some() {
            return Ok(StopServiceDeploymentResponse { service_deployment_arn: Some(arn) });
        }
    }
    Err(EcsError::server("The service deployment kept changing while it was stopped; try again."))
}

/// The task definition of the revision to roll back to: the service's own copy when a deployment
/// still runs it, else the registered definition (even deregistered, it stays readable).
async fn previous_definition(
    ctx: &Ctx,
    record: &ServiceRecord,
    revision_arn: &str,
) -> Result<TaskDefinition, EcsError> {
    let gone = || EcsError::invalid_parameter("The service revision to roll back to no longer exists.");
    let at = super::parse(ctx, "service-revision", revision_arn)?.ok_or_else(gone)?;
    let key = keys::service_revision(&ctx.scope, &at.cluster, &at.service, &at.id);
    let revision = records::get::<ServiceRevision>(&*ctx.store, &key).await?.ok_or_else(gone)?.value;
    let arn = revision.task_definition.ok_or_else(gone)?;
    if let Some(copy) =
        record.definitions.values().find(|d| d.task_definition_arn.as_deref() == Some(arn.as_str()))
    {
        return Ok(copy.clone());
    }
    let reference = task_definitions::parse_reference(ctx, &arn)?;
    let found = task_definitions::find(ctx, &reference).await?.ok_or_else(|| {
        EcsError::invalid_parameter(format!(
            "The task definition {arn} of the revision to roll back to was deleted."
        ))
    })?;
    Ok(found.value.task_definition)
}
