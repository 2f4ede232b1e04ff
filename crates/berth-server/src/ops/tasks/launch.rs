//! Building a task record from its task definition, its overrides and the request launching it.
//!
//! [`prepare`] checks the overrides against the definition and builds a template: the task as it
//! will be stored, minus what depends on where it lands. [`instantiate`] stamps a copy of the
//! template for one container instance with fresh ids. The stored definition stays as it was
//! registered; the overrides travel beside it, and the agent applies them when it runs the task.

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_api::model::{
    Attribute, Container, ContainerDefinition, ContainerOverride, KeyValuePair, Tag, Task, TaskOverride,
    enums,
};
use berth_api::validate::task_definition::{parse_task_cpu, parse_task_memory};
use berth_scheduler::Request;
use uuid::Uuid;

use super::demand::{self, TaskSize};
use crate::state::task_definitions::TaskDefinitionRecord;
use crate::state::task_placement::InstanceEntry;
use crate::state::tasks::TaskRecord;

/// ECS's limit on the overrides of one task, as JSON.
pub const MAX_OVERRIDE_CHARS: usize = 8192;

/// Docker's smallest container memory (MiB), which ECS enforces on definitions and overrides.
const MIN_CONTAINER_MEMORY: i32 = 6;

/// The instance attribute that names the availability zone, set by the agent at registration.
const AVAILABILITY_ZONE: &str = "ecs.availability-zone";

/// The instance attribute ECS copies onto each task it places there.
const CPU_ARCHITECTURE: &str = "ecs.cpu-architecture";

/// Everything about a task that the launching request decides.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The cluster's name.
    pub cluster: String,
    /// The task definition revision to run.
    pub definition: TaskDefinitionRecord,
    /// The request's overrides.
    pub overrides: Option<TaskOverride>,
    /// The task group (defaults to `family:FAMILY`).
    pub group: Option<String>,
    /// The `startedBy` tag.
    pub started_by: Option<String>,
    /// EC2 or EXTERNAL.
    pub launch_type: String,
    /// The capacity provider the task was launched through, if any.
    pub capacity_provider_name: Option<String>,
    /// The task's tags, propagation already applied.
    pub tags: Vec<Tag>,
    /// Whether ECS Exec is on for the task.
    pub enable_execute_command: bool,
}

/// A checked launch: the template of every task, and the placement engine's request.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The task record minus its ids and its instance.
    pub template: TaskRecord,
    /// What placement needs to know: count, demand, group and family.
    pub request: Request,
}

/// Checks the overrides against the definition and builds the template of `count` tasks.
pub fn prepare(spec: LaunchSpec, count: usize) -> Result<Launch, EcsError> {
    let definition = spec.definition.task_definition;
    let family = definition.family.clone().unwrap_or_default();
    let containers = definition.container_definitions.clone().unwrap_or_default();
    let overrides = spec.overrides.unwrap_or_default();
    check_overrides(&containers, &overrides)?;
    let effective: Vec<ContainerDefinition> =
        containers.iter().map(|c| with_override(c, &overrides)).collect();
    let size = TaskSize {
        cpu: task_size(overrides.cpu.as_deref().or(definition.cpu.as_deref()), "cpu", parse_task_cpu)?,
        memory: task_size(
            overrides.memory.as_deref().or(definition.memory.as_deref()),
            "memory",
            parse_task_memory,
        )?,
    };
    let network_mode = definition.network_mode.as_deref().unwrap_or("bridge");
    let reservation = demand::reservation(network_mode, size, &effective);
    let group = spec.group.unwrap_or_else(|| format!("family:{family}"));
    let task = Task {
        cluster_arn: None,
        containers: Some(effective.iter().map(container).collect()),
        cpu: Some(reservation.cpu.to_string()),
        memory: Some(reservation.memory.to_string()),
        desired_status: Some("RUNNING".to_string()),
        last_status: Some("PROVISIONING".to_string()),
        enable_execute_command: Some(spec.enable_execute_command),
        group: Some(group.clone()),
        health_status: Some("UNKNOWN".to_string()),
        launch_type: Some(spec.launch_type),
        capacity_provider_name: spec.capacity_provider_name,
        overrides: Some(shown_overrides(&containers, overrides)),
        started_by: spec.started_by,
        tags: Some(spec.tags),
        task_definition_arn: definition.task_definition_arn.clone(),
        version: Some(1),
        ..Task::default()
    };
    let request =
        Request { count, demand: reservation.demand(), group: Some(group), family, ..Request::default() };
    let template = TaskRecord {
        task,
        cluster: spec.cluster,
        instance_id: None,
        task_definition: definition,
        reservation,
        released: false,
        counted_running: false,
    };
    Ok(Launch { template, request })
}

