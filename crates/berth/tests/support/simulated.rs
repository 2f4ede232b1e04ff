//! The harness of the simulated-capacity tests: a real control plane in process, container
//! instances that are real agents over the simulated runtime (in process, or hosted by a
//! `berth agent --simulate` child process), and the official AWS SDK for Rust as the client.
#![allow(dead_code)] // Each test uses a different part of the harness.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_ecs::config::{BehaviorVersion, Region};
use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::types::{ContainerDefinition, PlacementConstraint, PlacementStrategy, Task};
use berth_agent::config::MetadataBind;
use berth_agent::runtime::simulated::{SimulatedRuntime, SimulatedSettings};
use berth_agent::{Agent, AgentConfig};
use berth_server::{Running, ServerConfig};
use berth_store::{RedbStore, Store};

/// How long a test waits for something that takes milliseconds when all is well; only a broken
/// build gets anywhere near it.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A control plane with one fresh cluster, and the simulated instances started in process.
pub struct SimCluster {
    /// An SDK client of the control plane.
    pub client: aws_sdk_ecs::Client,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The cluster's name.
    pub name: String,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The directory of the store and of the agents' identities.
    pub dir: tempfile::TempDir,
    agents: Vec<Agent>,
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

impl SimCluster {
    /// Starts a control plane over a fresh store, with a cluster named `name`.
    pub async fn start(name: &str) -> SimCluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store: Arc<dyn Store> =
            Arc::new(RedbStore::open(dir.path().join("berth.redb")).expect("store opens"));
        let config =
            ServerConfig { listen: "127.0.0.1:0".parse().expect("address"), ..ServerConfig::default() };
        let server = berth_server::start_with_store(config, store.clone()).await.expect("server starts");
        let endpoint = format!("http://{}", server.addr);
        let client = client(&endpoint);
        client.create_cluster().cluster_name(name).send().await.expect("cluster created");
        SimCluster {
            client,
            endpoint,
            name: name.to_string(),
            store,
            dir,
            agents: Vec::new(),
            server: Some(server),
        }
    }

    /// Starts one in-process simulated instance per zone in `zones` (2048 CPU units, `memory`
    /// MiB each) and waits until each holds its session. Returns their ARNs, in order.
    pub async fn add_instances(&mut self, zones: &[&str], memory: i64) -> Vec<String> {
        let mut arns = Vec::new();
        for zone in zones {
            let index = self.agents.len();
            let mut config =
                AgentConfig::new(&self.endpoint, &self.name, self.dir.path().join(format!("sim-{index}")));
            config.availability_zone = Some(zone.to_string());
            config.cpu_units = Some(2048);
            config.memory_mib = Some(memory);
            config.metadata = MetadataBind::Off;
            let runtime = Arc::new(SimulatedRuntime::new(SimulatedSettings::default()));
            let mut agent = Agent::start(config, runtime, None).await.expect("simulated agent starts");
            assert!(agent.wait_connected(PATIENCE).await, "the simulated agent connects");
            arns.push(agent.instance_arn.clone());
            self.agents.push(agent);
        }
        arns
    }

    /// Registers a one-container task definition reserving `memory` MiB and 128 CPU units.
    pub async fn register(&self, family: &str, memory: i32) -> String {
        let container = ContainerDefinition::builder()
            .name("main")
            .image("registry.example/app:1")
            .cpu(128)
            .memory(memory)
            .essential(true)
            .build();
        let output = self
            .client
            .register_task_definition()
            .family(family)
            .container_definitions(container)
            .send()
            .await
            .expect("task definition registers");
        output.task_definition().and_then(|d| d.task_definition_arn()).expect("an ARN").to_string()
    }

    /// RunTask of `count` tasks of `definition` with the given rules.
    pub async fn run(
        &self,
        definition: &str,
        count: i32,
        constraints: Vec<PlacementConstraint>,
        strategies: Vec<PlacementStrategy>,
    ) -> RunTaskOutput {
        self.client
            .run_task()
            .cluster(&self.name)
            .task_definition(definition)
            .count(count)
            .set_placement_constraints(Some(constraints))
            .set_placement_strategy(Some(strategies))
            .send()
            .await
            .expect("RunTask answers")
    }

