//! How hard the controller pushes a deployment whose tasks fail to start: the circuit breaker's
//! threshold, and the service throttle that spaces out launch attempts.
//!
//! ECS documents both. The breaker fails a deployment once half its desired count has failed
//! to start, never fewer than 3 tasks nor more than 200. The throttle lengthens the time
//! between attempts while tasks keep going from PENDING to STOPPED without running, up to 27
//! minutes, and returns to normal once a task runs or a new deployment starts.

use super::{Input, Phase, TaskView};

/// The fewest failed tasks that trip the circuit breaker.
pub const BREAKER_MIN: u32 = 3;
/// The most failed tasks the circuit breaker waits for.
pub const BREAKER_MAX: u32 = 200;
/// The first delay after a failed start, in seconds.
pub const DEFAULT_BASE_SECONDS: f64 = 5.0;
/// The longest delay between launch attempts ECS documents, in seconds.
pub const MAX_SECONDS: f64 = 27.0 * 60.0;
/// From this many consecutive failures on, the service gets ECS's throttle event.
pub const EVENT_AFTER: u32 = 3;

/// The failed-task count at which the circuit breaker trips for `desired` tasks.
pub fn breaker_threshold(desired: u32) -> u32 {
    desired.div_ceil(2).clamp(BREAKER_MIN, BREAKER_MAX)
}

/// The wait after `failures` consecutive failed starts: none after none, then `base`, doubling
/// with each further failure, up to `max`.
pub fn delay(failures: u32, base: f64, max: f64) -> f64 {
    if failures == 0 {
        return 0.0;
    }
    let doublings = (failures - 1).min(30);
    (base * f64::from(1u32 << doublings)).min(max)
}

/// The failed starts of `deployment` since its last task reached RUNNING, and when the latest
/// of them stopped.
pub fn consecutive_failures(tasks: &[TaskView], deployment: &str) -> (u32, Option<f64>) {
    let mine = || tasks.iter().filter(|t| t.deployment == deployment);
    let last_run = mine().filter_map(|t| t.started_at).fold(f64::NEG_INFINITY, f64::max);
    let failed: Vec<f64> = mine()
        .filter(|t| t.failed_start && t.phase == Phase::Stopped)
        .filter_map(|t| t.stopped_at)
        .filter(|at| *at > last_run)
        .collect();
    let latest =
        failed.iter().copied().fold(None, |acc: Option<f64>, at| Some(acc.map_or(at, |a| a.max(at))));
    (failed.len() as u32, latest)
}

/// When the next launch of `deployment` may happen (`None`: now).
pub fn next_launch_at(input: &Input<'_>, deployment: &str) -> Option<f64> {
    let (failures, latest) = consecutive_failures(input.tasks, deployment);
    let at = latest? + delay(failures, input.settings.throttle_base, input.settings.throttle_max);
    (at > input.now).then_some(at)
}
