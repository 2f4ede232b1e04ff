//! `berth bench api`: how fast the ECS API answers over loopback.
//!
//! Starts `berth server` as a child process on a fresh data directory, then drives it with N
//! concurrent keep-alive connections (64 by default): first reads (DescribeTaskDefinition and
//! ListClusters, alternating), then durable writes (RegisterTaskDefinition, each acknowledged only
//! after fsync), each after an unmeasured warm-up. Prints throughput and latency percentiles;
//! `--json` adds one JSON object last.

use std::sync::Arc;

use anyhow::bail;
use bytes::Bytes;
use serde_json::json;

use super::load::{self, LoadResult, RequestMaker};
use super::server_process::ServerProcess;

/// Flags of `berth bench api`.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Read requests to send.
    #[arg(long, default_value_t = 200_000)]
    reads: u64,
    /// Write requests to send.
    #[arg(long, default_value_t = 30_000)]
    writes: u64,
    /// Requests of each kind sent first and not measured: connections open, caches fill and the
    /// store file grows before the clock starts, as on a server that has been up a while.
    #[arg(long, default_value_t = 5_000)]
    warmup: u64,
    /// Print one JSON object with the figures as the last line.
    #[arg(long)]
    json: bool,
}

/// A realistic two-container web task definition, about 1 KiB of JSON.
fn task_definition(family: &str) -> serde_json::Value {
    json!({
        "family": family,
        "networkMode": "bridge",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "registry.example/web:1.4.2",
                "cpu": 256,
                "memory": 512,
                "essential": true,
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
                "environment": [{"name": "MODE", "value": "production"}, {"name": "PORT", "value": "8080"}],
                "healthCheck": {"command": ["CMD-SHELL", "wget -q -O- localhost:8080/health"], "interval": 10, "timeout": 5, "retries": 3},
                "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
                "dependsOn": [{"containerName": "sidecar", "condition": "START"}]
            },
            {
                "name": "sidecar",
                "image": "registry.example/proxy:2.0",
                "cpu": 64,
                "memoryReservation": 64,
                "essential": false,
                "command": ["proxy", "--upstream", "localhost:8080"]
            }
        ],
        "tags": [{"key": "team", "value": "bench"}]
    })
}

/// Runs the benchmark.
pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let server = ServerProcess::start(&[]).await?;
    setup(&server).await?;
    let connections = args.connections.max(1);

    let describe = Bytes::from(serde_json::to_vec(&json!({"taskDefinition": "bench-read"}))?);
    let list = Bytes::from_static(b"{}");
    let reads: RequestMaker = Arc::new(move |sequence| {
        if sequence % 2 == 0 {
            ("DescribeTaskDefinition", describe.clone())
        } else {
            ("ListClusters", list.clone())
        }
    });
    load::drive(server.addr, connections, args.warmup, reads.clone()).await?;
    let read = load::drive(server.addr, connections, args.reads, reads).await?;
    report("reads (DescribeTaskDefinition + ListClusters)", &read);

    // One family per connection, so writers do not contend on a family's revision counter; the
    // bodies are made once so that the client spends its time sending, not encoding.
    let bodies: Vec<Bytes> = (0..connections)
        .map(|i| serde_json::to_vec(&task_definition(&format!("bench-write-{i}"))).map(Bytes::from))
        .collect::<Result<_, _>>()?;
    let writes: RequestMaker = Arc::new(move |sequence| {
        ("RegisterTaskDefinition", bodies[(sequence % bodies.len() as u64) as usize].clone())
    });
    load::drive(server.addr, connections, args.warmup, writes.clone()).await?;
    let write = load::drive(server.addr, connections, args.writes, writes).await?;
    report("durable writes (RegisterTaskDefinition)", &write);

    let rss = server.rss_mib().unwrap_or(0.0);
    println!("server RSS after the run: {rss:.1} MiB");
    if args.json {
        let figures = json!({
            "connections": connections,
            "read_requests": read.ok,
            "read_errors": read.errors,
            "read_rps": read.rps().round(),
            "read_p50_ms": read.percentile_ms(50.0),
            "read_p99_ms": read.percentile_ms(99.0),
            "write_requests": write.ok,
            "write_errors": write.errors,
            "write_rps": write.rps().round(),
            "write_p50_ms": write.percentile_ms(50.0),
            "write_p99_ms": write.percentile_ms(99.0),
            "server_rss_mib": (rss * 10.0).round() / 10.0,
        });
        println!("{figures}");
    }
    if read.errors > 0 || write.errors > 0 {
        bail!("{} reads and {} writes failed", read.errors, write.errors);
    }
    Ok(())
}

/// Creates the clusters ListClusters returns and the task definition DescribeTaskDefinition reads.
async fn setup(server: &ServerProcess) -> anyhow::Result<()> {
    let requests: Vec<(&'static str, Bytes)> = (0..10)
        .map(|i| ("CreateCluster", json!({"clusterName": format!("bench-{i}")})))
        .chain(std::iter::once(("RegisterTaskDefinition", task_definition("bench-read"))))
        .map(|(operation, body)| Ok((operation, Bytes::from(serde_json::to_vec(&body)?))))
        .collect::<anyhow::Result<_>>()?;
    let count = requests.len() as u64;
    let requests = Arc::new(requests);
    let maker: RequestMaker = Arc::new(move |sequence| requests[sequence as usize].clone());
    let result = load::drive(server.addr, 1, count, maker).await?;
    if result.errors > 0 {
        bail!("setting up the benchmark failed: {} of {count} requests were refused", result.errors);
    }
    Ok(())
}

fn report(name: &str, result: &LoadResult) {
    println!(
        "{name}: {} ok, {} failed in {:.2} s = {:.0} req/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        result.ok,
        result.errors,
        result.elapsed.as_secs_f64(),
        result.rps(),
        result.percentile_ms(50.0),
        result.percentile_ms(90.0),
        result.percentile_ms(99.0),
        result.percentile_ms(99.9),
        result.percentile_ms(100.0)
    );
}
