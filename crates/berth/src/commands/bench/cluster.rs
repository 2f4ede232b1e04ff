//! `berth bench cluster`: the whole control plane at scale, end to end.
//!
//! A `berth server` child process on a fresh data directory, a `berth agent --simulate N` child
//! process hosting N container instances in three zones (real agents, real sessions, a runtime
//! that runs nothing), then `--tasks` tasks submitted through RunTask, `--count` per call from
//! `--callers` concurrent callers, until DescribeClusters counts them all RUNNING. Every
//! process runs on this machine, so the figures include the agents' and the callers' own work
//! competing for its cores with the server's.
//!
//! `--store memory` runs the server without its durable store, to show what that store costs;
//! the figures users get are those of the default, `redb`.
//!
//! Figures: `tasks_per_sec` (tasks over the time from the first RunTask until all are RUNNING),
//! `submit_tasks_per_sec` (tasks over the time RunTask calls took), RunTask latency percentiles,
//! the server's and the agents' peak resident memory, their CPU time per task, what the server
//! wrote per task (bytes to disk and write system calls), and how long the instances took to
//! register.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use berth_agent::client::EcsClient;
use berth_server::StoreKind;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::sync::Mutex;

use super::server_process::{ServerProcess, Writes, cpu_seconds, rss_mib};
use super::simulated_agents::{SimulatedAgents, call};

/// Flags of `berth bench cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Simulated container instances, in three zones.
    #[arg(long, default_value_t = 5_000)]
    instances: usize,
    /// Tasks to run.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Tasks per RunTask call (RunTask allows 10).
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Concurrent RunTask callers.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// The server's store: `redb` (durable, as users run it) or `memory` (nothing on disk),
    /// which shows how much of the figures the durable store accounts for.
    #[arg(long, default_value = "redb", value_parser = StoreKind::parse)]
    store: StoreKind,
    /// Print one JSON object with the figures as the last line.
    #[arg(long)]
    json: bool,
}

const CLUSTER: &str = "bench";
const FAMILY: &str = "bench-cluster";
/// Each task: 1/16 of a vCPU and 128 MiB, so a simulated instance (2048 units, 4096 MiB) holds 32.
const TASK_CPU: i64 = 64;
const TASK_MEMORY: i64 = 128;
const TASKS_PER_INSTANCE: usize = 32;
/// How long the run may go without another task reaching RUNNING before it is called stuck.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Runs the benchmark.
pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    ensure!((1..=10).contains(&args.count), "--count must be between 1 and 10, as RunTask allows");
    ensure!(args.instances > 0 && args.callers > 0, "--instances and --callers must be at least 1");
    ensure!(
        args.tasks <= args.instances * TASKS_PER_INSTANCE,
        "{} tasks do not fit on {} instances ({TASKS_PER_INSTANCE} each); add instances",
        args.tasks,
        args.instances
    );
    let server = Arc::new(ServerProcess::start(&["--store", args.store.name()]).await?);
    let endpoint = format!("http://{}", server.addr);
    let client = EcsClient::new(&endpoint, None);
    call(&client, "CreateCluster", json!({"clusterName": CLUSTER})).await?;
    call(
        &client,
        "RegisterTaskDefinition",
        json!({
            "family": FAMILY,
            "containerDefinitions": [{
                "name": "main", "image": "registry.example/app:1", "cpu": TASK_CPU,
                "memory": TASK_MEMORY, "essential": true
            }]
        }),
    )
    .await?;

    println!("registering {} simulated instances ...", args.instances);
    let registering = Instant::now();
    let agents = SimulatedAgents::start(&endpoint, CLUSTER, args.instances).await?;
    let registration = registering.elapsed();
    println!("{} instances connected in {:.1} s", args.instances, registration.as_secs_f64());

    println!(
        "running {} tasks, {} per RunTask, {} concurrent callers ...",
        args.tasks, args.count, args.callers
    );
    let peak = Arc::new(Peak::default());
    let sampler = tokio::spawn(sample_memory(peak.clone(), server.clone(), agents.pid()));
    let cpu_before = (server.cpu_seconds(), agents.pid().and_then(cpu_seconds));
    let writes_before = server.writes();
    let started = Instant::now();
    let submitted = submit(&client, &args).await?;
    let submit_elapsed = started.elapsed();
    println!(
        "submitted {} tasks in {:.2} s ({} RunTask calls, {} placement failures, {} refused calls)",
        submitted.placed,
        submit_elapsed.as_secs_f64(),
        submitted.latencies_us.len(),
        submitted.failures,
        submitted.refused
    );
    wait_running(&client, submitted.placed).await?;
    let elapsed = started.elapsed();
    let cpu_after = (server.cpu_seconds(), agents.pid().and_then(cpu_seconds));
    let server_writes = server.writes().zip(writes_before).map(|(after, before)| after.since(before));
    sampler.abort();
    let (server_rss, agents_rss) = peak.read().await;

    let figures = Figures {
        tasks: submitted.placed,
        elapsed,
        submit_elapsed,
        registration,
        p50: percentile_ms(&submitted.latencies_us, 50.0),
        p99: percentile_ms(&submitted.latencies_us, 99.0),
        server_rss,
        agents_rss,
        server_cpu: cpu_after.0.zip(cpu_before.0).map(|(after, before)| after - before),
        agents_cpu: cpu_after.1.zip(cpu_before.1).map(|(after, before)| after - before),
        server_writes,
    };
    figures.print(&args);
    if submitted.placed < args.tasks {
        bail!("only {} of {} tasks were placed", submitted.placed, args.tasks);
    }
    drop(agents);
    Ok(())
}

