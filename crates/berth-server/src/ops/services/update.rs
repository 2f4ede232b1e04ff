//! UpdateService.

use berth_api::EcsError;
use berth_api::model::{TaskDefinition, TaskSet, UpdateServiceRequest, UpdateServiceResponse};
use berth_store::{Compare, Op, Txn};

use super::settings::{self, DAEMON, Integrations};
use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::ops::task_sets;
use crate::ops::tasks::params;
use crate::state::services::{self, ServiceRecord, StartedDeployment};
use crate::state::task_definitions::TaskDefinitionRecord;
use crate::state::{keys, records};

/// Handles UpdateService. A change of what the tasks are — the task definition, the network
/// configuration, the capacity provider strategy — or `forceNewDeployment` starts a new PRIMARY
/// deployment ([`services::start_deployment`]; a forced one redeploys the PRIMARY's own copy of its
/// task definition). Everything else changes in place: a desired count goes to the service and its
/// PRIMARY deployment, and the deployment configuration, placement, grace period and tag and
/// execute-command settings apply to the tasks started from then on. Services with an EXTERNAL
/// controller change their task definition through task sets, so only in-place changes apply.
pub async fn handle(ctx: Ctx, input: UpdateServiceRequest) -> Result<UpdateServiceResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    if let Some(count) = input.desired_count {
        settings::check_desired_count(count)?;
    }
    settings::check_integrations(&Integrations {
        load_balancers: input.load_balancers.as_deref(),
        service_registries: input.service_registries.as_deref(),
        service_connect: input.service_connect_configuration.as_ref(),
        volume_configurations: input.volume_configurations.as_deref(),
        vpc_lattice: input.vpc_lattice_configurations.as_deref(),
        gateway_connectors: input.gateway_connectors.as_deref(),
        monitoring: input.monitoring.as_ref(),
    })?;
    let propagate = input.propagate_tags.as_deref().map(|p| settings::propagate_tags(Some(p))).transpose()?;
    settings::check_grace_period(input.health_check_grace_period_seconds)?;
    if input.platform_version.is_some() {
        return Err(EcsError::invalid_parameter(
            "The platform version must be null: Berth runs the EC2 and EXTERNAL launch types, which have none.",
        ));
    }
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.clone().unwrap_or_default();
    let strategy = input.capacity_provider_strategy.as_deref().filter(|s| !s.is_empty());
    if let Some(strategy) = strategy {
        crate::ops::clusters::check_launch_strategy(
            strategy,
            cluster.capacity_providers.as_deref().unwrap_or_default(),
        )?;
    }
    let new_definition = match &input.task_definition {
        Some(reference) => Some(params::resolve_definition(&ctx, Some(reference)).await?.task_definition),
        None => None,
    };

    let record = super::update_active(&ctx, &cluster_name, &reference, |record| {
        apply(record, &input, new_definition.as_ref(), propagate.as_deref())
    })
    .await?;
    if input.desired_count.is_some() {
        rescale_task_sets(&ctx, &record).await?;
    }
    Ok(UpdateServiceResponse { service: Some(super::view(&record, false)) })
}

/// A task set runs its scale of the service's desired count: recompute it for the new count.
async fn rescale_task_sets(ctx: &Ctx, record: &ServiceRecord) -> Result<(), EcsError> {
    let prefix = keys::task_sets(&ctx.scope, &record.cluster, record.name());
    let sets = records::list::<TaskSet>(&*ctx.store, &prefix, None, 0).await?.items;
    let desired = record.service.desired_count.unwrap_or(0);
    for (key, _) in sets {
        // A task set deleted meanwhile is left deleted: write only under the revision read.
        for _ in 0..super::MAX_ATTEMPTS {
            let Some(current) = records::get::<TaskSet>(&*ctx.store, &key).await? else { break };
            let mut set = current.value;
            let scale = set.scale.clone().unwrap_or_default();
            set.computed_desired_count = Some(task_sets::computed_desired_count(desired, &scale));
            let txn = Txn::new()
                .when(Compare::unchanged(&key, current.revision))
                .then(Op::put(&key, records::encode(&set)?));
            if records::commit(&*ctx.store, txn).await?.is_some() {
                break;
            }
        }
    }
    Ok(())
}

