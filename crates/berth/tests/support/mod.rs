//! The harness of the end-to-end task tests: a real control plane, a real agent on the local
//! Docker Engine, and the official AWS SDK for Rust as the client.
#![allow(dead_code)] // Each test file uses a different part of the harness.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_ecs::config::{BehaviorVersion, Region};
use aws_sdk_ecs::types::Task;
use berth_agent::config::MetadataBind;
use berth_agent::runtime::PullBehavior;
use berth_agent::runtime::docker::{DockerRuntime, DockerSettings};
use berth_agent::{Agent, AgentConfig};
use berth_server::{Running, ServerConfig};
use berth_store::{RedbStore, Store};

/// A control plane and a cluster whose only instance is this host's agent (optional).
pub struct Cluster {
    /// An SDK client of the control plane.
    pub client: aws_sdk_ecs::Client,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The cluster's name, unique to the test (containers carry it, so tests never see each
    /// other's containers).
    pub name: String,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The local test image.
    pub image: String,
    /// The in-process agent, when started.
    pub agent: Option<Agent>,
    /// The directory of the store and the agent's data.
    pub dir: tempfile::TempDir,
    server: Option<Running>,
}

/// An SDK client for `endpoint`.
pub fn client(endpoint: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

impl Cluster {
    /// Starts a control plane with a fresh cluster named after `test`, without an agent.
    pub async fn start(test: &str) -> Cluster {
        berth_testkit::docker_or_fail();
        let image = berth_testkit::busybox_image().await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let store: Arc<dyn Store> =
            Arc::new(RedbStore::open(dir.path().join("berth.redb")).expect("store opens"));
        let config =
            ServerConfig { listen: "127.0.0.1:0".parse().expect("address"), ..ServerConfig::default() };
        let server = berth_server::start_with_store(config, store.clone()).await.expect("server starts");
        let endpoint = format!("http://{}", server.addr);
        let client = client(&endpoint);
        let suffix: u32 = rand_suffix();
        let name = format!("{test}-{suffix:08x}");
        client.create_cluster().cluster_name(&name).send().await.expect("cluster created");
        Cluster { client, endpoint, name, store, image, agent: None, dir, server: Some(server) }
    }

    /// Starts a control plane and an in-process agent on Docker.
    pub async fn with_agent(test: &str) -> Cluster {
        let mut cluster = Cluster::start(test).await;
        cluster.start_agent(Duration::from_secs(0)).await;
        cluster
    }

    /// The agent settings the tests use: prefer the cached test image, any metadata port.
    pub fn agent_config(&self, cleanup_wait: Duration) -> AgentConfig {
        let mut config = AgentConfig::new(&self.endpoint, &self.name, self.dir.path().join("agent"));
        config.pull_behavior = PullBehavior::PreferCached;
        config.task_cleanup_wait = cleanup_wait;
        config.metadata = MetadataBind::BridgeGateway(0);
        config.availability_zone = Some("zone-a".to_string());
        config
    }

    /// Starts the in-process agent and waits for its session.
    pub async fn start_agent(&mut self, cleanup_wait: Duration) {
        let config = self.agent_config(cleanup_wait);
        self.start_agent_with(config).await;
    }

    /// Starts the in-process agent with `config` and waits for its session.
    pub async fn start_agent_with(&mut self, config: AgentConfig) {
        let runtime = DockerRuntime::connect(DockerSettings::default()).await.expect("docker runtime");
        let stats = berth_agent::metadata::DockerStats::connect().await.expect("docker stats");
        let mut agent =
            Agent::start(config, Arc::new(runtime), Some(Arc::new(stats))).await.expect("agent starts");
        assert!(agent.wait_connected(Duration::from_secs(20)).await, "the agent connects");
        self.agent = Some(agent);
    }

    /// Waits until the task satisfies `done`, returning it; panics after `timeout`.
    pub async fn wait_task(&self, task_arn: &str, timeout: Duration, done: impl Fn(&Task) -> bool) -> Task {
        let deadline = Instant::now() + timeout;
        loop {
            let tasks = self
                .client
                .describe_tasks()
                .cluster(&self.name)
                .tasks(task_arn)
                .send()
                .await
                .expect("describe tasks")
                .tasks
                .unwrap_or_default();
            if let Some(task) = tasks.into_iter().next() {
                if done(&task) {
                    return task;
                }
                if Instant::now() > deadline {
                    panic!("task did not reach the expected state in {timeout:?}: {task:#?}");
                }
            } else if Instant::now() > deadline {
                panic!("task {task_arn} not found");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the task to be RUNNING.
    pub async fn wait_running(&self, task_arn: &str) -> Task {
        self.wait_task(task_arn, Duration::from_secs(60), |t| {
            assert_ne!(t.last_status(), Some("STOPPED"), "task stopped instead of running: {t:#?}");
            t.last_status() == Some("RUNNING")
        })
        .await
    }

    /// Waits for the task to be STOPPED.
    pub async fn wait_stopped(&self, task_arn: &str) -> Task {
        self.wait_task(task_arn, Duration::from_secs(90), |t| t.last_status() == Some("STOPPED")).await
    }

    /// Registers a task definition from JSON (the same document `aws ecs register-task-definition
    /// --cli-input-json` takes) through the SDK's wire form, returning its ARN.
    pub async fn register(&self, json: serde_json::Value) -> String {
        let client = berth_agent::client::EcsClient::new(&self.endpoint, None);
        let response: serde_json::Value =
            client.call("RegisterTaskDefinition", &json).await.expect("task definition registers");
        response["taskDefinition"]["taskDefinitionArn"].as_str().expect("an ARN").to_string()
    }

    /// Runs one task of `task_definition`, returning its ARN.
    pub async fn run(&self, task_definition: &str) -> String {
        let output = self
            .client
            .run_task()
            .cluster(&self.name)
            .task_definition(task_definition)
            .send()
            .await
            .expect("run task");
        assert!(output.failures().is_empty(), "placement failures: {:?}", output.failures());
        output.tasks()[0].task_arn().expect("task ARN").to_string()
    }

    /// Stops the agent and the server.
    pub async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            let _ = agent.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            let _ = server.shutdown().await;
        }
    }
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    hasher.finish() as u32
}

/// The containers Docker has for a task (by the task-arn label), running or not.
pub async fn containers_of(task_arn: &str) -> Vec<bollard::models::ContainerSummary> {
    let docker = berth_testkit::docker().await;
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("com.amazonaws.ecs.task-arn={task_arn}")],
    )]);
    docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .expect("docker lists containers")
}

/// A container's output.
pub async fn logs_of(container_id: &str) -> String {
    use futures::StreamExt;
    let docker = berth_testkit::docker().await;
    let mut stream = docker.logs(
        container_id,
        Some(bollard::query_parameters::LogsOptions { stdout: true, stderr: true, ..Default::default() }),
    );
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&chunk.to_string());
    }
    text
}

/// Removes every container of the cluster (by label), whatever the test left behind.
pub async fn remove_cluster_containers(cluster: &str) {
    let docker = berth_testkit::docker().await;
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("com.amazonaws.ecs.cluster={cluster}")],
    )]);
    let containers = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .unwrap_or_default();
    for container in containers {
        if let Some(id) = container.id {
            let _ = docker
                .remove_container(
                    &id,
                    Some(bollard::query_parameters::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
    }
}
