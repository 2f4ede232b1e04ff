//! The working snapshot: what each instance has left as this request's tasks land on it, and
//! whether it can take one more.
//!
//! The snapshot itself is borrowed, never cloned: the few numbers a placement changes (CPU,
//! memory, GPUs left, tasks of the group, whether the demanded ports are taken) live in one
//! [`Slot`] per instance, built in a single pass over what was prepared of the instances
//! ([`PreparedCluster`]) that also finds the instances that can take a task, and everything a
//! placement cannot change (agent, attributes, the launch type) is decided once. The pass
//! compares numbers, not strings: the request's group and required attributes are looked up in
//! the cluster's numbering once, before it. Work that a request does not need is skipped: tasks
//! are counted only when a constraint or strategy looks at the group, ports only when the task
//! has static ones, and `memberOf` expressions are evaluated only on instances that pass every
//! check before them, then again only on the instance a task just landed on, and only when the
//! expression looks at tasks (which that task changed). The answers of the others are kept in
//! the cluster until their instance changes, so most requests read them rather than evaluate.
//!
//! An instance refused at the start is never charged, so it stays as it was: refusals can only
//! appear during a request, on instances that took its tasks.

use std::borrow::Cow;

use crate::prepared::{PreparedCluster, Walk};
use crate::query::{Expression, Subject};
use crate::types::{Constraint, Demand, InstanceView, Request, Strategy, TaskView, reason};

/// The request's view of the cluster while its tasks are placed one by one.
pub(crate) struct Working<'a> {
    pub(crate) instances: &'a [InstanceView],
    /// What was prepared of the instances before the request, indexed like them.
    pub(crate) cluster: &'a PreparedCluster,
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

/// What placement tracks of one instance. Kept small: one is made per instance per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) remaining_cpu: i64,
    pub(crate) remaining_memory: i64,
    remaining_gpus: i64,
    /// Tasks of the group on the instance, this request's included (counted only when a
    /// constraint or strategy needs them).
    pub(crate) group_tasks: u64,
    /// Tasks this request placed on the instance.
    placed: u32,
    /// A refusal no placement can change (AGENT, ATTRIBUTE), decided once.
    fixed_refusal: Option<Fixed>,
    /// Whether the instance is of the request's launch type at all (others are not reported).
    pub(crate) eligible: bool,
    /// Whether a static host port of the demand is taken on the instance.
    ports_taken: bool,
    /// Whether every `memberOf` expression matches the instance (evaluated only where an
    /// earlier check passes; elsewhere it is never read).
    member_of: bool,
}

/// The refusals decided once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixed {
    Agent,
    Attribute,
}

/// Which instances the request's launch type takes.
#[derive(Clone, Copy)]
enum LaunchType {
    Ec2,
    External,
    Any,
}

/// A `requiresAttributes` entry: a walk along the instances with the attribute, and the number
/// of the value it needs (`None` when any value, or none, will do; `Some(None)` for a value no
/// instance has, which none satisfies).
struct Required<'a> {
    with_name: Walk<'a, u32>,
    value: Option<Option<u32>>,
}

/// A `memberOf` expression of the request, and where its answers are kept (`None` when it looks
/// at tasks, which this request changes: it is evaluated afresh).
struct MemberOf<'a> {
    expression: &'a Expression,
    kept: Option<usize>,
}

impl<'a> Working<'a> {
    /// The request's view of `instances`, which `cluster` was prepared from (same length), and
    /// the instances (ascending) that are of the launch type and can take a task now.
    pub(crate) fn new(
        instances: &'a [InstanceView],
        cluster: &'a PreparedCluster,
        request: &'a Request,
    ) -> (Self, Vec<usize>) {
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
        let member_of_follows_tasks = expressions.iter().any(|expression| follows_tasks(expression));
        let mut working = Working {
            instances,
            cluster,
            request,
            demand,
            group,
            slots: Vec::new(),
            distinct,
            member_of_follows_tasks,
        };
        let feasible = working.fill_slots(&expressions);
        (working, feasible)
    }