/// One task of the template on one instance: fresh task and container ids, the instance's ARN,
/// availability zone and architecture, and its creation time.
pub fn instantiate(template: &TaskRecord, scope: &Scope, instance: &InstanceEntry, now: f64) -> TaskRecord {
    let mut record = template.clone();
    let cluster = record.cluster.clone();
    // Time-ordered (UUID v7), still 32 hex digits as ECS task ids are: tasks created together
    // sit together in the store's key order, so the writes of a burst of launches, and of their
    // state changes soon after, touch a few pages of the store's tree rather than one each.
    let id = Uuid::now_v7().simple().to_string();
    let task_arn = scope.task_arn(&cluster, &id);
    for container in record.task.containers.iter_mut().flatten() {
        container.container_arn = Some(scope.container_arn(&cluster, &id, &Uuid::new_v4().to_string()));
        container.task_arn = Some(task_arn.clone());
    }
    let attributes = instance.record.instance.attributes.as_deref().unwrap_or_default();
    let attribute = |name: &str| attributes.iter().find(|a| a.name.as_deref() == Some(name));
    let task = &mut record.task;
    task.task_arn = Some(task_arn);
    task.cluster_arn = Some(scope.cluster_arn(&cluster));
    task.container_instance_arn = Some(
        instance
            .record
            .instance
            .container_instance_arn
            .clone()
            .unwrap_or_else(|| scope.container_instance_arn(&cluster, &instance.id)),
    );
    task.availability_zone = attribute(AVAILABILITY_ZONE).and_then(|a| a.value.clone());
    task.attributes = Some(
        attribute(CPU_ARCHITECTURE)
            .map(|a| Attribute { name: a.name.clone(), value: a.value.clone(), ..Attribute::default() })
            .into_iter()
            .collect(),
    );
    task.created_at = Some(now);
    record.instance_id = Some(instance.id.clone());
    record
}

/// A task-level size, parsed; an override ECS could not parse is an invalid parameter.
fn task_size(
    text: Option<&str>,
    what: &str,
    parse: fn(&str) -> Result<u32, EcsError>,
) -> Result<Option<i64>, EcsError> {
    let Some(text) = text else { return Ok(None) };
    match parse(text) {
        Ok(value) => Ok(Some(i64::from(value))),
        Err(err) => {
            Err(EcsError::invalid_parameter(format!("Invalid task {what} override: {}", err.message)))
        }
    }
}

/// The rules ECS applies to overrides: named containers of the definition, each once, with
/// sizes Docker can honour, and no more than 8192 characters in all.
fn check_overrides(containers: &[ContainerDefinition], overrides: &TaskOverride) -> Result<(), EcsError> {
    let size = serde_json::to_vec(overrides).map(|bytes| bytes.len()).unwrap_or(0);
    if size > MAX_OVERRIDE_CHARS {
        return Err(EcsError::invalid_parameter(format!(
            "Container Overrides length must be at most {MAX_OVERRIDE_CHARS}; the overrides given are {size} characters."
        )));
    }
    let list = overrides.container_overrides.as_deref().unwrap_or_default();
    for (index, item) in list.iter().enumerate() {
        let Some(name) = item.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(EcsError::invalid_parameter(format!(
                "containerOverrides[{index}] has no name: each override names the container it applies to."
            )));
        };
        let Some(definition) = containers.iter().find(|c| c.name.as_deref() == Some(name)) else {
            return Err(EcsError::invalid_parameter(format!(
                "Override for container named {name} is not a container in the TaskDefinition."
            )));
        };
        if list[..index].iter().any(|earlier| earlier.name.as_deref() == Some(name)) {
            return Err(EcsError::invalid_parameter(format!(
                "Container {name} is overridden more than once."
            )));
        }
        check_container_override(name, definition, item)?;
    }
    Ok(())
}

