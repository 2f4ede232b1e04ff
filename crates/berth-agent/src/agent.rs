//! Starting an agent: register the host, start the engine and the metadata endpoint, hold the
//! session.

use std::sync::Arc;
use std::time::Duration;

use berth_api::model::{RegisterContainerInstanceRequest, RegisterContainerInstanceResponse};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{ApiError, EcsClient};
use crate::config::{AgentConfig, MetadataBind};
use crate::engine::{Engine, EngineSettings};
use crate::host;
use crate::identity::{self, Identity};
use crate::metadata::{MetadataServer, StatsSource};
use crate::runtime::Runtime;
use crate::session::{self, SessionError};

/// A running agent.
pub struct Agent {
    /// The container instance this agent is.
    pub instance_arn: String,
    /// The task engine.
    pub engine: Engine,
    /// Whether the session is up.
    pub connected: watch::Receiver<bool>,
    metadata: Option<MetadataServer>,
    shutdown: watch::Sender<bool>,
    session: JoinHandle<Result<(), SessionError>>,
}

impl Agent {
    /// Registers (or re-registers) the host and starts serving its tasks.
    pub async fn start(
        config: AgentConfig,
        runtime: Arc<dyn Runtime>,
        stats: Option<Arc<dyn StatsSource>>,
    ) -> anyhow::Result<Agent> {
        let client = EcsClient::new(&config.server, config.region.clone());
        let previous = identity::load(&config.data_dir)?;
        if let Some(previous) = &previous
            && previous.cluster != config.cluster
        {
            anyhow::bail!(
                "{} holds the identity of an instance of cluster {}, not {}; use another --data-dir",
                config.data_dir.display(),
                previous.cluster,
                config.cluster
            );
        }
        let info = runtime.describe().await;
        let request = RegisterContainerInstanceRequest {
            cluster: Some(config.cluster.clone()),
            total_resources: Some(host::resources(&config)),
            version_info: Some(host::version_info(info.version.clone())),
            attributes: Some(host::attributes(&config, &info.capabilities)),
            container_instance_arn: previous.as_ref().map(|p| p.container_instance_arn.clone()),
            instance_identity_document: config.availability_zone.as_ref().map(|zone| {
                serde_json::json!({ "availabilityZone": zone, "instanceType": config.instance_type })
                    .to_string()
            }),
            ..RegisterContainerInstanceRequest::default()
        };
        let response: RegisterContainerInstanceResponse = match register(&client, &request).await {
            Err(err) if previous.is_some() => {
                return Err(err.context(format!(
                    "this host was registered before as {}; if that instance was deregistered, remove {} \
                     to register the host as a new instance",
                    request.container_instance_arn.as_deref().unwrap_or_default(),
                    config.data_dir.join("instance.json").display()
                )));
            }
            other => other?,
        };
        let instance_arn =
            response.container_instance.and_then(|i| i.container_instance_arn).ok_or_else(|| {
                anyhow::anyhow!("the control plane registered the instance but returned no ARN")
            })?;
        identity::save(
            &config.data_dir,
            &Identity { container_instance_arn: instance_arn.clone(), cluster: config.cluster.clone() },
        )?;
        tracing::info!(instance = %instance_arn, cluster = %config.cluster, "registered");

        let metadata = start_metadata(&config, stats).await?;
        let settings = EngineSettings {
            cluster: config.cluster.clone(),
            container_instance_arn: instance_arn.clone(),
            pull_behavior: config.pull_behavior,
            task_cleanup_wait: config.task_cleanup_wait,
            container_stop_timeout: config.container_stop_timeout,
            registry_credentials: config.registry_credentials.clone(),
        };
        let (engine, reports) =
            Engine::start(runtime, settings, metadata.as_ref().map(MetadataServer::registry)).await?;
        let (connected_tx, connected) = watch::channel(false);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let session = tokio::spawn(session::run(
            client,
            instance_arn.clone(),
            engine.clone(),
            reports,
            connected_tx,
            shutdown_rx,
        ));
        Ok(Agent { instance_arn, engine, connected, metadata, shutdown, session })
    }

    /// Waits until the session is up: the server has marked the instance connected and sent its
    /// full desired list (or `timeout` passes).
    pub async fn wait_connected(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.connected.wait_for(|up| *up)).await.is_ok_and(|r| r.is_ok())
    }

    /// Ends the session and the metadata endpoint. Containers keep running: a restarted agent
    /// adopts them.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let outcome = self.session.await;
        if let Some(metadata) = self.metadata {
            metadata.shutdown().await;
        }
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
            Err(err) => Err(anyhow::anyhow!("the session task failed: {err}")),
        }
    }

    /// Waits for the session to end by itself (only when the server refuses the instance).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        match (&mut self.session).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
            Err(err) => Err(anyhow::anyhow!("the session task failed: {err}")),
        }
    }
}

/// Registers, retrying while the control plane is unreachable (it may be starting too).
async fn register(
    client: &EcsClient,
    request: &RegisterContainerInstanceRequest,
) -> anyhow::Result<RegisterContainerInstanceResponse> {
    let mut delay = Duration::from_millis(200);
    let mut attempts = 0;
    loop {
        match client.call("RegisterContainerInstance", request).await {
            Ok(response) => return Ok(response),
            Err(ApiError::Refused { code, message }) => {
                anyhow::bail!("the control plane refused to register this host: {code}: {message}")
            }
            Err(ApiError::Transport(reason)) => {
                attempts += 1;
                if attempts == 1 || attempts % 10 == 0 {
                    tracing::warn!(%reason, "control plane unreachable; retrying");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn start_metadata(
    config: &AgentConfig,
    stats: Option<Arc<dyn StatsSource>>,
) -> anyhow::Result<Option<MetadataServer>> {
    let Some(stats) = stats else { return Ok(None) };
    let bind = match &config.metadata {
        MetadataBind::Off => return Ok(None),
        MetadataBind::Address(addr) => *addr,
        MetadataBind::BridgeGateway(port) => {
            let gateway = crate::metadata::bridge_gateway().await.ok_or_else(|| {
                anyhow::anyhow!("cannot find the Docker bridge network's gateway to serve task metadata on")
            })?;
            std::net::SocketAddr::new(gateway, *port)
        }
    };
    let server = MetadataServer::start(bind, stats)
        .await
        .map_err(|err| anyhow::anyhow!("cannot serve task metadata on {bind}: {err}"))?;
    tracing::info!(url = %server.base_url(), "task metadata endpoint listening");
    Ok(Some(server))
}
