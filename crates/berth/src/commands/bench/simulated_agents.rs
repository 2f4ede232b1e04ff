//! What the end-to-end benchmarks share: a `berth agent --simulate` child process hosting the
//! cluster's instances, and a JSON call to the server that says which operation failed.

use std::process::Stdio;

use anyhow::{Context, bail};
use berth_agent::client::EcsClient;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

/// The `berth agent --simulate` child process, killed when dropped.
pub struct SimulatedAgents {
    child: tokio::process::Child,
    _data_dir: tempfile::TempDir,
}

impl SimulatedAgents {
    /// Starts `instances` simulated instances of `cluster` in three zones and waits for the line
    /// saying all are connected.
    pub async fn start(endpoint: &str, cluster: &str, instances: usize) -> anyhow::Result<SimulatedAgents> {
        let data_dir = tempfile::Builder::new().prefix("berth-bench-agents-").tempdir()?;
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["agent", "--server", endpoint, "--cluster", cluster, "--data-dir"])
            .arg(data_dir.path())
            .args(["--simulate", &instances.to_string(), "--availability-zones", "zone-a,zone-b,zone-c"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("failed to start berth agent --simulate")?;
        let stdout = child.stdout.take().context("no stdout from berth agent")?;
        let mut line = String::new();
        tokio::io::BufReader::new(stdout).read_line(&mut line).await?;
        if !line.contains("connected") {
            bail!("berth agent --simulate did not connect its instances: {}", line.trim());
        }
        Ok(SimulatedAgents { child, _data_dir: data_dir })
    }

    /// The process id, for reading its memory.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Calls `operation`, naming it in the error.
pub async fn call(client: &EcsClient, operation: &str, body: Value) -> anyhow::Result<Value> {
    client.call(operation, &body).await.with_context(|| format!("{operation} failed"))
}
