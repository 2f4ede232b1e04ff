//! Task-level members: family, container count, enumerations, task size, placement constraints,
//! proxy configuration, inference accelerators, ephemeral storage, runtime platform, trusted
//! execution and tags.

use super::{MAX_CONTAINERS, blank, choices, client, containers, one_of};
use crate::EcsError;
use crate::model::{RegisterTaskDefinitionRequest, enums};
use crate::names::check_family;
use crate::tags::check_tags;

/// The most placement constraints a task definition may carry.
pub(crate) const MAX_PLACEMENT_CONSTRAINTS: usize = 10;
/// The smallest task-level CPU ECS accepts: 128 units (0.125 vCPU).
pub(crate) const MIN_TASK_CPU: u32 = 128;
/// The largest task-level CPU ECS accepts: 196,608 units (192 vCPU).
pub(crate) const MAX_TASK_CPU: u32 = 196_608;
const EPHEMERAL_GIB: std::ops::RangeInclusive<i32> = 21..=200;

/// Checks the members that describe the task as a whole.
pub(crate) fn check_task(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    match request.family.as_deref() {
        None | Some("") => {
            return Err(client("Family is required: give the task definition a family name."));
        }
        Some(family) => check_family(family)?,
    }
    check_container_count(request)?;
    check_enumerations(request)?;
    check_task_size(request)?;
    check_placement_constraints(request)?;
    check_inference_accelerators(request)?;
    check_extras(request)?;
    if let Some(tags) = request.tags.as_deref() {
        check_tags(tags)?;
    }
    Ok(())
}

fn check_container_count(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let count = containers(request).len();
    if count == 0 {
        return Err(client(
            "containerDefinitions is required: a task definition needs at least one container.",
        ));
    }
    if count > MAX_CONTAINERS {
        return Err(client(format!(
            "Too many containers: {count} are defined but a task definition can have at most {MAX_CONTAINERS}."
        )));
    }
    Ok(())
}

fn check_enumerations(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    if let Some(mode) = request.network_mode.as_deref()
        && !one_of(mode, enums::NETWORK_MODE)
    {
        return Err(client(format!("Invalid networkMode '{mode}': use {}.", choices(enums::NETWORK_MODE))));
    }
    for value in request.requires_compatibilities.as_deref().unwrap_or_default() {
        if !one_of(value, enums::COMPATIBILITY) {
            return Err(client(format!(
                "Invalid requiresCompatibilities value '{value}': use {}.",
                choices(enums::COMPATIBILITY)
            )));
        }
    }
    if let Some(mode) = request.pid_mode.as_deref()
        && !one_of(mode, enums::PID_MODE)
    {
        return Err(client(format!("Invalid pidMode '{mode}': use {}.", choices(enums::PID_MODE))));
    }
    if let Some(mode) = request.ipc_mode.as_deref()
        && !one_of(mode, enums::IPC_MODE)
    {
        return Err(client(format!("Invalid ipcMode '{mode}': use {}.", choices(enums::IPC_MODE))));
    }
    if let Some(platform) = &request.runtime_platform {
        if let Some(arch) = platform.cpu_architecture.as_deref()
            && !one_of(arch, enums::CPU_ARCHITECTURE)
        {
            return Err(client(format!(
                "Invalid runtimePlatform.cpuArchitecture '{arch}': use {}.",
                choices(enums::CPU_ARCHITECTURE)
            )));
        }
        if let Some(family) = platform.operating_system_family.as_deref()
            && !one_of(family, enums::OS_FAMILY)
        {
            return Err(client(format!(
                "Invalid runtimePlatform.operatingSystemFamily '{family}': use {}.",
                choices(enums::OS_FAMILY)
            )));
        }
    }
    Ok(())
}

fn check_task_size(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    if let Some(text) = request.cpu.as_deref() {
        let cpu = super::parse_task_cpu(text)?;
        if !(MIN_TASK_CPU..=MAX_TASK_CPU).contains(&cpu) {
            return Err(client(format!(
                "Invalid 'cpu' setting for task: {cpu} CPU units is outside the supported range of {MIN_TASK_CPU} (0.125 vCPU) to {MAX_TASK_CPU} (192 vCPU)."
            )));
        }
    }
    if let Some(text) = request.memory.as_deref() {
        let memory = super::parse_task_memory(text)?;
        if memory == 0 {
            return Err(client("Invalid 'memory' setting for task: memory must be greater than 0 MiB."));
        }
    }
    Ok(())
}

