//! A [`ContainerRequest`] as the Docker Engine's create call, the way the ECS agent maps a
//! container definition: pure, so every mapping is unit-tested here.
//!
//! Units: ECS gives memory, `sharedMemorySize`, tmpfs sizes and `maxSwap` in MiB (Docker: bytes)
//! and health check times in seconds (Docker: nanoseconds). `secrets` and `repositoryCredentials`
//! are not read here: the task engine resolves them into `extra_environment` and the pull's
//! credentials. Every `logConfiguration` runs on json-file for now, rotated per the settings:
//! shipping logs elsewhere is the logs issue's.

use std::collections::HashMap;

use berth_api::model::{ContainerDefinition, HealthCheck, TaskDefinition};
use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig, ResourcesUlimits};

use super::DockerSettings;
use crate::runtime::{ContainerRequest, RuntimeError, labels};

const MIB: i64 = 1024 * 1024;
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The least CPU shares the Linux kernel accepts; the ECS agent raises 0 and 1 to it.
const MIN_CPU_SHARES: i64 = 2;

/// ECS's health check defaults, in seconds (retries: a count).
const HEALTH_INTERVAL: i32 = 30;
const HEALTH_TIMEOUT: i32 = 5;
const HEALTH_RETRIES: i32 = 3;
const HEALTH_START_PERIOD: i32 = 0;

/// The task's network mode, as far as this runtime runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// Docker's default bridge: port mappings publish host ports, links work.
    Bridge,
    /// The host's network stack.
    Host,
    /// A loopback interface only.
    None,
}

impl NetworkMode {
    /// The mode of a task definition: `bridge` when unset, as ECS on Linux.
    pub fn of(task_definition: &TaskDefinition) -> Result<NetworkMode, RuntimeError> {
        match task_definition.network_mode.as_deref().unwrap_or("bridge") {
            "bridge" => Ok(NetworkMode::Bridge),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            "awsvpc" => {
                Err(RuntimeError::Create("awsvpc network mode is not supported by this runtime".into()))
            }
            other => Err(RuntimeError::Create(format!("network mode {other:?} is not supported on Linux"))),
        }
    }

    fn docker_name(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        }
    }
}

/// The create call's body for `request`. `file_environment` holds the variables read from its
/// environment files (in precedence order) and `binds` its mounts (see `volumes::plan`).
pub fn create_body(
    request: &ContainerRequest,
    settings: &DockerSettings,
    file_environment: &[(String, String)],
    binds: &[String],
) -> Result<ContainerCreateBody, RuntimeError> {
    let container = &request.container;
    let image = container
        .image
        .clone()
        .filter(|image| !image.is_empty())
        .ok_or_else(|| RuntimeError::Create("the container definition has no image".into()))?;
    let mode = NetworkMode::of(&request.task_definition)?;
    let (exposed_ports, port_bindings) =
        ports::ports(container.port_mappings.as_deref().unwrap_or_default(), mode)?;
    let mut host_config = HostConfig {
        network_mode: Some(mode.docker_name().to_string()),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        binds: (!binds.is_empty()).then(|| binds.to_vec()),
        volumes_from: volumes_from(request)?,
        links: links(request, mode)?,
        cpu_shares: cpu_shares(container, &request.task_definition),
        memory: container.memory.map(|mib| i64::from(mib) * MIB),
        memory_reservation: container.memory_reservation.map(|mib| i64::from(mib) * MIB),
        ulimits: ulimits(container),
        privileged: container.privileged,
        readonly_rootfs: container.readonly_root_filesystem,
        dns: container.dns_servers.clone(),
        dns_search: container.dns_search_domains.clone(),
        extra_hosts: extra_hosts(container),
        security_opt: container.docker_security_options.clone(),
        sysctls: sysctls(container),
        pid_mode: task_namespace("pidMode", request.task_definition.pid_mode.as_deref())?,
        ipc_mode: task_namespace("ipcMode", request.task_definition.ipc_mode.as_deref())?,
        log_config: Some(log_config(settings)),
        ..HostConfig::default()
    };
    if let Some(linux) = &container.linux_parameters {
        linux::apply(&mut host_config, linux, container.memory)?;
    }
    Ok(ContainerCreateBody {
        image: Some(image),
        cmd: container.command.clone(),
        entrypoint: container.entry_point.clone(),
        env: Some(environment(request, file_environment)),
        working_dir: container.working_directory.clone(),
        user: container.user.clone(),
        hostname: container.hostname.clone(),
        labels: Some(container_labels(request)),
        exposed_ports: (!exposed_ports.is_empty()).then_some(exposed_ports),
        healthcheck: container.health_check.as_ref().map(health_config).transpose()?,
        stop_timeout: container.stop_timeout.map(i64::from),
        tty: container.pseudo_terminal,
        open_stdin: container.interactive,
        network_disabled: container.disable_networking,
        host_config: Some(host_config),
        ..ContainerCreateBody::default()
    })
}

