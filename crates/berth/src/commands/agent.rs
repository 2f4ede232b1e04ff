//! `berth agent`: the container agent of one host.
//!
//! Every flag has an environment variable (`BERTH_SERVER`, `BERTH_CLUSTER`, ...). The agent keeps
//! its identity in `--data-dir`, so restarting it with the same directory makes it the same
//! container instance, and it adopts the containers its tasks still run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use berth_agent::config::MetadataBind;
use berth_agent::runtime::docker::{DockerRuntime, DockerSettings};
use berth_agent::runtime::{PullBehavior, RegistryAuth, Runtime};
use berth_agent::{Agent, AgentConfig};

use super::duration;

/// Flags of `berth agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// The control plane's URL.
    #[arg(long, env = "BERTH_SERVER", default_value = "http://127.0.0.1:4566")]
    pub server: String,
    /// The cluster to join.
    #[arg(long, env = "BERTH_CLUSTER", default_value = "default")]
    pub cluster: String,
    /// Where the agent keeps its identity.
    #[arg(long, env = "BERTH_AGENT_DATA_DIR", default_value = "./berth-agent-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub simulate: super::simulate::SimulateArgs,
}

/// The settings of the host's agent, shared by `berth agent` and `berth up`.
#[derive(Debug, Clone, clap::Args)]
pub struct HostArgs {
    /// The region to register in [default: the server's].
    #[arg(long = "agent-region", env = "BERTH_AGENT_REGION")]
    pub agent_region: Option<String>,
    /// The instance's availability zone (attribute ecs.availability-zone).
    #[arg(long, env = "BERTH_AVAILABILITY_ZONE")]
    pub availability_zone: Option<String>,
    /// The instance type (attribute ecs.instance-type).
    #[arg(long, env = "BERTH_INSTANCE_TYPE", default_value = "berth.host")]
    pub instance_type: String,
    /// A custom attribute, KEY=VALUE or KEY; repeatable.
    #[arg(long = "attribute", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Memory (MiB) kept back from tasks for the host.
    #[arg(long, env = "BERTH_RESERVED_MEMORY", default_value_t = 0)]
    pub reserved_memory: i64,
    /// Host TCP ports tasks may not use, comma-separated.
    #[arg(long, env = "BERTH_RESERVED_PORTS", value_delimiter = ',', default_values_t = [22u16, 2375, 2376, 51678, 51679])]
    pub reserved_ports: Vec<u16>,
    /// Host UDP ports tasks may not use, comma-separated.
    #[arg(long, env = "BERTH_RESERVED_PORTS_UDP", value_delimiter = ',')]
    pub reserved_ports_udp: Vec<u16>,
    /// Image pull behaviour: default, always, once or prefer-cached.
    #[arg(long, env = "BERTH_IMAGE_PULL_BEHAVIOR", default_value = "default")]
    pub pull_behavior: String,
    /// How long a stopped task's containers are kept before removal.
    #[arg(long, env = "BERTH_TASK_CLEANUP_WAIT", default_value = "3h", value_parser = duration::parse)]
    pub task_cleanup_wait: Duration,
    /// Stop timeout of containers that set none (SIGTERM, then SIGKILL after this).
    #[arg(long, env = "BERTH_CONTAINER_STOP_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    pub container_stop_timeout: Duration,
    /// Port of the task metadata endpoint on the Docker bridge gateway (0: any free port).
    #[arg(long, env = "BERTH_METADATA_PORT", default_value_t = berth_agent::config::DEFAULT_METADATA_PORT)]
    pub metadata_port: u16,
    /// Registries the agent may reach over plain HTTP (host:port), comma-separated.
    #[arg(long, env = "BERTH_INSECURE_REGISTRIES", value_delimiter = ',')]
    pub insecure_registries: Vec<String>,
    /// A JSON file mapping repositoryCredentials.credentialsParameter names to
    /// {"username": ..., "password": ...}.
    #[arg(long, env = "BERTH_REGISTRY_CREDENTIALS")]
    pub registry_credentials: Option<PathBuf>,
    /// CPU units to register [default: 1024 per core].
    #[arg(long, env = "BERTH_CPU")]
    pub cpu: Option<i64>,
    /// Memory (MiB) to register [default: the host's].
    #[arg(long, env = "BERTH_MEMORY")]
    pub memory: Option<i64>,
}

