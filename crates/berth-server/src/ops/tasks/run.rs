//! RunTask.

use berth_api::EcsError;
use berth_api::model::{CapacityProviderStrategyItem, Cluster, RunTaskRequest, RunTaskResponse};

use super::launch::{self, LaunchSpec};
use super::{client_token, params, placement};
use crate::Ctx;
use crate::context::now;
use crate::ops::clusters;
use crate::state::task_placement::{self, Outcome};

/// The most tasks one RunTask call may start.
pub const MAX_COUNT: i32 = 10;

/// Handles RunTask: checks everything, lets the placement engine choose instances, and commits
/// the tasks with their reservations in one transaction (see [`task_placement`]). Tasks that fit
/// nowhere come back as failures with the engine's reasons; nothing is written for them.
pub async fn handle(ctx: Ctx, input: RunTaskRequest) -> Result<RunTaskResponse, EcsError> {
    let count = check_count(input.count)?;
    let token = input.client_token.as_deref().map(client_token::check).transpose()?;
    params::check_started_by(input.started_by.as_deref(), params::RUN_TASK_STARTED_BY_MAX)?;
    params::check_group(input.group.as_deref())?;
    params::check_reference_id(input.reference_id.as_deref())?;
    params::check_volume_configurations(input.volume_configurations.as_deref())?;
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.clone().unwrap_or_default();
    let (launch_type, capacity_provider_name) = launch_type(&input, &cluster)?;
    if input.platform_version.is_some() {
        return Err(EcsError::invalid_parameter(format!(
            "The platform version must be null when specifying an {launch_type} launch type."
        )));
    }
    let definition = params::resolve_definition(&ctx, input.task_definition.as_ref()).await?;
    params::check_runnable(&definition, &launch_type, input.network_configuration.as_ref())?;
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
        overrides: input.overrides.clone(),
        group: input.group.clone(),
        started_by: input.started_by.clone(),
        launch_type,
        capacity_provider_name,
        tags,
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
    };
    let launch = launch::prepare(spec, count)?;
    let request = placement::with_rules(
        launch.request.clone(),
        input.placement_constraints.as_deref().unwrap_or_default(),
        input.placement_strategy.as_deref().unwrap_or_default(),
        &launch.template.task_definition,
        launch.template.task.launch_type.as_deref().unwrap_or("EC2"),
    )?;
    let created = now();
    let claim =
        token.map(|t| client_token::claim(&ctx.scope, t, &cluster_name, &input, created)).transpose()?;
    let mut build = |entry: &task_placement::InstanceEntry| {
        Ok(launch::instantiate(&launch.template, &ctx.scope, entry, created))
    };
    let outcome = task_placement::place_by_engine(
        &ctx.store,
        &ctx.scope,
        &cluster_name,
        &request,
        &mut build,
        claim.as_ref(),
    )
    .await?;
    let (tasks, failures) = match outcome {
        Outcome::Placed { tasks, failures } => {
            (tasks.into_iter().map(|record| record.task).collect(), failures)
        }
        Outcome::Claimed(stored) => {
            client_token::replay(&ctx, token.unwrap_or_default(), &stored, &input).await?
        }
    };
    Ok(RunTaskResponse { tasks: Some(tasks), failures: Some(failures) })
}

fn check_count(count: Option<i32>) -> Result<usize, EcsError> {
    match count {
        None => Ok(1),
        Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(n as usize),
        Some(n) => {
            Err(EcsError::invalid_parameter(format!("count must be between 1 and {MAX_COUNT}; got {n}.")))
        }
    }
}

/// The launch type the tasks get, and the capacity provider they run through. Capacity
/// providers are accepted as a way of asking for EC2 capacity: Berth places the tasks on the
/// cluster's instances whichever provider is named. Fargate is refused: there is no Fargate.
fn launch_type(input: &RunTaskRequest, cluster: &Cluster) -> Result<(String, Option<String>), EcsError> {
    let strategy = input.capacity_provider_strategy.as_deref().unwrap_or_default();
    match input.launch_type.as_deref() {
        Some(_) if !strategy.is_empty() => Err(EcsError::invalid_parameter(
            "Specifying both a launchType and capacityProviderStrategy is not supported.",
        )),
        Some(kind @ ("EC2" | "EXTERNAL")) => Ok((kind.to_string(), None)),
        Some(kind @ ("FARGATE" | "MANAGED_INSTANCES")) => Err(EcsError::unsupported(format!(
            "Berth runs tasks on the container instances registered to the cluster; the {kind} launch type is not supported. Use EC2 or EXTERNAL."
        ))),
        Some(other) => {
            Err(EcsError::invalid_parameter(format!("Invalid launchType '{other}': use EC2 or EXTERNAL.")))
        }
        None if !strategy.is_empty() => {
            let providers = cluster.capacity_providers.clone().unwrap_or_default();
            provider_of(strategy, &providers)
        }
        None => match cluster.default_capacity_provider_strategy.as_deref() {
            Some(default) if !default.is_empty() => {
                let providers = cluster.capacity_providers.clone().unwrap_or_default();
                provider_of(default, &providers)
            }
            _ => Ok(("EC2".to_string(), None)),
        },
    }
}

/// Checks a capacity provider strategy and names the provider the task is launched through: the
/// one with a base, else the heaviest, as ECS places the first task.
fn provider_of(
    strategy: &[CapacityProviderStrategyItem],
    providers: &[String],
) -> Result<(String, Option<String>), EcsError> {
    clusters::check_launch_strategy(strategy, providers)?;
    let chosen = strategy
        .iter()
        .find(|item| item.base.unwrap_or(0) > 0)
        .or_else(|| strategy.iter().max_by_key(|item| item.weight.unwrap_or(0)))
        .and_then(|item| item.capacity_provider.clone());
    Ok(("EC2".to_string(), chosen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, weight: i32, base: i32) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem {
            capacity_provider: Some(name.into()),
            weight: Some(weight),
            base: Some(base),
        }
    }

    #[test]
    fn count_is_one_to_ten() {
        assert_eq!(check_count(None).ok(), Some(1));
        assert_eq!(check_count(Some(10)).ok(), Some(10));
        assert!(check_count(Some(0)).is_err());
        assert!(check_count(Some(11)).is_err());
    }

    #[test]
    fn the_provider_with_a_base_launches_the_task() {
        let providers = vec!["a".to_string(), "b".to_string()];
        let chosen = provider_of(&[item("a", 5, 0), item("b", 1, 2)], &providers).expect("valid");
        assert_eq!(chosen, ("EC2".to_string(), Some("b".to_string())));
        assert!(provider_of(&[item("FARGATE", 1, 0)], &providers).is_err());
        assert!(provider_of(&[item("c", 1, 0)], &providers).is_err());
    }
}
