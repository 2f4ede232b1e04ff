//! Container instances: the record, and the arithmetic of the resources tasks reserve on it.
//!
//! The record holds the `ContainerInstance` shape exactly as DescribeContainerInstances returns
//! it. `remainingResources` is maintained, not computed: placing a task subtracts its demand in
//! the same transaction that writes the task (with a compare on this record), and the task's
//! STOPPED report adds it back in the same transaction that marks it stopped. So remaining
//! resources can never disagree with the tasks that hold them.

use std::collections::BTreeSet;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_api::model::{ContainerInstance, Resource};
use berth_scheduler::{Demand, InstanceView, TaskView};
use berth_store::Store;
use serde::{Deserialize, Serialize};

use super::keys;
use super::records::{self, Record};

/// A container instance as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerInstanceRecord {
    /// The ECS shape, returned as is by DescribeContainerInstances.
    pub instance: ContainerInstance,
    /// The name of the cluster the instance belongs to.
    pub cluster: String,
    /// When the agent's session last ended (epoch seconds), while it is disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<f64>,
}

impl ContainerInstanceRecord {
    /// The instance's id: the last segment of its ARN, as in its key.
    pub fn id(&self) -> &str {
        let arn = self.instance.container_instance_arn.as_deref().unwrap_or_default();
        arn.rsplit('/').next().unwrap_or_default()
    }
}

/// The resource names ECS uses.
pub mod resource {
    /// CPU units, an INTEGER.
    pub const CPU: &str = "CPU";
    /// Memory in MiB, an INTEGER.
    pub const MEMORY: &str = "MEMORY";
    /// Host TCP ports taken, a STRINGSET.
    pub const PORTS: &str = "PORTS";
    /// Host UDP ports taken, a STRINGSET.
    pub const PORTS_UDP: &str = "PORTS_UDP";
    /// GPU ids, a STRINGSET.
    pub const GPU: &str = "GPU";
}

