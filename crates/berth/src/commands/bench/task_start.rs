//! `berth bench task-start`: how long RunTask takes to give a RUNNING task, beside how long
//! `docker run -d` of the same image takes, measured alternately in the same run; and the
//! agent's resident memory idle and with 100 running tasks.
//!
//! The control plane and the agent run as child processes (`berth server`, `berth agent`), as
//! users run them, so the agent's RSS is its own. Each RunTask is timed from the request until
//! DescribeTasks (polled every 2 ms) shows the task RUNNING; each `docker run -d` until the
//! command returns, which is when Docker has started the container.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use berth_agent::client::EcsClient;
use serde_json::{Value, json};

use super::server_process::{ServerProcess, rss_mib};

/// Flags of `berth bench task-start`.
#[derive(Debug, clap::Args)]
pub struct TaskStartArgs {
    /// How many tasks to time (and as many `docker run -d`).
    #[arg(long, default_value_t = 50)]
    tasks: usize,
    /// The image both start [default: a busybox image built locally from Debian's
    /// busybox-static].
    #[arg(long)]
    image: Option<String>,
    /// Print one JSON object with the figures last.
    #[arg(long)]
    json: bool,
}

const CLUSTER: &str = "bench";
/// The memory each benchmark task reserves (100 of them must fit on the host).
const TASK_MEMORY_MIB: i64 = 16;

