//! Lost agents through the AWS SDK: a control plane in process with `agent_lost_after` of one
//! second, and container instances that are real agents over the simulated runtime.
//!
//! What a user sees: a task whose agent stays away past the duration is STOPPED with a reason
//! saying the instance was lost, and its instance shows `agentConnected` false with its
//! resources back; when the agent returns, the containers it still ran for the task end. An
//! agent back within the duration keeps its task running.

#[path = "support/simulated.rs"]
mod simulated;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerDefinition, Task};
use berth_agent::config::MetadataBind;
use berth_agent::runtime::Runtime;
use berth_agent::runtime::simulated::{SimulatedRuntime, SimulatedSettings};
use berth_agent::{Agent, AgentConfig};
use berth_server::{Running, ServerConfig};
use berth_store::{RedbStore, Store};
use simulated::{PATIENCE, client, wait_tasks};

/// The reason the server gives with a lost-after of one second.
const LOST_REASON: &str = "Task stopped because its container instance's agent was disconnected for longer than 1s (instance lost).";

/// The store of a test's control plane, in `dir`.
fn store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(RedbStore::open(dir.join("berth.redb")).expect("store opens"))
}

/// A control plane over `store`, losing agents after `lost_after`, with `cluster` created.
async fn server(
    store: Arc<dyn Store>,
    lost_after: Duration,
    cluster: &str,
) -> (Running, aws_sdk_ecs::Client, String) {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        agent_lost_after: lost_after,
        ..ServerConfig::default()
    };
    let running = berth_server::start_with_store(config, store).await.expect("server starts");
    let endpoint = format!("http://{}", running.addr);
    let client = client(&endpoint);
    client.create_cluster().cluster_name(cluster).send().await.expect("cluster created");
    (running, client, endpoint)
}

/// An agent of `cluster` over `runtime`, its identity in `data_dir`, connected.
async fn agent(endpoint: &str, cluster: &str, data_dir: PathBuf, runtime: &SimulatedRuntime) -> Agent {
    let mut config = AgentConfig::new(endpoint, cluster, data_dir);
    config.cpu_units = Some(2048);
    config.memory_mib = Some(4096);
    config.metadata = MetadataBind::Off;
    let mut agent = Agent::start(config, Arc::new(runtime.clone()), None).await.expect("agent starts");
    assert!(agent.wait_connected(PATIENCE).await, "the agent connects");
    agent
}

/// Registers a one-container definition and runs one task of it in `cluster`; returns the
/// task's ARN once it is RUNNING.
async fn running_task(client: &aws_sdk_ecs::Client, cluster: &str) -> String {
    let container = ContainerDefinition::builder()
        .name("main")
        .image("registry.example/app:1")
        .cpu(256)
        .memory(512)
        .build();
    let registered = client
        .register_task_definition()
        .family("lost")
        .container_definitions(container)
        .send()
        .await
        .expect("task definition registers");
    let definition = registered.task_definition().and_then(|d| d.task_definition_arn()).expect("ARN");
    let run = client.run_task().cluster(cluster).task_definition(definition).send().await.expect("RunTask");
    assert!(run.failures().is_empty(), "{:?}", run.failures());
    let arn = run.tasks()[0].task_arn().expect("task ARN").to_string();
    wait_tasks(client, cluster, std::slice::from_ref(&arn), |t| t.last_status() == Some("RUNNING")).await;
    arn
}

fn is_stopped(task: &Task) -> bool {
    task.last_status() == Some("STOPPED")
}

/// How many of the runtime's containers of `task_arn` run.
async fn running_containers(runtime: &SimulatedRuntime, task_arn: &str) -> usize {
    let managed = runtime.list_managed().await.expect("list containers");
    managed
        .iter()
        .filter(|c| c.labels.get("com.amazonaws.ecs.task-arn").map(String::as_str) == Some(task_arn))
        .filter(|c| c.state.running)
        .count()
}

