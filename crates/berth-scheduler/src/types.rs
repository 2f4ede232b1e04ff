//! The inputs and outputs of placement.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::query::Expression;

/// One container instance as placement sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstanceView {
    /// The instance's ARN (failures name it).
    pub arn: String,
    /// `ACTIVE`, `DRAINING`, ... only ACTIVE instances take tasks.
    pub status: String,
    /// Whether the instance's agent holds a session.
    pub agent_connected: bool,
    /// CPU units not reserved by tasks.
    pub remaining_cpu: i64,
    /// Memory (MiB) not reserved by tasks.
    pub remaining_memory: i64,
    /// GPUs not reserved by tasks.
    pub remaining_gpus: i64,
    /// Host TCP ports taken (reserved by the host or by tasks).
    pub used_tcp_ports: BTreeSet<u16>,
    /// Host UDP ports taken.
    pub used_udp_ports: BTreeSet<u16>,
    /// Attributes, by name (a value-less attribute maps to `None`).
    pub attributes: BTreeMap<String, Option<String>>,
    /// When the instance registered (epoch seconds).
    pub registered_at: f64,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// The EC2 instance id, if any.
    pub ec2_instance_id: Option<String>,
    /// Tasks on the instance that are not stopped.
    pub tasks: Vec<TaskView>,
}

// === impl InstanceView ===

impl InstanceView {
    /// The container instance id: the last segment of the ARN (the whole ARN if it has none).
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }

    /// The `ecs.instance-type` attribute.
    pub fn instance_type(&self) -> Option<&str> {
        self.attribute("ecs.instance-type")
    }

    /// The `ecs.availability-zone` attribute.
    pub fn availability_zone(&self) -> Option<&str> {
        self.attribute("ecs.availability-zone")
    }

    /// The value of attribute `name`, when the instance has it with a value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(|value| value.as_deref())
    }

    /// Whether this is an external (ECS Anywhere) instance: it has `ecs.capability.external`.
    pub fn is_external(&self) -> bool {
        self.attributes.contains_key("ecs.capability.external")
    }

    /// The tasks counted as running for `runningTasksCount`: every task on the instance that is
    /// not stopped (the snapshot does not tell pending from running).
    pub fn running_tasks_count(&self) -> i64 {
        self.tasks.len() as i64
    }
}

/// What placement works out about an instance before it sees any request: whether it is an
/// external (ECS Anywhere) instance, whether it takes tasks at all (ACTIVE, agent connected),
/// and how many of its tasks each group has. Working these out reads the instance's
/// attributes, status and every task on it, which on a large snapshot costs more than the rest
/// of a placement; [`crate::place_prepared`] takes them as known. A caller that keeps its
/// snapshot between placements does better to keep a [`crate::PreparedCluster`] beside it,
/// which holds this and more, and is told only of the instances that change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub(crate) external: bool,
    pub(crate) available: bool,
    /// The instance's tasks by group, `(group, tasks)`, in order of first appearance.
    groups: Vec<(String, u64)>,
}

// === impl Prepared ===

impl Prepared {
    /// What placement needs to know of `instance` before any request.
    pub fn of(instance: &InstanceView) -> Prepared {
        let mut groups: Vec<(String, u64)> = Vec::new();
        for task in &instance.tasks {
            // Matched without naming the task's group, which for a task without one would
            // allocate `family:NAME` per task.
            match groups.iter_mut().find(|(known, _)| task.is_in(known)) {
                Some((_, count)) => *count += 1,
                None => groups.push((task.group_name().into_owned(), 1)),
            }
        }
        Prepared {
            external: instance.is_external(),
            available: instance.agent_connected && instance.status == "ACTIVE",
            groups,
        }
    }

    /// The instance's tasks in `group`.
    #[cfg(test)]
    pub(crate) fn tasks_in(&self, group: &str) -> u64 {
        self.groups.iter().find(|(known, _)| known == group).map_or(0, |(_, count)| *count)
    }

    /// The instance's groups with their tasks, in order of first appearance.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (&str, u64)> {
        self.groups.iter().map(|(group, tasks)| (group.as_str(), *tasks))
    }
}

/// A task already on an instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskView {
    /// The task's group (`family:NAME` or `service:NAME` by default).
    pub group: Option<String>,
    /// The task definition family.
    pub family: String,
}

// === impl TaskView ===