/// An INTEGER resource.
pub fn integer(name: &str, value: i64) -> Resource {
    Resource {
        name: Some(name.to_string()),
        r#type: Some("INTEGER".to_string()),
        integer_value: Some(value.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
        double_value: Some(0.0),
        long_value: Some(0),
        ..Resource::default()
    }
}

/// A STRINGSET resource of ports.
pub fn port_set(name: &str, ports: &BTreeSet<u16>) -> Resource {
    Resource {
        name: Some(name.to_string()),
        r#type: Some("STRINGSET".to_string()),
        string_set_value: Some(ports.iter().map(u16::to_string).collect()),
        double_value: Some(0.0),
        long_value: Some(0),
        integer_value: Some(0),
    }
}

/// The value of an INTEGER resource (0 when absent).
pub fn integer_of(resources: &[Resource], name: &str) -> i64 {
    resources
        .iter()
        .find(|r| r.name.as_deref() == Some(name))
        .map_or(0, |r| r.integer_value.map(i64::from).or(r.long_value).unwrap_or(0))
}

/// The ports of a STRINGSET resource (empty when absent; unparsable entries are ignored).
pub fn ports_of(resources: &[Resource], name: &str) -> BTreeSet<u16> {
    resources
        .iter()
        .find(|r| r.name.as_deref() == Some(name))
        .and_then(|r| r.string_set_value.as_ref())
        .map(|set| set.iter().filter_map(|p| p.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// The number of entries of a STRINGSET resource (GPUs).
pub fn set_len(resources: &[Resource], name: &str) -> i64 {
    resources
        .iter()
        .find(|r| r.name.as_deref() == Some(name))
        .and_then(|r| r.string_set_value.as_ref())
        .map_or(0, |set| set.len() as i64)
}

fn set_integer(resources: &mut Vec<Resource>, name: &str, value: i64) {
    resources.retain(|r| r.name.as_deref() != Some(name));
    resources.push(integer(name, value));
}

fn set_ports(resources: &mut Vec<Resource>, name: &str, ports: &BTreeSet<u16>) {
    resources.retain(|r| r.name.as_deref() != Some(name));
    resources.push(port_set(name, ports));
}

/// Subtracts a task's demand from `instance`'s remaining resources and counts it.
///
/// As stored, `pendingTasksCount` counts every task that holds a reservation on the instance,
/// running or not, and `runningTasksCount` stays 0: which of them run is told by their task
/// records ([`running_tasks`]), and [`with_task_counts`] splits the two counts when the instance
/// is described.
pub fn reserve(instance: &mut ContainerInstance, demand: &Demand) {
    adjust(instance, demand, -1);
    instance.pending_tasks_count = Some(instance.pending_tasks_count.unwrap_or(0) + 1);
}

/// Gives a stopped task's demand back to `instance`.
pub fn release(instance: &mut ContainerInstance, demand: &Demand) {
    adjust(instance, demand, 1);
    // A record written before running tasks were counted apart may hold the task as running.
    let count = match instance.pending_tasks_count {
        Some(pending) if pending > 0 => &mut instance.pending_tasks_count,
        _ => &mut instance.running_tasks_count,
    };
    *count = Some((count.unwrap_or(0) - 1).max(0));
}

/// Gives a stopped task's demand back to the instance `record` and counts the change in its
/// version: what every path that ends a task's reservation writes.
pub fn give_back(record: &mut ContainerInstanceRecord, demand: &Demand) {
    release(&mut record.instance, demand);
    record.instance.version = Some(record.instance.version.unwrap_or(0) + 1);
}

/// The tasks holding a reservation on `instance`, from the counts as stored. Records written
/// before running tasks were counted apart held those in `runningTasksCount`.
pub fn reserved_tasks(instance: &ContainerInstance) -> i32 {
    instance.pending_tasks_count.unwrap_or(0) + instance.running_tasks_count.unwrap_or(0)
}

/// `instance` with ECS's two counts: `running` of its reserved tasks run, the rest are pending.
pub fn with_task_counts(mut instance: ContainerInstance, running: usize) -> ContainerInstance {
    let reserved = reserved_tasks(&instance);
    let running = i32::try_from(running).unwrap_or(i32::MAX).min(reserved);
    instance.running_tasks_count = Some(running);
    instance.pending_tasks_count = Some(reserved - running);
    instance
}

/// How many tasks the agent of instance `id` has reported RUNNING that still hold their
/// reservation: of the tasks in the instance's index, those whose record says so.
///
/// Counted when described rather than kept in a key of their own: a key per running task
/// (there was one, beside the instance) cost every task one more write to a page of the store's
/// tree of its own, for a count only DescribeContainerInstances shows, which reads at most 100
/// instances of a few dozen tasks each.
pub async fn running_tasks(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    id: &str,
) -> Result<usize, EcsError> {
    let assigned = super::tasks::assigned(store, scope, cluster, id).await?;
    Ok(assigned.iter().filter(|task| task.counted_running && !task.released).count())
}

fn adjust(instance: &mut ContainerInstance, demand: &Demand, sign: i64) {
    let mut remaining = instance.remaining_resources.take().unwrap_or_default();
    let cpu = integer_of(&remaining, resource::CPU) + sign * demand.cpu;
    let memory = integer_of(&remaining, resource::MEMORY) + sign * demand.memory;
    set_integer(&mut remaining, resource::CPU, cpu);
    set_integer(&mut remaining, resource::MEMORY, memory);
    for (name, ports) in [(resource::PORTS, &demand.tcp_ports), (resource::PORTS_UDP, &demand.udp_ports)] {
        if ports.is_empty() {
            continue;
        }
        let mut taken = ports_of(&remaining, name);
        for port in ports {
            if sign < 0 {
                taken.insert(*port);
            } else {
                taken.remove(port);
            }
        }
        set_ports(&mut remaining, name, &taken);
    }
    instance.remaining_resources = Some(remaining);
}

/// The instance as the placement engine sees it.
pub fn view(record: &ContainerInstanceRecord, tasks: Vec<TaskView>) -> InstanceView {
    let instance = &record.instance;
    let remaining = instance.remaining_resources.as_deref().unwrap_or_default();
    InstanceView {
        arn: instance.container_instance_arn.clone().unwrap_or_default(),
        status: instance.status.clone().unwrap_or_default(),
        agent_connected: instance.agent_connected.unwrap_or(false),
        remaining_cpu: integer_of(remaining, resource::CPU),
        remaining_memory: integer_of(remaining, resource::MEMORY),
        remaining_gpus: set_len(remaining, resource::GPU),
        used_tcp_ports: ports_of(remaining, resource::PORTS),
        used_udp_ports: ports_of(remaining, resource::PORTS_UDP),
        attributes: instance
            .attributes
            .iter()
            .flatten()
            .filter_map(|a| Some((a.name.clone()?, a.value.clone())))
            .collect(),
        registered_at: instance.registered_at.unwrap_or(0.0),
        agent_version: instance.version_info.as_ref().and_then(|v| v.agent_version.clone()),
        ec2_instance_id: instance.ec2_instance_id.clone(),
        tasks,
    }
}

// === Loading and counting ===

/// The status of a deregistered instance: kept, and described, but never listed by default,
/// never given tasks, and not counted as registered.
pub const INACTIVE: &str = "INACTIVE";

/// Reads one instance of `cluster` by id.
pub async fn load(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    id: &str,
) -> Result<Option<Record<ContainerInstanceRecord>>, EcsError> {
    records::get(store, &keys::container_instance(scope, cluster, id)).await
}

/// The one member of a stored instance that counting needs; the rest is skipped, not decoded. A
/// record that does not say it is INACTIVE counts as registered, which errs on the side of
/// keeping its cluster.
#[derive(Deserialize)]
struct StatusOnly {
    #[serde(default)]
    instance: StatusField,
}

#[derive(Default, Deserialize)]
struct StatusField {
    status: Option<String>,
}

/// How many instances of `cluster` are registered: every status but INACTIVE. This is ECS's
/// `registeredContainerInstancesCount`, and what DeleteCluster must find to be zero.
pub async fn registered_count(store: &dyn Store, scope: &Scope, cluster: &str) -> Result<usize, EcsError> {
    let all = records::list::<StatusOnly>(store, &keys::container_instances(scope, cluster), None, 0).await?;
    Ok(all.items.iter().filter(|(_, record)| record.instance.status.as_deref() != Some(INACTIVE)).count())
}

/// The remaining resources of an instance whose registered resources are `registered` and whose
/// tasks that still hold a reservation demand `live`: what a re-registration recomputes, so that
/// a changed registration (more memory after a resize, another reserved port) is accounted
/// exactly against the tasks the instance already holds.
pub fn remaining_after(registered: &[Resource], live: &[Demand]) -> Vec<Resource> {
    let mut scratch =
        ContainerInstance { remaining_resources: Some(registered.to_vec()), ..Default::default() };
    for demand in live {
        reserve(&mut scratch, demand);
    }
    scratch.remaining_resources.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_then_release_restores_the_instance() {
        let mut instance = ContainerInstance {
            remaining_resources: Some(vec![
                integer(resource::CPU, 2048),
                integer(resource::MEMORY, 4000),
                port_set(resource::PORTS, &BTreeSet::from([22])),
            ]),
            ..ContainerInstance::default()
        };
        let demand = Demand { cpu: 256, memory: 512, tcp_ports: vec![8080], ..Demand::default() };
        reserve(&mut instance, &demand);
        let remaining = instance.remaining_resources.clone().unwrap_or_default();
        assert_eq!(integer_of(&remaining, resource::CPU), 1792);
        assert_eq!(integer_of(&remaining, resource::MEMORY), 3488);
        assert_eq!(ports_of(&remaining, resource::PORTS), BTreeSet::from([22, 8080]));
        assert_eq!(instance.pending_tasks_count, Some(1));
        release(&mut instance, &demand);
        let remaining = instance.remaining_resources.clone().unwrap_or_default();
        assert_eq!(integer_of(&remaining, resource::CPU), 2048);
        assert_eq!(ports_of(&remaining, resource::PORTS), BTreeSet::from([22]));
        assert_eq!(instance.pending_tasks_count, Some(0));
    }

    #[test]
    fn remaining_after_subtracts_every_live_task_from_the_registration() {
        let registered = vec![
            integer(resource::CPU, 4096),
            integer(resource::MEMORY, 8000),
            port_set(resource::PORTS, &BTreeSet::from([22])),
        ];
        let live = [
            Demand { cpu: 1024, memory: 2000, tcp_ports: vec![80], ..Demand::default() },
            Demand { cpu: 512, memory: 1000, udp_ports: vec![53], ..Demand::default() },
        ];
        let remaining = remaining_after(&registered, &live);
        assert_eq!(integer_of(&remaining, resource::CPU), 2560);
        assert_eq!(integer_of(&remaining, resource::MEMORY), 5000);
        assert_eq!(ports_of(&remaining, resource::PORTS), BTreeSet::from([22, 80]));
        assert_eq!(ports_of(&remaining, resource::PORTS_UDP), BTreeSet::from([53]));
        assert_eq!(remaining_after(&registered, &[]), registered);
    }
}
