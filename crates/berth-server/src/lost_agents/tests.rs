//! The sweep over an in-memory store: what a lost instance's tasks become, and what is left alone.

use berth_api::model::{Container, ContainerInstance, Task, TaskDefinition};
use berth_store::MemoryStore;

use super::*;
use crate::state::container_instances::{integer, integer_of, resource};
use crate::state::tasks::Reservation;

const CLUSTER: &str = "c";

fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

/// An instance with 1024 CPU units left of 2048, holding one running task of 1024.
async fn instance(store: &MemoryStore, id: &str, connected: bool, disconnected_at: Option<f64>) {
    let record = ContainerInstanceRecord {
        instance: ContainerInstance {
            agent_connected: Some(connected),
            status: Some("ACTIVE".into()),
            remaining_resources: Some(vec![integer(resource::CPU, 1024), integer(resource::MEMORY, 1000)]),
            running_tasks_count: Some(1),
            pending_tasks_count: Some(0),
            ..ContainerInstance::default()
        },
        cluster: CLUSTER.into(),
        disconnected_at,
    };
    records::put(store, &keys::container_instance(&scope(), CLUSTER, id), &record).await.expect("put");
}

async fn task(store: &MemoryStore, id: &str, instance_id: &str, status: &str) {
    let record = TaskRecord {
        task: Task {
            task_arn: Some(format!("arn:aws:ecs:us-east-1:000000000000:task/{CLUSTER}/{id}")),
            last_status: Some(status.into()),
            desired_status: Some(if status == "STOPPED" { "STOPPED" } else { "RUNNING" }.into()),
            version: Some(3),
            containers: Some(vec![Container {
                name: Some("app".into()),
                last_status: Some(status.into()),
                ..Container::default()
            }]),
            ..Task::default()
        },
        cluster: CLUSTER.into(),
        instance_id: Some(instance_id.into()),
        task_definition: TaskDefinition::default(),
        reservation: Reservation { cpu: 1024, memory: 1000, ..Reservation::default() },
        released: status == "STOPPED",
        counted_running: status == "RUNNING",
    };
    records::put(store, &keys::task(&scope(), CLUSTER, id), &record).await.expect("put task");
    records::put(store, &keys::instance_task(&scope(), CLUSTER, instance_id, id), &record.assignment())
        .await
        .expect("put assignment");
}

async fn read_task(store: &MemoryStore, id: &str) -> TaskRecord {
    records::get::<TaskRecord>(store, &keys::task(&scope(), CLUSTER, id))
        .await
        .expect("get")
        .expect("there")
        .value
}

async fn read_instance(store: &MemoryStore, id: &str) -> ContainerInstanceRecord {
    records::get(store, &keys::container_instance(&scope(), CLUSTER, id))
        .await
        .expect("get")
        .expect("there")
        .value
}

fn clock(now: f64) -> Clock {
    Clock { now, started_at: 0.0, lost_after: Duration::from_secs(60) }
}

#[tokio::test]
async fn a_lost_instances_running_task_is_stopped_and_its_resources_come_back() {
    let store = MemoryStore::new();
    instance(&store, "lost", false, Some(1000.0)).await;
    task(&store, "t1", "lost", "RUNNING").await;

    assert_eq!(sweep(&store, clock(1061.0)).await.expect("sweep"), 1);

    let stopped = read_task(&store, "t1").await;
    assert_eq!(stopped.task.last_status.as_deref(), Some("STOPPED"));
    assert_eq!(stopped.task.desired_status.as_deref(), Some("STOPPED"));
    assert_eq!(stopped.task.stop_code.as_deref(), Some(STOP_CODE));
    assert_eq!(
        stopped.task.stopped_reason.as_deref(),
        Some(
            "Task stopped because its container instance's agent was disconnected for longer than 60s \
             (instance lost)."
        )
    );
    assert_eq!(stopped.task.stopped_at, Some(1061.0));
    assert_eq!(stopped.task.execution_stopped_at, Some(1061.0));
    assert_eq!(
        stopped.task.containers.as_ref().expect("containers")[0].last_status.as_deref(),
        Some("STOPPED")
    );
    assert_eq!(stopped.task.version, Some(4));
    assert!(stopped.released);

    let instance = read_instance(&store, "lost").await.instance;
    let remaining = instance.remaining_resources.unwrap_or_default();
    assert_eq!(integer_of(&remaining, resource::CPU), 2048);
    assert_eq!(integer_of(&remaining, resource::MEMORY), 2000);
    assert_eq!(instance.running_tasks_count, Some(0));

    // The assignment stays, desiring STOPPED, so the agent is told when it returns.
    let assignment =
        records::get::<Assignment>(&store, &keys::instance_task(&scope(), CLUSTER, "lost", "t1"))
            .await
            .expect("get")
            .expect("the assignment is kept")
            .value;
    assert_eq!((assignment.desired_status.as_str(), assignment.version), ("STOPPED", 4));
    let desired = assignment.desired.expect("the agent's view of the task is kept with it");
    assert_eq!((desired.desired_status.as_str(), desired.version), ("STOPPED", 4));

    assert_eq!(sweep(&store, clock(1100.0)).await.expect("sweep again"), 0, "a second sweep changes nothing");
    assert_eq!(read_task(&store, "t1").await, stopped);
}

