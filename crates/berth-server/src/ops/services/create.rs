//! CreateService.

use std::collections::BTreeMap;

use berth_api::model::{CreateServiceRequest, CreateServiceResponse, Service};
use berth_api::{EcsError, tags};
use berth_store::{Op, Revision};

use super::launch::{self, Launch};
use super::settings::{self, DAEMON, Integrations};
use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::ops::tasks::params;
use crate::state::keys;
use crate::state::records;
use crate::state::services::{self, ACTIVE, ClientToken, ServiceRecord};

/// The longest `clientToken` ECS accepts.
const CLIENT_TOKEN_MAX: usize = 36;

/// Handles CreateService: checks every member, stores the service ACTIVE with its first
/// deployment (for the ECS deployment controller), and leaves starting the tasks to the service
/// controller. A name that is taken by an ACTIVE or DRAINING service is refused unless the call
/// repeats the one that created it with the same `clientToken`; an INACTIVE service's name may be
/// reused, replacing it and its history.
pub async fn handle(ctx: Ctx, input: CreateServiceRequest) -> Result<CreateServiceResponse, EcsError> {
    let name = crate::ops::required(&input.service_name, "serviceName")?.clone();
    settings::check_name(&name)?;
    let token = check_client_token(input.client_token.as_deref())?;
    let scheduling = settings::scheduling_strategy(input.scheduling_strategy.as_deref())?;
    let controller = settings::deployment_controller(input.deployment_controller.as_ref())?;
    let controller_type = controller.r#type.clone().unwrap_or_default();
    if controller_type == "CODE_DEPLOY" {
        return Err(EcsError::unsupported(
            "The CODE_DEPLOY deployment controller needs AWS CodeDeploy, which Berth does not have; use ECS, or EXTERNAL with task sets.",
        ));
    }
    let desired_count = if scheduling == DAEMON {
        if input.desired_count.is_some() {
            return Err(EcsError::invalid_parameter(
                "desiredCount is not supported for a service using the DAEMON scheduling strategy: it runs one task on each container instance.",
            ));
        }
        if controller_type != "ECS" {
            return Err(EcsError::invalid_parameter(
                "The DAEMON scheduling strategy is only supported with the ECS deployment controller.",
            ));
        }
        0
    } else {
        let count = input.desired_count.ok_or_else(|| {
            EcsError::invalid_parameter(
                "desiredCount is required for a service using the REPLICA scheduling strategy.",
            )
        })?;
        settings::check_desired_count(count)?;
        count
    };
    settings::check_integrations(&Integrations {
        load_balancers: input.load_balancers.as_deref(),
        service_registries: input.service_registries.as_deref(),
        service_connect: input.service_connect_configuration.as_ref(),
        volume_configurations: input.volume_configurations.as_deref(),
        vpc_lattice: input.vpc_lattice_configurations.as_deref(),
        gateway_connectors: input.gateway_connectors.as_deref(),
        monitoring: input.monitoring.as_ref(),
    })?;
    let propagate = settings::propagate_tags(input.propagate_tags.as_deref())?;
    settings::check_rebalancing(input.availability_zone_rebalancing.as_deref(), &scheduling)?;
    settings::check_grace_period(input.health_check_grace_period_seconds)?;
    let tags = input.tags.clone().unwrap_or_default();
    tags::check_tags(&tags)?;
    let deployment_configuration =
        settings::deployment_configuration(input.deployment_configuration.as_ref(), None, &scheduling)?;
    let (constraints, strategies) = settings::placement(
        input.placement_constraints.as_deref(),
        input.placement_strategy.as_deref(),
        &scheduling,
    )?;

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
    let definition = match (&input.task_definition, controller_type.as_str()) {
        (None, "EXTERNAL") => None,
        (reference, _) => {
            let record = params::resolve_definition(&ctx, reference.as_ref()).await?;
            params::check_runnable(
                &record,
                launch.effective_launch_type(),
                input.network_configuration.as_ref(),
            )?;
            Some(record.task_definition)
        }
    };

    let created = now();
    let rebalancing = input.availability_zone_rebalancing.clone().unwrap_or_else(|| {
        if scheduling == DAEMON || controller_type != "ECS" { "DISABLED" } else { "ENABLED" }.to_string()
    });
    let Launch { launch_type, capacity_provider_strategy } = launch;
    let service = Service {
        service_arn: Some(ctx.scope.service_arn(&cluster_name, &name)),
        service_name: Some(name.clone()),
        cluster_arn: cluster.cluster_arn.clone(),
        load_balancers: Some(Vec::new()),
        service_registries: Some(Vec::new()),
        status: Some(ACTIVE.to_string()),
        desired_count: Some(desired_count),
        running_count: Some(0),
        pending_count: Some(0),
        launch_type,
        capacity_provider_strategy,
        task_definition: definition.as_ref().and_then(|d| d.task_definition_arn.clone()),
        deployment_configuration: Some(deployment_configuration),
        deployments: Some(Vec::new()),
        role_arn: input.role.as_deref().map(|role| settings::role_arn(&ctx.scope.account, role)),
        events: Some(Vec::new()),
        created_at: Some(created),
        placement_constraints: Some(constraints),
        placement_strategy: Some(strategies),
        network_configuration: input.network_configuration.clone(),
        health_check_grace_period_seconds: Some(input.health_check_grace_period_seconds.unwrap_or(0)),
        scheduling_strategy: Some(scheduling),
        deployment_controller: Some(controller),
        tags: Some(tags),
        created_by: Some(ctx.caller_principal()),
        enable_ecs_managed_tags: Some(input.enable_ecs_managed_tags.unwrap_or(false)),
        propagate_tags: Some(propagate),
        enable_execute_command: Some(input.enable_execute_command.unwrap_or(false)),
        availability_zone_rebalancing: Some(rebalancing),
        ..Default::default()
    };
    let fingerprint = fingerprint(&input)?;
    let mut record = ServiceRecord {
        service,
        cluster: cluster_name.clone(),
        definitions: BTreeMap::new(),
        controller: serde_json::Value::Null,
        history: BTreeMap::new(),
        rollbacks: BTreeMap::new(),
        client_token: token
            .map(|token| ClientToken { token: token.to_string(), fingerprint: fingerprint.clone() }),
        task_set_tokens: BTreeMap::new(),
        status_changed_at: None,
    };
    let started = match (definition, controller_type.as_str()) {
        (Some(definition), "ECS") => Some(services::start_deployment(&mut record, definition, created, None)),
        _ => None,
    };
    let scope = &ctx.scope;
    for _ in 0..super::MAX_ATTEMPTS {
        let existing = services::load(&*ctx.store, scope, &cluster_name, &name).await?;
        let revision: Revision = match &existing {
            Some((current, revision)) if current.status() == services::INACTIVE => *revision,
            Some((current, _)) => return retried(current, token, &fingerprint),
            None => 0,
        };
        // A name reused after deletion starts a fresh history.
        let stale = stale_history(&ctx, &cluster_name, &name, existing.is_some()).await?;
        if services::save_with(&*ctx.store, scope, &record, revision, started.as_ref(), stale)
            .await?
            .is_some()
        {
            return Ok(CreateServiceResponse { service: Some(super::view(&record, true)) });
        }
    }
    Err(EcsError::server("The service kept changing while it was created; try again."))
}