    /// Makes the slot of every instance, in one pass; returns the instances that can take a task.
    fn fill_slots(&mut self, expressions: &[&'a Expression]) -> Vec<usize> {
        let request = self.request;
        let cluster = self.cluster;
        let launch_type = match request.launch_type.as_deref() {
            Some("EC2") => LaunchType::Ec2,
            Some("EXTERNAL") => LaunchType::External,
            _ => LaunchType::Any,
        };
        let counts_group =
            self.distinct || request.strategies.iter().any(|s| matches!(s, Strategy::Spread(_)));
        // A group no instance has tasks of walks an empty list.
        let mut group_tasks =
            cluster.with_group(if counts_group { cluster.number(&self.group) } else { None });
        let mut required: Vec<Required<'_>> = request
            .required_attributes
            .iter()
            .map(|(name, value)| Required {
                with_name: cluster.with_attribute(cluster.number(name)),
                value: value.as_deref().map(|value| cluster.number(value)),
            })
            .collect();
        let has_ports = !self.demand.tcp_ports.is_empty() || !self.demand.udp_ports.is_empty();
        let mut kept_answers = (!expressions.is_empty()).then(|| cluster.lock_member_of());
        let member_of: Vec<MemberOf<'a>> = expressions
            .iter()
            .map(|&expression| MemberOf {
                expression,
                kept: match &mut kept_answers {
                    Some(kept) if !follows_tasks(expression) => {
                        Some(kept.position(expression, cluster.len()))
                    }
                    _ => None,
                },
            })
            .collect();
        // The pass over every instance does only what most requests need; the checks few
        // requests make are each behind one test of the request, and `memberOf` is read only
        // where every other check passes.
        let instances = self.instances;
        let mut slots = Vec::with_capacity(instances.len());
        let mut feasible = Vec::with_capacity(instances.len());
        // Extending from the slice's iterator writes the slots without a capacity check each.
        slots.extend(cluster.facts().iter().enumerate().map(|(index, facts)| {
            let eligible = match launch_type {
                LaunchType::Ec2 => !facts.external,
                LaunchType::External => facts.external,
                LaunchType::Any => true,
            };
            let mut slot = Slot {
                remaining_cpu: facts.remaining_cpu,
                remaining_memory: facts.remaining_memory,
                remaining_gpus: facts.remaining_gpus,
                group_tasks: if eligible { group_tasks.at(index).unwrap_or(0) } else { 0 },
                placed: 0,
                fixed_refusal: (eligible && !facts.available).then_some(Fixed::Agent),
                eligible,
                ports_taken: false,
                member_of: true,
            };
            if eligible {
                if !required.is_empty() && slot.fixed_refusal.is_none() && !has_required(index, &mut required)
                {
                    slot.fixed_refusal = Some(Fixed::Attribute);
                }
                if has_ports && let Some(instance) = instances.get(index) {
                    slot.ports_taken = ports_taken(&self.demand, instance);
                }
                if slot.refusal_before_member_of(&self.demand, self.distinct).is_none() {
                    if !member_of.is_empty()
                        && let Some(instance) = instances.get(index)
                    {
                        slot.member_of =
                            member_of.iter().all(|member_of| match (member_of.kept, &mut kept_answers) {
                                (Some(position), Some(kept)) => *kept.expressions[position].of[index]
                                    .get_or_insert_with(|| member_of.expression.matches(instance)),
                                _ => member_of.expression.matches(instance),
                            });
                    }
                    if slot.member_of {
                        feasible.push(index);
                    }
                }
            }
            slot
        }));
        self.slots = slots;
        feasible
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
        match self.fixed_refusal {
            Some(Fixed::Agent) => return Some(reason::AGENT),
            Some(Fixed::Attribute) => return Some(reason::ATTRIBUTE),
            None => {}
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

/// Whether instance `index` has every attribute the request requires. Every walk is asked
/// about each instance that gets here, in order, so none falls behind.
fn has_required(index: usize, required: &mut [Required<'_>]) -> bool {
    let mut has_all = true;
    for required in required {
        let has = match (required.with_name.at(index), required.value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(actual), Some(expected)) => expected == Some(actual),
        };
        has_all &= has;
    }
    has_all
}

fn ports_taken(demand: &Demand, instance: &InstanceView) -> bool {
    demand.tcp_ports.iter().any(|port| instance.used_tcp_ports.contains(port))
        || demand.udp_ports.iter().any(|port| instance.used_udp_ports.contains(port))
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
    use crate::types::Prepared;

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
            assert_eq!(Prepared::of(&instance).tasks_in(group), by_name, "{group}");
            for task in &instance.tasks {
                assert_eq!(task.is_in(group), task.group_name() == group, "{group} {task:?}");
            }
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
