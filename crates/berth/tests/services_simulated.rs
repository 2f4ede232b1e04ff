//! Services through the AWS SDK on simulated capacity: the service controller starting,
//! replacing, rolling and stopping tasks on real agents over the simulated runtime.
//!
//! Each test checks what a user sees through DescribeServices (counts, deployments, events) and
//! ListTasks/DescribeTasks (which tasks run where, of which revision). Waits poll until the
//! state is reached and fail after [`PATIENCE`]; nothing asserts a duration.

#[path = "support/simulated.rs"]
mod simulated;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerInstanceStatus, DeploymentCircuitBreaker, DeploymentConfiguration,
    DesiredStatus, PortMapping, SchedulingStrategy, Service, Task,
};
use simulated::{PATIENCE, SimCluster};

/// Waits until the service satisfies `done`; panics with the service after [`PATIENCE`].
async fn wait_service(cluster: &SimCluster, name: &str, done: impl Fn(&Service) -> bool) -> Service {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let service = describe(cluster, name).await;
        if done(&service) {
            return service;
        }
        if Instant::now() > deadline {
            panic!("the service did not get there: {service:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn describe(cluster: &SimCluster, name: &str) -> Service {
    let described = cluster
        .client
        .describe_services()
        .cluster(&cluster.name)
        .services(name)
        .send()
        .await
        .expect("DescribeServices answers");
    described.services().first().cloned().expect("the service is described")
}

/// Steady: one deployment, COMPLETED, with every desired task running.
fn steady(service: &Service) -> bool {
    let deployments = service.deployments();
    deployments.len() == 1
        && deployments[0].rollout_state().map(|s| s.as_str()) == Some("COMPLETED")
        && service.running_count() == service.desired_count()
        && service.pending_count() == 0
}

fn messages(service: &Service) -> Vec<String> {
    service.events().iter().filter_map(|e| e.message()).map(str::to_string).collect()
}

/// The service's tasks that should run, as described now.
async fn tasks_of(cluster: &SimCluster, name: &str) -> Vec<Task> {
    let listed = cluster
        .client
        .list_tasks()
        .cluster(&cluster.name)
        .service_name(name)
        .desired_status(DesiredStatus::Running)
        .max_results(100)
        .send()
        .await
        .expect("ListTasks answers");
    let arns = listed.task_arns().to_vec();
    if arns.is_empty() {
        return Vec::new();
    }
    let described = cluster
        .client
        .describe_tasks()
        .cluster(&cluster.name)
        .set_tasks(Some(arns))
        .send()
        .await
        .expect("DescribeTasks answers");
    described.tasks().to_vec()
}

async fn create(cluster: &SimCluster, name: &str, definition: &str, desired: i32) -> Service {
    let created = cluster
        .client
        .create_service()
        .cluster(&cluster.name)
        .service_name(name)
        .task_definition(definition)
        .desired_count(desired)
        .send()
        .await
        .expect("CreateService answers");
    created.service().cloned().expect("the service")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_service_reaches_a_steady_state_and_scales_both_ways() {
    let mut cluster = SimCluster::start("replica").await;
    cluster.add_instances(&["zone-a", "zone-b", "zone-c"], 4096).await;
    let definition = cluster.register("web", 128).await;
    create(&cluster, "web", &definition, 3).await;
    let service = wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 3).await;
    let events = messages(&service);
    assert!(events.iter().any(|m| m == "(service web) has reached a steady state."), "{events:#?}");
    assert!(events.iter().any(|m| m.starts_with("(service web) has started 3 tasks: (task ")), "{events:#?}");
    let zones: BTreeSet<String> = tasks_of(&cluster, "web")
        .await
        .iter()
        .filter_map(|t| t.availability_zone())
        .map(str::to_string)
        .collect();
    assert_eq!(zones.len(), 3, "spread over the zones by default: {zones:?}");

    cluster
        .client
        .update_service()
        .cluster(&cluster.name)
        .service("web")
        .desired_count(5)
        .send()
        .await
        .expect("scale up");
    wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 5).await;
    cluster
        .client
        .update_service()
        .cluster(&cluster.name)
        .service("web")
        .desired_count(1)
        .send()
        .await
        .expect("scale in");
    let service = wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 1).await;
    assert!(
        messages(&service).iter().any(|m| m.starts_with("(service web) has stopped 4 running tasks")),
        "{:#?}",
        messages(&service)
    );
    let deadline = Instant::now() + PATIENCE;
    while tasks_of(&cluster, "web").await.len() != 1 {
        assert!(Instant::now() < deadline, "one task left to run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_keeps_half_running_and_ends_on_the_new_revision() {
    let mut cluster = SimCluster::start("rolling").await;
    cluster.add_instances(&["zone-a", "zone-b"], 4096).await;
    let first = cluster.register("web", 128).await;
    let second = cluster.register("web", 128).await;
    cluster
        .client
        .create_service()
        .cluster(&cluster.name)
        .service_name("web")
        .task_definition(&first)
        .desired_count(4)
        .deployment_configuration(
            DeploymentConfiguration::builder().minimum_healthy_percent(50).maximum_percent(200).build(),
        )
        .send()
        .await
        .expect("CreateService answers");
    wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 4).await;

    cluster
        .client
        .update_service()
        .cluster(&cluster.name)
        .service("web")
        .task_definition(&second)
        .send()
        .await
        .expect("UpdateService answers");
    let mut fewest = usize::MAX;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listed = cluster.client.list_tasks().cluster(&cluster.name).send().await.expect("ListTasks");
        let arns = listed.task_arns().to_vec();
        let tasks = cluster
            .client
            .describe_tasks()
            .cluster(&cluster.name)
            .set_tasks(Some(arns))
            .send()
            .await
            .expect("DescribeTasks");
        let running: Vec<&Task> =
            tasks.tasks().iter().filter(|t| t.last_status() == Some("RUNNING")).collect();
        fewest = fewest.min(running.len());
        let service = describe(&cluster, "web").await;
        let all_new =
            running.len() == 4 && running.iter().all(|t| t.task_definition_arn() == Some(second.as_str()));
        if steady(&service) && all_new && service.task_definition() == Some(second.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout did not finish: {service:#?}");
    }
    assert!(fewest >= 2, "at least half of 4 tasks ran throughout; the fewest seen was {fewest}");
    let service = describe(&cluster, "web").await;
    assert!(
        messages(&service)
            .iter()
            .any(|m| m.starts_with("(service web) (deployment ecs-svc/")
                && m.ends_with(") deployment completed.")),
        "{:#?}",
        messages(&service)
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_runs_on_every_instance_including_later_ones_and_leaves_draining_ones() {
    let mut cluster = SimCluster::start("daemon").await;
    cluster.add_instances(&["zone-a"], 4096).await;
    let definition = cluster.register("agent", 64).await;
    cluster
        .client
        .create_service()
        .cluster(&cluster.name)
        .service_name("agent")
        .task_definition(&definition)
        .scheduling_strategy(SchedulingStrategy::Daemon)
        .send()
        .await
        .expect("CreateService answers");
    wait_service(&cluster, "agent", |s| steady(s) && s.running_count() == 1).await;
    let later = cluster.add_instances(&["zone-b"], 4096).await;
    wait_service(&cluster, "agent", |s| steady(s) && s.running_count() == 2 && s.desired_count() == 2).await;
    let on_later = |tasks: &[Task]| {
        tasks.iter().filter(|t| t.container_instance_arn() == Some(later[0].as_str())).count()
    };
    assert_eq!(on_later(&tasks_of(&cluster, "agent").await), 1);

    cluster
        .client
        .update_container_instances_state()
        .cluster(&cluster.name)
        .container_instances(&later[0])
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("drain");
    wait_service(&cluster, "agent", |s| steady(s) && s.running_count() == 1 && s.desired_count() == 1).await;
    assert_eq!(on_later(&tasks_of(&cluster, "agent").await), 0);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_an_instance_moves_replica_tasks_away() {
    let mut cluster = SimCluster::start("drain").await;
    let instances = cluster.add_instances(&["zone-a", "zone-b"], 4096).await;
    let definition = cluster.register("web", 128).await;
    create(&cluster, "web", &definition, 4).await;
    wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 4).await;
    cluster
        .client
        .update_container_instances_state()
        .cluster(&cluster.name)
        .container_instances(&instances[0])
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("drain");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let tasks = tasks_of(&cluster, "web").await;
        let moved = tasks.len() == 4
            && tasks.iter().all(|t| {
                t.container_instance_arn() == Some(instances[1].as_str())
                    && t.last_status() == Some("RUNNING")
            });
        if moved && steady(&describe(&cluster, "web").await) {
            break;
        }
        assert!(Instant::now() < deadline, "the tasks did not move: {tasks:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_service_task_is_replaced_and_deleting_the_service_stops_the_rest() {
    let mut cluster = SimCluster::start("replace").await;
    cluster.add_instances(&["zone-a"], 4096).await;
    let definition = cluster.register("web", 128).await;
    create(&cluster, "web", &definition, 2).await;
    wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 2).await;
    let before: BTreeSet<String> =
        tasks_of(&cluster, "web").await.iter().filter_map(|t| t.task_arn()).map(str::to_string).collect();
    let victim = before.iter().next().cloned().expect("a task");
    cluster.client.stop_task().cluster(&cluster.name).task(&victim).send().await.expect("StopTask");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now: BTreeSet<String> = tasks_of(&cluster, "web")
            .await
            .iter()
            .filter(|t| t.last_status() == Some("RUNNING"))
            .filter_map(|t| t.task_arn())
            .map(str::to_string)
            .collect();
        if now.len() == 2 && !now.contains(&victim) {
            break;
        }
        assert!(Instant::now() < deadline, "the stopped task was not replaced: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    cluster
        .client
        .delete_service()
        .cluster(&cluster.name)
        .service("web")
        .force(true)
        .send()
        .await
        .expect("DeleteService");
    let service = wait_service(&cluster, "web", |s| s.status() == Some("INACTIVE")).await;
    assert_eq!(service.running_count(), 0);
    let listed = cluster
        .client
        .list_tasks()
        .cluster(&cluster.name)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .expect("ListTasks");
    assert!(listed.task_arns().is_empty(), "{:?}", listed.task_arns());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_that_fail_to_start_trip_the_circuit_breaker_and_roll_back() {
    let mut cluster = SimCluster::start("breaker").await;
    cluster.add_instances(&["zone-a"], 4096).await;
    let good = cluster.register("web", 128).await;
    // A task holding the first ephemeral host port, which the bad revision asks for statically:
    // the placement engine only knows static ports, so the bad tasks are placed and fail to start.
    let holder = register_with_port(&cluster, "holder", None).await;
    let held = cluster.run(&holder, 1, Vec::new(), Vec::new()).await;
    simulated::wait_tasks(&cluster.client, &cluster.name, &simulated::task_arns(&held), |t| {
        t.last_status() == Some("RUNNING")
    })
    .await;
    let bad = register_with_port(&cluster, "web", Some(49153)).await;
    cluster
        .client
        .create_service()
        .cluster(&cluster.name)
        .service_name("web")
        .task_definition(&good)
        .desired_count(1)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("CreateService answers");
    wait_service(&cluster, "web", |s| steady(s) && s.running_count() == 1).await;
    cluster
        .client
        .update_service()
        .cluster(&cluster.name)
        .service("web")
        .task_definition(&bad)
        .send()
        .await
        .expect("update");
    let service = wait_service(&cluster, "web", |s| {
        steady(s)
            && s.task_definition() == Some(good.as_str())
            && messages(s).iter().any(|m| m.contains("deployment failed: tasks failed to start."))
    })
    .await;
    let events = messages(&service);
    assert!(
        events.iter().any(|m| m.starts_with("(service web) rolling back to deployment ecs-svc/")),
        "{events:#?}"
    );
    let tasks = tasks_of(&cluster, "web").await;
    assert!(tasks.iter().all(|t| t.task_definition_arn() == Some(good.as_str())), "{tasks:#?}");
    cluster.stop().await;
}

/// A one-container definition whose container maps port 8080, to `host_port` when given.
async fn register_with_port(cluster: &SimCluster, family: &str, host_port: Option<i32>) -> String {
    let container = ContainerDefinition::builder()
        .name("main")
        .image("registry.example/app:1")
        .cpu(128)
        .memory(128)
        .essential(true)
        .port_mappings(PortMapping::builder().container_port(8080).set_host_port(host_port).build())
        .build();
    let output = cluster
        .client
        .register_task_definition()
        .family(family)
        .container_definitions(container)
        .send()
        .await
        .expect("task definition registers");
    output.task_definition().and_then(|d| d.task_definition_arn()).expect("an ARN").to_string()
}

/// Waits until the service's only task set satisfies `done`; panics with it after [`PATIENCE`].
async fn wait_task_set(
    cluster: &SimCluster,
    service: &str,
    done: impl Fn(&aws_sdk_ecs::types::TaskSet) -> bool,
) -> aws_sdk_ecs::types::TaskSet {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let described = cluster
            .client
            .describe_task_sets()
            .cluster(&cluster.name)
            .service(service)
            .send()
            .await
            .expect("DescribeTaskSets answers");
        let set = described.task_sets().first().cloned().expect("one task set");
        if done(&set) {
            return set;
        }
        if Instant::now() > deadline {
            panic!("the task set did not get there: {set:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_service_runs_what_its_task_sets_scale_to_and_stops_a_deleted_sets_tasks() {
    use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType, Scale, ScaleUnit};
    let mut cluster = SimCluster::start("external").await;
    cluster.add_instances(&["zone-a", "zone-b"], 4096).await;
    let definition = cluster.register("web", 128).await;
    cluster
        .client
        .create_service()
        .cluster(&cluster.name)
        .service_name("web")
        .desired_count(4)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::External)
                .build()
                .expect("controller"),
        )
        .send()
        .await
        .expect("CreateService answers");
    let half = Scale::builder().value(50.0).unit(ScaleUnit::Percent).build();
    let created = cluster
        .client
        .create_task_set()
        .cluster(&cluster.name)
        .service("web")
        .task_definition(&definition)
        .scale(half)
        .send()
        .await
        .expect("CreateTaskSet answers")
        .task_set
        .expect("the task set");
    let id = created.id().expect("an id").to_string();
    let wanted = created.computed_desired_count();
    assert_eq!(wanted, 2, "half of 4");
    let set = wait_task_set(&cluster, "web", |s| s.running_count() == wanted && s.pending_count() == 0).await;
    assert_eq!(set.stability_status().map(|s| s.as_str()), Some("STEADY_STATE"));
    let tasks = tasks_of(&cluster, "web").await;
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.started_by() == Some(id.as_str())), "{tasks:#?}");

    let full = Scale::builder().value(100.0).unit(ScaleUnit::Percent).build();
    cluster
        .client
        .update_task_set()
        .cluster(&cluster.name)
        .service("web")
        .task_set(&id)
        .scale(full)
        .send()
        .await
        .expect("UpdateTaskSet answers");
    wait_task_set(&cluster, "web", |s| s.running_count() == 4 && s.pending_count() == 0).await;

    cluster
        .client
        .delete_task_set()
        .cluster(&cluster.name)
        .service("web")
        .task_set(&id)
        .force(true)
        .send()
        .await
        .expect("DeleteTaskSet answers");
    let deadline = Instant::now() + PATIENCE;
    while !tasks_of(&cluster, "web").await.is_empty() {
        assert!(Instant::now() < deadline, "the deleted task set's tasks kept running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster
        .client
        .delete_service()
        .cluster(&cluster.name)
        .service("web")
        .force(true)
        .send()
        .await
        .expect("deleted");
    wait_service(&cluster, "web", |s| s.status() == Some("INACTIVE")).await;
    cluster.stop().await;
}
