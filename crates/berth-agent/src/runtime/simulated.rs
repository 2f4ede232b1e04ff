//! A runtime that runs nothing: containers are rows in memory that go through the states a
//! Docker container goes through. It lets one process host thousands of simulated container
//! instances, each with its own agent and its own `SimulatedRuntime`, while every other code path
//! (session, task engine, reporting) is the real one.
//!
//! What it simulates, as Docker does it: pulls succeed at once; creating is idempotent on the
//! container's runtime name; starting binds host ports (an ephemeral port from 49153–65535 for a
//! bridge mapping without a host port, refusing a host port another running container of this
//! runtime holds); stopping always ends with exit code 0, as a container that honours SIGTERM;
//! exits release the ports and are announced as [`ContainerEvent::Died`]. Containers with a
//! health check are `HEALTHY` while they run. With [`SimulatedSettings::exit_after`], every
//! started container exits by itself with code 0 after that long.
//!
//! Cost: one mutex-guarded table and one broadcast channel per runtime, and one tokio timer per
//! running container only when `exit_after` is set; no thread anywhere.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use berth_api::model::{NetworkBinding, PortMapping};
use futures::stream::{self, BoxStream};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use super::{
    ContainerEvent, ContainerRequest, ContainerState, ManagedContainer, PullBehavior, RegistryAuth, Runtime,
    RuntimeError, labels,
};

/// Docker's ephemeral host port range (the Linux default `ip_local_port_range` Docker uses when
/// it cannot read the host's), where bridge mappings without a host port get theirs.
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 49153..=65535;

/// Exit code of a container killed by SIGKILL (removed while running).
const SIGKILL_EXIT: i32 = 137;

/// Room for events not yet read by a slow subscriber; one that falls further behind skips the
/// oldest and re-inspects, as the [`Runtime::events`] contract asks.
const EVENT_BUFFER: usize = 256;

/// How a simulated runtime behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimulatedSettings {
    /// When set, every started container exits by itself with code 0 after this long (a batch
    /// job); when not, containers run until stopped.
    pub exit_after: Option<Duration>,
}

/// A volume the runtime was asked to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimulatedVolume {
    /// The driver asked for (`local` when none was).
    pub driver: String,
    /// The driver options.
    pub options: BTreeMap<String, String>,
    /// The volume's labels.
    pub labels: BTreeMap<String, String>,
}

/// The simulated runtime. Clones share one set of containers.
#[derive(Debug, Clone)]
pub struct SimulatedRuntime {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    settings: SimulatedSettings,
    table: Mutex<Table>,
    events: broadcast::Sender<ContainerEvent>,
}

#[derive(Debug)]
struct Table {
    /// By runtime id.
    containers: BTreeMap<String, Container>,
    /// Runtime name → runtime id.
    names: HashMap<String, String>,
    /// Host ports held by running containers: (protocol, port) → runtime id.
    ports: HashMap<(String, u16), String>,
    /// Where the search for the next ephemeral port starts, so ports are handed out in turn (as
    /// Docker does) rather than the lowest free one being reused at once.
    next_ephemeral: u16,
    volumes: BTreeMap<String, SimulatedVolume>,
}

#[derive(Debug)]
struct Container {
    runtime_name: String,
    labels: BTreeMap<String, String>,
    state: ContainerState,
    network_mode: String,
    port_mappings: Vec<PortMapping>,
    health_checked: bool,
    /// Counts starts, so that an exit timer armed for an earlier run does nothing.
    run: u64,
    exit_timer: Option<AbortHandle>,
}

/// One host port binding to make: `count` consecutive host ports for as many container ports.
#[derive(Debug)]
struct Claim {
    protocol: String,
    container_ports: (u16, u16),
    /// `None`: ephemeral.
    host_start: Option<u16>,
}

// === impl SimulatedRuntime ===

impl SimulatedRuntime {
    /// A runtime with no containers.
    pub fn new(settings: SimulatedSettings) -> SimulatedRuntime {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let table = Table {
            containers: BTreeMap::new(),
            names: HashMap::new(),
            ports: HashMap::new(),
            next_ephemeral: *EPHEMERAL_PORTS.start(),
            volumes: BTreeMap::new(),
        };
        SimulatedRuntime { shared: Arc::new(Shared { settings, table: Mutex::new(table), events }) }
    }

    /// The volume `name`, if it was created and not removed.
    pub fn volume(&self, name: &str) -> Option<SimulatedVolume> {
        self.shared.lock().volumes.get(name).cloned()
    }

