//! Which tasks to stop when there are more than needed: spread what remains evenly, as ECS's
//! service scheduler does on scale-in: take from the availability zone with the most of the
//! service's tasks, then from the instance with the most, so that what is left stays balanced.

use std::collections::{BTreeMap, VecDeque};

use super::TaskView;

/// Picks up to `count` of `candidates` (indices into `tasks`) to stop, one at a time: each from
/// the zone, then the instance, that holds the most of `population` (indices of the tasks that
/// remain), ties going to the first zone and instance by name, and within an instance to the
/// earliest candidate. Each victim leaves the population before the next is chosen.
pub fn pick(tasks: &[TaskView], candidates: &[usize], population: &[usize], count: usize) -> Vec<usize> {
    let mut zones: BTreeMap<&str, usize> = BTreeMap::new();
    let mut instances: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in population {
        *zones.entry(zone(&tasks[i])).or_default() += 1;
        *instances.entry(instance(&tasks[i])).or_default() += 1;
    }
    // zone -> instance -> candidates on it, in the order given.
    let mut grouped: BTreeMap<&str, BTreeMap<&str, VecDeque<usize>>> = BTreeMap::new();
    for &i in candidates {
        grouped.entry(zone(&tasks[i])).or_default().entry(instance(&tasks[i])).or_default().push_back(i);
    }
    let mut chosen = Vec::new();
    while chosen.len() < count {
        let count_of = |map: &BTreeMap<&str, usize>, key: &str| map.get(key).copied().unwrap_or(0);
        let Some(zone_name) = grouped.keys().copied().fold(None, |best: Option<&str>, z| match best {
            Some(b) if count_of(&zones, b) >= count_of(&zones, z) => Some(b),
            _ => Some(z),
        }) else {
            break;
        };
        let Some(on_zone) = grouped.get_mut(zone_name) else { break };
        let Some(instance_name) = on_zone.keys().copied().fold(None, |best: Option<&str>, n| match best {
            Some(b) if count_of(&instances, b) >= count_of(&instances, n) => Some(b),
            _ => Some(n),
        }) else {
            break;
        };
        let Some(queue) = on_zone.get_mut(instance_name) else { break };
        let Some(victim) = queue.pop_front() else { break };
        if queue.is_empty() {
            on_zone.remove(instance_name);
        }
        if on_zone.is_empty() {
            grouped.remove(zone_name);
        }
        if let Some(n) = zones.get_mut(zone_name) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = instances.get_mut(instance_name) {
            *n = n.saturating_sub(1);
        }
        chosen.push(victim);
    }
    chosen
}

fn zone(task: &TaskView) -> &str {
    task.zone.as_deref().unwrap_or("")
}

fn instance(task: &TaskView) -> &str {
    task.instance.as_deref().unwrap_or("")
}
