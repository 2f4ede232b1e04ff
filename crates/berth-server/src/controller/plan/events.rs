//! Service event messages, worded as ECS writes them.

/// The most task ids one "started"/"stopped" event lists; more make several events.
pub const TASKS_PER_EVENT: usize = 10;

/// `(service web) has reached a steady state.`
pub fn steady(service: &str) -> String {
    format!("(service {service}) has reached a steady state.")
}

/// `(service web) has started 2 tasks: (task a) (task b).`
pub fn started(service: &str, tasks: &[String]) -> String {
    format!("(service {service}) has started {} tasks: {}.", tasks.len(), list(tasks))
}

/// `(service web) has stopped 1 running tasks: (task a).`
pub fn stopped(service: &str, running: bool, tasks: &[String]) -> String {
    let what = if running { "running" } else { "pending" };
    format!("(service {service}) has stopped {} {what} tasks: {}.", tasks.len(), list(tasks))
}

/// `(service web) (deployment ecs-svc/1) deployment completed.`
pub fn deployment_completed(service: &str, deployment: &str) -> String {
    format!("(service {service}) (deployment {deployment}) deployment completed.")
}

/// `(service web) (deployment ecs-svc/1) deployment failed: tasks failed to start.`
pub fn deployment_failed(service: &str, deployment: &str) -> String {
    format!("(service {service}) (deployment {deployment}) deployment failed: tasks failed to start.")
}

/// `(service web) rolling back to deployment ecs-svc/1.`
pub fn rolling_back(service: &str, deployment: &str) -> String {
    format!("(service {service}) rolling back to deployment {deployment}.")
}

/// `(service web) is unable to consistently start tasks successfully.`
pub fn throttled(service: &str) -> String {
    format!("(service {service}) is unable to consistently start tasks successfully.")
}

/// `(service web) was unable to place a task because no container instance met all of its
/// requirements.` followed by the closest instance's reason, as ECS words it.
pub fn unable_to_place(service: &str, closest: Option<(&str, &str)>) -> String {
    let base = format!(
        "(service {service}) was unable to place a task because no container instance met all of its requirements."
    );
    match closest {
        None => base,
        Some((instance, reason)) => {
            format!("{base} The closest matching (container-instance {instance}) {}", why(reason))
        }
    }
}

/// ECS's wording of an engine refusal reason.
fn why(reason: &str) -> String {
    match reason {
        "RESOURCE:CPU" => "has insufficient CPU units available. For more information, see the Troubleshooting section.".into(),
        "RESOURCE:MEMORY" => "has insufficient memory available. For more information, see the Troubleshooting section.".into(),
        "RESOURCE:PORTS" => "is already using a port required by your task. For more information, see the Troubleshooting section.".into(),
        "RESOURCE:GPU" => "has insufficient GPU available. For more information, see the Troubleshooting section.".into(),
        "ATTRIBUTE" => "is missing an attribute required by your task. For more information, see the Troubleshooting section.".into(),
        "AGENT" => "encountered error \"AGENT\". For more information, see the Troubleshooting section.".into(),
        other if other.contains("placement constraint") => {
            "does not meet the placement constraints of your task. For more information, see the Troubleshooting section.".into()
        }
        other => format!("encountered error \"{other}\". For more information, see the Troubleshooting section."),
    }
}

fn list(tasks: &[String]) -> String {
    tasks.iter().map(|t| format!("(task {t})")).collect::<Vec<_>>().join(" ")
}
