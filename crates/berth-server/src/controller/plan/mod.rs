//! The planner: what a service's controller should do now, as a pure function.
//!
//! Input is a view of the service (its spec), its deployments (PRIMARY first), its tasks, the
//! cluster's instances, the clock and the controller's [`Bookkeeping`]; output is a [`Plan`]:
//! how many tasks to start for the PRIMARY deployment, which tasks to stop and why, the counts,
//! rollout states and events to write back, and whether the service is steady. No IO, no
//! randomness: the reconcile loop applies the plan and runs the planner again on what it finds
//! next, so every rule here only has to be right about the present.
//!
//! The rules follow the ECS developer guide: `minimumHealthyPercent` is a floor of healthy
//! tasks rounded up, `maximumPercent` a ceiling of tasks rounded down ([`limits`]); scale-in
//! victims are spread across zones, then instances ([`victims`]); the circuit breaker trips at
//! half the desired count failed, bounded to 3..=200, and repeated start failures slow launches
//! down ([`throttle`]).

mod daemon;
pub mod events;
mod replica;
pub mod throttle;
pub mod victims;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use crate::controller::Bookkeeping;

/// How a service schedules its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// Keep `desiredCount` tasks across the cluster.
    Replica,
    /// One task on each active instance that meets the placement constraints.
    Daemon,
}

/// A deployment's rollout state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    /// Tasks are being replaced.
    InProgress,
    /// The deployment reached its desired count and the older ones are gone.
    Completed,
    /// The circuit breaker stopped it.
    Failed,
}

impl Rollout {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rollout::InProgress => "IN_PROGRESS",
            Rollout::Completed => "COMPLETED",
            Rollout::Failed => "FAILED",
        }
    }

    /// From the wire name (anything unknown reads as in progress).
    pub fn parse(text: Option<&str>) -> Rollout {
        match text {
            Some("COMPLETED") => Rollout::Completed,
            Some("FAILED") => Rollout::Failed,
            _ => Rollout::InProgress,
        }
    }
}

/// What the service asks for.
#[derive(Debug, Clone)]
pub struct ServiceView {
    /// The service's name, as events name it.
    pub name: String,
    /// REPLICA or DAEMON.
    pub scheduling: Scheduling,
    /// The desired count (REPLICA; DAEMON derives its own).
    pub desired: u32,
    /// `minimumHealthyPercent`.
    pub min_percent: u32,
    /// `maximumPercent`.
    pub max_percent: u32,
    /// The circuit breaker, when enabled: whether it rolls back.
    pub breaker: Option<bool>,
    /// `healthCheckGracePeriodSeconds`.
    pub grace_seconds: f64,
    /// The service is being deleted (status DRAINING): stop everything.
    pub deleting: bool,
}

/// One deployment of the service.
#[derive(Debug, Clone)]
pub struct DeploymentView {
    /// `ecs-svc/...`.
    pub id: String,
    /// Its rollout state.
    pub rollout: Rollout,
    /// The failed task count already written for it.
    pub failed_tasks: u32,
}

/// Where a task is in its lifecycle, as far as the controller cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// PROVISIONING, PENDING or ACTIVATING.
    Pending,
    /// RUNNING.
    Running,
    /// Past RUNNING but not yet STOPPED.
    Stopping,
    /// STOPPED.
    Stopped,
}

impl Phase {
    /// From a task's `lastStatus`.
    pub fn of(last_status: &str) -> Phase {
        match last_status {
            "RUNNING" => Phase::Running,
            "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" => Phase::Stopping,
            "STOPPED" => Phase::Stopped,
            _ => Phase::Pending,
        }
    }
}

/// One task of the service.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// The task's id.
    pub id: String,
    /// The deployment that started it (its `startedBy`).
    pub deployment: String,
    /// Its phase.
    pub phase: Phase,
    /// Its desired status is STOPPED.
    pub stop_wanted: bool,
    /// Its health status is UNHEALTHY.
    pub unhealthy: bool,
    /// The instance it was placed on.
    pub instance: Option<String>,
    /// Its availability zone.
    pub zone: Option<String>,
    /// When it reached RUNNING (`None`: never).
    pub started_at: Option<f64>,
    /// When it reached STOPPED.
    pub stopped_at: Option<f64>,
    /// It stopped without ever running, not because it was asked to: a failed start.
    pub failed_start: bool,
}

impl TaskView {
    /// Neither stopped nor asked to stop.
    pub fn live(&self) -> bool {
        !self.stop_wanted && self.phase != Phase::Stopped
    }
}

/// One container instance of the cluster.
#[derive(Debug, Clone)]
pub struct InstanceView {
    /// The instance's id.
    pub id: String,
    /// Its status is DRAINING (or anything but ACTIVE).
    pub draining: bool,
    /// Its availability zone.
    pub zone: Option<String>,
    /// It meets the service's placement constraints (DAEMON).
    pub eligible: bool,
}

/// Settings of the planner that are the server's, not the service's.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The first delay of the start throttle, in seconds.
    pub throttle_base: f64,
    /// The longest delay of the start throttle, in seconds.
    pub throttle_max: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { throttle_base: throttle::DEFAULT_BASE_SECONDS, throttle_max: throttle::MAX_SECONDS }
    }
}

