//! `berth up`: everything on one machine in one process — the control plane with its embedded
//! store, cluster `default`, and an agent for this host — then a ready-to-paste AWS CLI example.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_agent::Agent;
use berth_agent::client::EcsClient;
use berth_api::model::{CreateClusterRequest, CreateClusterResponse};

use super::agent::HostArgs;
use super::server::ServerArgs;

/// Flags of `berth up`: every setting of `berth server` (flags, environment variables and
/// `--config`, resolved the same way) and every host setting of `berth agent`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    host: HostArgs,
}

/// The cluster `berth up` makes ready.
const CLUSTER: &str = "default";

/// Runs everything until Ctrl-C or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    // Settings first, so that a mistyped one is all the user hears; then Docker: without it there
    // is nothing to run tasks on, and the user should hear that before anything else happens.
    let config = super::server::resolve(args.server)?;
    if config.store == berth_server::StoreKind::Memory {
        // The agent keeps its instance and adopts its containers across restarts; a control
        // plane that forgot them would refuse the one and stop the others.
        anyhow::bail!(
            "berth up keeps this host's instance and containers across restarts, which needs the durable store: --store memory is for berth server"
        );
    }
    let (region, agent_data_dir) = (config.region.clone(), config.data_dir.join("agent"));
    let runtime = args.host.docker().await?;
    let stats = berth_agent::metadata::DockerStats::connect()
        .await
        .map_err(|err| anyhow::anyhow!("cannot reach the Docker Engine for container stats: {err}"))?;
    let server = berth_server::start(config).await?;
    let endpoint = format!("http://{}", server.addr);
    let client = EcsClient::new(&endpoint, None);
    let _: CreateClusterResponse = client
        .call(
            "CreateCluster",
            &CreateClusterRequest { cluster_name: Some(CLUSTER.into()), ..Default::default() },
        )
        .await
        .context("failed to create the default cluster")?;
    let agent_config = args.host.config(&endpoint, CLUSTER, agent_data_dir)?;
    let mut agent = Agent::start(agent_config, runtime, Some(Arc::new(stats))).await?;
    if !agent.wait_connected(Duration::from_secs(30)).await {
        anyhow::bail!("the agent did not connect to the control plane within 30 s");
    }
    print_welcome(&endpoint, &region, &agent.instance_arn);
    tokio::select! {
        _ = super::signals::shutdown() => {}
        outcome = agent.wait() => outcome?,
    }
    println!("berth: shutting down (running containers keep running and are adopted next time)");
    agent.shutdown().await?;
    server.shutdown().await.context("the control plane failed while shutting down")?;
    Ok(())
}

fn print_welcome(endpoint: &str, region: &str, instance: &str) {
    println!(
        "Berth is up.
  ECS API:            {endpoint}  (region {region})
  cluster:            {CLUSTER}
  container instance: {instance}

Try it with the AWS CLI (any credentials will do):
  export AWS_ACCESS_KEY_ID=berth AWS_SECRET_ACCESS_KEY=berth AWS_DEFAULT_REGION={region}
  aws --endpoint-url {endpoint} ecs list-container-instances
  aws --endpoint-url {endpoint} ecs register-task-definition --family hello \\
      --container-definitions '[{{\"name\":\"hello\",\"image\":\"busybox\",\"memory\":64,\"command\":[\"sleep\",\"3600\"]}}]'
  aws --endpoint-url {endpoint} ecs run-task --task-definition hello
  aws --endpoint-url {endpoint} ecs list-tasks

Press Ctrl-C to stop."
    );
}
