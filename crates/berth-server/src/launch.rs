//! Starting the control plane: open the store in the data directory, bind, serve.

use std::net::SocketAddr;
use std::sync::Arc;

use berth_store::{MemoryStore, RedbStore, Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{ServerConfig, StoreKind};
use crate::http::{AppState, serve};

/// The file of the embedded store inside the data directory.
pub const STORE_FILE: &str = "berth.redb";

/// Why the control plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("failed to create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("failed to open the store at {path}: {source}")]
    Store {
        /// The store file.
        path: String,
        /// What the store said.
        source: berth_store::StoreError,
    },
    /// The listen address could not be bound.
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A running control plane.
pub struct Running {
    /// The address the API listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting requests, lets those in flight finish, and waits for the server to end.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap_or_else(|err| Err(std::io::Error::other(err)))
    }
}

/// Opens the store `config.store` names (the embedded redb store in `config.data_dir`, or a
/// fresh one in memory) and starts serving on `config.listen`.
pub async fn start(config: ServerConfig) -> Result<Running, StartError> {
    if config.store == StoreKind::Memory {
        return start_with_store(config, Arc::new(MemoryStore::new())).await;
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| StartError::DataDir { path: config.data_dir.display().to_string(), source })?;
    let path = config.data_dir.join(STORE_FILE);
    let store = RedbStore::open(&path)
        .map_err(|source| StartError::Store { path: path.display().to_string(), source })?;
    start_with_store(config, Arc::new(store)).await
}

/// Starts serving on `config.listen` over an already open store.
pub async fn start_with_store(
    mut config: ServerConfig,
    store: Arc<dyn Store>,
) -> Result<Running, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    // The real address, so what the server advertises (DiscoverPollEndpoint) names its real port.
    config.listen = addr;
    match crate::agents::reset_connections(&*store).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "instances marked disconnected until their agents reconnect"),
        Err(err) => tracing::warn!(%err, "failed to mark instances disconnected at start"),
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let state = AppState { store, config: Arc::new(config), connections: Default::default() };
    let sweeper = tokio::spawn(sweep_periodically(state.store.clone(), state.config.task_retention));
    let lost_agents = tokio::spawn(crate::lost_agents::run(
        state.store.clone(),
        state.config.agent_lost_after,
        crate::context::now(),
    ));
    // The service controller: keeps services' tasks in line with their deployments.
    let controller = crate::controller::spawn(state.store.clone());
    let task = tokio::spawn(async move {
        let served = serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await;
        sweeper.abort();
        controller.abort();
        lost_agents.abort();
        served
    });
    tracing::info!(%addr, "control plane listening");
    Ok(Running { addr, stop: Some(stop), task })
}

/// Removes stopped tasks older than `retention`, checking every tenth of the retention (but no
/// more often than every second and no less often than every ten minutes).
async fn sweep_periodically(store: Arc<dyn Store>, retention: std::time::Duration) {
    let every =
        (retention / 10).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(600));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match crate::retention::sweep_stopped_tasks(&*store, retention.as_secs_f64(), crate::context::now())
            .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "stopped tasks past their retention removed"),
            Err(err) => tracing::warn!(%err, "retention sweep failed"),
        }
    }
}
