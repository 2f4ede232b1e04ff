//! The launch parameters RunTask and StartTask share, checked as ECS checks them, before anything
//! is written.

use berth_api::model::{NetworkConfiguration, Tag, TaskVolumeConfiguration, enums};
use berth_api::{EcsError, tags};

use crate::Ctx;
use crate::state::task_definitions::{self, ACTIVE, TaskDefinitionRecord};

/// The longest `startedBy` RunTask accepts (the API reference: up to 128 characters).
pub const RUN_TASK_STARTED_BY_MAX: usize = 128;
/// The longest `startedBy` StartTask accepts (its reference still says 36 characters).
pub const START_TASK_STARTED_BY_MAX: usize = 36;
/// The longest task group Berth accepts, as long as the longest family name it defaults from.
const GROUP_MAX: usize = 255;
/// The longest `referenceId` (an ECS-internal member, kept bounded).
const REFERENCE_ID_MAX: usize = 1024;

/// The tag ECS manages on tasks when `enableECSManagedTags` is set: the cluster's name.
const MANAGED_CLUSTER_TAG: &str = "aws:ecs:clusterName";

/// Checks `startedBy`: up to `max` letters, numbers, hyphens, slashes and underscores.
pub fn check_started_by(started_by: Option<&str>, max: usize) -> Result<(), EcsError> {
    let Some(text) = started_by else { return Ok(()) };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_');
    if text.is_empty() || text.len() > max || !text.chars().all(allowed) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid startedBy '{text}': up to {max} letters, numbers, hyphens (-), forward slashes (/) and underscores (_) are allowed."
        )));
    }
    Ok(())
}

/// Checks the task group: 1 to 255 printable characters.
pub fn check_group(group: Option<&str>) -> Result<(), EcsError> {
    let Some(text) = group else { return Ok(()) };
    let count = text.chars().count();
    if count == 0 || count > GROUP_MAX || text.chars().any(char::is_control) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid group: a task group is 1 to {GROUP_MAX} printable characters; got {count}."
        )));
    }
    Ok(())
}

/// Checks `referenceId`'s length.
pub fn check_reference_id(reference_id: Option<&str>) -> Result<(), EcsError> {
    match reference_id {
        Some(text) if text.chars().count() > REFERENCE_ID_MAX => Err(EcsError::invalid_parameter(format!(
            "referenceId must be at most {REFERENCE_ID_MAX} characters."
        ))),
        _ => Ok(()),
    }
}

/// Refuses EBS volumes configured at launch, which Berth does not provision.
pub fn check_volume_configurations(volumes: Option<&[TaskVolumeConfiguration]>) -> Result<(), EcsError> {
    if volumes.is_some_and(|v| !v.is_empty()) {
        return Err(EcsError::unsupported(
            "volumeConfigurations (Amazon EBS volumes attached at launch) are not supported by Berth.",
        ));
    }
    Ok(())
}

/// Resolves the task definition a request names to an ACTIVE revision.
pub async fn resolve_definition(
    ctx: &Ctx,
    reference: Option<&String>,
) -> Result<TaskDefinitionRecord, EcsError> {
    let text = crate::ops::required(&reference.cloned(), "taskDefinition")?.clone();
    let reference = task_definitions::parse_reference(ctx, &text)?;
    let record = task_definitions::find(ctx, &reference)
        .await?
        .ok_or_else(|| EcsError::client("TaskDefinition not found."))?
        .value;
    if record.status() != ACTIVE {
        return Err(EcsError::invalid_parameter("TaskDefinition is inactive"));
    }
    Ok(record)
}

/// Checks that the definition can run with `launch_type`, and that its networking is one Berth
/// provides: `awsvpc` needs an elastic network interface per task, which is not there yet.
pub fn check_runnable(
    definition: &TaskDefinitionRecord,
    launch_type: &str,
    network: Option<&NetworkConfiguration>,
) -> Result<(), EcsError> {
    let task_definition = &definition.task_definition;
    let compatible = task_definition.compatibilities.iter().flatten().any(|c| c == launch_type);
    if !compatible {
        return Err(EcsError::invalid_parameter(format!(
            "Task definition does not support launch_type {launch_type}."
        )));
    }
    let mode = task_definition.network_mode.as_deref().unwrap_or("bridge");
    if mode == "awsvpc" {
        return Err(EcsError::unsupported(
            "Task definitions in the awsvpc network mode need a network interface per task, which Berth does not provide yet; use bridge or host.",
        ));
    }
    if network.is_some_and(|n| n.awsvpc_configuration.is_some()) {
        return Err(EcsError::invalid_parameter(
            "Network Configuration is not valid for the given networkMode of this task definition.",
        ));
    }
    Ok(())
}

/// The task's tags: the request's, after the definition's when `propagateTags` is
/// TASK_DEFINITION (the request's win on a shared key), plus ECS's managed cluster tag when
/// `enableECSManagedTags` is set (it does not count toward the 50-tag limit).
pub fn task_tags(
    definition: &TaskDefinitionRecord,
    cluster: &str,
    given: Option<&[Tag]>,
    propagate: Option<&str>,
    managed: bool,
) -> Result<Vec<Tag>, EcsError> {
    let given = given.unwrap_or_default();
    tags::check_tags(given)?;
    let mut result = match propagate {
        None | Some("NONE") => given.to_vec(),
        Some("TASK_DEFINITION") => tags::merge(&definition.tags, given)?,
        Some("SERVICE") => {
            return Err(EcsError::invalid_parameter(
                "propagateTags SERVICE applies to tasks a service starts; a task started on its own can propagate TASK_DEFINITION or NONE.",
            ));
        }
        Some(other) => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid propagateTags '{other}': use {}.",
                enums::PROPAGATE_TAGS.join(", ")
            )));
        }
    };
    if managed {
        result.push(Tag { key: Some(MANAGED_CLUSTER_TAG.to_string()), value: Some(cluster.to_string()) });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag { key: Some(key.into()), value: Some(value.into()) }
    }

    fn definition_with_tags(tags: Vec<Tag>) -> TaskDefinitionRecord {
        TaskDefinitionRecord { task_definition: Default::default(), tags }
    }

    #[test]
    fn started_by_follows_the_documented_alphabet_and_length() {
        assert!(check_started_by(Some("batch/job-1_a"), 36).is_ok());
        assert!(check_started_by(Some(&"a".repeat(36)), 36).is_ok());
        assert!(check_started_by(Some(&"a".repeat(37)), 36).is_err());
        assert!(check_started_by(Some("has space"), 128).is_err());
        assert!(check_started_by(Some(""), 128).is_err());
    }

    #[test]
    fn propagated_tags_yield_to_the_requests() {
        let definition = definition_with_tags(vec![tag("team", "a"), tag("env", "dev")]);
        let given = [tag("team", "b")];
        let merged = task_tags(&definition, "c", Some(&given), Some("TASK_DEFINITION"), true).expect("valid");
        assert_eq!(merged, vec![tag("team", "b"), tag("env", "dev"), tag("aws:ecs:clusterName", "c")]);
        assert_eq!(task_tags(&definition, "c", None, None, false).expect("valid"), vec![]);
        assert!(task_tags(&definition, "c", None, Some("SERVICE"), false).is_err());
    }
}