/// Applies the request to the record: pure, so it can be re-applied after a conflicting write.
fn apply(
    record: &mut ServiceRecord,
    input: &UpdateServiceRequest,
    new_definition: Option<&TaskDefinition>,
    propagate: Option<&str>,
) -> Result<Option<StartedDeployment>, EcsError> {
    let scheduling =
        record.service.scheduling_strategy.clone().unwrap_or_else(|| settings::REPLICA.to_string());
    let controller = record.service.deployment_controller.as_ref().and_then(|c| c.r#type.clone());
    let controller = controller.unwrap_or_else(|| "ECS".to_string());
    if let Some(given) = &input.deployment_controller {
        let wanted = settings::deployment_controller(Some(given))?;
        if wanted.r#type.as_deref() != Some(controller.as_str()) {
            return Err(EcsError::unsupported(format!(
                "Changing the deployment controller of a service ({controller}) is not supported by Berth; create a new service."
            )));
        }
    }
    if scheduling == DAEMON && input.desired_count.is_some() {
        return Err(EcsError::invalid_parameter(
            "desiredCount is not supported for a service using the DAEMON scheduling strategy: it runs one task on each container instance.",
        ));
    }
    let strategy = input.capacity_provider_strategy.as_ref().filter(|s| !s.is_empty());
    let redeploy = input.task_definition.is_some()
        || input.network_configuration.is_some()
        || strategy.is_some()
        || input.force_new_deployment == Some(true);
    if redeploy && controller != "ECS" {
        return Err(EcsError::invalid_parameter(format!(
            "Unable to update the task definition, network configuration or capacity provider strategy of a service with the {controller} deployment controller, or force a new deployment of it: use task sets."
        )));
    }
    settings::check_rebalancing(input.availability_zone_rebalancing.as_deref(), &scheduling)?;

    // Checked against the service's current configuration, so a refusal changes nothing.
    let configuration = settings::deployment_configuration(
        input.deployment_configuration.as_ref(),
        record.service.deployment_configuration.as_ref(),
        &scheduling,
    )?;
    let placement = if input.placement_constraints.is_some() || input.placement_strategy.is_some() {
        let constraints =
            input.placement_constraints.as_deref().or(record.service.placement_constraints.as_deref());
        let strategies = input.placement_strategy.as_deref().or(record.service.placement_strategy.as_deref());
        Some(settings::placement(constraints, strategies, &scheduling)?)
    } else {
        None
    };
    let definition = if redeploy {
        let definition = match new_definition {
            Some(definition) => definition.clone(),
            None => record
                .primary()
                .and_then(|primary| record.definitions.get(primary.id.as_deref()?))
                .cloned()
                .ok_or_else(|| {
                    EcsError::invalid_parameter(
                        "The service has no deployment to redeploy; give a taskDefinition.",
                    )
                })?,
        };
        let network = input.network_configuration.as_ref().or(record.service.network_configuration.as_ref());
        let launch_type = if strategy.is_some() {
            "EC2".to_string()
        } else {
            record.service.launch_type.clone().unwrap_or_else(|| "EC2".to_string())
        };
        let check = TaskDefinitionRecord { task_definition: definition.clone(), tags: Vec::new() };
        params::check_runnable(&check, &launch_type, network)?;
        Some(definition)
    } else {
        None
    };

    let now = now();
    let service = &mut record.service;
    if let Some(count) = input.desired_count {
        service.desired_count = Some(count);
    }
    service.deployment_configuration = Some(configuration);
    if let Some((constraints, strategies)) = placement {
        service.placement_constraints = Some(constraints);
        service.placement_strategy = Some(strategies);
    }
    if let Some(network) = &input.network_configuration {
        service.network_configuration = Some(network.clone());
    }
    if let Some(strategy) = strategy {
        service.capacity_provider_strategy = Some(strategy.clone());
        service.launch_type = None;
    }
    if let Some(seconds) = input.health_check_grace_period_seconds {
        service.health_check_grace_period_seconds = Some(seconds);
    }
    if let Some(enable) = input.enable_execute_command {
        service.enable_execute_command = Some(enable);
    }
    if let Some(enable) = input.enable_ecs_managed_tags {
        service.enable_ecs_managed_tags = Some(enable);
    }
    if let Some(propagate) = propagate {
        service.propagate_tags = Some(propagate.to_string());
    }
    if let Some(rebalancing) = &input.availability_zone_rebalancing {
        service.availability_zone_rebalancing = Some(rebalancing.clone());
    }
    let started = match definition {
        Some(definition) => Some(services::start_deployment(record, definition, now, None)),
        None => {
            let desired = record.service.desired_count;
            if let Some(primary) = record.primary_mut()
                && input.desired_count.is_some()
            {
                primary.desired_count = desired;
                primary.updated_at = Some(now);
            }
            record.refresh_current_revisions();
            None
        }
    };
    Ok(started)
}
