//! The Docker runtime: [`Runtime`] on the local Docker Engine through bollard.
//!
//! Each job has its file: [`config`] maps a [`ContainerRequest`] to the Engine's create call (pure),
//! `volumes` decides which volumes a container mounts, `envfile` reads environment files,
//! `pull` applies the pull behaviours, `state` reads an inspection as a [`ContainerState`], and
//! `events` turns the Engine's event stream into [`ContainerEvent`]s. This file holds the
//! connection and the calls that need nothing else.

pub mod config;
mod envfile;
mod events;
mod pull;
mod reference;
mod state;
pub mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::VolumeCreateOptions;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures::stream::BoxStream;

use super::{
    ContainerEvent, ContainerRequest, ContainerState, ManagedContainer, PullBehavior, RegistryAuth, Runtime,
    RuntimeError, RuntimeInfo, labels,
};

pub use volumes::task_volume_name;

/// Where the Engine listens unless `DOCKER_HOST` or the settings say otherwise.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long a call to the Engine may take to answer (stops add their own grace period).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The oldest Engine API the ECS agent advertises; every version from it up to the Engine's
/// own is reported as a `docker-remote-api` capability.
const OLDEST_REMOTE_API_MINOR: usize = 17;

/// How the agent uses the Docker Engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerSettings {
    /// The Engine's address (`unix:///path` or `tcp://host:port`). `None`: `DOCKER_HOST`, else
    /// `unix:///var/run/docker.sock`.
    pub docker_host: Option<String>,
    /// Registries (`host:port`) the agent pulls from over plain HTTP. The Docker daemon decides
    /// whether it speaks HTTP to a registry, so each must also be in the daemon's
    /// `insecure-registries` (`/etc/docker/daemon.json`); a pull from one that is not fails with
    /// a message saying what to add. Loopback registries (`127.0.0.1:PORT`, `localhost:PORT`)
    /// need nothing: the daemon treats 127.0.0.0/8 as insecure by default.
    pub insecure_registries: Vec<String>,
    /// The json-file log driver's `max-size` for each container (`10m`).
    pub log_max_size: String,
    /// The json-file log driver's `max-file`: how many rotated files are kept (3).
    pub log_max_files: u32,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            docker_host: None,
            insecure_registries: Vec::new(),
            log_max_size: "10m".to_string(),
            log_max_files: 3,
        }
    }
}

/// Runs containers on the local Docker Engine.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    settings: DockerSettings,
}

// === impl DockerRuntime ===

