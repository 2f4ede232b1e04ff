//! CreateTaskSet.

use berth_api::model::{CreateTaskSetRequest, CreateTaskSetResponse, TaskSet};
use berth_api::{EcsError, tags};
use uuid::Uuid;

use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::ops::services::launch;
use crate::ops::services::settings::{self, Integrations};
use crate::ops::tasks::params;
use crate::state::keys;

/// Handles CreateTaskSet on a service with the EXTERNAL deployment controller: the task set is
/// ACTIVE (UpdateServicePrimaryTaskSet makes one PRIMARY) and runs its scale of the service's
/// desired count, which the service controller starts. The task definition is copied into the
/// service record with it. A repeated `clientToken` returns the task set it created (while that
/// task set exists).
pub async fn handle(ctx: Ctx, input: CreateTaskSetRequest) -> Result<CreateTaskSetResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let scale = super::check_scale(input.scale.as_ref())?;
    let given_tags = input.tags.clone().unwrap_or_default();
    tags::check_tags(&given_tags)?;
    settings::check_integrations(&Integrations {
        load_balancers: input.load_balancers.as_deref(),
        service_registries: input.service_registries.as_deref(),
        ..Default::default()
    })?;
    if input.external_id.as_ref().is_some_and(|id| id.len() > 255) {
        return Err(EcsError::invalid_parameter("externalId can be at most 255 characters."));
    }
    if input.client_token.as_ref().is_some_and(|t| t.is_empty() || t.len() > 36) {
        return Err(EcsError::invalid_parameter("Invalid clientToken: up to 36 characters are allowed."));
    }
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.clone().unwrap_or_default();
    let launch =
        launch::resolve(input.launch_type.as_deref(), input.capacity_provider_strategy.as_deref(), &cluster)?;
    if input.platform_version.is_some() {
        return Err(EcsError::invalid_parameter(format!(
            "The platform version must be null when specifying an {} launch type.",
            launch.effective_launch_type()
        )));
    }
    let definition = params::resolve_definition(&ctx, input.task_definition.as_ref()).await?;
    params::check_runnable(
        &definition,
        launch.effective_launch_type(),
        input.network_configuration.as_ref(),
    )?;

    for _ in 0..crate::ops::services::MAX_ATTEMPTS {
        let (mut record, revision) = super::load_external(&ctx, &cluster_name, &reference).await?;
        if let Some(id) = input.client_token.as_ref().and_then(|token| record.task_set_tokens.get(token)) {
            let (set, _) = super::load(&ctx, &record, id).await?;
            return Ok(CreateTaskSetResponse { task_set: Some(set) });
        }
        let (high, _) = Uuid::new_v4().as_u64_pair();
        let digits = format!("{high:020}");
        let id = format!("ecs-svc/{}", &digits[1..]);
        let at = now();
        let set = TaskSet {
            id: Some(id.clone()),
            task_set_arn: Some(ctx.scope.task_set_arn(&cluster_name, record.name(), &id)),
            service_arn: record.service.service_arn.clone(),
            cluster_arn: cluster.cluster_arn.clone(),
            external_id: input.external_id.clone(),
            status: Some(super::ACTIVE.to_string()),
            task_definition: definition.task_definition.task_definition_arn.clone(),
            computed_desired_count: Some(super::computed_desired_count(
                record.service.desired_count.unwrap_or(0),
                &scale,
            )),
            pending_count: Some(0),
            running_count: Some(0),
            created_at: Some(at),
            updated_at: Some(at),
            launch_type: launch.launch_type.clone(),
            capacity_provider_strategy: launch.capacity_provider_strategy.clone(),
            network_configuration: input.network_configuration.clone(),
            load_balancers: Some(Vec::new()),
            service_registries: Some(Vec::new()),
            scale: Some(scale.clone()),
            stability_status: Some("STABILIZING".to_string()),
            stability_status_at: Some(at),
            tags: Some(given_tags.clone()),
            ..Default::default()
        };
        record.definitions.insert(id.clone(), definition.task_definition.clone());
        if let Some(token) = &input.client_token {
            record.task_set_tokens.insert(token.clone(), id.clone());
        }
        let key = keys::task_set(&ctx.scope, &cluster_name, record.name(), &id);
        if super::commit_with_service(&ctx, &record, revision, vec![(key, 0, Some(set.clone()))]).await? {
            return Ok(CreateTaskSetResponse { task_set: Some(set) });
        }
    }
    Err(EcsError::server("The service kept changing while the task set was created; try again."))
}