/// What the RunTask callers did.
struct Submitted {
    placed: usize,
    failures: usize,
    refused: usize,
    /// Each RunTask's latency, sorted, in microseconds.
    latencies_us: Vec<u64>,
}

/// The part of a RunTask answer the callers look at (the rest is skipped, not decoded).
#[derive(Deserialize)]
struct RunTaskAnswer {
    #[serde(default)]
    tasks: Vec<IgnoredAny>,
    #[serde(default)]
    failures: Vec<IgnoredAny>,
}

/// Submits every task through RunTask from `callers` concurrent callers, each sending its next
/// call as soon as the last is answered.
async fn submit(client: &EcsClient, args: &ClusterArgs) -> anyhow::Result<Submitted> {
    let calls = args.tasks.div_ceil(args.count);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..args.callers {
        let (client, next, count, tasks) = (client.clone(), next.clone(), args.count, args.tasks);
        callers.spawn(async move {
            let mut mine = Submitted { placed: 0, failures: 0, refused: 0, latencies_us: Vec::new() };
            loop {
                let call = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if call >= calls {
                    return mine;
                }
                let n = count.min(tasks - call * count);
                let request = json!({"cluster": CLUSTER, "taskDefinition": FAMILY, "count": n});
                let sent = Instant::now();
                let answer: Result<RunTaskAnswer, _> = client.call("RunTask", &request).await;
                mine.latencies_us.push(sent.elapsed().as_micros() as u64);
                match answer {
                    Ok(answer) => {
                        mine.placed += answer.tasks.len();
                        mine.failures += answer.failures.len();
                    }
                    Err(err) => {
                        if mine.refused == 0 {
                            tracing::warn!(%err, "RunTask refused");
                        }
                        mine.refused += 1;
                    }
                }
            }
        });
    }
    let mut all = Submitted { placed: 0, failures: 0, refused: 0, latencies_us: Vec::with_capacity(calls) };
    while let Some(mine) = callers.join_next().await {
        let mine = mine.context("a RunTask caller failed")?;
        all.placed += mine.placed;
        all.failures += mine.failures;
        all.refused += mine.refused;
        all.latencies_us.extend(mine.latencies_us);
    }
    all.latencies_us.sort_unstable();
    Ok(all)
}

