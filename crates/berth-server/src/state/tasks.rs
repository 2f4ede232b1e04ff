//! Tasks: the record, and how an agent's reports move a task through its lifecycle.
//!
//! A task record holds the `Task` shape as DescribeTasks returns it, plus what the control plane
//! needs beside it: the instance it runs on, a copy of its task definition as it was at launch
//! (so deleting the definition later cannot strand the task), and the resources it reserved.
//! Each task assigned to an instance also has an [`Assignment`] under
//! [`keys::instance_tasks`]: the agent session watches that prefix, so a change of what a task
//! should be reaches its agent through the store, whoever wrote it.

use berth_api::EcsError;
use berth_api::agent_protocol::{DesiredTask, TaskReport, TaskSpec};
use berth_api::arn::Scope;
use berth_api::model::{Container, Task, TaskDefinition};
use berth_scheduler::Demand;
use berth_store::{Compare, Op, Store, Txn};
use serde::{Deserialize, Serialize};

use super::container_instances::{self, ContainerInstanceRecord};
use super::keys;
use super::records::{self, Record, commit, encode};
use crate::context::now;

/// A task as stored.
///
/// The definition's type is a parameter so that a reader that only needs the rest can leave
/// the definition encoded ([`RawDefinition`]) and write it back verbatim: a report changes the
/// task's statuses, never its definition, and decoding and re-encoding the definition was close
/// to half of each report's work. Every other field is the same type in both, so no field can be
/// added to one and forgotten in the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord<D = TaskDefinition> {
    /// The ECS shape, returned as is by DescribeTasks.
    pub task: Task,
    /// The name of the task's cluster.
    pub cluster: String,
    /// The id of the container instance the task was placed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The task definition as it was when the task was launched.
    pub task_definition: D,
    /// What the task reserved on its instance.
    pub reservation: Reservation,
    /// Whether the reservation has been given back (the task is STOPPED).
    #[serde(default)]
    pub released: bool,
    /// Whether the task's agent has reported it RUNNING: while it holds its reservation, the
    /// instance counts it in `runningTasksCount` (else `pendingTasksCount`).
    #[serde(default)]
    pub counted_running: bool,
}

/// A task definition left as stored, borrowed from the record's bytes.
pub type RawDefinition<'a> = &'a serde_json::value::RawValue;

/// The resources a task holds on its instance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reservation {
    /// CPU units.
    pub cpu: i64,
    /// Memory in MiB.
    pub memory: i64,
    /// GPUs.
    #[serde(default)]
    pub gpus: i64,
    /// Static host TCP ports.
    #[serde(default)]
    pub tcp_ports: Vec<u16>,
    /// Static host UDP ports.
    #[serde(default)]
    pub udp_ports: Vec<u16>,
}

impl Reservation {
    /// The reservation as the placement engine's demand.
    pub fn demand(&self) -> Demand {
        Demand {
            cpu: self.cpu,
            memory: self.memory,
            gpus: self.gpus,
            tcp_ports: self.tcp_ports.clone(),
            udp_ports: self.udp_ports.clone(),
        }
    }
}

/// A task's entry in its instance's index: what the agent should make of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment<D = TaskDefinition> {
    /// `RUNNING` or `STOPPED`.
    pub desired_status: String,
    /// The task record's version when this was written.
    pub version: i64,
    /// The task as its agent is sent it ([`TaskRecord::desired`]). It is here so that a session
    /// pushes a change straight from the store's watch event, as stored, instead of reading,
    /// decoding and encoding the task record again for every task it is sent: that was a
    /// third of an agent session's work. Entries written before it was kept have none, and the
    /// session reads the task record for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredTask<D>>,
}

/// The lifecycle statuses in order: a task only ever moves forward through them.
pub const LIFECYCLE: [&str; 8] = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
];

/// The position of a status in [`LIFECYCLE`]; unknown statuses sort first.
pub fn lifecycle_rank(status: &str) -> usize {
    lifecycle_position(status).unwrap_or(0)
}

/// The position of a status in [`LIFECYCLE`], if it is one.
pub fn lifecycle_position(status: &str) -> Option<usize> {
    LIFECYCLE.iter().position(|s| *s == status)
}

