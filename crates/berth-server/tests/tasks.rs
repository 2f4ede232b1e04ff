//! Tasks through the AWS SDK: RunTask, StartTask, StopTask, DescribeTasks, ListTasks and the
//! two state-change calls, against container instances written into the store as an agent's
//! registration leaves them. Placement must never overbook an instance, whatever the
//! concurrency; refused requests must write nothing; reports move a task through its lifecycle
//! and give its resources back.

mod common;
#[path = "common/instances.rs"]
mod instances;

use std::collections::BTreeSet;

use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerOverride, ContainerStateChange, DesiredStatus, KeyValuePair, LaunchType,
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType, PortMapping,
    PropagateTags, Tag, TaskField, TaskOverride, TaskStopCode,
};
use berth_server::state::keys;
use berth_server::state::tasks::Assignment;
use instances::{Instance, Remaining, scope};

const CLUSTER: &str = "prod";

/// A cluster `prod` and two task definitions: `web` (an app publishing host port 8080 and a
/// sidecar with only a soft memory limit: 160 CPU units, 320 MiB) and `batch` (128 units, 256 MiB,
/// no ports).
async fn setup() -> common::TestServer {
    let server = common::start().await;
    let ecs = &server.client;
    ecs.create_cluster().cluster_name(CLUSTER).send().await.expect("cluster");
    let app = ContainerDefinition::builder()
        .name("app")
        .image("python:3")
        .cpu(128)
        .memory(256)
        .port_mappings(PortMapping::builder().container_port(8000).host_port(8080).build())
        .build();
    let sidecar =
        ContainerDefinition::builder().name("sidecar").image("nginx").cpu(32).memory_reservation(64).build();
    ecs.register_task_definition()
        .family("web")
        .container_definitions(app)
        .container_definitions(sidecar)
        .tags(Tag::builder().key("team").value("web").build())
        .send()
        .await
        .expect("web");
    let job = ContainerDefinition::builder().name("job").image("busybox").cpu(128).memory(256).build();
    ecs.register_task_definition().family("batch").container_definitions(job).send().await.expect("batch");
    server
}

fn id_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

async fn run(
    server: &common::TestServer,
    definition: &str,
    count: i32,
) -> aws_sdk_ecs::operation::run_task::RunTaskOutput {
    server
        .client
        .run_task()
        .cluster(CLUSTER)
        .task_definition(definition)
        .count(count)
        .send()
        .await
        .expect("run task")
}

async fn describe(server: &common::TestServer, arn: &str) -> aws_sdk_ecs::types::Task {
    let described =
        server.client.describe_tasks().cluster(CLUSTER).tasks(arn).send().await.expect("describe");
    described.tasks().first().cloned().expect("the task is described")
}

async fn report(server: &common::TestServer, arn: &str, status: &str) {
    let answer = server
        .client
        .submit_task_state_change()
        .cluster(CLUSTER)
        .task(arn)
        .status(status)
        .send()
        .await
        .expect("state change");
    assert_eq!(answer.acknowledgment(), Some("ACK"));
}

async fn assignment(server: &common::TestServer, instance: &str, task_arn: &str) -> Option<Assignment> {
    let key = keys::instance_task(&scope(), CLUSTER, instance, id_of(task_arn));
    berth_server::state::records::get::<Assignment>(&*server.store, &key)
        .await
        .expect("read")
        .map(|r| r.value)
}

