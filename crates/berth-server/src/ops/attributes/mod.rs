//! Attributes: PutAttributes, DeleteAttributes, ListAttributes, and the rules every attribute
//! follows, wherever it comes from (these operations or RegisterContainerInstance).
//!
//! ECS has one kind of attribute target, the container instance, and Berth keeps an instance's
//! attributes inside its record (`instance.attributes`), so an attribute changes in the same
//! compare-and-set as everything else about the instance and placement always sees them together.
//!
//! Built-in attributes (`ecs.*`, and the agent's capabilities under `com.amazonaws.ecs.*`) are
//! what the agent reports when it registers; placement trusts them (`ecs.os-type`, ...). Berth
//! therefore lets only registration set them: PutAttributes and DeleteAttributes refuse those
//! names. Every other attribute is custom, and an instance holds at most ten of those.

pub mod delete;
pub mod list;
pub mod put;

use berth_api::model::Attribute;
use berth_api::{EcsError, ErrorCode};

use crate::Ctx;
use crate::ops::container_instances::{self, RESOURCE_TYPE};
use crate::state::container_instances::{ContainerInstanceRecord, INACTIVE};
use crate::state::records::Record;

/// The one target type ECS has.
pub const TARGET_TYPE: &str = "container-instance";

/// The most attributes one PutAttributes or DeleteAttributes call may name.
pub const MAX_PER_CALL: usize = 10;

/// The most custom attributes one container instance may carry.
pub const MAX_CUSTOM: usize = 10;

const MAX_CHARS: usize = 128;

/// Whether `name` is a built-in attribute (reported by the agent), not a custom one.
pub fn is_builtin(name: &str) -> bool {
    name.starts_with("ecs.") || name.starts_with("com.amazonaws.ecs.")
}

/// How many of `attributes` are custom.
pub fn custom_count(attributes: &[Attribute]) -> usize {
    attributes.iter().filter(|a| !is_builtin(a.name.as_deref().unwrap_or_default())).count()
}

/// Checks an attribute name: 1 to 128 letters, digits, hyphens, underscores, forward and back
/// slashes and periods.
pub fn check_name(name: &str) -> Result<(), EcsError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Err(EcsError::invalid_parameter(format!(
            "An attribute name must be 1 to {MAX_CHARS} characters; '{name}' has {chars}."
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_/\\.".contains(c)) {
        return Err(EcsError::invalid_parameter(format!(
            "Attribute name '{name}' has characters that are not allowed: use letters, numbers, \
             hyphens, underscores, forward slashes, back slashes and periods."
        )));
    }
    Ok(())
}

/// Checks an attribute value (values are optional): 1 to 128 letters, digits, hyphens,
/// underscores, periods, at signs, forward and back slashes, colons and spaces, not starting or
/// ending with a space.
pub fn check_value(name: &str, value: Option<&str>) -> Result<(), EcsError> {
    let Some(value) = value else {
        return Ok(());
    };
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Err(EcsError::invalid_parameter(format!(
            "The value of attribute {name} must be 1 to {MAX_CHARS} characters; it has {chars}."
        )));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@/\\: ".contains(c)) {
        return Err(EcsError::invalid_parameter(format!(
            "The value '{value}' of attribute {name} has characters that are not allowed: use \
             letters, numbers, hyphens, underscores, periods, at signs, forward slashes, back \
             slashes, colons and spaces."
        )));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(EcsError::invalid_parameter(format!(
            "The value of attribute {name} can't start or end with a space."
        )));
    }
    Ok(())
}

/// Checks the name and value of an attribute.
pub fn check(attribute: &Attribute) -> Result<(), EcsError> {
    let name = attribute
        .name
        .as_deref()
        .ok_or_else(|| EcsError::invalid_parameter("Each attribute needs a name."))?;
    check_name(name)?;
    check_value(name, attribute.value.as_deref())
}

/// Checks that a PutAttributes or DeleteAttributes call names 1 to 10 attributes.
pub fn check_count(attributes: &[Attribute]) -> Result<(), EcsError> {
    if attributes.is_empty() {
        return Err(EcsError::invalid_parameter(
            "The attributes parameter must name at least one attribute.",
        ));
    }
    if attributes.len() > MAX_PER_CALL {
        return Err(EcsError::invalid_parameter(format!(
            "At most {MAX_PER_CALL} attributes can be given in one call; {} were given.",
            attributes.len()
        )));
    }
    Ok(())
}

