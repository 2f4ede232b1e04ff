//! The naming rules ECS applies to resource names.

use crate::EcsError;

/// Whether `name` is 1 to `max` ASCII letters, digits, hyphens and underscores: the rule ECS applies
/// to cluster names, task definition families, container names and capacity provider names.
pub fn is_simple_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a cluster name: up to 255 letters, numbers, underscores and hyphens.
pub fn check_cluster_name(name: &str) -> Result<(), EcsError> {
    if is_simple_name(name, 255) {
        Ok(())
    } else {
        Err(EcsError::invalid_parameter(
            "Cluster name must be 1 to 255 characters: letters, numbers, hyphens and underscores.",
        ))
    }
}

/// Checks a task definition family: up to 255 letters, numbers, underscores and hyphens.
pub fn check_family(family: &str) -> Result<(), EcsError> {
    if is_simple_name(family, 255) {
        Ok(())
    } else {
        Err(EcsError::client(format!(
            "Family contains invalid characters or is too long: '{family}'. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_names() {
        assert!(is_simple_name("web-app_2", 255));
        assert!(!is_simple_name("", 255));
        assert!(!is_simple_name("has space", 255));
        assert!(!is_simple_name("dot.ted", 255));
        assert!(!is_simple_name(&"a".repeat(256), 255));
        assert!(is_simple_name(&"a".repeat(255), 255));
    }
}