impl TaskView {
    /// The task's group, defaulting as ECS does for a task started without one: `family:NAME`.
    pub fn group_name(&self) -> Cow<'_, str> {
        match &self.group {
            Some(group) => Cow::Borrowed(group),
            None => Cow::Owned(format!("family:{}", self.family)),
        }
    }

    /// Whether the task's group is `group` (what [`group_name`](Self::group_name) says, without
    /// making the name).
    pub(crate) fn is_in(&self, group: &str) -> bool {
        match &self.group {
            Some(own) => own == group,
            None => group.strip_prefix("family:") == Some(self.family.as_str()),
        }
    }
}

/// What one task needs of an instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Demand {
    /// CPU units.
    pub cpu: i64,
    /// Memory in MiB (the hard limit, else the reservation, as ECS counts it).
    pub memory: i64,
    /// GPUs.
    pub gpus: i64,
    /// Static host TCP ports.
    pub tcp_ports: Vec<u16>,
    /// Static host UDP ports.
    pub udp_ports: Vec<u16>,
}

/// A request for `count` identical tasks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// How many tasks.
    pub count: usize,
    /// What each needs.
    pub demand: Demand,
    /// The task's group (`service:NAME` for a service's tasks); `None` means `family:FAMILY`,
    /// as ECS defaults it. Spread and `distinctInstance` count the tasks of this group.
    pub group: Option<String>,
    /// The task definition family.
    pub family: String,
    /// The task definition's and the request's constraints together; all must hold.
    pub constraints: Vec<Constraint>,
    /// Strategies, applied in order, each breaking the ties the previous one left. Empty means
    /// the first instance that fits, in snapshot order: callers pass [`crate::default_strategies`]
    /// when the user gave none.
    pub strategies: Vec<Strategy>,
    /// Seeds the `random` strategy, so the same request on the same snapshot places the same way.
    pub seed: u64,
    /// `EC2` places only on instances without the `ecs.capability.external` attribute,
    /// `EXTERNAL` only on instances with it; anything else considers every instance.
    pub launch_type: Option<String>,
    /// Attributes the task definition requires (`requiresAttributes`): a name, and a value when
    /// the value matters too. An instance without them refuses with `ATTRIBUTE`.
    pub required_attributes: Vec<(String, Option<String>)>,
}

/// A placement constraint, validated (see [`crate::validate_constraints`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// No two tasks of the request's group on one instance.
    DistinctInstance,
    /// Only instances the expression matches.
    MemberOf(Expression),
}

/// A placement strategy, validated (see [`crate::validate_strategies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// The instances with the least of the resource left.
    Binpack(BinpackField),
    /// The instances whose value of the field holds the fewest tasks of the group.
    Spread(SpreadField),
    /// Any instance, drawn with the request's seed.
    Random,
}

/// What `binpack` packs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinpackField {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
}

/// What `spread` spreads over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpreadField {
    /// `instanceId`, or `host`, which ECS treats the same.
    Instance,
    /// `attribute:NAME`, such as `attribute:ecs.availability-zone`.
    Attribute(String),
}

/// Where one task goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The index of the chosen instance in the snapshot given to [`crate::place`].
    pub instance: usize,
}

/// The reasons ECS gives in RunTask `failures`, one per instance.
pub mod reason {
    /// The instance is not ACTIVE or its agent is disconnected.
    pub const AGENT: &str = "AGENT";
    /// The instance lacks an attribute the task definition requires.
    pub const ATTRIBUTE: &str = "ATTRIBUTE";
    /// Not enough CPU left.
    pub const CPU: &str = "RESOURCE:CPU";
    /// Not enough memory left.
    pub const MEMORY: &str = "RESOURCE:MEMORY";
    /// Not enough GPUs left.
    pub const GPU: &str = "RESOURCE:GPU";
    /// A static host port the task needs is taken.
    pub const PORTS: &str = "RESOURCE:PORTS";
    /// The instance already runs a task of the group.
    pub const DISTINCT_INSTANCE: &str = "DistinctInstance placement constraint unsatisfied.";
    /// A `memberOf` expression does not match the instance.
    pub const MEMBER_OF: &str = "MemberOf placement constraint unsatisfied.";
}

/// Why an instance could not take a task, as ECS reports it in `failures`.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The instance's ARN.
    pub arn: String,
    /// `RESOURCE:CPU`, `RESOURCE:MEMORY`, `RESOURCE:PORTS`, `RESOURCE:GPU`, `AGENT`, ...
    pub reason: String,
}