#[tokio::test]
async fn run_one_task_and_describe_every_member() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name("app")
                .command("python")
                .command("-m")
                .command("http.server")
                .environment(KeyValuePair::builder().name("MODE").value("test").build())
                .memory(300)
                .build(),
        )
        .build();
    let ran = server
        .client
        .run_task()
        .cluster(CLUSTER)
        .task_definition("web")
        .overrides(overrides)
        .started_by("ci/job-7")
        .send()
        .await
        .expect("run task");
    assert!(ran.failures().is_empty(), "{:?}", ran.failures());
    assert_eq!(ran.tasks().len(), 1);
    let arn = ran.tasks()[0].task_arn().expect("task arn").to_string();
    let prefix = format!("arn:aws:ecs:us-east-1:000000000000:task/{CLUSTER}/");
    assert!(arn.starts_with(&prefix) && id_of(&arn).len() == 32, "{arn}");

    let task = describe(&server, &arn).await;
    assert_eq!(task.last_status(), Some("PROVISIONING"));
    assert_eq!(task.desired_status(), Some("RUNNING"));
    assert_eq!(task.version(), 1);
    assert_eq!(task.cpu(), Some("160"));
    assert_eq!(task.memory(), Some("364"), "300 MiB overridden for app plus sidecar's 64 MiB reservation");
    assert_eq!(task.group(), Some("family:web"));
    assert_eq!(task.started_by(), Some("ci/job-7"));
    assert_eq!(task.launch_type(), Some(&LaunchType::Ec2));
    assert_eq!(task.cluster_arn(), Some("arn:aws:ecs:us-east-1:000000000000:cluster/prod"));
    assert_eq!(task.container_instance_arn(), Some(scope().container_instance_arn(CLUSTER, "i1").as_str()));
    assert_eq!(task.task_definition_arn(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"));
    assert_eq!(task.availability_zone(), Some("us-east-1a"));
    assert!(task.created_at().is_some());
    assert!(task.tags().is_empty(), "tags only with include TAGS");
    let names: Vec<_> = task.containers().iter().map(|c| c.name().unwrap_or_default()).collect();
    assert_eq!(names, ["app", "sidecar"]);
    for container in task.containers() {
        assert_eq!(container.last_status(), Some("PENDING"));
        assert_eq!(container.task_arn(), Some(arn.as_str()));
        let container_arn = container.container_arn().expect("container arn");
        assert!(container_arn.starts_with(&format!(
            "arn:aws:ecs:us-east-1:000000000000:container/{CLUSTER}/{}/",
            id_of(&arn)
        )));
    }
    assert_eq!(task.containers()[0].image(), Some("python:3"));
    assert_eq!(task.containers()[0].memory(), Some("300"));
    let shown = task.overrides().expect("overrides").container_overrides();
    assert_eq!(shown.len(), 2, "one entry per container, as ECS shows them");
    assert_eq!(shown[0].command(), ["python", "-m", "http.server"]);
    assert_eq!(shown[0].memory(), Some(300));
    assert_eq!(shown[1].name(), Some("sidecar"));

    let left = instances::remaining(&server, CLUSTER, "i1").await;
    assert_eq!(left, Remaining { cpu: 4096 - 160, memory: 8192 - 364, ports: BTreeSet::from([22, 8080]) });
    let instance = instances::read(&server, CLUSTER, "i1").await;
    assert_eq!(instance.instance.pending_tasks_count, Some(1));
    let assigned = assignment(&server, "i1", &arn).await.expect("the agent session is told");
    assert_eq!((assigned.desired_status.as_str(), assigned.version), ("RUNNING", 1));
    server.stop().await;
}

#[tokio::test]
async fn ten_tasks_at_once_take_exactly_ten_times_the_demand() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(2048, 4096)).await;
    let ran = run(&server, "batch:1", 10).await;
    assert_eq!(ran.tasks().len(), 10);
    assert!(ran.failures().is_empty());
    let distinct: BTreeSet<_> = ran.tasks().iter().filter_map(|t| t.task_arn()).collect();
    assert_eq!(distinct.len(), 10);
    let left = instances::remaining(&server, CLUSTER, "i1").await;
    assert_eq!((left.cpu, left.memory), (2048 - 1280, 4096 - 2560));
    assert_eq!(instances::read(&server, CLUSTER, "i1").await.instance.pending_tasks_count, Some(10));
    server.stop().await;
}