/// Waits until no container of `task_arn` runs in `runtime`.
async fn wait_containers_gone(runtime: &SimulatedRuntime, task_arn: &str) {
    let deadline = Instant::now() + PATIENCE;
    while running_containers(runtime, task_arn).await > 0 {
        assert!(Instant::now() < deadline, "the returning agent did not stop the lost task's containers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_away_past_the_duration_loses_its_tasks_and_stops_them_when_it_returns() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (server, client, endpoint) = server(store(dir.path()), Duration::from_secs(1), "lost").await;
    let runtime = SimulatedRuntime::new(SimulatedSettings::default());
    let first = agent(&endpoint, "lost", dir.path().join("agent"), &runtime).await;
    let instance_arn = first.instance_arn.clone();
    let task_arn = running_task(&client, "lost").await;

    first.shutdown().await.expect("agent shuts down");
    assert_eq!(running_containers(&runtime, &task_arn).await, 1, "the host keeps running the task meanwhile");

    let stopped = wait_tasks(&client, "lost", std::slice::from_ref(&task_arn), is_stopped).await;
    let task = &stopped[0];
    assert_eq!(task.desired_status(), Some("STOPPED"));
    assert_eq!(task.stopped_reason(), Some(LOST_REASON));
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("InfrastructureHealth"));
    assert!(task.stopped_at().is_some() && task.execution_stopped_at().is_some());
    assert!(task.containers().iter().all(|c| c.last_status() == Some("STOPPED")));

    let described = client
        .describe_container_instances()
        .cluster("lost")
        .container_instances(&instance_arn)
        .send()
        .await
        .expect("describe container instances");
    let instance = &described.container_instances()[0];
    assert!(!instance.agent_connected());
    assert_eq!(instance.running_tasks_count(), 0);
    let remaining_cpu = instance
        .remaining_resources()
        .iter()
        .find(|r| r.name() == Some("CPU"))
        .map(|r| r.integer_value())
        .expect("remaining CPU");
    assert_eq!(remaining_cpu, 2048, "the lost task's reservation is given back");

    // The same host comes back: same identity, same containers.
    let second = agent(&endpoint, "lost", dir.path().join("agent"), &runtime).await;
    assert_eq!(second.instance_arn, instance_arn);
    wait_containers_gone(&runtime, &task_arn).await;
    let after = wait_tasks(&client, "lost", std::slice::from_ref(&task_arn), is_stopped).await;
    assert_eq!(after[0].stopped_reason(), Some(LOST_REASON), "the agent's report keeps the lost reason");

    second.shutdown().await.expect("agent shuts down");
    server.shutdown().await.expect("server shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_back_within_the_duration_keeps_its_task() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (server, client, endpoint) = server(store(dir.path()), Duration::from_secs(300), "blip").await;
    let runtime = SimulatedRuntime::new(SimulatedSettings::default());
    let first = agent(&endpoint, "blip", dir.path().join("agent"), &runtime).await;
    let task_arn = running_task(&client, "blip").await;

    first.shutdown().await.expect("agent shuts down");
    let second = agent(&endpoint, "blip", dir.path().join("agent"), &runtime).await;

    let described = client.describe_tasks().cluster("blip").tasks(&task_arn).send().await.expect("describe");
    assert_eq!(described.tasks()[0].last_status(), Some("RUNNING"));
    assert_eq!(described.tasks()[0].stopped_reason(), None);
    assert_eq!(running_containers(&runtime, &task_arn).await, 1, "the re-adopted container keeps running");

    second.shutdown().await.expect("agent shuts down");
    server.shutdown().await.expect("server shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_an_agent_that_never_returns_is_still_lost() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // One store for both servers, as one data directory is for two runs of `berth server`.
    let store = store(dir.path());
    let (first_server, client, endpoint) = server(store.clone(), Duration::from_secs(300), "restart").await;
    let runtime = SimulatedRuntime::new(SimulatedSettings::default());
    let agent = agent(&endpoint, "restart", dir.path().join("agent"), &runtime).await;
    let task_arn = running_task(&client, "restart").await;
    // The control plane goes first, while the agent is still connected; then the agent, for good.
    first_server.shutdown().await.expect("server shuts down");
    drop(client);
    let _ = agent.shutdown().await;

    let (second_server, client, _) = server(store, Duration::from_secs(1), "restart").await;
    let stopped = wait_tasks(&client, "restart", std::slice::from_ref(&task_arn), is_stopped).await;
    assert_eq!(stopped[0].stopped_reason(), Some(LOST_REASON));
    second_server.shutdown().await.expect("server shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_leaves_the_containers_of_another_agent_on_the_same_engine_alone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (server, client, endpoint) = server(store(dir.path()), Duration::from_secs(300), "shared").await;
    // Two hosts on one container engine, as the multi-host tests' agents share one Docker Engine.
    let runtime = SimulatedRuntime::new(SimulatedSettings::default());
    let first = agent(&endpoint, "shared", dir.path().join("one"), &runtime).await;
    let second = agent(&endpoint, "shared", dir.path().join("two"), &runtime).await;
    let container = ContainerDefinition::builder()
        .name("main")
        .image("registry.example/app:1")
        .cpu(256)
        .memory(512)
        .build();
    let registered = client
        .register_task_definition()
        .family("shared")
        .container_definitions(container)
        .send()
        .await
        .expect("task definition registers");
    let definition = registered.task_definition().and_then(|d| d.task_definition_arn()).expect("ARN");
    let distinct = aws_sdk_ecs::types::PlacementConstraint::builder()
        .r#type(aws_sdk_ecs::types::PlacementConstraintType::DistinctInstance)
        .build();
    let run = client
        .run_task()
        .cluster("shared")
        .task_definition(definition)
        .count(2)
        .placement_constraints(distinct)
        .send()
        .await
        .expect("RunTask");
    let arns: Vec<String> = run.tasks().iter().filter_map(|t| t.task_arn()).map(str::to_string).collect();
    assert_eq!(arns.len(), 2, "{:?}", run.failures());
    wait_tasks(&client, "shared", &arns, |t| t.last_status() == Some("RUNNING")).await;

    first.shutdown().await.expect("agent shuts down");
    let first = agent(&endpoint, "shared", dir.path().join("one"), &runtime).await;
    // The restarted agent has had its full list; give a stray stop a moment to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for arn in &arns {
        assert_eq!(running_containers(&runtime, arn).await, 1, "{arn} lost its container");
    }
    let described = client.describe_tasks().cluster("shared").set_tasks(Some(arns.clone())).send().await;
    let tasks = described.expect("describe").tasks().to_vec();
    assert!(tasks.iter().all(|t| t.last_status() == Some("RUNNING")), "{tasks:#?}");

    first.shutdown().await.expect("agent shuts down");
    second.shutdown().await.expect("agent shuts down");
    server.shutdown().await.expect("server shuts down");
}