/// Everything the planner reads.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The service.
    pub service: &'a ServiceView,
    /// Its deployments, PRIMARY first (never empty for a service to act on).
    pub deployments: &'a [DeploymentView],
    /// Its tasks, stopped ones included.
    pub tasks: &'a [TaskView],
    /// The cluster's instances that are not deregistered.
    pub instances: &'a [InstanceView],
    /// Now, in epoch seconds.
    pub now: f64,
    /// What the controller remembered from the last pass.
    pub book: &'a Bookkeeping,
    /// The server's settings.
    pub settings: Settings,
}

/// Why a task is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Scale-in or replacement by a deployment (`stoppedReason` names the PRIMARY deployment).
    Scaling,
    /// The task's health check failed.
    Unhealthy,
    /// Its instance is draining.
    Draining,
}

/// One task to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The task's id.
    pub task: String,
    /// Why.
    pub reason: StopReason,
    /// Whether it was RUNNING (for the event's wording).
    pub was_running: bool,
}

/// The counts of one deployment to write back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The deployment.
    pub id: String,
    /// Its desired count.
    pub desired: u32,
    /// Its PENDING tasks.
    pub pending: u32,
    /// Its RUNNING tasks.
    pub running: u32,
    /// Its failed tasks.
    pub failed: u32,
    /// Its rollout state after this pass.
    pub rollout: Rollout,
    /// Why it is in that state, when it changed in this pass.
    pub reason: Option<String>,
}

/// What the controller should do now.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Tasks to start for the PRIMARY deployment.
    pub start: u32,
    /// Tasks to stop.
    pub stop: Vec<Stop>,
    /// Counts per deployment, PRIMARY first, for the deployments that remain.
    pub counts: Vec<Counts>,
    /// Deployments to remove (drained older ones, once the PRIMARY completed).
    pub remove: Vec<String>,
    /// The deployment whose task definition the circuit breaker rolls back to.
    pub rollback_to: Option<String>,
    /// The service's desired count after this pass (DAEMON derives it).
    pub desired: u32,
    /// RUNNING tasks of the service.
    pub running: u32,
    /// PENDING tasks of the service.
    pub pending: u32,
    /// Events to add, oldest first.
    pub events: Vec<String>,
    /// Whether the service is steady (nothing to do, one completed deployment).
    pub steady: bool,
    /// A deleted service has no task left: it becomes INACTIVE.
    pub inactive: bool,
    /// When to look again even if nothing changes (the throttle's end).
    pub retry_at: Option<f64>,
    /// The bookkeeping to store.
    pub book: Bookkeeping,
}

/// How long a steady service goes without a repeated "steady state" event, as ECS does.
pub const STEADY_EVENT_EVERY: f64 = 6.0 * 3600.0;

/// Decides what to do for a service now.
pub fn plan(input: &Input<'_>) -> Plan {
    let mut plan = Plan { book: input.book.clone(), ..Plan::default() };
    let Some(primary) = input.deployments.first() else {
        return plan;
    };
    match input.service.scheduling {
        Scheduling::Replica => replica::plan(input, primary, &mut plan),
        Scheduling::Daemon => daemon::plan(input, primary, &mut plan),
    }
    finish(input, primary, &mut plan);
    plan
}

/// The healthy floor and the ceiling of a deployment, with ECS's rounding: the floor rounds
/// up, the ceiling rounds down (but never below the desired count, which a ceiling under 100%
/// could not reach anyway).
pub fn limits(desired: u32, min_percent: u32, max_percent: u32) -> (u32, u32) {
    let desired = u64::from(desired);
    let floor = (desired * u64::from(min_percent)).div_ceil(100).min(desired);
    let ceiling = (desired * u64::from(max_percent) / 100).max(desired);
    (floor as u32, ceiling as u32)
}

/// Whether a task counts as healthy: RUNNING, and not UNHEALTHY past the grace period.
pub fn healthy(task: &TaskView, input: &Input<'_>) -> bool {
    task.phase == Phase::Running && !failed_health(task, input)
}

/// Whether a task is UNHEALTHY and its grace period is over.
pub fn failed_health(task: &TaskView, input: &Input<'_>) -> bool {
    task.unhealthy && task.started_at.is_none_or(|at| input.now - at >= input.service.grace_seconds)
}

/// The failed starts of a deployment seen in its tasks (stopped tasks age out of the store, so
/// the count written before is kept when larger).
fn failed_of(input: &Input<'_>, deployment: &DeploymentView) -> u32 {
    let seen = input.tasks.iter().filter(|t| t.deployment == deployment.id && t.failed_start).count();
    deployment.failed_tasks.max(seen as u32)
}

