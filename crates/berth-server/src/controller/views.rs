//! From stored records to the planner's views.

use berth_scheduler::{Constraint, Demand, Request};
use serde::Deserialize;

use super::plan::{self, DeploymentView, Phase, Rollout, Scheduling, ServiceView};
use crate::state::container_instances;
use crate::state::services::{DRAINING, ServiceRecord};
use crate::state::task_placement::InstanceEntry;

/// The stop code of the tasks the controller stops.
pub const SCHEDULER_STOP_CODE: &str = "ServiceSchedulerInitiated";

/// The instance attribute naming the availability zone.
const ZONE: &str = "ecs.availability-zone";

/// The few fields of a task record the controller reads, decoded without the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredTask {
    /// The `Task` fields.
    pub task: TaskFields,
    /// The instance the task was placed on.
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// See [`StoredTask`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFields {
    /// The task's ARN.
    pub task_arn: Option<String>,
    /// Its lifecycle status.
    pub last_status: Option<String>,
    /// What it should become.
    pub desired_status: Option<String>,
    /// Its group (`service:NAME` for service tasks).
    pub group: Option<String>,
    /// The deployment that started it.
    pub started_by: Option<String>,
    /// HEALTHY, UNHEALTHY or UNKNOWN.
    pub health_status: Option<String>,
    /// Its zone.
    pub availability_zone: Option<String>,
    /// When it reached RUNNING.
    pub started_at: Option<f64>,
    /// When it reached STOPPED.
    pub stopped_at: Option<f64>,
    /// Why it stopped.
    pub stop_code: Option<String>,
}

/// The group of a service's tasks.
pub fn group_of(service: &str) -> String {
    format!("service:{service}")
}

/// A stored task as the planner sees it.
pub fn task_view(stored: &StoredTask) -> plan::TaskView {
    let task = &stored.task;
    let arn = task.task_arn.as_deref().unwrap_or_default();
    let phase = Phase::of(task.last_status.as_deref().unwrap_or("PROVISIONING"));
    let asked = matches!(task.stop_code.as_deref(), Some(SCHEDULER_STOP_CODE | "UserInitiated"));
    plan::TaskView {
        id: arn.rsplit('/').next().unwrap_or(arn).to_string(),
        deployment: task.started_by.clone().unwrap_or_default(),
        phase,
        stop_wanted: task.desired_status.as_deref() == Some("STOPPED"),
        unhealthy: task.health_status.as_deref() == Some("UNHEALTHY"),
        instance: stored.instance_id.clone(),
        zone: task.availability_zone.clone(),
        started_at: task.started_at,
        stopped_at: task.stopped_at,
        failed_start: phase == Phase::Stopped && task.started_at.is_none() && !asked,
    }
}

/// The service as the planner sees it, with ECS's defaults for what it leaves out.
pub fn service_view(record: &ServiceRecord) -> ServiceView {
    let service = &record.service;
    let scheduling = match service.scheduling_strategy.as_deref() {
        Some("DAEMON") => Scheduling::Daemon,
        _ => Scheduling::Replica,
    };
    let configuration = service.deployment_configuration.clone().unwrap_or_default();
    let (default_min, default_max) = match scheduling {
        Scheduling::Replica => (100, 200),
        Scheduling::Daemon => (0, 100),
    };
    let breaker = configuration
        .deployment_circuit_breaker
        .as_ref()
        .filter(|b| b.enable == Some(true))
        .map(|b| b.rollback == Some(true));
    ServiceView {
        name: record.name().to_string(),
        scheduling,
        desired: service.desired_count.unwrap_or(0).max(0) as u32,
        min_percent: configuration.minimum_healthy_percent.unwrap_or(default_min).max(0) as u32,
        max_percent: configuration.maximum_percent.unwrap_or(default_max).max(0) as u32,
        breaker,
        grace_seconds: f64::from(service.health_check_grace_period_seconds.unwrap_or(0).max(0)),
        deleting: record.status() == DRAINING,
    }
}

/// The deployments, PRIMARY first (as stored).
pub fn deployment_views(record: &ServiceRecord) -> Vec<DeploymentView> {
    let mut views: Vec<DeploymentView> = record
        .service
        .deployments
        .iter()
        .flatten()
        .map(|d| DeploymentView {
            id: d.id.clone().unwrap_or_default(),
            rollout: Rollout::parse(d.rollout_state.as_deref()),
            failed_tasks: d.failed_tasks.unwrap_or(0).max(0) as u32,
        })
        .collect();
    if let Some(primary) = record.primary().and_then(|d| d.id.clone())
        && let Some(position) = views.iter().position(|v| v.id == primary)
    {
        let first = views.remove(position);
        views.insert(0, first);
    }
    views
}

/// The cluster's instances as the planner sees them; `eligible` says whether each meets the
/// service's placement constraints (DAEMON).
pub fn instance_views(
    instances: &[InstanceEntry],
    constraints: Option<&[Constraint]>,
) -> Vec<plan::InstanceView> {
    instances
        .iter()
        .map(|entry| {
            let record = &entry.record.instance;
            let zone = record
                .attributes
                .iter()
                .flatten()
                .find(|a| a.name.as_deref() == Some(ZONE))
                .and_then(|a| a.value.clone());
            plan::InstanceView {
                id: entry.id.clone(),
                draining: record.status.as_deref() != Some("ACTIVE"),
                zone,
                eligible: constraints.is_none_or(|c| meets(entry, c)),
            }
        })
        .collect()
}

/// Whether an instance meets placement constraints, resources aside: the engine asked to
/// place one task that demands nothing on it alone.
fn meets(entry: &InstanceEntry, constraints: &[Constraint]) -> bool {
    let view = container_instances::view(&entry.record, Vec::new());
    let constraints: Vec<Constraint> =
        constraints.iter().filter(|c| !matches!(c, Constraint::DistinctInstance)).cloned().collect();
    let request = Request { count: 1, demand: Demand::default(), constraints, ..Request::default() };
    let (placed, _) = berth_scheduler::place(&[view], &request);
    !placed.is_empty()
}
