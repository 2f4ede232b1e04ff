//! StartTask.

use berth_api::model::{StartTaskRequest, StartTaskResponse};
use berth_api::{EcsError, arn};

use super::launch::{self, LaunchSpec};
use super::params;
use crate::Ctx;
use crate::context::now;
use crate::ops::{clusters, required};
use crate::state::task_placement::{self, Outcome, Target};

/// The most container instances one StartTask call may name.
pub const MAX_INSTANCES: usize = 10;

/// Handles StartTask: one task on each named container instance, chosen by the caller rather
/// than the placement engine, but with the same resource checks and the same all-or-nothing
/// commit as RunTask. An instance that cannot take its task is a failure with the reason.
pub async fn handle(ctx: Ctx, input: StartTaskRequest) -> Result<StartTaskResponse, EcsError> {
    let references = required(&input.container_instances, "containerInstances")?;
    if references.is_empty() || references.len() > MAX_INSTANCES {
        return Err(EcsError::invalid_parameter(format!(
            "containerInstances must name 1 to {MAX_INSTANCES} container instances; {} were given.",
            references.len()
        )));
    }
    params::check_started_by(input.started_by.as_deref(), params::START_TASK_STARTED_BY_MAX)?;
    params::check_group(input.group.as_deref())?;
    params::check_reference_id(input.reference_id.as_deref())?;
    params::check_volume_configurations(input.volume_configurations.as_deref())?;
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.clone().unwrap_or_default();
    let mut ids = Vec::with_capacity(references.len());
    let mut unknown = Vec::new();
    for reference in references {
        match arn::member_id(&ctx.scope, &cluster_name, "container-instance", reference)? {
            Some(id) => ids.push(id),
            None => unknown.push(reference.clone()),
        }
    }
    let definition = params::resolve_definition(&ctx, input.task_definition.as_ref()).await?;
    params::check_runnable(&definition, "EC2", input.network_configuration.as_ref())?;
    let tags = params::task_tags(
        &definition,
        &cluster_name,
        input.tags.as_deref(),
        input.propagate_tags.as_deref(),
        input.enable_ecs_managed_tags.unwrap_or(false),
    )?;
    let spec = LaunchSpec {
        cluster: cluster_name.clone(),
        definition,
        overrides: input.overrides,
        group: input.group,
        started_by: input.started_by,
        launch_type: "EC2".to_string(),
        capacity_provider_name: None,
        tags,
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
    };
    let launch = launch::prepare(spec, ids.len())?;
    let created = now();
    let mut build = |entry: &task_placement::InstanceEntry| {
        Ok(launch::instantiate(&launch.template, &ctx.scope, entry, created))
    };
    let outcome = task_placement::place_and_commit(
        &*ctx.store,
        &ctx.scope,
        &cluster_name,
        &launch.request,
        Target::Instances(&ids),
        &mut build,
        None,
    )
    .await?;
    // A placement reports a claimed key only when given a claim to make, and StartTask has no
    // idempotency token: the second arm is unreachable, and answered as a fault if it ever is not.
    let Outcome::Placed { tasks, mut failures } = outcome else {
        return Err(EcsError::server("StartTask made no claim, yet its placement reported one."));
    };
    failures.extend(unknown.into_iter().map(|reference| berth_api::model::Failure {
        arn: Some(reference),
        reason: Some("MISSING".to_string()),
        detail: None,
    }));
    Ok(StartTaskResponse {
        tasks: Some(tasks.into_iter().map(|record| record.task).collect()),
        failures: Some(failures),
    })
}