/// `NAME=VALUE` for every variable: environment files first (the earliest file's value kept),
/// then `environment` over them, then the agent's own variables over both.
fn environment(request: &ContainerRequest, file_environment: &[(String, String)]) -> Vec<String> {
    let mut variables: Vec<(String, String)> = file_environment.to_vec();
    let mut set = |name: &str, value: &str| match variables.iter_mut().find(|(known, _)| known == name) {
        Some(entry) => entry.1 = value.to_string(),
        None => variables.push((name.to_string(), value.to_string())),
    };
    for pair in request.container.environment.iter().flatten() {
        if let Some(name) = pair.name.as_deref().filter(|name| !name.is_empty()) {
            set(name, pair.value.as_deref().unwrap_or_default());
        }
    }
    for (name, value) in &request.extra_environment {
        set(name, value);
    }
    variables.into_iter().map(|(name, value)| format!("{name}={value}")).collect()
}

/// The five ECS labels over the definition's `dockerLabels` (the agent's win, as in ECS).
fn container_labels(request: &ContainerRequest) -> HashMap<String, String> {
    let mut all: HashMap<String, String> =
        request.container.docker_labels.clone().unwrap_or_default().into_iter().collect();
    let definition = &request.task_definition;
    let ecs = [
        (labels::TASK_ARN, Some(request.task_arn.clone())),
        (labels::CLUSTER, Some(request.cluster.clone())),
        (labels::CONTAINER_NAME, request.container.name.clone()),
        (labels::FAMILY, definition.family.clone()),
        (labels::VERSION, definition.revision.map(|revision| revision.to_string())),
    ];
    for (label, value) in ecs {
        if let Some(value) = value {
            all.insert(label.to_string(), value);
        }
    }
    all
}

/// CPU shares as the ECS agent sets them: the container's `cpu`, raised to the kernel's
/// minimum of 2. A container without `cpu` in a task with task-level `cpu` gets no shares of its
/// own (the task's limit governs); without either, it gets the minimum, as `cpu` 0 does.
fn cpu_shares(container: &ContainerDefinition, task_definition: &TaskDefinition) -> Option<i64> {
    match container.cpu {
        Some(cpu) => Some(i64::from(cpu).max(MIN_CPU_SHARES)),
        None if task_definition.cpu.as_deref().is_some_and(|cpu| !cpu.is_empty()) => None,
        None => Some(MIN_CPU_SHARES),
    }
}

/// The health check with ECS's defaults, in Docker's units.
fn health_config(check: &HealthCheck) -> Result<HealthConfig, RuntimeError> {
    let command = check.command.clone().unwrap_or_default();
    if command.is_empty() {
        return Err(RuntimeError::Create("the healthCheck has no command".into()));
    }
    let seconds = |value: Option<i32>, default: i32| i64::from(value.unwrap_or(default)) * NANOS_PER_SECOND;
    Ok(HealthConfig {
        test: Some(command),
        interval: Some(seconds(check.interval, HEALTH_INTERVAL)),
        timeout: Some(seconds(check.timeout, HEALTH_TIMEOUT)),
        retries: Some(i64::from(check.retries.unwrap_or(HEALTH_RETRIES))),
        start_period: Some(seconds(check.start_period, HEALTH_START_PERIOD)),
        ..HealthConfig::default()
    })
}