#[tokio::test]
async fn refused_requests_write_nothing() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(2048, 4096)).await;
    let ecs = &server.client;
    for count in [0, 11] {
        assert_refused!(
            server,
            "InvalidParameterException",
            ecs.run_task().cluster(CLUSTER).task_definition("batch").count(count).send()
        );
    }
    assert_refused!(
        server,
        "ClusterNotFoundException",
        ecs.run_task().cluster("nowhere").task_definition("batch").send()
    );
    assert_refused!(
        server,
        "ClientException",
        ecs.run_task().cluster(CLUSTER).task_definition("missing").send()
    );
    assert_refused!(
        server,
        "ClientException",
        ecs.run_task().cluster(CLUSTER).task_definition("batch:9").send()
    );
    ecs.register_task_definition()
        .family("old")
        .container_definitions(ContainerDefinition::builder().name("a").image("busybox").memory(64).build())
        .send()
        .await
        .expect("register");
    ecs.deregister_task_definition().task_definition("old:1").send().await.expect("deregister");
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.run_task().cluster(CLUSTER).task_definition("old:1").send()
    );
    assert_refused!(
        server,
        "UnsupportedFeatureException",
        ecs.run_task().cluster(CLUSTER).task_definition("batch").launch_type(LaunchType::Fargate).send()
    );
    let unknown_container = TaskOverride::builder()
        .container_overrides(ContainerOverride::builder().name("nope").build())
        .build();
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.run_task().cluster(CLUSTER).task_definition("batch").overrides(unknown_container).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.run_task().cluster(CLUSTER).task_definition("batch").started_by("x".repeat(129)).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.run_task()
            .cluster(CLUSTER)
            .task_definition("batch")
            .tags(Tag::builder().key("aws:x").value("v").build())
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.run_task()
            .cluster(CLUSTER)
            .task_definition("batch")
            .propagate_tags(PropagateTags::Service)
            .send()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cluster_without_instances_says_so() {
    let server = setup().await;
    let before = server.revision().await;
    let err =
        server.client.run_task().cluster(CLUSTER).task_definition("batch").send().await.expect_err("refused");
    let service = err.into_service_error();
    assert_eq!(aws_sdk_ecs::error::ProvideErrorMetadata::code(&service), Some("InvalidParameterException"));
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::message(&service),
        Some("No Container Instances were found in your cluster.")
    );
    assert_eq!(server.revision().await, before);
    server.stop().await;
}

