//! `berth agent --simulate N`: one process hosting N simulated container instances.
//!
//! Each simulated instance is a real [`Agent`] — its own identity under `DIR/sim-<i>`, its own
//! registration, its own WebSocket session and task engine — over its own [`SimulatedRuntime`],
//! which runs nothing: only the runtime differs from an agent on Docker. That is what lets one
//! machine stand for a cluster of thousands of hosts when testing placement and measuring the
//! control plane at scale.
//!
//! Agents start a bounded number at a time: registering thousands at once would open thousands
//! of connections and queue thousands of writes in the same instant, which makes every one of
//! them slow; a window of [`SimulateArgs::simulate_concurrency`] keeps the server busy without
//! drowning it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use berth_agent::config::MetadataBind;
use berth_agent::runtime::simulated::{SimulatedRuntime, SimulatedSettings};
use berth_agent::{Agent, AgentConfig};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::agent::AgentArgs;
use super::duration;

/// CPU units a simulated instance registers unless `--cpu` says otherwise (two cores).
pub const DEFAULT_CPU_UNITS: i64 = 2048;
/// Memory (MiB) a simulated instance registers unless `--memory` says otherwise.
pub const DEFAULT_MEMORY_MIB: i64 = 4096;
/// How long one agent may take from registering to holding its session.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// How many registrations are in flight at once. The control plane commits each registration
/// together with a rewrite of its cluster's record under a compare (so that DeleteCluster cannot
/// race it), which makes registrations to one cluster succeed one per store commit: a wide window
/// only makes the others lose the compare and retry. A few in flight keep every commit useful.
const REGISTRATION_WINDOW: usize = 4;
/// How often one instance tries to register when the control plane reports that the cluster
/// record kept changing under it.
const REGISTRATION_ATTEMPTS: usize = 10;

/// The `--simulate` family of flags of `berth agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Host N simulated container instances in this process instead of running containers:
    /// each registers and holds a session like a real agent, and its tasks go RUNNING without a
    /// container runtime.
    #[arg(long, value_name = "N")]
    pub simulate: Option<usize>,
    /// Availability zones given to the simulated instances in turn (attribute
    /// ecs.availability-zone), comma-separated.
    #[arg(long, value_delimiter = ',', requires = "simulate", conflicts_with = "availability_zone")]
    pub availability_zones: Vec<String>,
    /// Make every simulated container exit with code 0 this long after it starts, so tasks stop
    /// by themselves (EssentialContainerExited); without it they run until stopped.
    #[arg(long, value_parser = duration::parse, requires = "simulate")]
    pub task_exit_after: Option<Duration>,
    /// How many simulated instances register at the same time.
    #[arg(long, default_value_t = 64, requires = "simulate")]
    pub simulate_concurrency: usize,
}

/// Runs `count` simulated instances until Ctrl-C or SIGTERM.
pub async fn run(args: &AgentArgs, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        bail!("--simulate needs at least one instance");
    }
    let configs = configs(args, count)?;
    let settings = SimulatedSettings { exit_after: args.simulate.task_exit_after };
    let began = Instant::now();
    let mut fleet = Fleet::start(configs, settings, args.simulate.simulate_concurrency.max(1));
    if let Err(err) = fleet.wait_connected(count).await {
        fleet.shutdown().await;
        return Err(err);
    }
    println!(
        "berth agent: {count} simulated container instances connected to cluster {} in {:.1} s",
        args.cluster,
        began.elapsed().as_secs_f64()
    );
    tokio::select! {
        _ = super::signals::shutdown() => tracing::info!("shutting down the simulated instances"),
        _ = fleet.all_ended() => bail!("every simulated instance was refused by the control plane"),
    }
    fleet.shutdown().await;
    Ok(())
}

