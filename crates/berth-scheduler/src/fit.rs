//! The working snapshot: what each instance has left as this request's tasks land on it, and
//! whether it can take one more.
//!
//! The snapshot itself is borrowed, never cloned: the few numbers a placement changes (CPU,
//! memory, GPUs left, tasks of the group, whether the demanded ports are taken) live in one
//! [`Slot`] per instance, built in a single pass over the snapshot, and everything a placement
//! cannot change (agent, attributes, the launch type) is decided once. Work that a request does
//! not need is skipped: tasks are counted only when a constraint or strategy looks at the group,
//! ports only when the task has static ones, and `memberOf` expressions are evaluated only on
//! instances that pass every check before them, then again only on the instance a task just
//! landed on, and only when the expression looks at tasks (which that task changed).
//!
//! An instance refused at the start is never charged, so it stays as it was: refusals can only
//! appear during a request, on instances that took its tasks.

use std::borrow::Cow;

use crate::query::{Expression, Subject};
use crate::types::{Constraint, Demand, InstanceView, Prepared, Request, Strategy, TaskView, reason};

/// The request's view of the cluster while its tasks are placed one by one.
pub(crate) struct Working<'a> {
    pub(crate) instances: &'a [InstanceView],
    request: &'a Request,
    /// The demand with negative amounts read as zero, so no input can add resources.
    demand: Demand,
    /// The group spread and `distinctInstance` count.
    pub(crate) group: Cow<'a, str>,
    /// One per instance, indexed like the snapshot.
    pub(crate) slots: Vec<Slot>,
    /// Whether the request has a `distinctInstance` constraint.
    distinct: bool,
    /// Whether a `memberOf` expression can change its answer when a task lands (it looks at task
    /// groups or task counts).
    member_of_follows_tasks: bool,
}

/// What placement tracks of one instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// Whether the instance is of the request's launch type at all (others are not reported).
    pub(crate) eligible: bool,
    /// A refusal no placement can change (AGENT, ATTRIBUTE), decided once.
    fixed_refusal: Option<&'static str>,
    pub(crate) remaining_cpu: i64,
    pub(crate) remaining_memory: i64,
    remaining_gpus: i64,
    /// Whether a static host port of the demand is taken on the instance.
    ports_taken: bool,
    /// Tasks of the group on the instance, this request's included (counted only when a
    /// constraint or strategy needs them).
    pub(crate) group_tasks: u64,
    /// Tasks this request placed on the instance.
    placed: u32,
    /// Whether every `memberOf` expression matches the instance (evaluated only where an
    /// earlier check passes; elsewhere it is never read).
    member_of: bool,
}

impl<'a> Working<'a> {
    /// The request's view of `instances`, with what `prepared` says of each (worked out here for
    /// instances it does not cover).
    pub(crate) fn new(instances: &'a [InstanceView], prepared: &[Prepared], request: &'a Request) -> Self {
        let demand = Demand {
            cpu: request.demand.cpu.max(0),
            memory: request.demand.memory.max(0),
            gpus: request.demand.gpus.max(0),
            ..request.demand.clone()
        };
        let group = match &request.group {
            Some(group) => Cow::Borrowed(group.as_str()),
            None => Cow::Owned(format!("family:{}", request.family)),
        };
        let distinct = request.constraints.iter().any(|c| matches!(c, Constraint::DistinctInstance));
        let expressions: Vec<&Expression> = request
            .constraints
            .iter()
            .filter_map(|c| match c {
                Constraint::MemberOf(expression) => Some(expression),
                Constraint::DistinctInstance => None,
            })
            .collect();
        let counts_group = distinct || request.strategies.iter().any(|s| matches!(s, Strategy::Spread(_)));
        let has_ports = !demand.tcp_ports.is_empty() || !demand.udp_ports.is_empty();
        let slots = instances
            .iter()
            .enumerate()
            .map(|(index, instance)| {
                // What a caller prepared is taken as known; the rest is worked out here, without
                // making a `Prepared` (whose group list costs more than one count).
                let (external, available) = match prepared.get(index) {
                    Some(facts) => (facts.external, facts.available),
                    None => (instance.is_external(), instance.agent_connected && instance.status == "ACTIVE"),
                };
                let eligible = launch_type_allows(request, external);
                let counted = eligible && counts_group;
                let mut slot = Slot {
                    eligible,
                    fixed_refusal: if eligible { fixed_refusal(request, instance, available) } else { None },
                    remaining_cpu: instance.remaining_cpu,
                    remaining_memory: instance.remaining_memory,
                    remaining_gpus: instance.remaining_gpus,
                    ports_taken: eligible && has_ports && ports_taken(&demand, instance),
                    group_tasks: match prepared.get(index) {
                        Some(facts) if counted => facts.tasks_in(&group),
                        None if counted => count_group(instance, &group),
                        _ => 0,
                    },
                    placed: 0,
                    member_of: true,
                };
                if eligible
                    && !expressions.is_empty()
                    && slot.refusal_before_member_of(&demand, distinct).is_none()
                {
                    slot.member_of = expressions.iter().all(|expression| expression.matches(instance));
                }
                slot
            })
            .collect();
        Working {
            instances,
            request,
            demand,
            group,
            slots,
            distinct,
            member_of_follows_tasks: expressions.iter().any(|expression| follows_tasks(expression)),
        }
    }

