//! Validation of RegisterTaskDefinition input, as ECS does it before it stores a revision.
//!
//! [`check_register`] applies every rule that needs nothing but the request: required members,
//! names and references between containers and volumes, the documented ranges, the resource
//! rules, and the rules of each capacity named in `requiresCompatibilities` (Fargate, external
//! instances, Managed Instances). [`compatibilities`] computes the `compatibilities` ECS returns
//! for a registered definition, and [`parse_task_cpu`] / [`parse_task_memory`] turn the two
//! textual task-size forms ECS accepts into CPU units and MiB for the server and scheduler.
//!
//! Every content error is a `ClientException`, which is what the API reference says
//! RegisterTaskDefinition returns when a definition does not validate; only the tag rules,
//! shared with every other tagging call, answer `InvalidParameterException`. Messages name the
//! offending container, volume or member so a person can fix the definition without guessing.

mod containers;
mod linux;
mod platforms;
mod references;
mod resources;
mod task;
mod volumes;

#[cfg(test)]
mod tests;

pub use platforms::compatibilities;
pub use resources::{fargate_size_is_valid, parse_task_cpu, parse_task_memory};

use crate::EcsError;
use crate::model::{ContainerDefinition, RegisterTaskDefinitionRequest};

/// The most containers one task definition may hold.
pub const MAX_CONTAINERS: usize = 10;

/// The largest a RegisterTaskDefinition request may be, serialized as JSON: 64 KiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Checks a RegisterTaskDefinition request as ECS does, returning the first rule it breaks.
pub fn check_register(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    check_size(request)?;
    task::check_task(request)?;
    volumes::check_volumes(request)?;
    let containers = request.container_definitions.as_deref().unwrap_or_default();
    for (index, container) in containers.iter().enumerate() {
        containers::check_container(request, index, container)?;
        linux::check_container(request, index, container)?;
    }
    references::check_references(request)?;
    volumes::check_mount_points(request)?;
    resources::check_resources(request)?;
    platforms::check_required_compatibilities(request)
}

fn check_size(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let size = serde_json::to_vec(request).map(|bytes| bytes.len()).unwrap_or(0);
    if size > MAX_REQUEST_BYTES {
        return Err(client(format!(
            "The task definition is {size} bytes as JSON, over the 64 KiB size limit ({MAX_REQUEST_BYTES} bytes); move large values such as environment variables into environment files or secrets."
        )));
    }
    Ok(())
}

/// A `ClientException`, the code of every task-definition content error.
pub(crate) fn client(message: impl Into<String>) -> EcsError {
    EcsError::client(message)
}

/// How a message names a container: by name, or by position when it has none.
pub(crate) fn label(index: usize, container: &ContainerDefinition) -> String {
    match container.name.as_deref() {
        Some(name) if !name.is_empty() => format!("container '{name}'"),
        _ => format!("containerDefinitions[{index}]"),
    }
}

/// The container definitions of the request, empty when absent.
pub(crate) fn containers(request: &RegisterTaskDefinitionRequest) -> &[ContainerDefinition] {
    request.container_definitions.as_deref().unwrap_or_default()
}

/// The network mode in effect: the one given, or `bridge`, the documented default.
pub(crate) fn network_mode(request: &RegisterTaskDefinitionRequest) -> &str {
    request.network_mode.as_deref().unwrap_or("bridge")
}

/// Whether `requiresCompatibilities` names `compatibility`.
pub(crate) fn requires(request: &RegisterTaskDefinitionRequest, compatibility: &str) -> bool {
    request.requires_compatibilities.as_deref().unwrap_or_default().iter().any(|value| value == compatibility)
}

/// Whether a container is essential; containers are essential unless they say otherwise.
pub(crate) fn is_essential(container: &ContainerDefinition) -> bool {
    container.essential.unwrap_or(true)
}

/// Whether `value` is one of `allowed`, exactly (ECS enumerations are case-sensitive).
pub(crate) fn one_of(value: &str, allowed: &[&str]) -> bool {
    allowed.contains(&value)
}

/// The allowed values of an enumeration, for messages: `'a', 'b' or 'c'`.
pub(crate) fn choices(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|value| format!("'{value}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Whether an optional string is absent or empty.
pub(crate) fn blank(value: Option<&str>) -> bool {
    value.is_none_or(str::is_empty)
}