    fn arm_exit_timer(&self, id: &str, run: u64) -> Option<AbortHandle> {
        let after = self.shared.settings.exit_after?;
        // Weak: a timer must not keep a dropped runtime's table alive.
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let id = id.to_string();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(shared) = shared.upgrade() {
                let mut table = shared.lock();
                if table.containers.get(&id).is_some_and(|c| c.run == run && c.state.running) {
                    table.exit(&id, 0, &shared.events);
                }
            }
        });
        Some(timer.abort_handle())
    }
}

impl Default for SimulatedRuntime {
    fn default() -> Self {
        SimulatedRuntime::new(SimulatedSettings::default())
    }
}

#[async_trait]
impl Runtime for SimulatedRuntime {
    async fn pull(
        &self,
        image: &str,
        _behavior: PullBehavior,
        _auth: Option<&RegistryAuth>,
    ) -> Result<Option<String>, RuntimeError> {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            return Err(RuntimeError::Pull(format!("invalid reference format: {image:?}")));
        }
        // Nothing is downloaded, so there is no digest to report.
        Ok(None)
    }

    async fn create(&self, request: &ContainerRequest) -> Result<String, RuntimeError> {
        let mut table = self.shared.lock();
        if let Some(id) = table.names.get(&request.runtime_name) {
            return Ok(id.clone());
        }
        let id = new_id();
        let health_checked = has_health_check(request);
        let container = Container {
            runtime_name: request.runtime_name.clone(),
            labels: container_labels(request),
            state: ContainerState {
                health: health_checked.then(|| "UNKNOWN".to_string()),
                ..ContainerState::default()
            },
            network_mode: request.task_definition.network_mode.clone().unwrap_or_else(|| "bridge".into()),
            port_mappings: request.container.port_mappings.clone().unwrap_or_default(),
            health_checked,
            run: 0,
            exit_timer: None,
        };
        table.names.insert(request.runtime_name.clone(), id.clone());
        table.containers.insert(id.clone(), container);
        Ok(id)
    }

    async fn start(&self, reference: &str) -> Result<(), RuntimeError> {
        let mut table = self.shared.lock();
        let id = table.resolve(reference)?;
        let container = &table.containers[&id];
        if container.state.running {
            return Ok(());
        }
        let claims = claims(&container.network_mode, &container.port_mappings)?;
        let bindings = table.bind(&id, &claims)?;
        let container = table.containers.get_mut(&id).expect("resolved above, under the same lock");
        container.run += 1;
        container.exit_timer = self.arm_exit_timer(&id, container.run);
        container.state = ContainerState {
            running: true,
            health: container.health_checked.then(|| "HEALTHY".to_string()),
            network_bindings: bindings,
            started_at: Some(now()),
            ..ContainerState::default()
        };
        if container.health_checked {
            let status = "HEALTHY".to_string();
            let _ = self.shared.events.send(ContainerEvent::Health { id, status });
        }
        Ok(())
    }

    async fn stop(&self, reference: &str, _timeout: Duration) -> Result<(), RuntimeError> {
        let mut table = self.shared.lock();
        let id = table.resolve(reference)?;
        // A simulated container always honours SIGTERM, so it exits cleanly within any timeout.
        if table.containers[&id].state.running {
            table.exit(&id, 0, &self.shared.events);
        }
        Ok(())
    }

    async fn inspect(&self, reference: &str) -> Result<ContainerState, RuntimeError> {
        let table = self.shared.lock();
        let id = table.resolve(reference)?;
        Ok(table.containers[&id].state.clone())
    }

    async fn remove(&self, reference: &str) -> Result<(), RuntimeError> {
        let mut table = self.shared.lock();
        let id = table.resolve(reference)?;
        // Removing a running container kills it first, as a forced `docker rm` does.
        if table.containers[&id].state.running {
            table.exit(&id, SIGKILL_EXIT, &self.shared.events);
        }
        if let Some(removed) = table.containers.remove(&id) {
            table.names.remove(&removed.runtime_name);
        }
        Ok(())
    }

    async fn list_managed(&self) -> Result<Vec<ManagedContainer>, RuntimeError> {
        let table = self.shared.lock();
        let managed = table.containers.iter().filter(|(_, c)| c.labels.contains_key(labels::TASK_ARN));
        Ok(managed
            .map(|(id, c)| ManagedContainer {
                id: id.clone(),
                labels: c.labels.clone(),
                state: c.state.clone(),
            })
            .collect())
    }

    async fn ensure_volume(
        &self,
        name: &str,
        driver: Option<&str>,
        options: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), RuntimeError> {
        if name.is_empty() {
            return Err(RuntimeError::Other("a volume needs a name".into()));
        }
        let volume = SimulatedVolume {
            driver: driver.unwrap_or("local").to_string(),
            options: options.clone(),
            labels: labels.clone(),
        };
        // An existing volume is reused as it is (a shared-scope volume, or a retried create).
        self.shared.lock().volumes.entry(name.to_string()).or_insert(volume);
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        match self.shared.lock().volumes.remove(name) {
            Some(_) => Ok(()),
            None => Err(RuntimeError::NotFound(format!("volume {name}"))),
        }
    }

    fn events(&self) -> BoxStream<'static, ContainerEvent> {
        let receiver = self.shared.events.subscribe();
        Box::pin(stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    // Skipped events: the subscriber re-inspects what it watches.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }))
    }
}