impl HostArgs {
    /// The agent configuration these flags describe.
    pub fn config(&self, server: &str, cluster: &str, data_dir: PathBuf) -> anyhow::Result<AgentConfig> {
        let mut config = AgentConfig::new(server, cluster, data_dir);
        config.region = self.agent_region.clone();
        config.availability_zone = self.availability_zone.clone();
        config.instance_type = self.instance_type.clone();
        config.attributes = parse_attributes(&self.attributes)?;
        config.reserved_memory_mib = self.reserved_memory;
        config.reserved_ports = self.reserved_ports.clone();
        config.reserved_udp_ports = self.reserved_ports_udp.clone();
        config.pull_behavior = parse_pull_behavior(&self.pull_behavior)?;
        config.task_cleanup_wait = self.task_cleanup_wait;
        config.container_stop_timeout = self.container_stop_timeout;
        config.metadata = MetadataBind::BridgeGateway(self.metadata_port);
        config.cpu_units = self.cpu;
        config.memory_mib = self.memory;
        if let Some(path) = &self.registry_credentials {
            config.registry_credentials = load_credentials(path)?;
        }
        Ok(config)
    }

    /// Connects to the local Docker Engine, or says in one line why not.
    pub async fn docker(&self) -> anyhow::Result<Arc<dyn Runtime>> {
        let settings = DockerSettings {
            insecure_registries: self.insecure_registries.clone(),
            ..DockerSettings::default()
        };
        let runtime = DockerRuntime::connect(settings).await.map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(Arc::new(runtime))
    }
}

fn parse_attributes(items: &[String]) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut attributes = BTreeMap::new();
    for item in items {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key, Some(value.to_string())),
            None => (item.as_str(), None),
        };
        if key.is_empty() {
            bail!("--attribute '{item}' has no name; use KEY=VALUE");
        }
        attributes.insert(key.to_string(), value);
    }
    Ok(attributes)
}

fn parse_pull_behavior(text: &str) -> anyhow::Result<PullBehavior> {
    Ok(match text {
        "default" => PullBehavior::Default,
        "always" => PullBehavior::Always,
        "once" => PullBehavior::Once,
        "prefer-cached" => PullBehavior::PreferCached,
        other => bail!("unknown pull behaviour '{other}': use default, always, once or prefer-cached"),
    })
}

fn load_credentials(path: &PathBuf) -> anyhow::Result<BTreeMap<String, RegistryAuth>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        username: String,
        password: String,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let entries: BTreeMap<String, Entry> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON map of credentials", path.display()))?;
    Ok(entries
        .into_iter()
        .map(|(name, e)| (name, RegistryAuth { username: e.username, password: e.password }))
        .collect())
}

/// Runs the agent until Ctrl-C or SIGTERM.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    if let Some(count) = args.simulate.simulate {
        return super::simulate::run(&args, count).await;
    }
    let config = args.host.config(&args.server, &args.cluster, args.data_dir.clone())?;
    let runtime = args.host.docker().await?;
    let stats = berth_agent::metadata::DockerStats::connect()
        .await
        .map_err(|err| anyhow::anyhow!("cannot reach the Docker Engine for container stats: {err}"))?;
    let mut agent = Agent::start(config, runtime, Some(Arc::new(stats))).await?;
    println!("berth agent: container instance {}", agent.instance_arn);
    tokio::select! {
        _ = super::signals::shutdown() => {
            tracing::info!("shutting down; containers keep running and are adopted on restart");
            agent.shutdown().await
        }
        outcome = agent.wait() => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_pull_behaviours() {
        let attributes = parse_attributes(&["stack=prod".into(), "gpu".into()]).expect("valid");
        assert_eq!(attributes.get("stack"), Some(&Some("prod".to_string())));
        assert_eq!(attributes.get("gpu"), Some(&None));
        assert!(parse_attributes(&["=x".into()]).is_err());
        assert_eq!(parse_pull_behavior("prefer-cached").expect("valid"), PullBehavior::PreferCached);
        assert!(parse_pull_behavior("sometimes").is_err());
    }
}
