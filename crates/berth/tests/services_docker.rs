//! Services on real Docker containers: the service controller rolling a service to a new
//! revision within its deployment configuration, and rolling back a revision whose image cannot
//! be pulled, seen through the AWS SDK.
//!
//! Containers get `"stopTimeout": 1`: `sleep` as PID 1 ignores SIGTERM, so each stop would
//! otherwise wait out ECS's default 30 s before the SIGKILL.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{DeploymentCircuitBreaker, DeploymentConfiguration, Service};
use serde_json::json;
use support::{Cluster, remove_cluster_containers};

/// How long a wait may take before the test fails: pulls and container starts, not minutes.
const PATIENCE: Duration = Duration::from_secs(120);

async fn describe(cluster: &Cluster, name: &str) -> Service {
    let described = cluster
        .client
        .describe_services()
        .cluster(&cluster.name)
        .services(name)
        .send()
        .await
        .expect("describe");
    described.services().first().cloned().expect("the service")
}

fn steady_on(service: &Service, definition: &str) -> bool {
    let deployments = service.deployments();
    deployments.len() == 1
        && deployments[0].rollout_state().map(|s| s.as_str()) == Some("COMPLETED")
        && service.task_definition() == Some(definition)
        && service.running_count() == service.desired_count()
}

/// The RUNNING tasks of the cluster by task definition ARN, as DescribeTasks shows them.
async fn running(cluster: &Cluster) -> Vec<String> {
    let listed = cluster.client.list_tasks().cluster(&cluster.name).send().await.expect("ListTasks");
    if listed.task_arns().is_empty() {
        return Vec::new();
    }
    let described = cluster
        .client
        .describe_tasks()
        .cluster(&cluster.name)
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .expect("DescribeTasks");
    described
        .tasks()
        .iter()
        .filter(|t| t.last_status() == Some("RUNNING"))
        .filter_map(|t| t.task_definition_arn().map(str::to_string))
        .collect()
}

async fn sleeper(cluster: &Cluster, image: &str, version: &str) -> String {
    cluster
        .register(json!({
            "family": "svc",
            "containerDefinitions": [{
                "name": "app", "image": image, "memory": 16, "stopTimeout": 1, "essential": true,
                "command": ["sleep", "3600"], "environment": [{"name": "VERSION", "value": version}]
            }]
        }))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_update_keeps_half_the_tasks_running_throughout() {
    let cluster = Cluster::with_agent("svc-rolling").await;
    let image = cluster.image.clone();
    let first = sleeper(&cluster, &image, "1").await;
    let second = sleeper(&cluster, &image, "2").await;
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
        .expect("CreateService");
    let deadline = Instant::now() + PATIENCE;
    while !steady_on(&describe(&cluster, "web").await, &first) {
        assert!(Instant::now() < deadline, "the service did not become steady");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster
        .client
        .update_service()
        .cluster(&cluster.name)
        .service("web")
        .task_definition(&second)
        .send()
        .await
        .expect("UpdateService");
    let mut fewest = usize::MAX;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = running(&cluster).await;
        fewest = fewest.min(now.len());
        if steady_on(&describe(&cluster, "web").await, &second)
            && now.len() == 4
            && now.iter().all(|d| *d == second)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout did not finish: {now:?}");
    }
    assert!(fewest >= 2, "never fewer than 2 of 4 RUNNING; saw {fewest}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_that_cannot_be_pulled_trips_the_circuit_breaker_and_rolls_back() {
    let cluster = Cluster::with_agent("svc-breaker").await;
    let image = cluster.image.clone();
    let good = sleeper(&cluster, &image, "1").await;
    // Nothing listens on port 1: the pull fails at once.
    let bad = sleeper(&cluster, "127.0.0.1:1/berth/missing:1", "2").await;
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
        .expect("CreateService");
    let deadline = Instant::now() + PATIENCE;
    while !steady_on(&describe(&cluster, "web").await, &good) {
        assert!(Instant::now() < deadline, "the service did not become steady");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster
        .client
        .update_service()
        .cluster(&cluster.name)
        .service("web")
        .task_definition(&bad)
        .send()
        .await
        .expect("UpdateService");
    let deadline = Instant::now() + PATIENCE;
    let service = loop {
        let service = describe(&cluster, "web").await;
        let failed = service
            .events()
            .iter()
            .filter_map(|e| e.message())
            .any(|m| m.ends_with("deployment failed: tasks failed to start."));
        if failed && steady_on(&service, &good) {
            break service;
        }
        assert!(Instant::now() < deadline, "no rollback: {service:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let events: Vec<&str> = service.events().iter().filter_map(|e| e.message()).collect();
    assert!(
        events.iter().any(|m| m.starts_with("(service web) rolling back to deployment ecs-svc/")),
        "{events:#?}"
    );
    assert_eq!(running(&cluster).await, vec![good.clone()]);
    remove_cluster_containers(&cluster.name).await;
    cluster.stop().await;
}