fn check_container_override(
    name: &str,
    definition: &ContainerDefinition,
    item: &ContainerOverride,
) -> Result<(), EcsError> {
    if item.cpu.is_some_and(|cpu| cpu < 0) {
        return Err(EcsError::invalid_parameter(format!(
            "The cpu override of container {name} cannot be negative."
        )));
    }
    for (what, value) in [("memory", item.memory), ("memoryReservation", item.memory_reservation)] {
        if let Some(value) = value.filter(|v| *v < MIN_CONTAINER_MEMORY) {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid {what} override for container {name}: {value} MiB is below the minimum of {MIN_CONTAINER_MEMORY} MiB."
            )));
        }
    }
    let memory = item.memory.or(definition.memory);
    let reservation = item.memory_reservation.or(definition.memory_reservation);
    if let (Some(memory), Some(reservation)) = (memory, reservation)
        && reservation > memory
    {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid overrides for container {name}: memoryReservation ({reservation} MiB) must not exceed memory ({memory} MiB)."
        )));
    }
    for requirement in item.resource_requirements.iter().flatten() {
        let kind = requirement.r#type.as_deref().unwrap_or("");
        if !enums::RESOURCE_TYPE.contains(&kind) {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid resourceRequirements override for container {name}: type '{kind}' is not GPU, InferenceAccelerator or NeuronDevice."
            )));
        }
        let value = requirement.value.as_deref().unwrap_or("");
        let count_ok = value == "ALL" || value.parse::<u32>().is_ok_and(|n| n > 0);
        if kind == "GPU" && !count_ok {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid GPU override for container {name}: '{value}' must be a positive whole number of GPUs or ALL."
            )));
        }
    }
    Ok(())
}

/// A container definition with its override applied, as the agent will run it.
fn with_override(definition: &ContainerDefinition, overrides: &TaskOverride) -> ContainerDefinition {
    let mut container = definition.clone();
    let Some(item) = overrides
        .container_overrides
        .iter()
        .flatten()
        .find(|o| o.name.is_some() && o.name == definition.name)
    else {
        return container;
    };
    if let Some(command) = &item.command {
        container.command = Some(command.clone());
    }
    if let Some(environment) = &item.environment {
        let mut merged: Vec<KeyValuePair> = container.environment.take().unwrap_or_default();
        for pair in environment {
            match merged.iter_mut().find(|old| old.name == pair.name) {
                Some(old) => old.value = pair.value.clone(),
                None => merged.push(pair.clone()),
            }
        }
        container.environment = Some(merged);
    }
    if let Some(files) = &item.environment_files {
        container.environment_files.get_or_insert_with(Vec::new).extend(files.iter().cloned());
    }
    container.cpu = item.cpu.or(container.cpu);
    container.memory = item.memory.or(container.memory);
    container.memory_reservation = item.memory_reservation.or(container.memory_reservation);
    if let Some(requirements) = &item.resource_requirements {
        container.resource_requirements = Some(requirements.clone());
    }
    container
}

/// The task's view of one container before its agent has seen it.
fn container(definition: &ContainerDefinition) -> Container {
    Container {
        name: definition.name.clone(),
        image: definition.image.clone(),
        last_status: Some("PENDING".to_string()),
        cpu: Some(definition.cpu.unwrap_or(0).to_string()),
        memory: definition.memory.map(|m| m.to_string()),
        memory_reservation: definition.memory_reservation.map(|m| m.to_string()),
        network_bindings: Some(Vec::new()),
        network_interfaces: Some(Vec::new()),
        health_status: definition.health_check.as_ref().map(|_| "UNKNOWN".to_string()),
        ..Container::default()
    }
}

/// The overrides as DescribeTasks shows them: one entry per container of the definition (its
/// name alone when it has no override), in definition order, as ECS lists them.
fn shown_overrides(containers: &[ContainerDefinition], mut overrides: TaskOverride) -> TaskOverride {
    let given = overrides.container_overrides.take().unwrap_or_default();
    let shown = containers
        .iter()
        .map(|definition| {
            given.iter().find(|o| o.name.is_some() && o.name == definition.name).cloned().unwrap_or_else(
                || ContainerOverride { name: definition.name.clone(), ..ContainerOverride::default() },
            )
        })
        .collect();
    overrides.container_overrides = Some(shown);
    overrides.inference_accelerator_overrides.get_or_insert_with(Vec::new);
    overrides
}