#[tokio::test]
async fn tasks_that_fit_nowhere_fail_with_the_engines_reasons() {
    let server = setup().await;
    let small = instances::add(&server, CLUSTER, "small", Instance::new(4096, 200)).await;
    let before = server.revision().await;
    let ran = run(&server, "batch", 1).await;
    assert!(ran.tasks().is_empty());
    assert_eq!(ran.failures().len(), 1);
    assert_eq!(ran.failures()[0].arn(), Some(small.as_str()));
    assert_eq!(ran.failures()[0].reason(), Some("RESOURCE:MEMORY"));
    assert_eq!(server.revision().await, before, "nothing is written for a task that did not fit");

    let offline = instances::add(&server, CLUSTER, "offline", Instance::new(4096, 8192).disconnected()).await;
    let ran = run(&server, "batch", 1).await;
    let reasons: Vec<_> = ran
        .failures()
        .iter()
        .map(|f| (f.arn().unwrap_or_default(), f.reason().unwrap_or_default()))
        .collect();
    assert!(reasons.contains(&(offline.as_str(), "AGENT")), "{reasons:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_static_host_port_is_taken_once() {
    let server = setup().await;
    let arn = instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    assert_eq!(run(&server, "web", 1).await.tasks().len(), 1);
    let second = run(&server, "web", 1).await;
    assert!(second.tasks().is_empty());
    assert_eq!(second.failures()[0].reason(), Some("RESOURCE:PORTS"));
    assert_eq!(second.failures()[0].arn(), Some(arn.as_str()));
    // Within one request too: two tasks of `web` cannot share the instance.
    instances::add(&server, CLUSTER, "i2", Instance::new(4096, 8192)).await;
    let both = run(&server, "web", 2).await;
    assert_eq!(both.tasks().len(), 1);
    assert_eq!(both.failures().len(), 2, "each instance says why it refused the second task");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_callers_never_overbook() {
    let server = setup().await;
    // 3 instances of 1024 MiB, tasks of 256 MiB: room for exactly 12.
    for id in ["a", "b", "c"] {
        instances::add(&server, CLUSTER, id, Instance::new(8192, 1024)).await;
    }
    let mut callers = Vec::new();
    for _ in 0..64 {
        let client = server.client.clone();
        callers.push(tokio::spawn(async move {
            client.run_task().cluster(CLUSTER).task_definition("batch").send().await.expect("run task")
        }));
    }
    let mut placed = 0;
    let mut refused = 0;
    for caller in callers {
        let answer = caller.await.expect("caller");
        placed += answer.tasks().len();
        if answer.tasks().is_empty() {
            assert!(
                answer.failures().iter().all(|f| f.reason() == Some("RESOURCE:MEMORY")),
                "{:?}",
                answer.failures()
            );
            refused += 1;
        }
    }
    assert_eq!((placed, refused), (12, 52));
    let mut pending = 0;
    for id in ["a", "b", "c"] {
        let left = instances::remaining(&server, CLUSTER, id).await;
        assert_eq!(left.memory, 0, "instance {id} is exactly full, never below");
        pending += instances::read(&server, CLUSTER, id).await.instance.pending_tasks_count.unwrap_or(0);
    }
    assert_eq!(pending, 12);
    let listed = server.client.list_tasks().cluster(CLUSTER).send().await.expect("list");
    assert_eq!(listed.task_arns().len(), 12);
    server.stop().await;
}

#[tokio::test]
async fn stop_task_asks_the_agent_and_keeps_the_first_reason() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let arn = run(&server, "web", 1).await.tasks()[0].task_arn().expect("arn").to_string();
    let stopped = server.client.stop_task().cluster(CLUSTER).task(&arn).send().await.expect("stop");
    let task = stopped.task().expect("task");
    assert_eq!(task.desired_status(), Some("STOPPED"));
    assert_eq!(task.last_status(), Some("PROVISIONING"), "the agent stops it and reports");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::UserInitiated));
    assert_eq!(task.stopped_reason(), Some("Task stopped by user"));
    assert!(task.stopping_at().is_some());
    assert_eq!(task.version(), 2);
    let assigned = assignment(&server, "i1", &arn).await.expect("still assigned");
    assert_eq!((assigned.desired_status.as_str(), assigned.version), ("STOPPED", 2));
    assert_eq!(
        instances::remaining(&server, CLUSTER, "i1").await.memory,
        8192 - 320,
        "held until the agent reports"
    );

    let before = server.revision().await;
    let again = server
        .client
        .stop_task()
        .cluster(CLUSTER)
        .task(id_of(&arn))
        .reason("later")
        .send()
        .await
        .expect("again");
    assert_eq!(again.task().and_then(|t| t.stopped_reason()), Some("Task stopped by user"));
    assert_eq!(server.revision().await, before);
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.stop_task().cluster(CLUSTER).task("0123abcd").send()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_task_no_agent_will_ever_run_stops_at_once() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let arn = run(&server, "web", 1).await.tasks()[0].task_arn().expect("arn").to_string();
    instances::modify(&server, CLUSTER, "i1", |record| record.instance.agent_connected = Some(false)).await;
    let stopped = server
        .client
        .stop_task()
        .cluster(CLUSTER)
        .task(&arn)
        .reason("not needed")
        .send()
        .await
        .expect("stop");
    let task = stopped.task().expect("task");
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(task.stopped_reason(), Some("not needed"));
    assert!(task.stopped_at().is_some());
    assert!(task.containers().iter().all(|c| c.last_status() == Some("STOPPED")));
    assert_eq!(
        instances::remaining(&server, CLUSTER, "i1").await,
        Remaining { cpu: 4096, memory: 8192, ports: BTreeSet::from([22]) }
    );
    assert_eq!(instances::read(&server, CLUSTER, "i1").await.instance.pending_tasks_count, Some(0));
    assert!(assignment(&server, "i1", &arn).await.is_none(), "nothing left for the agent");
    server.stop().await;
}