/// Refuses the built-in attributes, which only the agent's registration sets.
pub fn check_custom(name: &str) -> Result<(), EcsError> {
    if is_builtin(name) {
        return Err(EcsError::invalid_parameter(format!(
            "Attribute {name} is built in: the container agent reports it when the instance \
             registers, and it cannot be changed with PutAttributes or DeleteAttributes."
        )));
    }
    Ok(())
}

/// Checks a `targetType`: absent, or `container-instance`.
pub fn check_target_type(target_type: Option<&str>) -> Result<(), EcsError> {
    match target_type {
        None | Some(TARGET_TYPE) => Ok(()),
        Some(other) => Err(EcsError::invalid_parameter(format!(
            "Unknown targetType '{other}': the only target type is {TARGET_TYPE}."
        ))),
    }
}

/// Resolves an attribute's target to the id of a container instance of `cluster`, checking the
/// reference's form but not whether the instance exists ([`load_target`] does).
pub fn target_id(ctx: &Ctx, cluster: &str, attribute: &Attribute) -> Result<Option<String>, EcsError> {
    let name = attribute.name.as_deref().unwrap_or_default();
    check_target_type(attribute.target_type.as_deref())?;
    let target = attribute.target_id.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| {
        EcsError::invalid_parameter(format!(
            "Attribute {name} needs a targetId: the id or ARN of the container instance it applies to."
        ))
    })?;
    if !target.starts_with("arn:") && attribute.target_type.is_none() {
        return Err(EcsError::invalid_parameter(format!(
            "Attribute {name} names its target by short id '{target}', so it also needs targetType \
             {TARGET_TYPE}."
        )));
    }
    container_instances::instance_id(ctx, cluster, target)
}

/// The target an attribute names, which must be a registered (not deregistered) instance of
/// `cluster`; otherwise `TargetNotFoundException`.
pub async fn load_target(
    ctx: &Ctx,
    cluster: &str,
    attribute: &Attribute,
    id: Option<&str>,
) -> Result<Record<ContainerInstanceRecord>, EcsError> {
    let found = match id {
        Some(id) => container_instances::load(ctx, cluster, id).await?,
        None => None,
    };
    match found {
        Some(record) if record.value.instance.status.as_deref() != Some(INACTIVE) => Ok(record),
        _ => Err(target_not_found(cluster, attribute.target_id.as_deref().unwrap_or_default())),
    }
}

fn target_not_found(cluster: &str, target: &str) -> EcsError {
    EcsError::new(
        ErrorCode::TargetNotFoundException,
        format!("Could not find {RESOURCE_TYPE} {target} in cluster {cluster}."),
    )
}

/// The attribute as the operations answer it: as given, with its target type spelled out.
pub fn echo(attribute: &Attribute) -> Attribute {
    Attribute { target_type: Some(TARGET_TYPE.to_string()), ..attribute.clone() }
}

/// Sets (or replaces the value of) one attribute in a list.
pub fn set(attributes: &mut Vec<Attribute>, name: &str, value: Option<String>) {
    match attributes.iter_mut().find(|a| a.name.as_deref() == Some(name)) {
        Some(existing) => existing.value = value,
        None => attributes.push(Attribute { name: Some(name.to_string()), value, ..Attribute::default() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_api_reference() {
        assert!(check_name("stack").is_ok());
        assert!(check_name("team/web\\v1.2_x-y").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(129)).is_err());
        assert!(check_name(&"a".repeat(128)).is_ok());
        assert!(check_name("a b").is_err());
        assert!(check_name("a@b").is_err());
        assert!(check_name("a:b").is_err());
    }

    #[test]
    fn values_follow_the_api_reference() {
        assert!(check_value("n", None).is_ok());
        assert!(check_value("n", Some("us-east-1a")).is_ok());
        assert!(check_value("n", Some("a b@c:d/e\\f.g_h-i")).is_ok());
        assert!(check_value("n", Some("")).is_err());
        assert!(check_value("n", Some(" lead")).is_err());
        assert!(check_value("n", Some("trail ")).is_err());
        assert!(check_value("n", Some("semi;colon")).is_err());
        assert!(check_value("n", Some(&"v".repeat(129))).is_err());
    }

    #[test]
    fn builtin_names_are_the_agents() {
        assert!(is_builtin("ecs.os-type"));
        assert!(is_builtin("com.amazonaws.ecs.capability.docker-remote-api.1.17"));
        assert!(!is_builtin("stack"));
        assert!(!is_builtin("ecs"));
    }
}