/// `volumesFrom`: each source container's runtime id, `:ro` when read-only.
fn volumes_from(request: &ContainerRequest) -> Result<Option<Vec<String>>, RuntimeError> {
    let Some(sources) = &request.container.volumes_from else { return Ok(None) };
    let mut all = Vec::with_capacity(sources.len());
    for source in sources {
        let name = source.source_container.as_deref().unwrap_or_default();
        let id = request.siblings.get(name).ok_or_else(|| {
            RuntimeError::Create(format!("volumesFrom container {name:?} has not been created in this task"))
        })?;
        all.push(if source.read_only == Some(true) { format!("{id}:ro") } else { id.clone() });
    }
    Ok(Some(all))
}

/// `links` (`name` or `name:alias`) to sibling containers, by runtime id; bridge mode only.
fn links(request: &ContainerRequest, mode: NetworkMode) -> Result<Option<Vec<String>>, RuntimeError> {
    let Some(links) = request.container.links.as_ref().filter(|links| !links.is_empty()) else {
        return Ok(None);
    };
    if mode != NetworkMode::Bridge {
        return Err(RuntimeError::Create("links are supported only in bridge network mode".into()));
    }
    let mut all = Vec::with_capacity(links.len());
    for link in links {
        let (name, alias) = link.split_once(':').unwrap_or((link, link));
        let id = request.siblings.get(name).ok_or_else(|| {
            RuntimeError::Create(format!("linked container {name:?} has not been created in this task"))
        })?;
        all.push(format!("{id}:{alias}"));
    }
    Ok(Some(all))
}

fn ulimits(container: &ContainerDefinition) -> Option<Vec<ResourcesUlimits>> {
    let ulimits = container.ulimits.as_ref()?;
    Some(
        ulimits
            .iter()
            .map(|limit| ResourcesUlimits {
                name: limit.name.clone(),
                soft: limit.soft_limit.map(i64::from),
                hard: limit.hard_limit.map(i64::from),
            })
            .collect(),
    )
}

fn extra_hosts(container: &ContainerDefinition) -> Option<Vec<String>> {
    let hosts = container.extra_hosts.as_ref()?;
    Some(
        hosts
            .iter()
            .map(|host| {
                format!(
                    "{}:{}",
                    host.hostname.as_deref().unwrap_or_default(),
                    host.ip_address.as_deref().unwrap_or_default()
                )
            })
            .collect(),
    )
}

fn sysctls(container: &ContainerDefinition) -> Option<HashMap<String, String>> {
    let controls = container.system_controls.as_ref()?;
    Some(
        controls
            .iter()
            .filter_map(|control| {
                Some((control.namespace.clone()?, control.value.clone().unwrap_or_default()))
            })
            .collect(),
    )
}

/// `pidMode`/`ipcMode`: `host` and `none` are Docker's own; `task` (one namespace shared by the
/// task's containers) needs a namespace holder this runtime does not run yet.
fn task_namespace(parameter: &str, mode: Option<&str>) -> Result<Option<String>, RuntimeError> {
    match mode {
        None => Ok(None),
        Some(mode @ ("host" | "none")) => Ok(Some(mode.to_string())),
        Some(other) => {
            Err(RuntimeError::Create(format!("{parameter} {other:?} is not supported by this runtime")))
        }
    }
}

/// The json-file driver with the agent's rotation.
fn log_config(settings: &DockerSettings) -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".to_string()),
        config: Some(HashMap::from([
            ("max-size".to_string(), settings.log_max_size.clone()),
            ("max-file".to_string(), settings.log_max_files.to_string()),
        ])),
    }
}

mod linux;
mod ports;
#[cfg(test)]
mod tests;
