//! `dependsOn`: whether a container may start yet, given the state of those it depends on.

use berth_api::model::ContainerDependency;

/// What the engine knows of a container, as far as its dependents care.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// It has been started.
    pub started: bool,
    /// It has exited, with this code.
    pub exit_code: Option<i32>,
    /// It has exited.
    pub exited: bool,
    /// Its health check says HEALTHY.
    pub healthy: bool,
}

/// Whether one dependency holds, can still come to hold, or never will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The condition holds.
    Met,
    /// Not yet.
    Waiting,
    /// It never will (e.g. SUCCESS, but the dependency exited non-zero); the reason says why.
    Impossible(String),
}

/// Judges one dependency condition against the dependency's progress.
pub fn judge(dependency: &ContainerDependency, progress: &Progress) -> Verdict {
    let name = dependency.container_name.as_deref().unwrap_or_default();
    match dependency.condition.as_deref().unwrap_or("START") {
        "START" if progress.started => Verdict::Met,
        "COMPLETE" if progress.exited => Verdict::Met,
        "SUCCESS" if progress.exited && progress.exit_code == Some(0) => Verdict::Met,
        "SUCCESS" if progress.exited => Verdict::Impossible(format!(
            "dependency {name} exited with code {} instead of succeeding",
            progress.exit_code.map_or("unknown".to_string(), |c| c.to_string())
        )),
        "HEALTHY" if progress.healthy => Verdict::Met,
        "HEALTHY" if progress.exited => {
            Verdict::Impossible(format!("dependency {name} exited before becoming healthy"))
        }
        _ => Verdict::Waiting,
    }
}

/// The container names in an order where each comes after those it depends on (the task
/// definition was validated, so there is no cycle; anything left over is appended as is).
pub fn start_order(containers: &[(String, Vec<String>)]) -> Vec<String> {
    let mut ordered: Vec<String> = Vec::with_capacity(containers.len());
    let mut remaining: Vec<&(String, Vec<String>)> = containers.iter().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|(name, deps)| {
            if deps.iter().all(|d| ordered.contains(d) || !containers.iter().any(|(n, _)| n == d)) {
                ordered.push(name.clone());
                false
            } else {
                true
            }
        });
        if remaining.len() == before {
            ordered.extend(remaining.iter().map(|(name, _)| name.clone()));
            break;
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dependency(condition: &str) -> ContainerDependency {
        ContainerDependency { container_name: Some("db".into()), condition: Some(condition.into()) }
    }

    #[test]
    fn conditions() {
        let started = Progress { started: true, ..Progress::default() };
        assert_eq!(judge(&dependency("START"), &started), Verdict::Met);
        assert_eq!(judge(&dependency("HEALTHY"), &started), Verdict::Waiting);
        let failed = Progress { started: true, exited: true, exit_code: Some(1), healthy: false };
        assert_eq!(judge(&dependency("COMPLETE"), &failed), Verdict::Met);
        assert!(matches!(judge(&dependency("SUCCESS"), &failed), Verdict::Impossible(_)));
        assert!(matches!(judge(&dependency("HEALTHY"), &failed), Verdict::Impossible(_)));
        let healthy = Progress { started: true, healthy: true, ..Progress::default() };
        assert_eq!(judge(&dependency("HEALTHY"), &healthy), Verdict::Met);
    }

    #[test]
    fn dependencies_start_first() {
        let containers = vec![
            ("web".to_string(), vec!["db".to_string()]),
            ("db".to_string(), vec!["init".to_string()]),
            ("init".to_string(), vec![]),
        ];
        assert_eq!(start_order(&containers), vec!["init", "db", "web"]);
    }
}