    /// The availability zone of each instance of the cluster, by ARN, as DescribeContainerInstances
    /// shows its `ecs.availability-zone` attribute.
    pub async fn zones(&self) -> BTreeMap<String, String> {
        let listed = self
            .client
            .list_container_instances()
            .cluster(&self.name)
            .send()
            .await
            .expect("list container instances");
        let described = self
            .client
            .describe_container_instances()
            .cluster(&self.name)
            .set_container_instances(Some(listed.container_instance_arns().to_vec()))
            .send()
            .await
            .expect("describe container instances");
        described
            .container_instances()
            .iter()
            .map(|instance| {
                let zone = instance
                    .attributes()
                    .iter()
                    .find(|a| a.name() == "ecs.availability-zone")
                    .and_then(|a| a.value())
                    .unwrap_or("<none>");
                (instance.container_instance_arn().unwrap_or_default().to_string(), zone.to_string())
            })
            .collect()
    }

    /// Waits until every task of `arns` satisfies `done`; returns them as last described.
    pub async fn wait_tasks(&self, arns: &[String], done: impl Fn(&Task) -> bool) -> Vec<Task> {
        wait_tasks(&self.client, &self.name, arns, done).await
    }

    /// Stops the agents and the server.
    pub async fn stop(mut self) {
        for agent in self.agents.drain(..) {
            let _ = agent.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            let _ = server.shutdown().await;
        }
    }
}

/// Waits until every task of `arns` in `cluster` satisfies `done`; returns them as last described.
/// Panics after [`PATIENCE`], showing the tasks that were not done.
pub async fn wait_tasks(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    done: impl Fn(&Task) -> bool,
) -> Vec<Task> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut tasks = Vec::with_capacity(arns.len());
        for chunk in arns.chunks(100) {
            let described = client
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .expect("describe tasks");
            tasks.extend(described.tasks().iter().cloned());
        }
        if tasks.len() == arns.len() && tasks.iter().all(&done) {
            return tasks;
        }
        if Instant::now() > deadline {
            let pending: Vec<_> = tasks.iter().filter(|t| !done(t)).collect();
            panic!(
                "{} of {} tasks did not get there: {pending:#?}",
                arns.len() - tasks.len() + pending.len(),
                arns.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ARNs of the tasks a RunTask placed.
pub fn task_arns(output: &RunTaskOutput) -> Vec<String> {
    output.tasks().iter().filter_map(|t| t.task_arn()).map(str::to_string).collect()
}

/// A `berth agent --simulate` child process, killed and reaped when dropped.
pub struct SimulateProcess {
    child: tokio::process::Child,
    /// The line it printed once every instance was connected.
    pub ready_line: String,
    dir: tempfile::TempDir,
}

impl SimulateProcess {
    /// Starts `berth agent --simulate ...` with `extra` flags and waits for its line saying every
    /// instance is connected; panics with its output if it exits first.
    pub async fn start(endpoint: &str, cluster: &str, extra: &[&str]) -> SimulateProcess {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut child = command(endpoint, cluster, dir.path(), extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("berth agent starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read =
            tokio::time::timeout(PATIENCE, tokio::io::BufReader::new(stdout).read_line(&mut line)).await;
        if !matches!(read, Ok(Ok(n)) if n > 0) {
            let _ = child.kill().await;
            let stderr = std::fs::read_to_string(dir.path().join(STDERR)).unwrap_or_default();
            panic!("berth agent --simulate did not report its instances connected: {stderr}");
        }
        SimulateProcess { child, ready_line: line.trim().to_string(), dir }
    }

    /// Sends SIGINT (Ctrl-C) and returns the exit status and what it wrote to stderr.
    pub async fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("the process runs").to_string();
        let sent = tokio::process::Command::new("kill").args(["-INT", &pid]).status().await;
        assert!(sent.is_ok_and(|s| s.success()), "SIGINT sent");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("berth agent exits after SIGINT")
            .expect("berth agent is reaped");
        (status, std::fs::read_to_string(self.dir.path().join(STDERR)).unwrap_or_default())
    }
}

impl Drop for SimulateProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Where a child's stderr goes, in its data directory: a file never fills up and blocks it as an
/// unread pipe would.
const STDERR: &str = "stderr.log";

fn command(endpoint: &str, cluster: &str, dir: &std::path::Path, extra: &[&str]) -> tokio::process::Command {
    let stderr = std::fs::File::create(dir.join(STDERR)).expect("stderr file");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(["agent", "--server", endpoint, "--cluster", cluster, "--data-dir"])
        .arg(dir.join("agents"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true);
    command
}

/// Runs `berth agent --simulate ...` to its end (for refusals): exit status and stderr.
pub async fn run_to_end(endpoint: &str, cluster: &str, extra: &[&str]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let status = tokio::time::timeout(
        PATIENCE,
        command(endpoint, cluster, dir.path(), extra).stdout(Stdio::null()).status(),
    )
    .await
    .expect("berth agent ends")
    .expect("berth agent runs");
    (status, std::fs::read_to_string(dir.path().join(STDERR)).unwrap_or_default())
}
