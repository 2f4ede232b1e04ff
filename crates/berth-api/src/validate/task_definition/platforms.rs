//! The capacities a definition can run on: the rules of Fargate, external instances (ECS
//! Anywhere) and Managed Instances, enforced for each one named in `requiresCompatibilities`
//! and used to compute the `compatibilities` ECS returns.

use super::linux::capability_name;
use super::resources::{fargate_size_is_valid, parse_task_cpu, parse_task_memory};
use super::volumes::volume_label;
use super::{client, containers, label, network_mode, requires};
use crate::EcsError;
use crate::model::{ContainerDefinition, RegisterTaskDefinitionRequest};

const FARGATE_LOG_DRIVERS: &[&str] = &["awslogs", "splunk", "awsfirelens"];
const MANAGED_INSTANCES_LOG_DRIVERS: &[&str] = &["awslogs", "splunk", "awsfirelens", "json-file"];

/// Applies the rules of every capacity named in `requiresCompatibilities`.
pub(crate) fn check_required_compatibilities(
    request: &RegisterTaskDefinitionRequest,
) -> Result<(), EcsError> {
    if requires(request, "FARGATE") {
        fargate_problem(request)?;
    }
    if requires(request, "EXTERNAL") {
        external_problem(request)?;
    }
    if requires(request, "MANAGED_INSTANCES") {
        managed_instances_problem(request)?;
    }
    Ok(())
}

/// The `compatibilities` ECS returns for a registered definition: `EC2` always, `EXTERNAL` when
/// nothing external instances lack is used (no awsvpc, EFS, FSx, S3 Files, launch-configured
/// volumes, Elastic Inference, GPU sharing or Neuron devices), `MANAGED_INSTANCES` when the
/// network mode is awsvpc or host (or unset while Managed Instances is required) and only
/// supported log drivers are used, and `FARGATE` when every Fargate rule holds (awsvpc, a task
/// size from the Fargate table, nothing Fargate does not support).
///
/// Order follows ECS: `EXTERNAL`, `EC2`, `MANAGED_INSTANCES`, `FARGATE`. Meant for a request that
/// passed [`super::check_register`]; on any other it still answers, without panicking.
pub fn compatibilities(request: &RegisterTaskDefinitionRequest) -> Vec<String> {
    let mut list = Vec::new();
    if external_problem(request).is_ok() {
        list.push("EXTERNAL".to_owned());
    }
    list.push("EC2".to_owned());
    if managed_instances_problem(request).is_ok() {
        list.push("MANAGED_INSTANCES".to_owned());
    }
    if fargate_problem(request).is_ok() {
        list.push("FARGATE".to_owned());
    }
    list
}

fn fargate_error(detail: impl std::fmt::Display) -> EcsError {
    client(format!("The task definition is not valid for FARGATE: {detail}"))
}

fn fargate_problem(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let mode = network_mode(request);
    if mode != "awsvpc" {
        return Err(fargate_error(format!(
            "Fargate only supports network mode 'awsvpc', and networkMode is '{mode}'."
        )));
    }
    let Some(cpu_text) = request.cpu.as_deref() else {
        return Err(fargate_error("Fargate requires that 'cpu' be defined at the task level."));
    };
    let Some(memory_text) = request.memory.as_deref() else {
        return Err(fargate_error("Fargate requires that 'memory' be defined at the task level."));
    };
    let (cpu, memory) = (parse_task_cpu(cpu_text)?, parse_task_memory(memory_text)?);
    if !fargate_size_is_valid(cpu, memory) {
        return Err(fargate_error(format!(
            "No Fargate configuration exists for cpu {cpu} and memory {memory} MiB; see the task CPU and memory table for the valid pairs."
        )));
    }
    let windows = request
        .runtime_platform
        .as_ref()
        .and_then(|p| p.operating_system_family.as_deref())
        .is_some_and(|family| family.starts_with("WINDOWS"));
    if windows && cpu < 1024 {
        return Err(fargate_error(format!(
            "Windows containers on Fargate need at least 1 vCPU (1024 units), and cpu is {cpu}."
        )));
    }
    let task_level = [
        ("placementConstraints", request.placement_constraints.as_deref().is_some_and(|c| !c.is_empty())),
        ("ipcMode", request.ipc_mode.is_some()),
        ("pidMode other than 'task'", request.pid_mode.as_deref().is_some_and(|m| m != "task")),
        ("inferenceAccelerators", request.inference_accelerators.as_deref().is_some_and(|a| !a.is_empty())),
        ("trustedExecutionConfiguration", request.trusted_execution_configuration.is_some()),
    ];
    if let Some((member, _)) = task_level.iter().find(|(_, used)| *used) {
        return Err(fargate_error(format!("{member} is not supported on Fargate.")));
    }
    for (index, volume) in request.volumes.as_deref().unwrap_or_default().iter().enumerate() {
        if volume.docker_volume_configuration.is_some() {
            return Err(fargate_error(format!(
                "{}: dockerVolumeConfiguration is not supported on Fargate; use a bind mount (host) volume or EFS.",
                volume_label(index, volume)
            )));
        }
        if volume.host.as_ref().is_some_and(|h| h.source_path.as_deref().is_some_and(|p| !p.is_empty())) {
            return Err(fargate_error(format!(
                "{}: host.sourcePath is not supported on Fargate; omit sourcePath for a task-scoped bind mount.",
                volume_label(index, volume)
            )));
        }
    }
    for (index, container) in containers(request).iter().enumerate() {
        fargate_container_problem(request, &label(index, container), container)?;
    }
    Ok(())
}