/// The id of a task from its ARN (the last path segment).
pub fn id_of(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

impl<D> TaskRecord<D> {
    /// The task's id.
    pub fn id(&self) -> &str {
        id_of(self.task.task_arn.as_deref().unwrap_or_default())
    }

    /// The record with `definition` in its place, and the definition it held.
    pub fn swap_definition<E>(self, definition: E) -> (TaskRecord<E>, D) {
        let TaskRecord {
            task,
            cluster,
            instance_id,
            task_definition,
            reservation,
            released,
            counted_running,
        } = self;
        let record = TaskRecord {
            task,
            cluster,
            instance_id,
            task_definition: definition,
            reservation,
            released,
            counted_running,
        };
        (record, task_definition)
    }
}

impl<D: Clone> TaskRecord<D> {
    /// What the task's agent should make of it.
    pub fn desired(&self) -> DesiredTask<D> {
        let desired_status = self.task.desired_status.clone().unwrap_or_else(|| "RUNNING".to_string());
        let container_arns = self
            .task
            .containers
            .iter()
            .flatten()
            .filter_map(|c| Some((c.name.clone()?, c.container_arn.clone()?)))
            .collect();
        DesiredTask {
            task_arn: self.task.task_arn.clone().unwrap_or_default(),
            stopped_reason: (desired_status == "STOPPED").then(|| self.task.stopped_reason.clone()).flatten(),
            desired_status,
            version: self.task.version.unwrap_or(0),
            spec: Some(TaskSpec {
                cluster_arn: self.task.cluster_arn.clone().unwrap_or_default(),
                task_definition: self.task_definition.clone(),
                overrides: self.task.overrides.clone(),
                container_arns,
                availability_zone: self.task.availability_zone.clone(),
                created_at: self.task.created_at.unwrap_or(0.0),
            }),
        }
    }

    /// The task's assignment entry.
    pub fn assignment(&self) -> Assignment<D> {
        Assignment {
            desired_status: self.task.desired_status.clone().unwrap_or_else(|| "RUNNING".to_string()),
            version: self.task.version.unwrap_or(0),
            desired: Some(self.desired()),
        }
    }
}

/// Every task assigned to an instance that its agent has not yet reported STOPPED.
pub async fn assigned(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    instance_id: &str,
) -> Result<Vec<TaskRecord>, EcsError> {
    let index =
        records::list::<Assignment>(store, &keys::instance_tasks(scope, cluster, instance_id), None, 0)
            .await?;
    let mut tasks = Vec::with_capacity(index.items.len());
    for (key, _) in index.items {
        let task_id = key.rsplit('/').next().unwrap_or_default();
        if let Some(record) = records::get::<TaskRecord>(store, &keys::task(scope, cluster, task_id)).await? {
            tasks.push(record.value);
        }
    }
    Ok(tasks)
}

/// What became of an agent's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The task record now reflects the report.
    Applied,
    /// No task of that ARN is assigned to this instance: the agent should stop it.
    Unknown,
}

/// How often a report retries when its records keep changing under it.
const MAX_ATTEMPTS: usize = 64;

