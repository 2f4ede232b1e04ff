//! Several hosts, for real: the control plane and three agents, each a Docker container on a
//! private network running this build's `berth` binary (see `berth_testkit::hosts`), the task
//! containers on this machine's Docker Engine. The test talks to the control plane through the
//! AWS SDK on a published port, and cuts a host off with `docker network disconnect`.
//!
//! Containers that run until stopped get `"stopTimeout": 1`: `sleep` as PID 1 ignores SIGTERM.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerInstanceStatus, DeploymentConfiguration, DesiredStatus, LaunchType,
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType,
    SchedulingStrategy, Task,
};
use berth_testkit::hosts::Hosts;
use bollard::query_parameters::InspectContainerOptions;

/// How long the control plane waits for a disconnected agent in these tests.
const LOST_AFTER: &str = "3s";

/// How long a test waits for something that involves the server noticing a silent agent (its
/// 30 s silence limit), the lost-after, and the agent's reconnect backoff (at most 30 s).
const PATIENCE: Duration = Duration::from_secs(180);

/// Waits until `check` returns `Some`, polling; panics with `what` after [`PATIENCE`].
async fn eventually<T, F, Fut>(hosts: &Hosts, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting until {what}; control plane log:\n{}", hosts.logs("server"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The connected instances of `cluster`, by availability zone.
async fn connected_by_zone(client: &aws_sdk_ecs::Client, cluster: &str) -> BTreeMap<String, String> {
    let Ok(listed) = client.list_container_instances().cluster(cluster).send().await else {
        return BTreeMap::new();
    };
    if listed.container_instance_arns().is_empty() {
        return BTreeMap::new();
    }
    let Ok(described) = client
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(listed.container_instance_arns().to_vec()))
        .send()
        .await
    else {
        return BTreeMap::new();
    };
    described
        .container_instances()
        .iter()
        .filter(|i| i.agent_connected())
        .filter_map(|i| {
            let zone = i.attributes().iter().find(|a| a.name() == "ecs.availability-zone")?.value()?;
            Some((zone.to_string(), i.container_instance_arn()?.to_string()))
        })
        .collect()
}

async fn describe(client: &aws_sdk_ecs::Client, cluster: &str, arns: &[String]) -> Vec<Task> {
    client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .map(|out| out.tasks().to_vec())
        .unwrap_or_default()
}

