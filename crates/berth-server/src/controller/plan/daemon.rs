//! DAEMON services: one task of the PRIMARY deployment on each active instance that meets the
//! placement constraints, instances registered later included; none on draining ones.
//!
//! A deployment replaces per instance: an older deployment's task is stopped (as far as the
//! healthy floor allows; DAEMON's default minimum is 0%), and once its instance holds no task
//! of the service any more, the new one starts there. Starts are counted here and placed by the
//! engine with `distinctInstance`, which only finds the instances without a task of the service.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    DeploymentView, Input, Phase, Plan, Rollout, Stop, StopReason, failed_health, healthy, limits, throttle,
    victims,
};

pub(super) fn plan(input: &Input<'_>, primary: &DeploymentView, plan: &mut Plan) {
    let service = input.service;
    let tasks = input.tasks;
    let eligible: BTreeSet<&str> = input
        .instances
        .iter()
        .filter(|i| !i.draining && i.eligible && !service.deleting)
        .map(|i| i.id.as_str())
        .collect();
    let desired = eligible.len() as u32;
    plan.desired = desired;
    let (floor, _) = limits(desired, service.min_percent, 100);
    let mut stops: Vec<(usize, StopReason)> = Vec::new();
    let mut by_instance: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, task) in tasks.iter().enumerate().filter(|(_, t)| t.live()) {
        let instance = task.instance.as_deref().unwrap_or("");
        if !eligible.contains(instance) {
            stops.push((i, StopReason::Draining));
        } else if failed_health(task, input) {
            stops.push((i, StopReason::Unhealthy));
        } else {
            by_instance.entry(instance).or_default().push(i);
        }
    }
    let mut old_healthy = Vec::new();
    for on_instance in by_instance.values() {
        let (mine, old): (Vec<usize>, Vec<usize>) =
            on_instance.iter().partition(|&&i| tasks[i].deployment == primary.id);
        // A second PRIMARY task on one instance is a surplus: keep the one furthest along.
        let mut mine = mine;
        mine.sort_by_key(|&i| std::cmp::Reverse(tasks[i].phase == Phase::Running));
        stops.extend(mine.iter().skip(1).map(|&i| (i, StopReason::Scaling)));
        for i in old {
            if !healthy(&tasks[i], input) || !mine.is_empty() && healthy(&tasks[mine[0]], input) {
                stops.push((i, StopReason::Scaling));
            } else if primary.rollout != Rollout::Failed {
                old_healthy.push(i);
            }
        }
    }
    let stopped: BTreeSet<usize> = stops.iter().map(|(i, _)| *i).collect();
    let healthy_now = tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| t.live() && !stopped.contains(i) && healthy(t, input))
        .count();
    let budget = healthy_now.saturating_sub(floor as usize);
    let population: Vec<usize> =
        tasks.iter().enumerate().filter(|(i, t)| t.live() && !stopped.contains(i)).map(|(i, _)| i).collect();
    let chosen = victims::pick(tasks, &old_healthy, &population, budget);
    stops.extend(chosen.into_iter().map(|i| (i, StopReason::Scaling)));
    // Instances with no task of the service at all, stopping ones included, get one.
    let occupied: BTreeSet<&str> =
        tasks.iter().filter(|t| t.phase != Phase::Stopped).filter_map(|t| t.instance.as_deref()).collect();
    let mut start = eligible.iter().filter(|id| !occupied.contains(*id)).count() as u32;
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
    plan.stop = stops
        .into_iter()
        .map(|(i, reason)| Stop {
            task: tasks[i].id.clone(),
            reason,
            was_running: tasks[i].phase == Phase::Running,
        })
        .collect();
}