/// Applies an agent's report of a task on `instance_id` to the task record, with the instance
/// record when it reached STOPPED (its resources come back), in one transaction. Statuses only
/// move forward, so a late or repeated report changes nothing.
///
/// Whether the report changed anything is told by the record's encoding: the merged record is
/// encoded for the write anyway, and equal bytes mean an equal record (the shapes hold no hash
/// maps, so encoding is deterministic), which spares every report a copy of the whole record to
/// compare against.
pub async fn apply_report(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    instance_id: &str,
    report: &TaskReport,
) -> Result<ReportOutcome, EcsError> {
    let task_key = keys::task(scope, cluster, id_of(&report.task_arn));
    for _ in 0..MAX_ATTEMPTS {
        let Some(stored) = store.get(&task_key).await.map_err(super::store_error)? else {
            return Ok(ReportOutcome::Unknown);
        };
        let mut task: TaskRecord<RawDefinition> = records::decode(&task_key, &stored.value)?;
        if task.instance_id.as_deref() != Some(instance_id)
            || task.task.task_arn.as_deref() != Some(report.task_arn.as_str())
        {
            return Ok(ReportOutcome::Unknown);
        }
        merge_report(&mut task, report, now());
        let stopped = task.task.last_status.as_deref() == Some("STOPPED");
        let release = stopped && !task.released;
        let reached_running = !task.counted_running
            && lifecycle_rank(task.task.last_status.as_deref().unwrap_or_default())
                >= lifecycle_rank("RUNNING")
            && !task.released
            && !stopped;
        task.released |= release;
        task.counted_running |= reached_running;
        let encoded = encode(&task)?;
        if encoded == stored.value {
            if report.status == "STOPPED" && stopped {
                // Stopped without its agent (its instance was lost): the agent's own STOPPED
                // report is what takes the task off the instance's index.
                let index_key = keys::instance_task(scope, cluster, instance_id, task.id());
                if store.get(&index_key).await.map_err(super::store_error)?.is_some() {
                    commit(store, Txn::new().then(Op::delete(&index_key))).await?;
                }
            }
            return Ok(ReportOutcome::Applied);
        }
        let mut txn = Txn::new().when(Compare::unchanged(&task_key, stored.mod_revision));
        if release {
            // The task's resources go back to its instance in the same transaction.
            let instance_key = keys::container_instance(scope, cluster, instance_id);
            if let Some(Record { value: mut instance, revision }) =
                records::get::<ContainerInstanceRecord>(store, &instance_key).await?
            {
                container_instances::give_back(&mut instance, &task.reservation.demand());
                txn = txn
                    .when(Compare::unchanged(&instance_key, revision))
                    .then(Op::put(&instance_key, encode(&instance)?));
            }
        }
        txn = txn.then(Op::put(&task_key, encoded));
        if stopped {
            txn = txn.then(Op::delete(keys::instance_task(scope, cluster, instance_id, task.id())));
        }
        if commit(store, txn).await?.is_some() {
            return Ok(ReportOutcome::Applied);
        }
    }
    Err(EcsError::server("A task's records kept changing while its state change was applied; try again."))
}

/// Folds a report into a task record: statuses and times only move forward; what the user or
/// the control plane decided (desired status, a stop code given by StopTask) is kept.
pub fn merge_report<D>(record: &mut TaskRecord<D>, report: &TaskReport, now: f64) {
    let task = &mut record.task;
    let current = task.last_status.clone().unwrap_or_else(|| "PROVISIONING".to_string());
    let status = if lifecycle_rank(&report.status) > lifecycle_rank(&current) {
        report.status.clone()
    } else {
        current
    };
    let changed_status = task.last_status.as_deref() != Some(status.as_str());
    task.last_status = Some(status.clone());
    set_once(&mut task.pull_started_at, report.pull_started_at);
    set_once(&mut task.pull_stopped_at, report.pull_stopped_at);
    if lifecycle_rank(&status) >= lifecycle_rank("RUNNING") && status != "STOPPED" {
        set_once(&mut task.started_at, report.started_at.or(Some(now)));
    }
    if lifecycle_rank(&status) >= lifecycle_rank("DEACTIVATING") {
        set_once(&mut task.stopping_at, Some(now));
    }
    if status == "STOPPED" {
        set_once(&mut task.execution_stopped_at, report.execution_stopped_at.or(Some(now)));
        set_once(&mut task.stopped_at, Some(now));
        task.desired_status = Some("STOPPED".to_string());
        if task.stop_code.is_none() {
            task.stop_code = report.stop_code.clone();
        }
        if task.stopped_reason.is_none() {
            task.stopped_reason = report.reason.clone();
        }
    }
    if report.health_status.is_some() {
        task.health_status = report.health_status.clone();
    }
    let mut containers_changed = false;
    for container_report in &report.containers {
        let Some(container) = task
            .containers
            .iter_mut()
            .flatten()
            .find(|c| c.name.as_deref() == Some(container_report.name.as_str()))
        else {
            continue;
        };
        let before = container.clone();
        merge_container(container, container_report);
        containers_changed |= *container != before;
    }
    if status == "STOPPED" {
        for container in task.containers.iter_mut().flatten() {
            if container.last_status.as_deref() != Some("STOPPED") {
                container.last_status = Some("STOPPED".to_string());
                containers_changed = true;
            }
        }
    }
    if changed_status || containers_changed || report.health_status.is_some() {
        task.version = Some(task.version.unwrap_or(0) + 1);
    }
}