/// Runs the benchmark.
pub async fn run(args: TaskStartArgs) -> anyhow::Result<()> {
    let image = match args.image.clone() {
        Some(image) => image,
        None => berth_testkit::busybox_image().await,
    };
    let server = ServerProcess::start(&[]).await?;
    let endpoint = format!("http://{}", server.addr);
    let client = EcsClient::new(&endpoint, None);
    let _: Value = call(&client, "CreateCluster", json!({"clusterName": CLUSTER})).await?;
    let agent_dir = tempfile::Builder::new().prefix("berth-bench-agent-").tempdir()?;
    let mut agent = AgentProcess::start(&endpoint, agent_dir.path())?;
    wait_for_instance(&client).await?;
    let _: Value = call(
        &client,
        "RegisterTaskDefinition",
        json!({
            "family": "bench-start",
            "containerDefinitions": [{
                "name": "main", "image": image, "memory": TASK_MEMORY_MIB, "essential": true,
                "command": ["sleep", "3600"], "stopTimeout": 2
            }]
        }),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_mib(agent.child.id()).unwrap_or(0.0);

    // Warm both paths once (first container start on a fresh image layer is slower for both).
    let warm = run_task(&client).await?;
    stop_task(&client, &warm).await?;
    let warm_docker = docker_run(&image)?;
    docker_remove(&[warm_docker.1]);

    let mut berth = Vec::with_capacity(args.tasks);
    let mut docker = Vec::with_capacity(args.tasks);
    let mut docker_ids = Vec::new();
    let mut task_arns = Vec::new();
    for _ in 0..args.tasks {
        let started = Instant::now();
        let task = run_task(&client).await?;
        berth.push(started.elapsed().as_secs_f64() * 1000.0);
        task_arns.push(task);
        let (took, id) = docker_run(&image)?;
        docker.push(took);
        docker_ids.push(id);
    }
    docker_remove(&docker_ids);
    // Fill up to 100 running tasks for the memory figure.
    while task_arns.len() < 100 {
        task_arns.push(run_task(&client).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded_rss = rss_mib(agent.child.id()).unwrap_or(0.0);
    for task in &task_arns {
        let _: Value = call(&client, "StopTask", json!({"cluster": CLUSTER, "task": task})).await?;
    }
    wait_all_stopped(&client, &task_arns).await?;
    agent.stop();
    remove_leftovers();

    let (berth_p50, berth_p99) = (percentile(&berth, 50.0), percentile(&berth, 99.0));
    let (docker_p50, docker_p99) = (percentile(&docker, 50.0), percentile(&docker, 99.0));
    let ratio = berth_p50 / docker_p50;
    println!("RunTask → RUNNING over {} tasks: p50 {berth_p50:.1} ms, p99 {berth_p99:.1} ms", berth.len());
    println!(
        "docker run -d over {} containers: p50 {docker_p50:.1} ms, p99 {docker_p99:.1} ms",
        docker.len()
    );
    println!("ratio of the medians: {ratio:.3}");
    println!("agent RSS: idle {idle_rss:.1} MiB, with {} running tasks {loaded_rss:.1} MiB", task_arns.len());
    if args.json {
        let round = |v: f64| (v * 10.0).round() / 10.0;
        println!(
            "{}",
            json!({
                "tasks": berth.len(),
                "berth_p50_ms": round(berth_p50),
                "berth_p99_ms": round(berth_p99),
                "docker_p50_ms": round(docker_p50),
                "docker_p99_ms": round(docker_p99),
                "ratio_p50": (ratio * 1000.0).round() / 1000.0,
                "agent_idle_rss_mib": round(idle_rss),
                "agent_100_tasks_rss_mib": round(loaded_rss),
            })
        );
    }
    Ok(())
}

async fn call(client: &EcsClient, operation: &str, body: Value) -> anyhow::Result<Value> {
    client.call(operation, &body).await.with_context(|| format!("{operation} failed"))
}

/// Runs one task and waits until it is RUNNING; returns its ARN.
async fn run_task(client: &EcsClient) -> anyhow::Result<String> {
    let output: Value =
        call(client, "RunTask", json!({"cluster": CLUSTER, "taskDefinition": "bench-start"})).await?;
    let Some(arn) = output["tasks"][0]["taskArn"].as_str().map(str::to_string) else {
        bail!("RunTask placed nothing: {}", output["failures"]);
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let described: Value =
            call(client, "DescribeTasks", json!({"cluster": CLUSTER, "tasks": [arn]})).await?;
        match described["tasks"][0]["lastStatus"].as_str() {
            Some("RUNNING") => return Ok(arn),
            Some("STOPPED") => bail!("a benchmark task stopped: {}", described["tasks"][0]["stoppedReason"]),
            _ if Instant::now() > deadline => bail!("a benchmark task was not RUNNING within 60 s"),
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

async fn stop_task(client: &EcsClient, arn: &str) -> anyhow::Result<()> {
    let _: Value = call(client, "StopTask", json!({"cluster": CLUSTER, "task": arn})).await?;
    wait_all_stopped(client, &[arn.to_string()]).await
}

async fn wait_all_stopped(client: &EcsClient, arns: &[String]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    for chunk in arns.chunks(100) {
        loop {
            let described: Value =
                call(client, "DescribeTasks", json!({"cluster": CLUSTER, "tasks": chunk})).await?;
            let stopped = described["tasks"]
                .as_array()
                .is_some_and(|tasks| tasks.iter().all(|t| t["lastStatus"] == "STOPPED"));
            if stopped {
                break;
            }
            if Instant::now() > deadline {
                bail!("benchmark tasks did not stop within 5 minutes");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

async fn wait_for_instance(client: &EcsClient) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Value = call(client, "ListContainerInstances", json!({"cluster": CLUSTER})).await?;
        if let Some(arn) = listed["containerInstanceArns"][0].as_str() {
            let described: Value = call(
                client,
                "DescribeContainerInstances",
                json!({"cluster": CLUSTER, "containerInstances": [arn]}),
            )
            .await?;
            if described["containerInstances"][0]["agentConnected"] == true {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the agent did not connect within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `docker run -d IMAGE sleep 3600`: returns how long it took (ms) and the container id.
fn docker_run(image: &str) -> anyhow::Result<(f64, String)> {
    let started = Instant::now();
    let output = Command::new("docker")
        .args(["run", "-d", "--label", "berth-bench=1", image, "sleep", "3600"])
        .output()
        .context("failed to run the docker CLI")?;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if !output.status.success() {
        bail!("docker run failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok((took, String::from_utf8_lossy(&output.stdout).trim().to_string()))
}

fn docker_remove(ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let _ = Command::new("docker")
        .args(["rm", "-f"])
        .args(ids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes whatever containers of the benchmark's cluster the agent had not cleaned up yet when
/// it was stopped.
fn remove_leftovers() {
    let listed = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=com.amazonaws.ecs.cluster={CLUSTER}")])
        .output();
    if let Ok(output) = listed {
        let ids: Vec<String> =
            String::from_utf8_lossy(&output.stdout).split_whitespace().map(str::to_string).collect();
        docker_remove(&ids);
    }
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A `berth agent` child process, killed when dropped.
struct AgentProcess {
    child: Child,
}

impl AgentProcess {
    fn start(endpoint: &str, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let child = Command::new(std::env::current_exe().context("cannot find the berth executable")?)
            .args(["agent", "--server", endpoint, "--cluster", CLUSTER, "--data-dir"])
            .arg(data_dir)
            .args(["--pull-behavior", "prefer-cached", "--task-cleanup-wait", "0s", "--metadata-port", "0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start berth agent")?;
        Ok(AgentProcess { child })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