fn check_placement_constraints(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let constraints = request.placement_constraints.as_deref().unwrap_or_default();
    if constraints.len() > MAX_PLACEMENT_CONSTRAINTS {
        return Err(client(format!(
            "Too many placementConstraints: {} given, at most {MAX_PLACEMENT_CONSTRAINTS} are allowed.",
            constraints.len()
        )));
    }
    for (index, constraint) in constraints.iter().enumerate() {
        let kind = constraint.r#type.as_deref().unwrap_or("");
        if !one_of(kind, enums::TASK_DEFINITION_PLACEMENT_CONSTRAINT_TYPE) {
            return Err(client(format!(
                "placementConstraints[{index}].type '{kind}' is not valid in a task definition: the only type is 'memberOf'."
            )));
        }
        if blank(constraint.expression.as_deref()) {
            return Err(client(format!(
                "placementConstraints[{index}] is a memberOf constraint without an expression."
            )));
        }
    }
    Ok(())
}

fn check_inference_accelerators(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let accelerators = request.inference_accelerators.as_deref().unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    for (index, accelerator) in accelerators.iter().enumerate() {
        let Some(name) = accelerator.device_name.as_deref().filter(|name| !name.is_empty()) else {
            return Err(client(format!("inferenceAccelerators[{index}].deviceName is required.")));
        };
        if blank(accelerator.device_type.as_deref()) {
            return Err(client(format!("inferenceAccelerators[{index}] ('{name}') needs a deviceType.")));
        }
        if !seen.insert(name) {
            return Err(client(format!(
                "Inference accelerator deviceName '{name}' is given more than once."
            )));
        }
    }
    Ok(())
}

fn check_extras(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    if let Some(storage) = &request.ephemeral_storage {
        match storage.size_in_gi_b {
            Some(size) if EPHEMERAL_GIB.contains(&size) => {}
            Some(size) => {
                return Err(client(format!(
                    "Invalid ephemeralStorage.sizeInGiB {size}: it must be between {} and {} GiB.",
                    EPHEMERAL_GIB.start(),
                    EPHEMERAL_GIB.end()
                )));
            }
            None => {
                return Err(client("ephemeralStorage.sizeInGiB is required when ephemeralStorage is given."));
            }
        }
    }
    if let Some(proxy) = &request.proxy_configuration {
        if let Some(kind) = proxy.r#type.as_deref()
            && !one_of(kind, enums::PROXY_CONFIGURATION_TYPE)
        {
            return Err(client(format!(
                "Invalid proxyConfiguration.type '{kind}': the only supported type is 'APPMESH'."
            )));
        }
        let Some(name) = proxy.container_name.as_deref().filter(|name| !name.is_empty()) else {
            return Err(client(
                "proxyConfiguration.containerName is required: name the container that is the App Mesh proxy.",
            ));
        };
        if !containers(request).iter().any(|c| c.name.as_deref() == Some(name)) {
            return Err(client(format!(
                "proxyConfiguration.containerName '{name}' does not name a container in this task definition."
            )));
        }
        for (index, property) in proxy.properties.as_deref().unwrap_or_default().iter().enumerate() {
            if blank(property.name.as_deref()) {
                return Err(client(format!("proxyConfiguration.properties[{index}] has no name.")));
            }
        }
    }
    if let Some(trusted) = &request.trusted_execution_configuration {
        let mode = trusted.isolation_mode.as_deref().unwrap_or("");
        if !one_of(mode, enums::ISOLATION_MODE) {
            return Err(client(format!(
                "Invalid trustedExecutionConfiguration.isolationMode '{mode}': use {}.",
                choices(enums::ISOLATION_MODE)
            )));
        }
        if mode == "CONFIDENTIAL_SANDBOX" && blank(trusted.attestation_policy.as_deref()) {
            return Err(client(
                "trustedExecutionConfiguration.attestationPolicy is required when isolationMode is CONFIDENTIAL_SANDBOX.",
            ));
        }
    }
    Ok(())
}