#[tokio::test]
async fn connected_and_recently_disconnected_instances_keep_their_tasks() {
    let store = MemoryStore::new();
    instance(&store, "up", true, None).await;
    instance(&store, "blip", false, Some(1030.0)).await;
    task(&store, "t-up", "up", "RUNNING").await;
    task(&store, "t-blip", "blip", "RUNNING").await;

    assert_eq!(sweep(&store, clock(1061.0)).await.expect("sweep"), 0);
    assert_eq!(read_task(&store, "t-up").await.task.last_status.as_deref(), Some("RUNNING"));
    assert_eq!(read_task(&store, "t-blip").await.task.last_status.as_deref(), Some("RUNNING"));

    // Past the duration, only the disconnected one goes.
    assert_eq!(sweep(&store, clock(1090.0)).await.expect("sweep"), 1);
    assert_eq!(read_task(&store, "t-up").await.task.last_status.as_deref(), Some("RUNNING"));
    assert_eq!(read_task(&store, "t-blip").await.task.last_status.as_deref(), Some("STOPPED"));
}

#[tokio::test]
async fn the_time_counts_from_the_servers_start_when_that_is_later() {
    let store = MemoryStore::new();
    // Disconnected long ago, while the control plane was down: the agent gets the whole
    // duration after the start to come back.
    instance(&store, "old", false, Some(10.0)).await;
    task(&store, "t1", "old", "RUNNING").await;
    let after_start = |now| Clock { now, started_at: 5000.0, lost_after: Duration::from_secs(60) };
    assert_eq!(sweep(&store, after_start(5030.0)).await.expect("sweep"), 0);
    assert_eq!(sweep(&store, after_start(5060.0)).await.expect("sweep"), 1);
}

#[tokio::test]
async fn a_stop_asked_for_before_keeps_its_reason_and_stopped_tasks_are_left_alone() {
    let store = MemoryStore::new();
    instance(&store, "lost", false, Some(0.0)).await;
    task(&store, "asked", "lost", "RUNNING").await;
    task(&store, "done", "lost", "STOPPED").await;
    records::update::<TaskRecord, _>(&store, &keys::task(&scope(), CLUSTER, "asked"), |record| {
        let mut record = record.expect("there");
        record.task.desired_status = Some("STOPPED".into());
        record.task.stop_code = Some("UserInitiated".into());
        record.task.stopped_reason = Some("Task stopped by user".into());
        Ok(record)
    })
    .await
    .expect("update");
    let done_before = read_task(&store, "done").await;

    assert_eq!(sweep(&store, clock(100.0)).await.expect("sweep"), 1);
    let asked = read_task(&store, "asked").await;
    assert_eq!(asked.task.last_status.as_deref(), Some("STOPPED"));
    assert_eq!(asked.task.stop_code.as_deref(), Some("UserInitiated"));
    assert_eq!(asked.task.stopped_reason.as_deref(), Some("Task stopped by user"));
    assert_eq!(read_task(&store, "done").await, done_before);
}

#[test]
fn durations_read_as_the_flag_is_written() {
    assert_eq!(human(Duration::from_secs(60)), "60s");
    assert_eq!(human(Duration::from_secs(3)), "3s");
    assert_eq!(human(Duration::from_millis(1500)), "1500ms");
}