#[cfg(test)]
mod tests {
    use berth_api::ErrorCode;
    use berth_api::model::TaskDefinition;

    use super::*;

    fn definition() -> TaskDefinitionRecord {
        let app = ContainerDefinition {
            name: Some("app".into()),
            image: Some("busybox".into()),
            cpu: Some(128),
            memory: Some(256),
            environment: Some(vec![KeyValuePair { name: Some("A".into()), value: Some("1".into()) }]),
            ..ContainerDefinition::default()
        };
        let sidecar = ContainerDefinition {
            name: Some("sidecar".into()),
            image: Some("nginx".into()),
            memory_reservation: Some(64),
            ..ContainerDefinition::default()
        };
        TaskDefinitionRecord {
            task_definition: TaskDefinition {
                family: Some("web".into()),
                task_definition_arn: Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:1".into()),
                container_definitions: Some(vec![app, sidecar]),
                ..TaskDefinition::default()
            },
            tags: Vec::new(),
        }
    }

    fn spec(overrides: Option<TaskOverride>) -> LaunchSpec {
        LaunchSpec {
            cluster: "c".into(),
            definition: definition(),
            overrides,
            group: None,
            started_by: None,
            launch_type: "EC2".into(),
            capacity_provider_name: None,
            tags: Vec::new(),
            enable_execute_command: false,
        }
    }

    fn override_of(name: &str) -> ContainerOverride {
        ContainerOverride { name: Some(name.into()), ..ContainerOverride::default() }
    }

    #[test]
    fn overrides_change_the_demand_and_are_shown_per_container() {
        let overrides = TaskOverride {
            container_overrides: Some(vec![ContainerOverride {
                memory: Some(512),
                cpu: Some(256),
                ..override_of("app")
            }]),
            ..TaskOverride::default()
        };
        let launch = prepare(spec(Some(overrides)), 2).expect("valid");
        assert_eq!((launch.request.demand.cpu, launch.request.demand.memory), (256, 576));
        assert_eq!(launch.request.group.as_deref(), Some("family:web"));
        let shown = launch.template.task.overrides.and_then(|o| o.container_overrides).unwrap_or_default();
        let names: Vec<_> = shown.iter().map(|o| o.name.as_deref().unwrap_or_default()).collect();
        assert_eq!(names, ["app", "sidecar"]);
        assert_eq!(shown[0].memory, Some(512));
        assert_eq!(launch.template.task.memory.as_deref(), Some("576"));
    }

    #[test]
    fn overrides_of_unknown_or_repeated_containers_are_refused() {
        for bad in [
            vec![override_of("nope")],
            vec![override_of("app"), override_of("app")],
            vec![ContainerOverride::default()],
        ] {
            let overrides = TaskOverride { container_overrides: Some(bad), ..TaskOverride::default() };
            let err = prepare(spec(Some(overrides)), 1).expect_err("refused");
            assert_eq!(err.code, ErrorCode::InvalidParameterException);
        }
        let tiny = TaskOverride {
            container_overrides: Some(vec![ContainerOverride { memory: Some(4), ..override_of("app") }]),
            ..TaskOverride::default()
        };
        assert!(prepare(spec(Some(tiny)), 1).is_err());
        let unparsable = TaskOverride { memory: Some("lots".into()), ..TaskOverride::default() };
        assert!(prepare(spec(Some(unparsable)), 1).is_err());
    }

    #[test]
    fn environment_overrides_merge_by_name() {
        let overrides = TaskOverride {
            container_overrides: Some(vec![ContainerOverride {
                environment: Some(vec![
                    KeyValuePair { name: Some("A".into()), value: Some("2".into()) },
                    KeyValuePair { name: Some("B".into()), value: Some("3".into()) },
                ]),
                ..override_of("app")
            }]),
            ..TaskOverride::default()
        };
        let containers = definition().task_definition.container_definitions.unwrap_or_default();
        let app = with_override(&containers[0], &overrides);
        let values: Vec<_> = app
            .environment
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.name.unwrap_or_default(), p.value.unwrap_or_default()))
            .collect();
        assert_eq!(values, [("A".to_string(), "2".to_string()), ("B".to_string(), "3".to_string())]);
    }
}