/// The configuration of each simulated instance: the host flags, with its own data directory, its
/// zone in turn, the simulated resources and no metadata endpoint (there are no containers to
/// serve it to).
fn configs(args: &AgentArgs, count: usize) -> anyhow::Result<Vec<AgentConfig>> {
    let zones: Vec<String> = if args.simulate.availability_zones.is_empty() {
        args.host.availability_zone.iter().cloned().collect()
    } else {
        args.simulate.availability_zones.clone()
    };
    if let Some(empty) = zones.iter().position(|zone| zone.trim().is_empty()) {
        bail!("--availability-zones has an empty zone name at position {}", empty + 1);
    }
    let template = args.host.config(&args.server, &args.cluster, args.data_dir.clone())?;
    Ok((0..count)
        .map(|index| {
            let mut config = template.clone();
            config.data_dir = instance_dir(&args.data_dir, index);
            config.availability_zone =
                if zones.is_empty() { None } else { Some(zones[index % zones.len()].clone()) };
            config.cpu_units = Some(args.host.cpu.unwrap_or(DEFAULT_CPU_UNITS));
            config.memory_mib = Some(args.host.memory.unwrap_or(DEFAULT_MEMORY_MIB));
            config.metadata = MetadataBind::Off;
            config
        })
        .collect())
}

/// Where simulated instance `index` keeps its identity, so a restart with the same `--data-dir`
/// brings back the same container instances.
pub fn instance_dir(data_dir: &Path, index: usize) -> std::path::PathBuf {
    data_dir.join(format!("sim-{index}"))
}

/// The simulated instances of this process, each held by a task of its own.
struct Fleet {
    hosts: JoinSet<()>,
    stop: watch::Sender<bool>,
    ready: mpsc::UnboundedReceiver<(usize, anyhow::Result<()>)>,
}

impl Fleet {
    /// Starts every instance, at most `concurrency` registering at a time.
    fn start(configs: Vec<AgentConfig>, settings: SimulatedSettings, concurrency: usize) -> Fleet {
        let windows = Arc::new(Windows {
            starting: Semaphore::new(concurrency),
            registering: Semaphore::new(REGISTRATION_WINDOW.min(concurrency)),
        });
        let (stop, _) = watch::channel(false);
        let (ready_tx, ready) = mpsc::unbounded_channel();
        let mut hosts = JoinSet::new();
        for (index, config) in configs.into_iter().enumerate() {
            let host =
                Host { index, windows: windows.clone(), ready: ready_tx.clone(), stop: stop.subscribe() };
            hosts.spawn(host.run(config, settings));
        }
        Fleet { hosts, stop, ready }
    }

    /// Waits until `count` instances hold their session; the first that cannot is the error.
    async fn wait_connected(&mut self, count: usize) -> anyhow::Result<()> {
        for _ in 0..count {
            let Some((index, outcome)) = self.ready.recv().await else {
                bail!("the simulated instances ended before all of them connected");
            };
            outcome.with_context(|| format!("simulated instance {index} did not start"))?;
        }
        Ok(())
    }

    /// Resolves when every instance's session has ended by itself.
    async fn all_ended(&mut self) {
        while self.hosts.join_next().await.is_some() {}
    }

    /// Ends every session and waits for them.
    async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while let Some(outcome) = self.hosts.join_next().await {
            if let Err(err) = outcome {
                tracing::warn!(%err, "a simulated instance's task failed");
            }
        }
    }
}

/// How many instances may be starting, and registering, at once.
struct Windows {
    starting: Semaphore,
    registering: Semaphore,
}

/// One simulated instance's task.
struct Host {
    index: usize,
    windows: Arc<Windows>,
    ready: mpsc::UnboundedSender<(usize, anyhow::Result<()>)>,
    stop: watch::Receiver<bool>,
}

impl Host {
    /// Registers, waits for the session, says so, then holds the agent until told to stop or
    /// until the control plane refuses the instance.
    async fn run(mut self, config: AgentConfig, settings: SimulatedSettings) {
        let started = tokio::select! {
            started = start(&self.windows, config, settings) => started,
            _ = stopped(&mut self.stop) => return,
        };
        let mut agent = match started {
            Ok(agent) => agent,
            Err(err) => {
                let _ = self.ready.send((self.index, Err(err)));
                return;
            }
        };
        let _ = self.ready.send((self.index, Ok(())));
        tokio::select! {
            _ = stopped(&mut self.stop) => {
                if let Err(err) = agent.shutdown().await {
                    tracing::warn!(instance = %agent_label(self.index), %err, "session ended badly");
                }
            }
            outcome = agent.wait() => {
                if let Err(err) = outcome {
                    tracing::warn!(instance = %agent_label(self.index), %err, "simulated instance stopped");
                }
            }
        }
    }
}