#[tokio::test]
async fn reports_move_a_task_to_running_then_stopped_and_give_its_resources_back() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let arn = run(&server, "web", 1).await.tasks()[0].task_arn().expect("arn").to_string();
    let app_running =
        ContainerStateChange::builder().container_name("app").status("RUNNING").runtime_id("c0ffee").build();
    server
        .client
        .submit_task_state_change()
        .cluster(CLUSTER)
        .task(&arn)
        .status("RUNNING")
        .containers(app_running)
        .send()
        .await
        .expect("running");
    let task = describe(&server, &arn).await;
    assert_eq!(task.last_status(), Some("RUNNING"));
    assert!(task.started_at().is_some());
    assert_eq!(task.containers()[0].last_status(), Some("RUNNING"));
    assert_eq!(task.containers()[0].runtime_id(), Some("c0ffee"));
    assert_eq!(instances::task_counts(&server, CLUSTER, "i1").await, (0, 1));

    let ack = server
        .client
        .submit_container_state_change()
        .cluster(CLUSTER)
        .task(&arn)
        .container_name("sidecar")
        .status("RUNNING")
        .runtime_id("beef")
        .send()
        .await
        .expect("container change");
    assert_eq!(ack.acknowledgment(), Some("ACK"));
    assert_eq!(describe(&server, &arn).await.containers()[1].runtime_id(), Some("beef"));
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .submit_container_state_change()
            .cluster(CLUSTER)
            .task(&arn)
            .container_name("ghost")
            .status("RUNNING")
            .send()
    );

    report(&server, &arn, "STOPPED").await;
    let task = describe(&server, &arn).await;
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(task.desired_status(), Some("STOPPED"));
    assert_eq!(task.stop_code(), Some(&TaskStopCode::EssentialContainerExited));
    assert!(task.stopped_at().is_some() && task.execution_stopped_at().is_some());
    assert_eq!(
        instances::remaining(&server, CLUSTER, "i1").await,
        Remaining { cpu: 4096, memory: 8192, ports: BTreeSet::from([22]) }
    );
    assert_eq!(instances::task_counts(&server, CLUSTER, "i1").await, (0, 0));
    assert!(assignment(&server, "i1", &arn).await.is_none());

    // A late report changes nothing.
    let before = server.revision().await;
    report(&server, &arn, "RUNNING").await;
    assert_eq!(server.revision().await, before);
    assert_eq!(describe(&server, &arn).await.last_status(), Some("STOPPED"));
    // The port is free again.
    assert_eq!(run(&server, "web", 1).await.tasks().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn list_tasks_filters_and_paginates() {
    let server = setup().await;
    let a = instances::add(&server, CLUSTER, "a", Instance::new(8192, 16384)).await;
    instances::add(&server, CLUSTER, "b", Instance::new(8192, 16384)).await;
    let ecs = &server.client;
    let mut batch = Vec::new();
    for _ in 0..3 {
        let ran = ecs
            .run_task()
            .cluster(CLUSTER)
            .task_definition("batch")
            .started_by("nightly")
            .send()
            .await
            .expect("run");
        batch.push(ran.tasks()[0].task_arn().expect("arn").to_string());
    }
    let started = ecs
        .start_task()
        .cluster(CLUSTER)
        .task_definition("batch")
        .container_instances(&a)
        .container_instances("b")
        .send()
        .await
        .expect("start");
    assert_eq!(started.tasks().len(), 2);
    let web = run(&server, "web", 1).await.tasks()[0].task_arn().expect("arn").to_string();
    ecs.stop_task().cluster(CLUSTER).task(&batch[0]).send().await.expect("stop");

    let arns = |list: &aws_sdk_ecs::operation::list_tasks::ListTasksOutput| -> BTreeSet<String> {
        list.task_arns().iter().cloned().collect()
    };
    let running = ecs.list_tasks().cluster(CLUSTER).send().await.expect("list");
    assert_eq!(running.task_arns().len(), 5, "desired RUNNING by default: the stopped one is not listed");
    let stopped =
        ecs.list_tasks().cluster(CLUSTER).desired_status(DesiredStatus::Stopped).send().await.expect("list");
    assert_eq!(arns(&stopped), BTreeSet::from([batch[0].clone()]));
    let pending =
        ecs.list_tasks().cluster(CLUSTER).desired_status(DesiredStatus::Pending).send().await.expect("list");
    assert!(pending.task_arns().is_empty());
    let family = ecs.list_tasks().cluster(CLUSTER).family("web").send().await.expect("list");
    assert_eq!(arns(&family), BTreeSet::from([web.clone()]));
    let nightly = ecs.list_tasks().cluster(CLUSTER).started_by("nightly").send().await.expect("list");
    assert_eq!(arns(&nightly), batch[1..].iter().cloned().collect());
    let on_b = ecs.list_tasks().cluster(CLUSTER).container_instance("b").send().await.expect("list");
    let everything =
        ecs.describe_tasks().cluster(CLUSTER).set_tasks(Some(running.task_arns().to_vec())).send();
    let b = scope().container_instance_arn(CLUSTER, "b");
    let expected_on_b: BTreeSet<String> = everything
        .await
        .expect("describe")
        .tasks()
        .iter()
        .filter(|task| task.container_instance_arn() == Some(b.as_str()))
        .filter_map(|task| task.task_arn().map(String::from))
        .collect();
    assert!(expected_on_b.contains(started.tasks()[1].task_arn().unwrap_or_default()));
    assert_eq!(arns(&on_b), expected_on_b);
    assert!(
        ecs.list_tasks()
            .cluster(CLUSTER)
            .service_name("svc")
            .send()
            .await
            .expect("list")
            .task_arns()
            .is_empty()
    );

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_tasks()
            .cluster(CLUSTER)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        assert!(page.task_arns().len() <= 2);
        seen.extend(page.task_arns().iter().cloned());
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), arns(&running));
    assert_eq!(seen.len(), 5);
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_tasks().cluster(CLUSTER).next_token("forged").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_tasks().cluster(CLUSTER).max_results(101).send()
    );
    assert_refused!(server, "ClusterNotFoundException", ecs.list_tasks().cluster("nowhere").send());
    server.stop().await;
}