// === impl Shared ===

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding the lock, and a table half-updated by a panic is still a
        // table; carry on rather than poison every later call.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// === impl Table ===

impl Table {
    /// The id of the container `reference` names, by id or by runtime name (Docker accepts
    /// either). Callers index `containers` with it under the same lock, where it cannot vanish.
    fn resolve(&self, reference: &str) -> Result<String, RuntimeError> {
        let id = self.names.get(reference).map_or(reference, String::as_str);
        if self.containers.contains_key(id) {
            Ok(id.to_string())
        } else {
            Err(RuntimeError::NotFound(reference.to_string()))
        }
    }

    /// Reserves every claim's host ports for `id`, all or none, and returns the bindings.
    fn bind(&mut self, id: &str, claims: &[Claim]) -> Result<Vec<NetworkBinding>, RuntimeError> {
        let mut taken: Vec<(String, u16)> = Vec::new();
        let mut bindings = Vec::new();
        for claim in claims {
            let host_start = self.reserve(claim, &taken)?;
            let count = claim.container_ports.1 - claim.container_ports.0;
            taken.extend((host_start..=host_start + count).map(|p| (claim.protocol.clone(), p)));
            bindings.push(binding(claim, host_start));
        }
        for key in taken {
            self.ports.insert(key, id.to_string());
        }
        Ok(bindings)
    }

    /// The first host port of a free run for `claim`, not counting ports in `pending`.
    fn reserve(&mut self, claim: &Claim, pending: &[(String, u16)]) -> Result<u16, RuntimeError> {
        let count = u32::from(claim.container_ports.1 - claim.container_ports.0) + 1;
        let free = |table: &Table, start: u32| {
            (start..start + count).all(|port| {
                let key = (claim.protocol.clone(), port as u16);
                port <= 65535 && !table.ports.contains_key(&key) && !pending.contains(&key)
            })
        };
        if let Some(start) = claim.host_start {
            if !free(self, u32::from(start)) {
                return Err(RuntimeError::Start(format!(
                    "driver failed programming external connectivity: Bind for 0.0.0.0:{start} failed: \
                     port is already allocated"
                )));
            }
            return Ok(start);
        }
        let (low, high) = (u32::from(*EPHEMERAL_PORTS.start()), u32::from(*EPHEMERAL_PORTS.end()));
        let span = high - low + 1;
        let cursor = u32::from(self.next_ephemeral).clamp(low, high);
        for offset in 0..span {
            let start = low + (cursor - low + offset) % span;
            if start + count - 1 <= high && free(self, start) {
                let next = start + count;
                self.next_ephemeral = if next > high { low as u16 } else { next as u16 };
                return Ok(start as u16);
            }
        }
        Err(RuntimeError::Start(format!(
            "no free host port in {}-{} for {count} {} port(s)",
            low, high, claim.protocol
        )))
    }

    /// Marks a running container exited: releases its ports, stops its timer, tells subscribers.
    fn exit(&mut self, id: &str, code: i32, events: &broadcast::Sender<ContainerEvent>) {
        let Some(container) = self.containers.get_mut(id) else { return };
        if let Some(timer) = container.exit_timer.take() {
            timer.abort();
        }
        let state = &mut container.state;
        state.running = false;
        state.exit_code = Some(code);
        state.error = None;
        state.finished_at = Some(now());
        // Docker drops a stopped container's port bindings, and so do we.
        state.network_bindings.clear();
        if container.health_checked {
            state.health = Some("UNKNOWN".to_string());
        }
        self.ports.retain(|_, holder| holder != id);
        let _ = events.send(ContainerEvent::Died { id: id.to_string() });
    }
}

// === helpers ===