/// Starts one agent and waits for its session. The window's permit covers registration and the
/// session's opening, the part that loads the server, and is given back once the agent is
/// connected; registration itself goes through a narrower window (see [`REGISTRATION_WINDOW`]).
async fn start(windows: &Windows, config: AgentConfig, settings: SimulatedSettings) -> anyhow::Result<Agent> {
    let _permit = windows.starting.acquire().await.context("the start window closed")?;
    let mut agent = register(windows, config, settings).await?;
    if !agent.wait_connected(CONNECT_TIMEOUT).await {
        let arn = agent.instance_arn.clone();
        let _ = agent.shutdown().await;
        bail!("{arn} registered but its session did not open within {} s", CONNECT_TIMEOUT.as_secs());
    }
    Ok(agent)
}

/// Registers one agent, trying again when the control plane answers that the cluster kept
/// changing (other registrations won every compare); any other refusal is final.
async fn register(
    windows: &Windows,
    config: AgentConfig,
    settings: SimulatedSettings,
) -> anyhow::Result<Agent> {
    let mut delay = Duration::from_millis(50);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = {
            let _permit = windows.registering.acquire().await.context("the start window closed")?;
            let runtime = Arc::new(SimulatedRuntime::new(settings));
            Agent::start(config.clone(), runtime, None).await
        };
        match outcome {
            Ok(agent) => return Ok(agent),
            Err(err) if attempt < REGISTRATION_ATTEMPTS && err.to_string().contains("ServerException") => {
                tracing::debug!(%err, attempt, "registration raced others; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(err) => return Err(err),
        }
    }
}

/// Resolves once the fleet is told to stop (or the fleet is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held across the caller's awaits.
    let _ = stop.wait_for(|stop| *stop).await;
}

fn agent_label(index: usize) -> String {
    format!("sim-{index}")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        agent: AgentArgs,
    }

    fn parse(args: &[&str]) -> Result<AgentArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("agent").chain(args.iter().copied())).map(|cli| cli.agent)
    }

    #[test]
    fn zones_go_round_robin_with_the_simulated_defaults() {
        let args = parse(&[
            "--simulate",
            "5",
            "--availability-zones",
            "a,b,c",
            "--data-dir",
            "/d",
            "--attribute",
            "k=v",
        ])
        .expect("valid flags");
        let configs = configs(&args, 5).expect("valid");
        let zones: Vec<_> = configs.iter().map(|c| c.availability_zone.clone().unwrap_or_default()).collect();
        assert_eq!(zones, ["a", "b", "c", "a", "b"]);
        assert_eq!(configs[3].data_dir, Path::new("/d/sim-3"));
        assert!(configs.iter().all(|c| c.cpu_units == Some(2048) && c.memory_mib == Some(4096)));
        assert!(configs.iter().all(|c| c.metadata == MetadataBind::Off));
        assert_eq!(configs[4].attributes.get("k"), Some(&Some("v".to_string())));
    }

    #[test]
    fn resources_and_exit_timer_come_from_the_flags() {
        let args = parse(&["--simulate", "1", "--cpu", "1024", "--memory", "512", "--task-exit-after", "2s"])
            .expect("valid flags");
        let config = &configs(&args, 1).expect("valid")[0];
        assert_eq!((config.cpu_units, config.memory_mib), (Some(1024), Some(512)));
        assert_eq!(config.availability_zone, None);
        assert_eq!(args.simulate.task_exit_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn simulation_flags_need_simulate_and_zones_must_be_named() {
        assert!(parse(&["--task-exit-after", "2s"]).is_err(), "--task-exit-after alone");
        assert!(parse(&["--availability-zones", "a"]).is_err(), "--availability-zones alone");
        let args = parse(&["--simulate", "2", "--availability-zones", "a,,b"]).expect("parses");
        let refused = configs(&args, 2).expect_err("an empty zone");
        assert!(refused.to_string().contains("position 2"), "{refused}");
    }
}