/// The answer to a CreateService call for a name that is taken: the service itself when the call
/// repeats the one that created it (same token, same request), else ECS's refusal.
fn retried(
    current: &ServiceRecord,
    token: Option<&str>,
    fingerprint: &str,
) -> Result<CreateServiceResponse, EcsError> {
    let same = match (&current.client_token, token) {
        (Some(stored), Some(token)) => stored.token == token && stored.fingerprint == fingerprint,
        _ => false,
    };
    if same && current.status() == ACTIVE {
        return Ok(CreateServiceResponse { service: Some(super::view(current, true)) });
    }
    Err(EcsError::invalid_parameter("Creation of service was not idempotent."))
}

fn check_client_token(token: Option<&str>) -> Result<Option<&str>, EcsError> {
    match token {
        Some(t)
            if t.is_empty() || t.len() > CLIENT_TOKEN_MAX || !t.bytes().all(|b| (33..=126).contains(&b)) =>
        {
            Err(EcsError::invalid_parameter(format!(
                "Invalid clientToken: up to {CLIENT_TOKEN_MAX} printable ASCII characters (no spaces) are allowed."
            )))
        }
        other => Ok(other),
    }
}

/// The request without its token, serialized: what a retry must repeat exactly.
fn fingerprint(input: &CreateServiceRequest) -> Result<String, EcsError> {
    let mut input = input.clone();
    input.client_token = None;
    serde_json::to_string(&input)
        .map_err(|err| EcsError::server(format!("failed to encode the request: {err}")))
}

/// Deletions of the history of an INACTIVE service whose name is being reused.
async fn stale_history(ctx: &Ctx, cluster: &str, name: &str, existed: bool) -> Result<Vec<Op>, EcsError> {
    if !existed {
        return Ok(Vec::new());
    }
    let scope = &ctx.scope;
    let mut ops = Vec::new();
    for prefix in [
        keys::service_deployments(scope, cluster, name),
        keys::service_revisions(scope, cluster, name),
        keys::task_sets(scope, cluster, name),
    ] {
        let page = records::list::<serde_json::Value>(&*ctx.store, &prefix, None, 0).await?;
        ops.extend(page.items.into_iter().map(|(key, _)| Op::delete(key)));
    }
    Ok(ops)
}