/// Waits until DescribeClusters counts `expected` RUNNING tasks; fails if the count stops
/// moving for [`STALL_LIMIT`].
async fn wait_running(client: &EcsClient, expected: usize) -> anyhow::Result<()> {
    let (mut last, mut moved) = (0, Instant::now());
    loop {
        let described = call(client, "DescribeClusters", json!({"clusters": [CLUSTER]})).await?;
        let running = described["clusters"][0]["runningTasksCount"].as_u64().unwrap_or(0) as usize;
        if running >= expected {
            return Ok(());
        }
        if running != last {
            (last, moved) = (running, Instant::now());
        } else if moved.elapsed() > STALL_LIMIT {
            bail!("{running} of {expected} tasks RUNNING, and no more for {} s", STALL_LIMIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The highest resident memory seen of the server and of the agents' process, in MiB.
#[derive(Default)]
struct Peak {
    rss: Mutex<(f64, f64)>,
}

impl Peak {
    async fn read(&self) -> (f64, f64) {
        *self.rss.lock().await
    }
}

async fn sample_memory(peak: Arc<Peak>, server: Arc<ServerProcess>, agents: Option<u32>) {
    loop {
        let server_rss = server.rss_mib().unwrap_or(0.0);
        let agents_rss = agents.and_then(rss_mib).unwrap_or(0.0);
        {
            let mut rss = peak.rss.lock().await;
            rss.0 = rss.0.max(server_rss);
            rss.1 = rss.1.max(agents_rss);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the run measured.
struct Figures {
    tasks: usize,
    elapsed: Duration,
    submit_elapsed: Duration,
    registration: Duration,
    p50: f64,
    p99: f64,
    server_rss: f64,
    agents_rss: f64,
    /// CPU seconds the server and the agents' process used from the first RunTask until all
    /// tasks ran (unknown where /proc cannot tell).
    server_cpu: Option<f64>,
    agents_cpu: Option<f64>,
    /// What the server wrote over the same time: its store's bytes to disk, and its write
    /// system calls (store pages and socket messages together).
    server_writes: Option<Writes>,
}

impl Figures {
    fn print(&self, args: &ClusterArgs) {
        let per_sec = self.tasks as f64 / self.elapsed.as_secs_f64();
        let submit_per_sec = self.tasks as f64 / self.submit_elapsed.as_secs_f64();
        println!(
            "{} tasks RUNNING on {} instances in {:.2} s = {per_sec:.0} tasks/s (RunTask alone: {submit_per_sec:.0} tasks/s)",
            self.tasks,
            args.instances,
            self.elapsed.as_secs_f64()
        );
        println!("RunTask latency: p50 {:.1} ms, p99 {:.1} ms", self.p50, self.p99);
        println!("peak RSS: server {:.0} MiB, agents {:.0} MiB", self.server_rss, self.agents_rss);
        let tasks = self.tasks.max(1) as f64;
        let per_task_us = |cpu: Option<f64>| cpu.map(|s| s * 1e6 / tasks);
        let (server_us, agents_us) = (per_task_us(self.server_cpu), per_task_us(self.agents_cpu));
        if let (Some(server), Some(agents)) = (server_us, agents_us) {
            println!("CPU per task: server {server:.0} µs, agents {agents:.0} µs");
        }
        let disk_kib = self.server_writes.map(|w| w.disk_bytes as f64 / 1024.0 / tasks);
        let write_calls = self.server_writes.map(|w| w.calls as f64 / tasks);
        if let (Some(kib), Some(calls)) = (disk_kib, write_calls) {
            println!("server writes per task: {kib:.1} KiB to disk, {calls:.1} write calls");
        }
        if args.json {
            let round = |v: f64| (v * 10.0).round() / 10.0;
            println!(
                "{}",
                json!({
                    "instances": args.instances,
                    "tasks": self.tasks,
                    "tasks_per_call": args.count,
                    "callers": args.callers,
                    "store": args.store.name(),
                    "tasks_per_sec": per_sec.round(),
                    "submit_tasks_per_sec": submit_per_sec.round(),
                    "api_p50_ms": round(self.p50),
                    "api_p99_ms": round(self.p99),
                    "server_rss_mib": round(self.server_rss),
                    "agents_rss_mib": round(self.agents_rss),
                    "registration_sec": round(self.registration.as_secs_f64()),
                    "server_cpu_us_per_task": server_us.map(f64::round),
                    "agents_cpu_us_per_task": agents_us.map(f64::round),
                    "server_disk_kib_per_task": disk_kib.map(round),
                    "server_write_calls_per_task": write_calls.map(round),
                })
            );
        }
    }
}

fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    sorted_us[rank.min(sorted_us.len() - 1)] as f64 / 1000.0
}