fn fargate_container_problem(
    request: &RegisterTaskDefinitionRequest,
    who: &str,
    c: &ContainerDefinition,
) -> Result<(), EcsError> {
    let not_empty = |list: Option<&[String]>| list.is_some_and(|l| !l.is_empty());
    let linux = c.linux_parameters.as_ref();
    let unsupported = [
        ("privileged", c.privileged == Some(true)),
        ("disableNetworking", c.disable_networking == Some(true)),
        ("dnsServers", not_empty(c.dns_servers.as_deref())),
        ("dnsSearchDomains", not_empty(c.dns_search_domains.as_deref())),
        ("dockerSecurityOptions", not_empty(c.docker_security_options.as_deref())),
        ("extraHosts", c.extra_hosts.as_deref().is_some_and(|h| !h.is_empty())),
        ("links", not_empty(c.links.as_deref())),
        ("linuxParameters.devices", linux.and_then(|l| l.devices.as_deref()).is_some_and(|d| !d.is_empty())),
        ("linuxParameters.sharedMemorySize", linux.is_some_and(|l| l.shared_memory_size.is_some())),
        ("linuxParameters.tmpfs", linux.and_then(|l| l.tmpfs.as_deref()).is_some_and(|t| !t.is_empty())),
        ("linuxParameters.maxSwap", linux.is_some_and(|l| l.max_swap.is_some())),
        ("linuxParameters.swappiness", linux.is_some_and(|l| l.swappiness.is_some())),
    ];
    if let Some((member, _)) = unsupported.iter().find(|(_, used)| *used) {
        return Err(fargate_error(format!("{who}: {member} is not supported on Fargate.")));
    }
    let added =
        linux.and_then(|l| l.capabilities.as_ref()).and_then(|k| k.add.as_deref()).unwrap_or_default();
    if let Some(other) = added.iter().find(|cap| capability_name(cap) != "SYS_PTRACE") {
        return Err(fargate_error(format!(
            "{who}: linuxParameters.capabilities.add '{other}'; SYS_PTRACE is the only capability Fargate can add."
        )));
    }
    for requirement in c.resource_requirements.as_deref().unwrap_or_default() {
        let kind = requirement.r#type.as_deref().unwrap_or("");
        if kind != "InferenceAccelerator" && !kind.is_empty() {
            return Err(fargate_error(format!(
                "{who}: {kind} resource requirements are not supported on Fargate."
            )));
        }
    }
    for (member, value) in [("startTimeout", c.start_timeout), ("stopTimeout", c.stop_timeout)] {
        if let Some(seconds) = value
            && !(2..=120).contains(&seconds)
        {
            return Err(fargate_error(format!(
                "{who}: {member} {seconds} must be between 2 and 120 seconds on Fargate."
            )));
        }
    }
    if let Some(logging) = &c.log_configuration {
        let driver = logging.log_driver.as_deref().unwrap_or("");
        if !FARGATE_LOG_DRIVERS.contains(&driver) {
            return Err(fargate_error(format!(
                "{who}: log driver '{driver}' is not supported; Fargate supports awslogs, splunk and awsfirelens."
            )));
        }
        if driver == "awslogs" {
            if request.execution_role_arn.as_deref().is_none_or(str::is_empty) {
                return Err(fargate_error(format!(
                    "{who}: Fargate requires task definition to have execution role ARN to support log driver awslogs."
                )));
            }
            let prefix = logging.options.as_ref().and_then(|o| o.get("awslogs-stream-prefix"));
            if prefix.is_none_or(|p| p.is_empty()) {
                return Err(fargate_error(format!(
                    "{who}: log driver awslogs requires the option awslogs-stream-prefix on Fargate."
                )));
            }
        }
    }
    Ok(())
}

