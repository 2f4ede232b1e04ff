//! Rules between containers: unique names, link and volumesFrom targets, dependsOn targets,
//! conditions and cycles, the essential container, FireLens routing and inference accelerators.

use std::collections::{BTreeMap, BTreeSet};

use super::{blank, choices, client, containers, is_essential, label, one_of};
use crate::EcsError;
use crate::model::{ContainerDefinition, RegisterTaskDefinitionRequest, enums};

/// Checks the references between the containers of a task (their own members are already valid).
pub(crate) fn check_references(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let all = containers(request);
    let mut by_name: BTreeMap<&str, &ContainerDefinition> = BTreeMap::new();
    for container in all {
        let name = container.name.as_deref().unwrap_or("");
        if by_name.insert(name, container).is_some() {
            return Err(client(format!(
                "Container name '{name}' is used more than once; container names must be unique within a task definition."
            )));
        }
    }
    for (index, container) in all.iter().enumerate() {
        let who = label(index, container);
        let own = container.name.as_deref().unwrap_or("");
        for link in container.links.as_deref().unwrap_or_default() {
            let target = link.split_once(':').map_or(link.as_str(), |(name, _)| name);
            if target == own || !by_name.contains_key(target) {
                return Err(client(format!(
                    "Invalid setting for {who}: link '{link}' must name another container in this task definition."
                )));
            }
        }
        for (at, from) in container.volumes_from.as_deref().unwrap_or_default().iter().enumerate() {
            let source = from.source_container.as_deref().unwrap_or("");
            if source.is_empty() || source == own || !by_name.contains_key(source) {
                return Err(client(format!(
                    "Invalid setting for {who}: volumesFrom[{at}].sourceContainer '{source}' must name another container in this task definition."
                )));
            }
        }
        check_dependencies(&who, own, container, &by_name)?;
    }
    if !all.iter().any(is_essential) {
        return Err(client(
            "The task definition has no essential container: at least one container must be essential (containers are essential unless 'essential' is false).",
        ));
    }
    check_cycles(all)?;
    check_firelens(all)?;
    check_accelerator_references(request)
}

fn check_dependencies(
    who: &str,
    own: &str,
    container: &ContainerDefinition,
    by_name: &BTreeMap<&str, &ContainerDefinition>,
) -> Result<(), EcsError> {
    for (index, dependency) in container.depends_on.as_deref().unwrap_or_default().iter().enumerate() {
        let target = dependency.container_name.as_deref().unwrap_or("");
        if target.is_empty() {
            return Err(client(format!(
                "Invalid setting for {who}: dependsOn[{index}].containerName is required."
            )));
        }
        if target == own {
            return Err(client(format!("Invalid setting for {who}: a container cannot depend on itself.")));
        }
        let Some(upstream) = by_name.get(target) else {
            return Err(client(format!(
                "Invalid setting for {who}: dependsOn[{index}].containerName '{target}' does not name a container in this task definition."
            )));
        };
        let condition = dependency.condition.as_deref().unwrap_or("");
        if !one_of(condition, enums::CONTAINER_CONDITION) {
            return Err(client(format!(
                "Invalid setting for {who}: dependsOn condition '{condition}' on '{target}' must be {}.",
                choices(enums::CONTAINER_CONDITION)
            )));
        }
        if (condition == "COMPLETE" || condition == "SUCCESS") && is_essential(upstream) {
            return Err(client(format!(
                "Invalid setting for {who}: a dependency container with SUCCESS or COMPLETE condition cannot be an essential container, and '{target}' is essential (set its 'essential' to false)."
            )));
        }
        if condition == "HEALTHY" && upstream.health_check.is_none() {
            return Err(client(format!(
                "Invalid setting for {who}: it depends on '{target}' being HEALTHY, but '{target}' has no healthCheck."
            )));
        }
    }
    Ok(())
}

/// Rejects a dependsOn cycle, naming the containers on it.
fn check_cycles(all: &[ContainerDefinition]) -> Result<(), EcsError> {
    let edges: BTreeMap<&str, Vec<&str>> = all
        .iter()
        .map(|c| {
            let targets = c.depends_on.as_deref().unwrap_or_default();
            let targets = targets.iter().filter_map(|d| d.container_name.as_deref()).collect();
            (c.name.as_deref().unwrap_or(""), targets)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in edges.keys() {
        let mut path: Vec<&str> = Vec::new();
        if let Some(cycle) = visit(start, &edges, &mut path, &mut done) {
            return Err(client(format!(
                "The containers' dependsOn form a cycle: {}. Container dependencies must not be circular.",
                cycle.join(" -> ")
            )));
        }
    }
    Ok(())
}

fn visit<'a>(
    node: &'a str,
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<&'a str>> {
    if let Some(position) = path.iter().position(|n| *n == node) {
        let mut cycle = path[position..].to_vec();
        cycle.push(node);
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).map(Vec::as_slice).unwrap_or_default() {
        if let Some(cycle) = visit(next, edges, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node);
    None
}

fn check_firelens(all: &[ContainerDefinition]) -> Result<(), EcsError> {
    let routers = all.iter().filter(|c| c.firelens_configuration.is_some()).count();
    for (index, container) in all.iter().enumerate() {
        let driver = container.log_configuration.as_ref().and_then(|l| l.log_driver.as_deref());
        if driver == Some("awsfirelens") && routers == 0 {
            return Err(client(format!(
                "Invalid setting for {}: log driver awsfirelens needs a log router container with firelensConfiguration in the task definition.",
                label(index, container)
            )));
        }
    }
    Ok(())
}

fn check_accelerator_references(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let accelerators = request.inference_accelerators.as_deref().unwrap_or_default();
    let declared: BTreeSet<&str> = accelerators.iter().filter_map(|a| a.device_name.as_deref()).collect();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for (index, container) in containers(request).iter().enumerate() {
        for requirement in container.resource_requirements.as_deref().unwrap_or_default() {
            if requirement.r#type.as_deref() != Some("InferenceAccelerator") {
                continue;
            }
            let device = requirement.value.as_deref().unwrap_or("");
            if blank(Some(device)) || !declared.contains(device) {
                return Err(client(format!(
                    "Invalid setting for {}: InferenceAccelerator resource requirement '{device}' must match the deviceName of an inferenceAccelerators entry of the task definition.",
                    label(index, container)
                )));
            }
            used.insert(device);
        }
    }
    match declared.iter().find(|name| !used.contains(*name)) {
        Some(name) => Err(client(format!(
            "Inference accelerator '{name}' is not referenced by any container's resourceRequirements."
        ))),
        None => Ok(()),
    }
}