fn merge_container(container: &mut Container, report: &berth_api::agent_protocol::ContainerReport) {
    let current = container.last_status.clone().unwrap_or_else(|| "PENDING".to_string());
    if lifecycle_rank(&report.status) > lifecycle_rank(&current) {
        container.last_status = Some(report.status.clone());
    }
    if report.runtime_id.is_some() {
        container.runtime_id = report.runtime_id.clone();
    }
    if report.exit_code.is_some() {
        container.exit_code = report.exit_code;
    }
    if report.reason.is_some() {
        container.reason = report.reason.clone();
    }
    if report.health_status.is_some() {
        container.health_status = report.health_status.clone();
    }
    if report.image_digest.is_some() {
        container.image_digest = report.image_digest.clone();
    }
    if !report.network_bindings.is_empty() {
        container.network_bindings = Some(report.network_bindings.clone());
    }
}

fn set_once(slot: &mut Option<f64>, value: Option<f64>) {
    if slot.is_none() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TaskRecord {
        TaskRecord {
            task: Task {
                task_arn: Some("arn:aws:ecs:us-east-1:000000000000:task/c/t1".into()),
                last_status: Some("PROVISIONING".into()),
                desired_status: Some("RUNNING".into()),
                version: Some(1),
                containers: Some(vec![Container { name: Some("app".into()), ..Container::default() }]),
                ..Task::default()
            },
            cluster: "c".into(),
            instance_id: Some("i1".into()),
            task_definition: TaskDefinition::default(),
            reservation: Reservation::default(),
            released: false,
            counted_running: false,
        }
    }

    #[test]
    fn statuses_never_move_backwards() {
        let mut task = record();
        let running = TaskReport { task_arn: "x".into(), status: "RUNNING".into(), ..TaskReport::default() };
        merge_report(&mut task, &running, 10.0);
        assert_eq!(task.task.last_status.as_deref(), Some("RUNNING"));
        assert_eq!(task.task.started_at, Some(10.0));
        let late = TaskReport { status: "PENDING".into(), ..running };
        let before = task.clone();
        merge_report(&mut task, &late, 11.0);
        assert_eq!(task, before, "a late report changes nothing");
    }

    #[test]
    fn a_report_applied_with_the_definition_left_encoded_keeps_it_byte_for_byte() {
        let mut full = record();
        full.task_definition = TaskDefinition {
            family: Some("web \"quoted\" é".into()),
            revision: Some(3),
            container_definitions: Some(vec![berth_api::model::ContainerDefinition {
                name: Some("app".into()),
                image: Some("busybox".into()),
                ..Default::default()
            }]),
            ..TaskDefinition::default()
        };
        let stored = encode(&full).unwrap();
        let running = TaskReport { task_arn: "x".into(), status: "RUNNING".into(), ..TaskReport::default() };

        let untouched: TaskRecord<RawDefinition> = records::decode("/t", &stored).unwrap();
        assert_eq!(encode(&untouched).unwrap(), stored, "decoding and encoding changes no byte");

        let mut raw: TaskRecord<RawDefinition> = records::decode("/t", &stored).unwrap();
        merge_report(&mut raw, &running, 10.0);
        merge_report(&mut full, &running, 10.0);
        let merged: TaskRecord = records::decode("/t", &encode(&raw).unwrap()).unwrap();
        assert_eq!(merged, full);
    }

    #[test]
    fn a_record_and_its_assignment_encode_the_same_with_the_definition_encoded_beforehand() {
        let mut full = record();
        full.task_definition.family = Some("web".into());
        full.task_definition.revision = Some(2);
        let raw = serde_json::value::to_raw_value(&full.task_definition).unwrap();
        let (with_raw, _) = full.clone().swap_definition(&*raw);
        assert_eq!(encode(&with_raw).unwrap(), encode(&full).unwrap());
        assert_eq!(encode(&with_raw.assignment()).unwrap(), encode(&full.assignment()).unwrap());
    }

    #[test]
    fn a_stop_code_from_the_user_wins_over_the_agents() {
        let mut task = record();
        task.task.stop_code = Some("UserInitiated".into());
        let stopped = TaskReport {
            task_arn: "x".into(),
            status: "STOPPED".into(),
            stop_code: Some("EssentialContainerExited".into()),
            ..TaskReport::default()
        };
        merge_report(&mut task, &stopped, 5.0);
        assert_eq!(task.task.stop_code.as_deref(), Some("UserInitiated"));
        assert_eq!(task.task.desired_status.as_deref(), Some("STOPPED"));
        assert_eq!(task.task.stopped_at, Some(5.0));
        assert_eq!(task.task.containers.unwrap()[0].last_status.as_deref(), Some("STOPPED"));
    }
}
