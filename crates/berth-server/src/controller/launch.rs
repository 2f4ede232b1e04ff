//! Starting a service's tasks: the same preparation and placement as RunTask, with the
//! service's group, deployment, placement rules and tags.

use berth_api::EcsError;
use berth_api::model::Failure;
use berth_scheduler::{Constraint, default_strategies};

use super::plan::events;
use super::views::group_of;
use crate::Ctx;
use crate::context::now;
use crate::ops::tasks::launch::{self, LaunchSpec};
use crate::ops::tasks::placement;
use crate::state::services::ServiceRecord;
use crate::state::task_definitions::TaskDefinitionRecord;
use crate::state::task_placement::{self, InstanceEntry, Outcome};

/// The most tasks placed in one transaction: a 10,000-task service starts in batches, so no
/// single commit holds megabytes of records.
const BATCH: usize = 500;

/// What a launch did.
#[derive(Debug, Default)]
pub struct Launched {
    /// The ids of the tasks started.
    pub tasks: Vec<String>,
    /// Why the rest could not be started, as a service event.
    pub refused: Option<String>,
}

/// Starts up to `count` tasks of `deployment` for the service in `record`.
pub async fn start(
    ctx: &Ctx,
    record: &ServiceRecord,
    deployment: &str,
    count: u32,
    daemon: bool,
) -> Launched {
    let name = record.name().to_string();
    let mut launched = Launched::default();
    let Some(definition) = record.definitions.get(deployment).cloned() else {
        tracing::warn!(service = %name, deployment, "no task definition kept for the deployment");
        return launched;
    };
    let service = &record.service;
    let launch_type = service.launch_type.clone().unwrap_or_else(|| "EC2".to_string());
    let spec = LaunchSpec {
        cluster: record.cluster.clone(),
        definition: TaskDefinitionRecord { task_definition: definition, tags: Vec::new() },
        overrides: None,
        group: Some(group_of(&name)),
        started_by: Some(deployment.to_string()),
        launch_type: launch_type.clone(),
        capacity_provider_name: provider(record),
        tags: if service.propagate_tags.as_deref() == Some("SERVICE") {
            service.tags.clone().unwrap_or_default()
        } else {
            Vec::new()
        },
        enable_execute_command: service.enable_execute_command.unwrap_or(false),
    };
    let mut remaining = count as usize;
    while remaining > 0 {
        let batch = remaining.min(BATCH);
        match start_batch(ctx, record, spec.clone(), batch, &launch_type, daemon).await {
            Ok((ids, failures)) => {
                remaining -= ids.len();
                let placed_all = ids.len() == batch;
                launched.tasks.extend(ids);
                if !placed_all {
                    launched.refused = Some(refusal(&name, &failures));
                    break;
                }
            }
            Err(err) => {
                launched.refused = Some(if err.message.contains("No Container Instances") {
                    events::unable_to_place(&name, None)
                } else {
                    format!("(service {name}) failed to launch a task with (error {}).", err.message)
                });
                break;
            }
        }
    }
    launched
}

async fn start_batch(
    ctx: &Ctx,
    record: &ServiceRecord,
    spec: LaunchSpec,
    count: usize,
    launch_type: &str,
    daemon: bool,
) -> Result<(Vec<String>, Vec<Failure>), EcsError> {
    let service = &record.service;
    let prepared = launch::prepare(spec, count)?;
    let strategies = service.placement_strategy.clone().unwrap_or_default();
    let mut request = placement::with_rules(
        prepared.request.clone(),
        service.placement_constraints.as_deref().unwrap_or_default(),
        &strategies,
        &prepared.template.task_definition,
        launch_type,
    )?;
    if strategies.is_empty() {
        request.strategies = default_strategies(true);
    }
    if daemon {
        request.constraints.push(Constraint::DistinctInstance);
    }
    let created = now();
    let scope = ctx.scope.clone();
    let mut build =
        |entry: &InstanceEntry| Ok(launch::instantiate(&prepared.template, &scope, entry, created));
    let outcome =
        task_placement::place_by_engine(&ctx.store, &ctx.scope, &record.cluster, &request, &mut build, None)
            .await?;
    match outcome {
        Outcome::Placed { tasks, failures } => {
            Ok((tasks.iter().map(|t| t.id().to_string()).collect(), failures))
        }
        Outcome::Claimed(_) => Ok((Vec::new(), Vec::new())),
    }
}

/// The unable-to-place event for the engine's refusals, naming the first instance refused.
fn refusal(service: &str, failures: &[Failure]) -> String {
    let closest = failures.iter().find_map(|f| {
        let arn = f.arn.as_deref()?;
        Some((arn.rsplit('/').next().unwrap_or(arn), f.reason.as_deref().unwrap_or_default()))
    });
    events::unable_to_place(service, closest)
}

/// The capacity provider a service's tasks launch through: the one with a base, else the
/// heaviest, as RunTask chooses.
fn provider(record: &ServiceRecord) -> Option<String> {
    let strategy = record.service.capacity_provider_strategy.as_deref().unwrap_or_default();
    strategy
        .iter()
        .find(|item| item.base.unwrap_or(0) > 0)
        .or_else(|| strategy.iter().max_by_key(|item| item.weight.unwrap_or(0)))
        .and_then(|item| item.capacity_provider.clone())
}
