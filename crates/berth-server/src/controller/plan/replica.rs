//! REPLICA services: keep `desiredCount` tasks of the PRIMARY deployment, replacing old,
//! unhealthy and draining ones within the floor and ceiling of the deployment configuration.
//!
//! One pass: tasks that are not healthy (failed health checks past the grace period, older
//! deployments' tasks not yet running) are stopped outright, since stopping them cannot lower
//! the healthy count. Then as many PRIMARY tasks start as are missing, without the total of
//! tasks, those still stopping included, going over the ceiling. Last, healthy tasks that must
//! go (surplus on scale-in, older deployments', those on draining instances) are stopped only
//! as far as the healthy count stays at or above the floor. The next pass carries on from
//! whatever the tasks became, so a rollout advances as new tasks reach RUNNING.

use std::collections::BTreeSet;

use super::{
    DeploymentView, Input, Phase, Plan, Rollout, Stop, StopReason, failed_health, healthy, limits, throttle,
    victims,
};

pub(super) fn plan(input: &Input<'_>, primary: &DeploymentView, plan: &mut Plan) {
    let service = input.service;
    let desired = if service.deleting { 0 } else { service.desired };
    plan.desired = desired;
    let (floor, ceiling) = limits(desired, service.min_percent, service.max_percent);
    let tasks = input.tasks;
    let usable: BTreeSet<&str> =
        input.instances.iter().filter(|i| !i.draining).map(|i| i.id.as_str()).collect();
    let in_flight = tasks.iter().filter(|t| t.stop_wanted && t.phase != Phase::Stopped).count();
    let mut stops: Vec<(usize, StopReason)> = Vec::new();
    let (mut keep, mut old_healthy, mut drain_healthy) = (Vec::new(), Vec::new(), Vec::new());
    let mut live = 0usize;
    for (i, task) in tasks.iter().enumerate().filter(|(_, t)| t.live()) {
        live += 1;
        let on_draining = task.instance.as_deref().is_some_and(|id| !usable.contains(id));
        if failed_health(task, input) {
            stops.push((i, StopReason::Unhealthy));
        } else if task.deployment != primary.id {
            if healthy(task, input) { old_healthy.push(i) } else { stops.push((i, StopReason::Scaling)) }
        } else if on_draining {
            if healthy(task, input) { drain_healthy.push(i) } else { stops.push((i, StopReason::Draining)) }
        } else {
            keep.push(i);
        }
    }
    // Surplus PRIMARY tasks: those not running go first, freely; running ones wait for the budget.
    let surplus = keep.len().saturating_sub(desired as usize);
    let not_running: Vec<usize> =
        keep.iter().copied().filter(|&i| tasks[i].phase != Phase::Running).collect();
    let free_surplus: Vec<usize> = not_running.iter().rev().copied().take(surplus).collect();
    stops.extend(free_surplus.iter().map(|&i| (i, StopReason::Scaling)));
    let surplus_running = surplus - free_surplus.len();
    let kept = keep.len() - free_surplus.len();

    // Tasks asked to stop still count until they are STOPPED: ECS bounds RUNNING and PENDING ones.
    let room = (ceiling as usize).saturating_sub(live + in_flight);
    let mut start = (desired as usize).saturating_sub(kept).min(room) as u32;
    if primary.rollout == Rollout::Failed || service.deleting {
        start = 0;
    }
    if start > 0
        && let Some(at) = throttle::next_launch_at(input, &primary.id)
    {
        start = 0;
        plan.retry_at = Some(at);
    }
    plan.start = start;

    let stopped: BTreeSet<usize> = stops.iter().map(|(i, _)| *i).collect();
    let healthy_now = tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| t.live() && !stopped.contains(i) && healthy(t, input))
        .count();
    let mut budget = healthy_now.saturating_sub(floor as usize);
    let mut population: Vec<usize> =
        tasks.iter().enumerate().filter(|(i, t)| t.live() && !stopped.contains(i)).map(|(i, _)| i).collect();
    let running_keep: Vec<usize> =
        keep.iter().copied().filter(|&i| tasks[i].phase == Phase::Running).collect();
    let mut groups: Vec<(Vec<usize>, usize, StopReason)> =
        vec![(running_keep, surplus_running, StopReason::Scaling)];
    if primary.rollout != Rollout::Failed || service.deleting {
        groups.push((old_healthy.clone(), old_healthy.len(), StopReason::Scaling));
    }
    groups.push((drain_healthy.clone(), drain_healthy.len(), StopReason::Draining));
    for (candidates, wanted, reason) in groups {
        let count = wanted.min(budget);
        let chosen = victims::pick(tasks, &candidates, &population, count);
        budget -= chosen.len();
        population.retain(|i| !chosen.contains(i));
        stops.extend(chosen.into_iter().map(|i| (i, reason.clone())));
    }
    plan.stop = stops
        .into_iter()
        .map(|(i, reason)| Stop {
            task: tasks[i].id.clone(),
            reason,
            was_running: tasks[i].phase == Phase::Running,
        })
        .collect();
}