#[tokio::test]
async fn describe_tasks_with_tags_and_missing_ones() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let ran = server
        .client
        .run_task()
        .cluster(CLUSTER)
        .task_definition("web")
        .tags(Tag::builder().key("env").value("dev").build())
        .propagate_tags(PropagateTags::TaskDefinition)
        .enable_ecs_managed_tags(true)
        .send()
        .await
        .expect("run");
    let arn = ran.tasks()[0].task_arn().expect("arn").to_string();
    let missing = scope().task_arn(CLUSTER, "0123456789abcdef0123456789abcdef");
    let described = server
        .client
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(&arn)
        .tasks(&missing)
        .tasks("feedface")
        .include(TaskField::Tags)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.tasks().len(), 1);
    let tags: BTreeSet<(String, String)> = described.tasks()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    let expected = [("env", "dev"), ("team", "web"), ("aws:ecs:clusterName", CLUSTER)];
    assert_eq!(tags, expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let failures: Vec<_> = described
        .failures()
        .iter()
        .map(|f| (f.arn().unwrap_or_default(), f.reason().unwrap_or_default()))
        .collect();
    let feedface = scope().task_arn(CLUSTER, "feedface");
    assert_eq!(failures, [(missing.as_str(), "MISSING"), (feedface.as_str(), "MISSING")]);
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.describe_tasks().cluster(CLUSTER).send()
    );
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server.client.describe_tasks().cluster("nowhere").tasks(&arn).send()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_token_launches_once() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let send = |count: i32| {
        server
            .client
            .run_task()
            .cluster(CLUSTER)
            .task_definition("batch")
            .count(count)
            .client_token("deploy-42")
            .send()
    };
    let first = send(2).await.expect("first");
    assert_eq!(first.tasks().len(), 2);
    let before = server.revision().await;
    let again = send(2).await.expect("again");
    let arns = |out: &aws_sdk_ecs::operation::run_task::RunTaskOutput| -> Vec<String> {
        out.tasks().iter().filter_map(|t| t.task_arn().map(String::from)).collect()
    };
    assert_eq!(arns(&again), arns(&first));
    assert_eq!(server.revision().await, before, "a repeat writes nothing");
    assert_refused!(server, "ConflictException", send(3));
    assert_eq!(instances::read(&server, CLUSTER, "i1").await.instance.pending_tasks_count, Some(2));
    server.stop().await;
}

#[tokio::test]
async fn start_task_places_on_the_named_instances() {
    let server = setup().await;
    let big = instances::add(&server, CLUSTER, "big", Instance::new(4096, 8192)).await;
    let tiny = instances::add(&server, CLUSTER, "tiny", Instance::new(4096, 100)).await;
    let missing = scope().container_instance_arn(CLUSTER, "gone");
    let started = server
        .client
        .start_task()
        .cluster(CLUSTER)
        .task_definition("batch")
        .container_instances("big")
        .container_instances(&tiny)
        .container_instances(&missing)
        .started_by("operator")
        .send()
        .await
        .expect("start");
    assert_eq!(started.tasks().len(), 1);
    assert_eq!(started.tasks()[0].container_instance_arn(), Some(big.as_str()));
    assert_eq!(started.tasks()[0].started_by(), Some("operator"));
    let failures: Vec<_> = started
        .failures()
        .iter()
        .map(|f| (f.arn().unwrap_or_default(), f.reason().unwrap_or_default()))
        .collect();
    assert_eq!(failures, [(tiny.as_str(), "RESOURCE:MEMORY"), (missing.as_str(), "MISSING")]);
    assert_eq!(instances::remaining(&server, CLUSTER, "big").await.memory, 8192 - 256);
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.start_task().cluster(CLUSTER).task_definition("batch").send()
    );
    server.stop().await;
}

