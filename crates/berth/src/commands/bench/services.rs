//! `berth bench services`: the service controller at scale.
//!
//! A `berth server` child process, a `berth agent --simulate N` child process hosting N
//! instances in three zones, then one service of `--tasks` tasks from CreateService until
//! DescribeServices shows it steady (`steady_s`), then a rolling deployment of all of it to a
//! new revision until it is steady again on that revision (`rollout_s`), with the default
//! deployment configuration (100% healthy minimum, 200% maximum).

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use berth_agent::client::EcsClient;
use serde_json::{Value, json};

use super::server_process::ServerProcess;
use super::simulated_agents::{SimulatedAgents, call};

/// Flags of `berth bench services`.
#[derive(Debug, clap::Args)]
pub struct ServicesArgs {
    /// Simulated container instances, in three zones.
    #[arg(long, default_value_t = 1_000)]
    instances: usize,
    /// The service's desired count.
    #[arg(long, default_value_t = 10_000)]
    tasks: usize,
    /// Print one JSON object with the figures as the last line.
    #[arg(long)]
    json: bool,
}

const CLUSTER: &str = "bench";
const FAMILY: &str = "bench-service";
const SERVICE: &str = "bench";
/// Each task: 1/32 of a vCPU and 64 MiB, so a simulated instance (2048 units, 4096 MiB) holds
/// 64, and a rollout at 200% fits on half the instances a steady service needs.
const TASK_CPU: i64 = 32;
const TASK_MEMORY: i64 = 64;
const TASKS_PER_INSTANCE: usize = 64;
/// How long the run may go without the service changing before it is called stuck.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// Runs the benchmark.
pub async fn run(args: ServicesArgs) -> anyhow::Result<()> {
    ensure!(args.instances > 0 && args.tasks > 0, "--instances and --tasks must be at least 1");
    ensure!(
        args.tasks * 2 <= args.instances * TASKS_PER_INSTANCE,
        "a rollout of {} tasks at 200% needs {} instances ({TASKS_PER_INSTANCE} tasks each)",
        args.tasks,
        (args.tasks * 2).div_ceil(TASKS_PER_INSTANCE)
    );
    let server = ServerProcess::start(&[]).await?;
    let endpoint = format!("http://{}", server.addr);
    let client = EcsClient::new(&endpoint, None);
    call(&client, "CreateCluster", json!({"clusterName": CLUSTER})).await?;
    let first = register(&client, "1").await?;
    let second = register(&client, "2").await?;

    println!("registering {} simulated instances ...", args.instances);
    let _agents = SimulatedAgents::start(&endpoint, CLUSTER, args.instances).await?;

    println!("creating a service of {} tasks ...", args.tasks);
    let started = Instant::now();
    call(
        &client,
        "CreateService",
        json!({"cluster": CLUSTER, "serviceName": SERVICE, "taskDefinition": first, "desiredCount": args.tasks}),
    )
    .await?;
    wait_steady(&client, &first).await?;
    let steady = started.elapsed();
    println!("steady in {:.2} s", steady.as_secs_f64());

    println!("rolling all {} tasks to the next revision ...", args.tasks);
    let started = Instant::now();
    call(&client, "UpdateService", json!({"cluster": CLUSTER, "service": SERVICE, "taskDefinition": second}))
        .await?;
    wait_steady(&client, &second).await?;
    let rollout = started.elapsed();
    println!("rolled out in {:.2} s", rollout.as_secs_f64());
    println!(
        "{} tasks on {} instances: steady_s {:.2}, rollout_s {:.2}",
        args.tasks,
        args.instances,
        steady.as_secs_f64(),
        rollout.as_secs_f64()
    );
    if args.json {
        let round = |v: f64| (v * 100.0).round() / 100.0;
        println!(
            "{}",
            json!({
                "instances": args.instances,
                "tasks": args.tasks,
                "steady_s": round(steady.as_secs_f64()),
                "rollout_s": round(rollout.as_secs_f64()),
            })
        );
    }
    Ok(())
}

async fn register(client: &EcsClient, version: &str) -> anyhow::Result<String> {
    let answer = call(
        client,
        "RegisterTaskDefinition",
        json!({
            "family": FAMILY,
            "containerDefinitions": [{
                "name": "main", "image": format!("registry.example/app:{version}"), "cpu": TASK_CPU,
                "memory": TASK_MEMORY, "essential": true
            }]
        }),
    )
    .await?;
    answer["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .map(str::to_string)
        .context("RegisterTaskDefinition returned no ARN")
}

/// Waits until the service has one deployment, of `definition`, COMPLETED with every desired
/// task running; fails if nothing moves for [`STALL_LIMIT`].
async fn wait_steady(client: &EcsClient, definition: &str) -> anyhow::Result<()> {
    let (mut last, mut moved) = (Value::Null, Instant::now());
    loop {
        let described =
            call(client, "DescribeServices", json!({"cluster": CLUSTER, "services": [SERVICE]})).await?;
        let service = &described["services"][0];
        let deployments = service["deployments"].as_array().cloned().unwrap_or_default();
        let done = deployments.len() == 1
            && deployments[0]["rolloutState"] == "COMPLETED"
            && deployments[0]["taskDefinition"] == definition
            && service["runningCount"] == service["desiredCount"];
        if done {
            return Ok(());
        }
        let progress = json!([service["runningCount"], service["pendingCount"], deployments.len()]);
        if progress != last {
            (last, moved) = (progress, Instant::now());
        } else if moved.elapsed() > STALL_LIMIT {
            bail!(
                "the service stopped moving ({last} running, pending, deployments) for {} s",
                STALL_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