/// The host ports a container's mappings need in its network mode. `awsvpc` and `none` bind no
/// host port (an awsvpc task has its own interface); `host` binds each container port itself.
fn claims(network_mode: &str, mappings: &[PortMapping]) -> Result<Vec<Claim>, RuntimeError> {
    if matches!(network_mode, "awsvpc" | "none") {
        return Ok(Vec::new());
    }
    let host_mode = network_mode == "host";
    mappings
        .iter()
        .map(|mapping| {
            let protocol = mapping.protocol.clone().unwrap_or_else(|| "tcp".into());
            let container_ports = match (&mapping.container_port_range, mapping.container_port) {
                (Some(range), _) => parse_range(range)?,
                (None, Some(port)) => {
                    let port = port_number(port)?;
                    (port, port)
                }
                (None, None) => {
                    return Err(RuntimeError::Start("a port mapping has no container port".into()));
                }
            };
            let host_start = match mapping.host_port {
                _ if host_mode => Some(container_ports.0),
                Some(0) | None => None,
                Some(port) => Some(port_number(port)?),
            };
            Ok(Claim { protocol, container_ports, host_start })
        })
        .collect()
}

fn binding(claim: &Claim, host_start: u16) -> NetworkBinding {
    let (low, high) = claim.container_ports;
    let mut binding = NetworkBinding {
        bind_ip: Some("0.0.0.0".to_string()),
        protocol: Some(claim.protocol.clone()),
        ..NetworkBinding::default()
    };
    if low == high {
        binding.container_port = Some(i32::from(low));
        binding.host_port = Some(i32::from(host_start));
    } else {
        binding.container_port_range = Some(format!("{low}-{high}"));
        binding.host_port_range = Some(format!("{host_start}-{}", host_start + (high - low)));
    }
    binding
}

fn parse_range(range: &str) -> Result<(u16, u16), RuntimeError> {
    let bad = || RuntimeError::Start(format!("invalid container port range {range:?}"));
    let (low, high) = range.split_once('-').ok_or_else(bad)?;
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low == 0 || high < low {
        return Err(bad());
    }
    Ok((low, high))
}

fn port_number(port: i32) -> Result<u16, RuntimeError> {
    u16::try_from(port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| RuntimeError::Start(format!("invalid port {port}")))
}

/// The labels the Docker runtime puts on a container: the definition's Docker labels, then the
/// ECS labels naming its task.
fn container_labels(request: &ContainerRequest) -> BTreeMap<String, String> {
    let mut labels = request.container.docker_labels.clone().unwrap_or_default();
    let definition = &request.task_definition;
    let ecs = [
        (labels::TASK_ARN, request.task_arn.clone()),
        (labels::CLUSTER, request.cluster.clone()),
        (labels::CONTAINER_NAME, request.container.name.clone().unwrap_or_default()),
        (labels::FAMILY, definition.family.clone().unwrap_or_default()),
        (labels::VERSION, definition.revision.map(|r| r.to_string()).unwrap_or_default()),
    ];
    labels.extend(ecs.into_iter().map(|(key, value)| (key.to_string(), value)));
    labels
}

/// Whether the container has a health check Docker would run (`NONE` disables it).
fn has_health_check(request: &ContainerRequest) -> bool {
    let Some(check) = &request.container.health_check else { return false };
    let command = check.command.as_deref().unwrap_or_default();
    command.first().is_some_and(|first| first != "NONE")
}

/// A Docker-like id: 64 hex digits.
fn new_id() -> String {
    format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>())
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(container: i32, host: Option<i32>) -> PortMapping {
        PortMapping { container_port: Some(container), host_port: host, ..PortMapping::default() }
    }

    #[test]
    fn claims_follow_the_network_mode() {
        let mappings = [mapping(80, None), mapping(443, Some(8443))];
        let bridge = claims("bridge", &mappings).unwrap();
        assert_eq!(bridge[0].host_start, None);
        assert_eq!(bridge[1].host_start, Some(8443));
        let host = claims("host", &mappings).unwrap();
        assert_eq!(host[0].host_start, Some(80));
        assert_eq!(host[1].host_start, Some(443));
        assert!(claims("awsvpc", &mappings).unwrap().is_empty());
    }

    #[test]
    fn bad_ports_are_start_errors() {
        assert!(matches!(claims("bridge", &[mapping(70000, None)]), Err(RuntimeError::Start(_))));
        let range = PortMapping { container_port_range: Some("9-3".into()), ..PortMapping::default() };
        assert!(matches!(claims("bridge", &[range]), Err(RuntimeError::Start(_))));
    }

    #[test]
    fn ephemeral_search_wraps_and_skips_held_ports() {
        let runtime = SimulatedRuntime::default();
        let mut table = runtime.shared.lock();
        table.next_ephemeral = 65535;
        table.ports.insert(("tcp".into(), 65535), "x".into());
        let claim = Claim { protocol: "tcp".into(), container_ports: (80, 80), host_start: None };
        assert_eq!(table.reserve(&claim, &[]).unwrap(), 49153);
        assert_eq!(table.next_ephemeral, 49154);
    }
}