#[tokio::test]
async fn only_tasks_that_have_not_stopped_keep_a_cluster_from_being_deleted() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let arn = run(&server, "batch", 1).await.tasks()[0].task_arn().expect("arn").to_string();
    // The instance leaves (as a deregistration would), so only the task can hold the cluster.
    instances::modify(&server, CLUSTER, "i1", |record| record.instance.status = Some("INACTIVE".into()))
        .await;
    assert_refused!(
        server,
        "ClusterContainsTasksException",
        server.client.delete_cluster().cluster(CLUSTER).send()
    );
    let stopped = server.client.stop_task().cluster(CLUSTER).task(&arn).send().await.expect("stop");
    assert_eq!(
        stopped.task().and_then(|t| t.last_status()),
        Some("STOPPED"),
        "no agent serves an INACTIVE instance"
    );
    server.client.delete_cluster().cluster(CLUSTER).send().await.expect("delete");
    server.stop().await;
}

#[tokio::test]
async fn the_retention_sweep_removes_long_stopped_tasks() {
    let server = setup().await;
    instances::add(&server, CLUSTER, "i1", Instance::new(4096, 8192)).await;
    let ran = run(&server, "batch", 2).await;
    let (gone, kept) = (ran.tasks()[0].task_arn().expect("arn"), ran.tasks()[1].task_arn().expect("arn"));
    report(&server, gone, "STOPPED").await;
    let now = berth_server::context::now();
    assert_eq!(
        berth_server::retention::sweep_stopped_tasks(&*server.store, 3600.0, now).await.expect("sweep"),
        0
    );
    let removed = berth_server::retention::sweep_stopped_tasks(&*server.store, 3600.0, now + 3601.0)
        .await
        .expect("sweep");
    assert_eq!(removed, 1);
    let described = server
        .client
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(gone)
        .tasks(kept)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.tasks().len(), 1);
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    server.stop().await;
}

#[tokio::test]
async fn placement_constraints_and_strategies_reach_the_engine() {
    let server = setup().await;
    let a = instances::add(&server, CLUSTER, "a", Instance::new(8192, 16384)).await;
    let mut prod = Instance::new(8192, 16384);
    prod.zone = "us-east-1b".into();
    prod.attributes.push(("stack".into(), "prod".into()));
    let b = instances::add(&server, CLUSTER, "b", prod).await;
    let ecs = &server.client;
    let distinct = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition("batch")
        .count(3)
        .group("spread-out")
        .placement_constraints(
            PlacementConstraint::builder().r#type(PlacementConstraintType::DistinctInstance).build(),
        )
        .send()
        .await
        .expect("run");
    let hosts: BTreeSet<_> = distinct.tasks().iter().filter_map(|t| t.container_instance_arn()).collect();
    assert_eq!(hosts, BTreeSet::from([a.as_str(), b.as_str()]), "one task per instance, the third refused");
    assert_eq!(distinct.failures().len(), 2);

    let member = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition("batch")
        .count(3)
        .placement_constraints(
            PlacementConstraint::builder()
                .r#type(PlacementConstraintType::MemberOf)
                .expression("attribute:stack == prod")
                .build(),
        )
        .placement_strategy(
            PlacementStrategy::builder().r#type(PlacementStrategyType::Binpack).field("memory").build(),
        )
        .send()
        .await
        .expect("run");
    assert_eq!(member.tasks().len(), 3);
    assert!(member.tasks().iter().all(|t| t.container_instance_arn() == Some(b.as_str())));
    assert!(member.tasks().iter().all(|t| t.availability_zone() == Some("us-east-1b")));

    let bad = PlacementConstraint::builder()
        .r#type(PlacementConstraintType::MemberOf)
        .expression("attribute:stack ==")
        .build();
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.run_task().cluster(CLUSTER).task_definition("batch").placement_constraints(bad).send()
    );
    server.stop().await;
}