    /// Why instance `index` cannot take one more task, or `None` when it can. Resources are
    /// checked before constraints, in the order the ECS developer guide gives for placement.
    pub(crate) fn refusal(&self, index: usize) -> Option<&'static str> {
        let slot = &self.slots[index];
        if let Some(reason) = slot.refusal_before_member_of(&self.demand, self.distinct) {
            return Some(reason);
        }
        if !slot.member_of {
            return Some(reason::MEMBER_OF);
        }
        None
    }

    /// The instances (ascending) that are of the launch type and can take a task now.
    pub(crate) fn feasible(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| self.slots[i].eligible && self.refusal(i).is_none()).collect()
    }

    /// Charges one task to instance `index`.
    pub(crate) fn charge(&mut self, index: usize) {
        let demand = &self.demand;
        let slot = &mut self.slots[index];
        slot.remaining_cpu = slot.remaining_cpu.saturating_sub(demand.cpu);
        slot.remaining_memory = slot.remaining_memory.saturating_sub(demand.memory);
        slot.remaining_gpus = slot.remaining_gpus.saturating_sub(demand.gpus);
        // The task holds its own static ports now, so a second copy cannot bind them.
        if !demand.tcp_ports.is_empty() || !demand.udp_ports.is_empty() {
            slot.ports_taken = true;
        }
        slot.group_tasks += 1;
        slot.placed += 1;
        if self.member_of_follows_tasks {
            // Expressions test task:group or runningTasksCount, which this task changed:
            // re-evaluate on a copy of this one instance with the request's tasks added.
            let mut updated = self.instances[index].clone();
            let task = TaskView { group: Some(self.group.to_string()), family: self.request.family.clone() };
            updated.tasks.extend(std::iter::repeat_n(task, slot.placed as usize));
            slot.member_of = members(self.request, &updated);
        }
    }
}

impl Slot {
    /// The refusal from the checks before `memberOf`, in their order.
    fn refusal_before_member_of(&self, demand: &Demand, distinct: bool) -> Option<&'static str> {
        if let Some(reason) = self.fixed_refusal {
            return Some(reason);
        }
        if self.remaining_cpu < demand.cpu {
            return Some(reason::CPU);
        }
        if self.remaining_memory < demand.memory {
            return Some(reason::MEMORY);
        }
        if self.remaining_gpus < demand.gpus {
            return Some(reason::GPU);
        }
        if self.ports_taken {
            return Some(reason::PORTS);
        }
        if distinct && self.group_tasks > 0 {
            return Some(reason::DISTINCT_INSTANCE);
        }
        None
    }
}

fn launch_type_allows(request: &Request, external: bool) -> bool {
    match request.launch_type.as_deref() {
        Some("EC2") => !external,
        Some("EXTERNAL") => external,
        _ => true,
    }
}

fn fixed_refusal(request: &Request, instance: &InstanceView, available: bool) -> Option<&'static str> {
    if !available {
        return Some(reason::AGENT);
    }
    let has = |(name, value): &(String, Option<String>)| match (instance.attributes.get(name), value) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(actual), Some(expected)) => actual.as_deref() == Some(expected.as_str()),
    };
    if !request.required_attributes.iter().all(has) {
        return Some(reason::ATTRIBUTE);
    }
    None
}

fn ports_taken(demand: &Demand, instance: &InstanceView) -> bool {
    demand.tcp_ports.iter().any(|port| instance.used_tcp_ports.contains(port))
        || demand.udp_ports.iter().any(|port| instance.used_udp_ports.contains(port))
}

/// The tasks on `instance` in `group`, without building each task's group name.
fn count_group(instance: &InstanceView, group: &str) -> u64 {
    let family_group = group.strip_prefix("family:");
    instance
        .tasks
        .iter()
        .filter(|task| match &task.group {
            Some(own) => own == group,
            None => family_group == Some(task.family.as_str()),
        })
        .count() as u64
}

fn members(request: &Request, instance: &InstanceView) -> bool {
    request.constraints.iter().all(|constraint| match constraint {
        Constraint::MemberOf(expression) => expression.matches(instance),
        Constraint::DistinctInstance => true,
    })
}

/// Whether the expression's answer can change when a task lands on the instance.
fn follows_tasks(expression: &Expression) -> bool {
    match expression {
        Expression::Compare(comparison) => {
            matches!(comparison.subject, Subject::TaskGroup | Subject::RunningTasksCount)
        }
        Expression::Not(inner) => follows_tasks(inner),
        Expression::And(operands) | Expression::Or(operands) => operands.iter().any(follows_tasks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_in_the_group_its_name_says() {
        let instance = InstanceView {
            tasks: vec![
                TaskView { group: None, family: "web".into() },
                TaskView { group: Some("family:web".into()), family: "api".into() },
                TaskView { group: Some("service:web".into()), family: "web".into() },
                TaskView { group: None, family: "webapp".into() },
            ],
            ..InstanceView::default()
        };
        for group in ["family:web", "service:web", "family:api", "web", "family:"] {
            let by_name = instance.tasks.iter().filter(|task| task.group_name() == group).count() as u64;
            assert_eq!(count_group(&instance, group), by_name, "{group}");
        }
    }

    #[test]
    fn only_task_subjects_follow_tasks() {
        let parse = |text| crate::query::parse(text).expect("parses");
        assert!(!follows_tasks(&parse("attribute:ecs.availability-zone == a and agentConnected == true")));
        assert!(follows_tasks(&parse("not(task:group == service:web)")));
        assert!(follows_tasks(&parse("attribute:a exists or runningTasksCount < 3")));
    }
}
