//! Applying RunTask's overrides to a task definition's containers.

use berth_api::model::{ContainerDefinition, KeyValuePair, TaskDefinition, TaskOverride};

/// The task definition with `overrides` applied: task-level cpu and memory, and for each
/// container override, the command, environment (merged by name, the override winning),
/// environment files (appended), cpu, memory, memory reservation and resource requirements.
pub fn apply(mut definition: TaskDefinition, overrides: Option<&TaskOverride>) -> TaskDefinition {
    let Some(overrides) = overrides else {
        return definition;
    };
    if overrides.cpu.is_some() {
        definition.cpu = overrides.cpu.clone();
    }
    if overrides.memory.is_some() {
        definition.memory = overrides.memory.clone();
    }
    for container_override in overrides.container_overrides.iter().flatten() {
        let Some(container) = definition
            .container_definitions
            .iter_mut()
            .flatten()
            .find(|c| c.name.is_some() && c.name == container_override.name)
        else {
            continue;
        };
        apply_container(container, container_override);
    }
    definition
}

fn apply_container(container: &mut ContainerDefinition, o: &berth_api::model::ContainerOverride) {
    if o.command.is_some() {
        container.command = o.command.clone();
    }
    if let Some(environment) = &o.environment {
        let merged = container.environment.get_or_insert_with(Vec::new);
        for pair in environment {
            merged.retain(|existing: &KeyValuePair| existing.name != pair.name);
            merged.push(pair.clone());
        }
    }
    if let Some(files) = &o.environment_files {
        container.environment_files.get_or_insert_with(Vec::new).extend(files.iter().cloned());
    }
    if o.cpu.is_some() {
        container.cpu = o.cpu;
    }
    if o.memory.is_some() {
        container.memory = o.memory;
    }
    if o.memory_reservation.is_some() {
        container.memory_reservation = o.memory_reservation;
    }
    if o.resource_requirements.is_some() {
        container.resource_requirements = o.resource_requirements.clone();
    }
}

#[cfg(test)]
mod tests {
    use berth_api::model::ContainerOverride;

    use super::*;

    fn pair(name: &str, value: &str) -> KeyValuePair {
        KeyValuePair { name: Some(name.into()), value: Some(value.into()) }
    }

    #[test]
    fn container_overrides_replace_and_merge() {
        let definition = TaskDefinition {
            container_definitions: Some(vec![ContainerDefinition {
                name: Some("app".into()),
                command: Some(vec!["a".into()]),
                environment: Some(vec![pair("A", "1"), pair("B", "2")]),
                memory: Some(128),
                ..ContainerDefinition::default()
            }]),
            ..TaskDefinition::default()
        };
        let overrides = TaskOverride {
            container_overrides: Some(vec![ContainerOverride {
                name: Some("app".into()),
                command: Some(vec!["b".into()]),
                environment: Some(vec![pair("B", "3")]),
                memory: Some(256),
                ..ContainerOverride::default()
            }]),
            ..TaskOverride::default()
        };
        let applied = apply(definition, Some(&overrides));
        let container = &applied.container_definitions.as_ref().expect("containers")[0];
        assert_eq!(container.command, Some(vec!["b".to_string()]));
        assert_eq!(container.environment, Some(vec![pair("A", "1"), pair("B", "3")]));
        assert_eq!(container.memory, Some(256));
    }
}