fn shared_gpu_or_neuron(c: &ContainerDefinition) -> Option<&'static str> {
    c.resource_requirements.as_deref().unwrap_or_default().iter().find_map(|r| {
        match (r.r#type.as_deref(), r.sharing_strategy.is_some()) {
            (Some("GPU"), true) => Some("GPU sharing (sharingStrategy)"),
            (Some("NeuronDevice"), _) => Some("NeuronDevice resource requirements"),
            _ => None,
        }
    })
}

fn external_problem(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let error = |detail: String| client(format!("The task definition is not valid for EXTERNAL: {detail}"));
    if network_mode(request) == "awsvpc" {
        return Err(error("external instances do not support network mode 'awsvpc'.".to_owned()));
    }
    for (index, volume) in request.volumes.as_deref().unwrap_or_default().iter().enumerate() {
        let kind = if volume.efs_volume_configuration.is_some() {
            "efsVolumeConfiguration"
        } else if volume.fsx_windows_file_server_volume_configuration.is_some() {
            "fsxWindowsFileServerVolumeConfiguration"
        } else if volume.s3files_volume_configuration.is_some() {
            "s3filesVolumeConfiguration"
        } else if volume.configured_at_launch == Some(true) {
            "configuredAtLaunch"
        } else {
            continue;
        };
        return Err(error(format!(
            "{}: {kind} is not supported on external instances.",
            volume_label(index, volume)
        )));
    }
    if request.inference_accelerators.as_deref().is_some_and(|a| !a.is_empty()) {
        return Err(error("inferenceAccelerators are not supported on external instances.".to_owned()));
    }
    if request.trusted_execution_configuration.is_some() {
        return Err(error(
            "trustedExecutionConfiguration is supported only on Managed Instances.".to_owned(),
        ));
    }
    for (index, container) in containers(request).iter().enumerate() {
        if let Some(feature) = shared_gpu_or_neuron(container) {
            return Err(error(format!(
                "{}: {feature} are not supported on external instances.",
                label(index, container)
            )));
        }
    }
    Ok(())
}

fn managed_instances_problem(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let error =
        |detail: String| client(format!("The task definition is not valid for MANAGED_INSTANCES: {detail}"));
    match request.network_mode.as_deref() {
        Some("awsvpc" | "host") => {}
        None if requires(request, "MANAGED_INSTANCES") => {}
        other => {
            return Err(error(format!(
                "Managed Instances support network modes 'awsvpc' and 'host', and networkMode is '{}'.",
                other.unwrap_or("bridge")
            )));
        }
    }
    let family = request.runtime_platform.as_ref().and_then(|p| p.operating_system_family.as_deref());
    if let Some(family) = family.filter(|f| *f != "LINUX") {
        return Err(error(format!(
            "Managed Instances run Linux tasks only, and operatingSystemFamily is '{family}'."
        )));
    }
    if request.inference_accelerators.as_deref().is_some_and(|a| !a.is_empty()) {
        return Err(error("inferenceAccelerators are not supported on Managed Instances.".to_owned()));
    }
    for (index, container) in containers(request).iter().enumerate() {
        let driver = container.log_configuration.as_ref().and_then(|l| l.log_driver.as_deref());
        if let Some(driver) = driver.filter(|d| !MANAGED_INSTANCES_LOG_DRIVERS.contains(d)) {
            return Err(error(format!(
                "{}: log driver '{driver}' is not supported; Managed Instances support awslogs, splunk, awsfirelens and json-file.",
                label(index, container)
            )));
        }
    }
    Ok(())
}