/// Whether the Docker container `id` still runs (a removed one does not).
async fn container_runs(docker: &bollard::Docker, id: &str) -> bool {
    match docker.inspect_container(id, None::<InspectContainerOptions>).await {
        Ok(inspect) => inspect.state.and_then(|s| s.running).unwrap_or(false),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_cut_off_past_the_lost_after_loses_its_tasks_and_stops_them_when_it_returns() {
    let image = berth_testkit::busybox_image().await;
    let hosts =
        Hosts::start(std::path::Path::new(env!("CARGO_BIN_EXE_berth")), &["--agent-lost-after", LOST_AFTER])
            .await;
    let client = support::client(&hosts.endpoint);
    let cluster = hosts.prefix.clone();
    client.create_cluster().cluster_name(&cluster).send().await.expect("cluster created");
    for (host, zone) in [("host-a", "zone-a"), ("host-b", "zone-b"), ("host-c", "zone-c")] {
        hosts.add_agent(host, &cluster, zone, &[]);
    }
    let instances = eventually(&hosts, "three agents are connected", || async {
        let found = connected_by_zone(&client, &cluster).await;
        (found.len() == 3).then_some(found)
    })
    .await;

    let container = ContainerDefinition::builder()
        .name("main")
        .image(&image)
        .memory(32)
        .stop_timeout(1)
        .command("sleep")
        .command("3600")
        .build();
    let registered = client
        .register_task_definition()
        .family("hosts")
        .container_definitions(container)
        .send()
        .await
        .expect("task definition registers");
    let definition =
        registered.task_definition().and_then(|d| d.task_definition_arn()).expect("ARN").to_string();
    let run = client
        .run_task()
        .cluster(&cluster)
        .task_definition(&definition)
        .count(3)
        .placement_constraints(
            PlacementConstraint::builder().r#type(PlacementConstraintType::DistinctInstance).build(),
        )
        .send()
        .await
        .expect("RunTask");
    assert!(run.failures().is_empty(), "{:?}", run.failures());
    let arns: Vec<String> = run.tasks().iter().filter_map(|t| t.task_arn()).map(str::to_string).collect();
    let tasks = eventually(&hosts, "the three tasks run", || async {
        let tasks = describe(&client, &cluster, &arns).await;
        (tasks.len() == 3 && tasks.iter().all(|t| t.last_status() == Some("RUNNING"))).then_some(tasks)
    })
    .await;

    let cut_instance = &instances["zone-a"];
    let cut_task =
        tasks.iter().find(|t| t.container_instance_arn() == Some(cut_instance)).expect("a task on host-a");
    let cut_arn = cut_task.task_arn().expect("ARN").to_string();
    let cut_container = cut_task.containers()[0].runtime_id().expect("runtime id").to_string();
    let docker = berth_testkit::docker().await;
    assert!(container_runs(&docker, &cut_container).await);

    hosts.disconnect("host-a");
    let lost = eventually(&hosts, "host-a's task is stopped as lost", || async {
        let task = describe(&client, &cluster, std::slice::from_ref(&cut_arn)).await.into_iter().next()?;
        (task.last_status() == Some("STOPPED")).then_some(task)
    })
    .await;
    assert_eq!(
        lost.stopped_reason(),
        Some(
            "Task stopped because its container instance's agent was disconnected for longer than 3s \
             (instance lost)."
        )
    );
    assert_eq!(lost.stop_code().map(|c| c.as_str()), Some("InfrastructureHealth"));
    let others: Vec<String> = arns.iter().filter(|a| **a != cut_arn).cloned().collect();
    for task in describe(&client, &cluster, &others).await {
        assert_eq!(task.last_status(), Some("RUNNING"), "the other hosts keep their tasks");
    }
    assert!(
        container_runs(&docker, &cut_container).await,
        "a host that cannot hear the control plane keeps running its containers"
    );

    hosts.connect("host-a");
    eventually(&hosts, "the returning host stops the lost task's container", || async {
        (!container_runs(&docker, &cut_container).await).then_some(())
    })
    .await;
    for task in describe(&client, &cluster, &others).await {
        assert_eq!(task.last_status(), Some("RUNNING"), "host-a touched no other host's containers");
        let id = task.containers()[0].runtime_id().expect("runtime id");
        assert!(container_runs(&docker, id).await, "host-a stopped another host's container");
    }
}

/// The RUNNING tasks of `service` (desired RUNNING, last status RUNNING).
async fn running_of(client: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Vec<Task> {
    let Ok(listed) = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
    else {
        return Vec::new();
    };
    if listed.task_arns().is_empty() {
        return Vec::new();
    }
    let tasks = describe(client, cluster, listed.task_arns()).await;
    tasks.into_iter().filter(|t| t.last_status() == Some("RUNNING")).collect()
}

/// How many of `tasks` run on `instance`.
fn on(tasks: &[Task], instance: &str) -> usize {
    tasks.iter().filter(|t| t.container_instance_arn() == Some(instance)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_follow_hosts_that_join_drain_and_get_lost() {
    let image = berth_testkit::busybox_image().await;
    let hosts =
        Hosts::start(std::path::Path::new(env!("CARGO_BIN_EXE_berth")), &["--agent-lost-after", LOST_AFTER])
            .await;
    let client = support::client(&hosts.endpoint);
    let cluster = hosts.prefix.clone();
    client.create_cluster().cluster_name(&cluster).send().await.expect("cluster created");
    for (host, zone) in [("host-a", "zone-a"), ("host-b", "zone-b"), ("host-c", "zone-c")] {
        hosts.add_agent(host, &cluster, zone, &[]);
    }
    eventually(&hosts, "three agents are connected", || async {
        (connected_by_zone(&client, &cluster).await.len() == 3).then_some(())
    })
    .await;
    let container = ContainerDefinition::builder()
        .name("main")
        .image(&image)
        .memory(16)
        .stop_timeout(1)
        .command("sleep")
        .command("3600")
        .build();
    let registered = client
        .register_task_definition()
        .family("svc")
        .container_definitions(container)
        .send()
        .await
        .expect("task definition registers");
    let definition =
        registered.task_definition().and_then(|d| d.task_definition_arn()).expect("ARN").to_string();
    client
        .create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&definition)
        .desired_count(3)
        .launch_type(LaunchType::Ec2)
        .placement_strategy(
            PlacementStrategy::builder().r#type(PlacementStrategyType::Spread).field("instanceId").build(),
        )
        .deployment_configuration(
            DeploymentConfiguration::builder().minimum_healthy_percent(100).maximum_percent(200).build(),
        )
        .send()
        .await
        .expect("REPLICA service created");
    client
        .create_service()
        .cluster(&cluster)
        .service_name("daemon")
        .task_definition(&definition)
        .launch_type(LaunchType::Ec2)
        .scheduling_strategy(SchedulingStrategy::Daemon)
        .send()
        .await
        .expect("DAEMON service created");
    eventually(&hosts, "web runs 3 tasks and the daemon one per host", || async {
        let web = running_of(&client, &cluster, "web").await.len();
        let daemon = running_of(&client, &cluster, "daemon").await.len();
        (web == 3 && daemon == 3).then_some(())
    })
    .await;

    // A fourth host joins: the daemon gains a task on it.
    hosts.add_agent("host-d", &cluster, "zone-d", &[]);
    let instances = eventually(&hosts, "host-d is connected", || async {
        let found = connected_by_zone(&client, &cluster).await;
        (found.len() == 4).then_some(found)
    })
    .await;
    eventually(&hosts, "the daemon runs a task on host-d", || async {
        let daemon = running_of(&client, &cluster, "daemon").await;
        (daemon.len() == 4 && on(&daemon, &instances["zone-d"]) == 1).then_some(())
    })
    .await;

    // Draining host-b moves web's task away without ever going below 100 % of 3 running.
    let drained = instances["zone-b"].clone();
    client
        .update_container_instances_state()
        .cluster(&cluster)
        .container_instances(&drained)
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("DRAINING");
    let fewest = std::cell::Cell::new(usize::MAX);
    eventually(&hosts, "web's tasks leave the draining host", || async {
        let web = running_of(&client, &cluster, "web").await;
        fewest.set(fewest.get().min(web.len()));
        (web.len() == 3 && on(&web, &drained) == 0).then_some(())
    })
    .await;
    let fewest = fewest.get();
    assert!(fewest >= 3, "draining took web down to {fewest} running tasks, below its minimumHealthyPercent");

    // Cutting host-c off past the lost-after: web's task there is replaced on the others.
    let cut = instances["zone-c"].clone();
    let web = running_of(&client, &cluster, "web").await;
    let Some(cut_task) = web.iter().find(|t| t.container_instance_arn() == Some(cut.as_str())) else {
        panic!("web should have a task on host-c after the drain: {web:#?}");
    };
    let cut_container = cut_task.containers()[0].runtime_id().expect("runtime id").to_string();
    hosts.disconnect("host-c");
    eventually(&hosts, "web's task on the lost host is replaced on the others", || async {
        let web = running_of(&client, &cluster, "web").await;
        (web.len() == 3 && on(&web, &cut) == 0).then_some(())
    })
    .await;
    let docker = berth_testkit::docker().await;
    hosts.connect("host-c");
    eventually(&hosts, "host-c stops its stale container once back", || async {
        (!container_runs(&docker, &cut_container).await).then_some(())
    })
    .await;
}