/// Counts, rollout transitions, the circuit breaker, removal of drained deployments, steady
/// state and the events that go with them.
fn finish(input: &Input<'_>, primary: &DeploymentView, plan: &mut Plan) {
    let stopping: BTreeSet<String> = plan.stop.iter().map(|s| s.task.clone()).collect();
    let live = |t: &&&TaskView| t.live() && !stopping.contains(&t.id);
    let mut counts = Vec::new();
    for (index, deployment) in input.deployments.iter().enumerate() {
        let mine: Vec<&TaskView> = input.tasks.iter().filter(|t| t.deployment == deployment.id).collect();
        let running = mine.iter().filter(live).filter(|t| t.phase == Phase::Running).count() as u32;
        let pending = mine.iter().filter(live).filter(|t| t.phase == Phase::Pending).count() as u32;
        let desired = if index == 0 { plan.desired } else { mine.iter().filter(live).count() as u32 };
        counts.push(Counts {
            id: deployment.id.clone(),
            desired,
            pending: pending + if index == 0 { plan.start } else { 0 },
            running,
            failed: failed_of(input, deployment),
            rollout: deployment.rollout,
            reason: None,
        });
    }
    let name = &input.service.name;
    breaker(input, primary, plan, &mut counts);
    throttle_event(input, primary, plan);
    plan.running = counts.iter().map(|c| c.running).sum();
    plan.pending = counts.iter().map(|c| c.pending).sum();
    let others_drained =
        input.tasks.iter().filter(|t| t.deployment != primary.id && t.phase != Phase::Stopped).count() == 0;
    let primary_done = {
        let c = &counts[0];
        let healthy = input
            .tasks
            .iter()
            .filter(|t| t.deployment == primary.id && t.live() && !stopping.contains(&t.id))
            .filter(|t| healthy(t, input))
            .count() as u32;
        c.rollout == Rollout::InProgress
            && healthy == plan.desired
            && c.running == plan.desired
            && c.pending == 0
            && plan.stop.is_empty()
            && others_drained
            && !input.service.deleting
    };
    if primary_done {
        counts[0].rollout = Rollout::Completed;
        counts[0].reason = Some("ECS deployment completed.".to_string());
        plan.events.push(events::deployment_completed(name, &primary.id));
    }
    if counts[0].rollout == Rollout::Completed && others_drained {
        plan.remove = counts.iter().skip(1).map(|c| c.id.clone()).collect();
        counts.truncate(1);
    }
    plan.steady = counts.len() == 1
        && counts[0].rollout == Rollout::Completed
        && plan.start == 0
        && plan.stop.is_empty()
        && plan.running == plan.desired
        && plan.pending == 0
        && !input.service.deleting;
    steady_event(input, plan);
    plan.inactive = input.service.deleting && input.tasks.iter().all(|t| t.phase == Phase::Stopped);
    plan.counts = counts;
}

/// The circuit breaker: a PRIMARY deployment in progress with enough failed starts fails, and,
/// with rollback, hands over to the last completed deployment.
fn breaker(input: &Input<'_>, primary: &DeploymentView, plan: &mut Plan, counts: &mut [Counts]) {
    let Some(rollback) = input.service.breaker else { return };
    if counts[0].rollout != Rollout::InProgress || input.service.deleting {
        return;
    }
    if counts[0].failed < throttle::breaker_threshold(plan.desired) {
        return;
    }
    counts[0].rollout = Rollout::Failed;
    counts[0].reason = Some("ECS deployment circuit breaker: tasks failed to start.".to_string());
    counts[0].pending -= plan.start.min(counts[0].pending);
    plan.start = 0;
    plan.events.push(events::deployment_failed(&input.service.name, &primary.id));
    if rollback {
        let target = input.deployments.iter().skip(1).find(|d| d.rollout == Rollout::Completed);
        if let Some(target) = target {
            plan.rollback_to = Some(target.id.clone());
            plan.events.push(events::rolling_back(&input.service.name, &target.id));
        }
    }
}

/// How long before the throttle event is written again while the service stays throttled.
pub const THROTTLE_EVENT_EVERY: f64 = 3600.0;

/// Writes ECS's throttle event once the PRIMARY's starts keep failing.
fn throttle_event(input: &Input<'_>, primary: &DeploymentView, plan: &mut Plan) {
    let (failures, _) = throttle::consecutive_failures(input.tasks, &primary.id);
    if failures < throttle::EVENT_AFTER || input.service.deleting {
        return;
    }
    if plan.book.throttled_event_at.is_none_or(|at| input.now - at >= THROTTLE_EVENT_EVERY) {
        plan.events.push(events::throttled(&input.service.name));
        plan.book.throttled_event_at = Some(input.now);
    }
}

/// Writes the steady-state event when the service becomes steady, and again only after
/// [`STEADY_EVENT_EVERY`] while it stays so.
fn steady_event(input: &Input<'_>, plan: &mut Plan) {
    if !plan.steady {
        plan.book.steady_since = None;
        return;
    }
    let newly = plan.book.steady_since.is_none();
    let stale = plan.book.steady_event_at.is_none_or(|at| input.now - at >= STEADY_EVENT_EVERY);
    if newly || stale {
        plan.events.push(events::steady(&input.service.name));
        plan.book.steady_event_at = Some(input.now);
    }
    if newly {
        plan.book.steady_since = Some(input.now);
    }
}