impl DockerRuntime {
    /// Connects to the Engine and negotiates the API version. Fails with one line naming the
    /// address when no engine answers there.
    pub async fn connect(settings: DockerSettings) -> Result<DockerRuntime, RuntimeError> {
        let host = settings
            .docker_host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|host| !host.is_empty()))
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string());
        let unreachable = |detail: String| {
            RuntimeError::Other(format!("cannot reach the Docker Engine at {host}: {detail}"))
        };
        let timeout = REQUEST_TIMEOUT.as_secs();
        let client = if host.starts_with("unix://") {
            Docker::connect_with_unix(&host, timeout, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(&host, timeout, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(unreachable("the address must start with unix:// or tcp://".to_string()));
        };
        let client = client.map_err(|error| unreachable(engine_message(&error)))?;
        let docker = client.negotiate_version().await.map_err(|error| unreachable(engine_message(&error)))?;
        Ok(DockerRuntime { docker, settings })
    }

    /// The settings the runtime was connected with.
    pub fn settings(&self) -> &DockerSettings {
        &self.settings
    }

    /// Creates the container, or finds the one a previous attempt created under the same name.
    async fn create_or_find(
        &self,
        name: &str,
        body: bollard::models::ContainerCreateBody,
    ) -> Result<String, RuntimeError> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(error) if status(&error) == Some(409) => {
                let existing = self
                    .docker
                    .inspect_container(name, None::<InspectContainerOptions>)
                    .await
                    .map_err(|error| RuntimeError::Create(engine_message(&error)))?;
                existing
                    .id
                    .ok_or_else(|| RuntimeError::Create(format!("container {name} exists but has no id")))
            }
            Err(error) => Err(RuntimeError::Create(engine_message(&error))),
        }
    }

    /// Fails unless the named volume exists (a shared volume that must not be autoprovisioned).
    async fn require_volume(&self, name: &str) -> Result<(), RuntimeError> {
        match self.docker.inspect_volume(name).await {
            Ok(_) => Ok(()),
            Err(error) if status(&error) == Some(404) => Err(RuntimeError::Create(format!(
                "shared volume {name} does not exist and its dockerVolumeConfiguration does not \
                 autoprovision it: create it (docker volume create {name}) or set autoprovision"
            ))),
            Err(error) => Err(RuntimeError::Create(engine_message(&error))),
        }
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn pull(
        &self,
        image: &str,
        behavior: PullBehavior,
        auth: Option<&RegistryAuth>,
    ) -> Result<Option<String>, RuntimeError> {
        self.pull_image(image, behavior, auth).await
    }

    async fn create(&self, request: &ContainerRequest) -> Result<String, RuntimeError> {
        let plan = volumes::plan(request)?;
        for volume in &plan.volumes {
            if volume.must_exist {
                self.require_volume(&volume.name).await?;
            } else {
                self.ensure_volume(&volume.name, volume.driver.as_deref(), &volume.options, &volume.labels)
                    .await?;
            }
        }
        let file_environment = envfile::read_all(&request.container).await?;
        let body = config::create_body(request, &self.settings, &file_environment, &plan.binds)?;
        self.create_or_find(&request.runtime_name, body).await
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        // An already running container answers 304, which bollard reads as success.
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|error| not_found_or(id, &error, RuntimeError::Start))
    }

    async fn stop(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        // Docker takes whole seconds; round up so a grace period is never shortened.
        let seconds = timeout.as_millis().div_ceil(1000);
        let seconds = i32::try_from(seconds).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(seconds).build();
        // The call returns only once the container is gone, so it may take the whole grace period.
        let docker = self.docker.clone().with_timeout(REQUEST_TIMEOUT + timeout);
        docker
            .stop_container(id, Some(options))
            .await
            .map_err(|error| not_found_or(id, &error, RuntimeError::Stop))
    }

    async fn inspect(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        let inspected = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|error| not_found_or(id, &error, RuntimeError::Other))?;
        let mut container_state = state::container_state(&inspected);
        if let (Some(name), Some(image_id)) =
            (inspected.config.as_ref().and_then(|config| config.image.as_deref()), inspected.image.as_deref())
        {
            container_state.image_digest = self.image_digest(name, image_id).await;
        }
        Ok(container_state)
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // 409: a removal is already under way.
            Err(error) if status(&error) == Some(409) => Ok(()),
            Err(error) => Err(not_found_or(id, &error, RuntimeError::Other)),
        }
    }

    async fn list_managed(&self) -> Result<Vec<ManagedContainer>, RuntimeError> {
        let filters = HashMap::from([("label".to_string(), vec![labels::TASK_ARN.to_string()])]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|error| RuntimeError::Other(engine_message(&error)))?;
        let mut managed = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            let container_state = match self.inspect(&id).await {
                Ok(container_state) => container_state,
                // Removed between the listing and the inspection: no longer there to manage.
                Err(RuntimeError::NotFound(_)) => continue,
                Err(error) => return Err(error),
            };
            let labels = summary.labels.unwrap_or_default().into_iter().collect();
            managed.push(ManagedContainer { id, labels, state: container_state });
        }
        Ok(managed)
    }

    async fn ensure_volume(
        &self,
        name: &str,
        driver: Option<&str>,
        options: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError> {
        // Creating an existing volume with the same driver returns it; another driver is an error.
        let create = VolumeCreateOptions {
            name: Some(name.to_string()),
            driver: Some(driver.unwrap_or("local").to_string()),
            driver_opts: Some(options.clone().into_iter().collect()),
            labels: Some(labels.clone().into_iter().collect()),
            ..VolumeCreateOptions::default()
        };
        self.docker
            .create_volume(create)
            .await
            .map(|_| ())
            .map_err(|error| RuntimeError::Create(format!("volume {name}: {}", engine_message(&error))))
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        match self.docker.remove_volume(name, None::<RemoveVolumeOptions>).await {
            // Already gone is what was asked.
            Err(error) if status(&error) == Some(404) => Ok(()),
            Err(error) => {
                Err(RuntimeError::Other(format!("removing volume {name}: {}", engine_message(&error))))
            }
            Ok(()) => Ok(()),
        }
    }

    async fn describe(&self) -> RuntimeInfo {
        let version = match self.docker.version().await {
            Ok(version) => version,
            Err(error) => {
                tracing::warn!(error = %engine_message(&error), "cannot read the Docker Engine's version");
                return RuntimeInfo::default();
            }
        };
        let api_minor = version
            .api_version
            .as_deref()
            .and_then(|api| api.strip_prefix("1."))
            .and_then(|minor| minor.parse::<usize>().ok())
            .unwrap_or(OLDEST_REMOTE_API_MINOR);
        let mut capabilities: Vec<(String, Option<String>)> = (OLDEST_REMOTE_API_MINOR..=api_minor)
            .map(|minor| (format!("com.amazonaws.ecs.capability.docker-remote-api.1.{minor}"), None))
            .collect();
        for name in [
            "com.amazonaws.ecs.capability.logging-driver.json-file",
            "com.amazonaws.ecs.capability.privileged-container",
            "ecs.capability.container-health-check",
            "ecs.capability.container-ordering",
            "ecs.capability.docker-plugin.local",
        ] {
            capabilities.push((name.to_string(), None));
        }
        RuntimeInfo { version: version.version, capabilities }
    }

    fn events(&self) -> BoxStream<'static, ContainerEvent> {
        events::stream(&self.docker)
    }
}

/// The Engine's own words for a failure: its message for an HTTP error or a stream error,
/// bollard's description otherwise.
pub(crate) fn engine_message(error: &DockerError) -> String {
    match error {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        DockerError::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    }
}

/// The HTTP status of an Engine error, if it was one.
pub(crate) fn status(error: &DockerError) -> Option<u16> {
    match error {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// `NotFound` for a 404 on container `id`, else the error `kind` with the Engine's message.
fn not_found_or(id: &str, error: &DockerError, kind: fn(String) -> RuntimeError) -> RuntimeError {
    if status(error) == Some(404) {
        RuntimeError::NotFound(id.to_string())
    } else {
        kind(engine_message(error))
    }
}
