//! The task engine: makes the host's containers match the tasks the control plane assigns.
//!
//! Each task has a runner ([`runner`]), a tokio task that takes it through its lifecycle (pull,
//! create, start in `dependsOn` order, watch, stop, clean up) and publishes its state as a
//! [`TaskReport`] after every change. The engine routes the runtime's container events to the
//! runner that owns the container, applies the desired state the session receives, and keeps the
//! latest report of every task for the session's `hello`.
//!
//! Re-adoption: at start the engine lists the containers that carry task labels. Until the first
//! full desired list arrives they are reported as they are; then each one the server still wants
//! is handed to a runner, which takes them over instead of creating new ones, and the rest are
//! stopped and removed. Runners create containers under deterministic names, and creating an
//! existing name returns the existing container, so a task never gets its containers twice.

mod dependencies;
mod overrides;
mod runner;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use berth_api::agent_protocol::{ContainerReport, DesiredTask, TaskReport};
use futures::StreamExt;
use tokio::sync::{Notify, mpsc, watch};

use crate::metadata::MetadataRegistry;
use crate::runtime::{ContainerEvent, ManagedContainer, PullBehavior, RegistryAuth, Runtime, labels};

/// How the engine runs tasks.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The cluster's name (containers of other clusters are left alone).
    pub cluster: String,
    /// The ARN of this agent's container instance: its containers carry it
    /// ([`labels::CONTAINER_INSTANCE`]), and containers of other instances are left alone.
    pub container_instance_arn: String,
    /// How images are pulled.
    pub pull_behavior: PullBehavior,
    /// How long a stopped task's containers are kept.
    pub task_cleanup_wait: Duration,
    /// The stop timeout of containers that set none.
    pub container_stop_timeout: Duration,
    /// Registry credentials by `repositoryCredentials.credentialsParameter`.
    pub registry_credentials: BTreeMap<String, RegistryAuth>,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    runtime: Arc<dyn Runtime>,
    settings: EngineSettings,
    metadata: Option<MetadataRegistry>,
    reports: mpsc::UnboundedSender<Arc<TaskReport>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tasks: HashMap<String, TaskHandle>,
    /// Containers found at start, by task ARN, until the first full desired list claims them.
    adopted: Option<HashMap<String, Vec<ManagedContainer>>>,
    /// Which task owns each container (by runtime id).
    owners: HashMap<String, String>,
}

struct TaskHandle {
    desired: watch::Sender<Wanted>,
    events: EventSender,
    /// The latest report, shared with the session that sends it.
    report: Arc<TaskReport>,
    stopped_acknowledged: Arc<Notify>,
}

/// A runner's container events. Not tokio's channel: that one allocates room for 32 events
/// when it is made, and a task's runner, which lives as long as the task and rarely sees an
/// event, kept those ~1.5 KiB for nothing; this one allocates as events come.
type EventSender = futures::channel::mpsc::UnboundedSender<ContainerEvent>;
type EventReceiver = futures::channel::mpsc::UnboundedReceiver<ContainerEvent>;

/// What a runner follows of its task's desired state once it has begun. The spec it began with
/// goes to the runner once, by value: a task's spec never changes, and keeping it in the watch
/// too cost a copy of the whole task for every runner.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    /// The task record's version the desired state came with; higher is newer.
    version: i64,
    /// `RUNNING` or `STOPPED`.
    desired_status: String,
    /// Why the task should stop, when it should.
    stopped_reason: Option<String>,
}

impl Wanted {
    fn of(desired: &DesiredTask) -> Self {
        Wanted {
            version: desired.version,
            desired_status: desired.desired_status.clone(),
            stopped_reason: desired.stopped_reason.clone(),
        }
    }
}

impl Engine {
    /// Starts the engine over `runtime`: finds the containers already there and starts routing
    /// the runtime's events. Returns the engine and the stream of reports for the session.
    pub async fn start(
        runtime: Arc<dyn Runtime>,
        settings: EngineSettings,
        metadata: Option<MetadataRegistry>,
    ) -> anyhow::Result<(Engine, mpsc::UnboundedReceiver<Arc<TaskReport>>)> {
        let existing = runtime
            .list_managed()
            .await
            .map_err(|err| anyhow::anyhow!("cannot list the containers already on this host: {err}"))?;
        let mut adopted: HashMap<String, Vec<ManagedContainer>> = HashMap::new();
        for container in existing {
            if !belongs_here(&container, &settings) {
                continue;
            }
            if let Some(task_arn) = container.labels.get(labels::TASK_ARN).cloned() {
                adopted.entry(task_arn).or_default().push(container);
            }
        }
        if !adopted.is_empty() {
            tracing::info!(tasks = adopted.len(), "found containers of earlier tasks on this host");
        }
        let (reports, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            runtime,
            settings,
            metadata,
            reports,
            state: Mutex::new(State { adopted: Some(adopted), ..State::default() }),
        });
        tokio::spawn(route_events(Arc::downgrade(&shared)));
        Ok((Engine { shared }, receiver))
    }

    /// The latest report of every task the agent has, for the session's hello.
    pub fn snapshot(&self) -> Vec<TaskReport> {
        let state = self.shared.lock();
        let mut reports: Vec<TaskReport> =
            state.tasks.values().map(|handle| TaskReport::clone(&handle.report)).collect();
        if let Some(adopted) = &state.adopted {
            reports.extend(adopted.iter().map(|(arn, containers)| adopted_report(arn, containers)));
        }
        reports
    }

    /// Applies desired state from the control plane. With `full`, tasks the agent has that the
    /// list does not name are stopped.
    pub fn apply(&self, full: bool, tasks: Vec<DesiredTask>) {
        let mut state = self.shared.lock();
        let adopted = if full { state.adopted.take() } else { None };
        let mut adopted = adopted.unwrap_or_default();
        // Only a full list stops the tasks it does not name.
        let named: HashSet<String> =
            if full { tasks.iter().map(|t| t.task_arn.clone()).collect() } else { HashSet::new() };
        for desired in tasks {
            if let Some(handle) = state.tasks.get(&desired.task_arn) {
                let newer = desired.version >= handle.desired.borrow().version || desired.spec.is_none();
                if newer {
                    handle.desired.send_replace(Wanted::of(&desired));
                }
                continue;
            }
            let containers = adopted.remove(&desired.task_arn).unwrap_or_default();
            if desired.spec.is_none() && containers.is_empty() {
                continue;
            }
            self.spawn_runner(&mut state, desired, containers);
        }
        if full {
            for handle in state.tasks.values() {
                let arn = &handle.report.task_arn;
                if !named.contains(arn) && handle.desired.borrow().desired_status != "STOPPED" {
                    let mut stop = handle.desired.borrow().clone();
                    stop.desired_status = "STOPPED".to_string();
                    stop.stopped_reason = Some("The control plane no longer assigns this task here.".into());
                    handle.desired.send_replace(stop);
                }
            }
            for (task_arn, containers) in adopted {
                tracing::info!(task = %task_arn, "stopping and removing containers of a task the control plane does not assign here");
                let runtime = self.shared.runtime.clone();
                let timeout = self.shared.settings.container_stop_timeout;
                tokio::spawn(async move {
                    for container in containers {
                        let _ = runtime.stop(&container.id, timeout).await;
                        if let Err(err) = runtime.remove(&container.id).await {
                            tracing::warn!(container = %container.id, %err, "failed to remove a stray container");
                        }
                    }
                });
            }
        }
    }

    /// The control plane has stored a report of `task_arn` with `status`.
    pub fn acknowledge(&self, task_arn: &str, status: &str) {
        if status != "STOPPED" {
            return;
        }
        if let Some(handle) = self.shared.lock().tasks.get(task_arn) {
            handle.stopped_acknowledged.notify_one();
        }
    }

    /// How many tasks the engine holds (running or awaiting cleanup).
    pub fn task_count(&self) -> usize {
        self.shared.lock().tasks.len()
    }

    fn spawn_runner(&self, state: &mut State, desired: DesiredTask, adopted: Vec<ManagedContainer>) {
        let task_arn = desired.task_arn.clone();
        let (desired_tx, desired_rx) = watch::channel(Wanted::of(&desired));
        let (events_tx, events_rx) = futures::channel::mpsc::unbounded();
        let acknowledged = Arc::new(Notify::new());
        for container in &adopted {
            state.owners.insert(container.id.clone(), task_arn.clone());
        }
        state.tasks.insert(
            task_arn.clone(),
            TaskHandle {
                desired: desired_tx,
                events: events_tx,
                report: Arc::new(adopted_report(&task_arn, &adopted)),
                stopped_acknowledged: acknowledged.clone(),
            },
        );
        let shared = self.shared.clone();
        // Boxed before the task takes it, so that the task does not keep room for it all its life.
        let first = Box::new(desired);
        tokio::spawn(async move {
            runner::run(
                runner::Context { shared: shared.clone(), task_arn: task_arn.clone(), acknowledged },
                first,
                desired_rx,
                events_rx,
                adopted,
            )
            .await;
            let mut state = shared.lock();
            state.tasks.remove(&task_arn);
            state.owners.retain(|_, owner| owner != &task_arn);
        });
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records and publishes a task's new state.
    fn publish(&self, report: Arc<TaskReport>) {
        if let Some(handle) = self.lock().tasks.get_mut(&report.task_arn) {
            handle.report = report.clone();
        }
        let _ = self.reports.send(report);
    }

    fn own(&self, runtime_id: &str, task_arn: &str) {
        self.lock().owners.insert(runtime_id.to_string(), task_arn.to_string());
    }
}

/// Delivers each runtime event to the runner owning the container, re-subscribing when the
/// runtime's stream ends (the runners' periodic inspection covers the gap).
async fn route_events(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else { return };
        let mut events = strong.runtime.events();
        drop(strong);
        while let Some(event) = events.next().await {
            let Some(strong) = shared.upgrade() else { return };
            let id = match &event {
                ContainerEvent::Died { id } | ContainerEvent::Health { id, .. } => id.clone(),
            };
            let state = strong.lock();
            if let Some(handle) = state.owners.get(&id).and_then(|task| state.tasks.get(task)) {
                let _ = handle.events.unbounded_send(event);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether a container found on the host is this agent's to adopt or clean up: of its cluster,
/// and of its instance. A container without the instance label was made by an agent from before
/// the label, which had the Docker Engine to itself: it is adopted, as it was then.
fn belongs_here(container: &ManagedContainer, settings: &EngineSettings) -> bool {
    container.labels.get(labels::CLUSTER) == Some(&settings.cluster)
        && container
            .labels
            .get(labels::CONTAINER_INSTANCE)
            .is_none_or(|instance| *instance == settings.container_instance_arn)
}

/// A report of a task known only from the containers found on the host.
fn adopted_report(task_arn: &str, containers: &[ManagedContainer]) -> TaskReport {
    let running = containers.iter().any(|c| c.state.running);
    TaskReport {
        task_arn: task_arn.to_string(),
        status: if containers.is_empty() {
            "PENDING"
        } else if running {
            "RUNNING"
        } else {
            "STOPPED"
        }
        .to_string(),
        containers: containers
            .iter()
            .filter_map(|c| {
                Some(ContainerReport {
                    name: c.labels.get(labels::CONTAINER_NAME)?.clone(),
                    runtime_id: Some(c.id.clone()),
                    status: if c.state.running { "RUNNING" } else { "STOPPED" }.to_string(),
                    exit_code: c.state.exit_code.filter(|_| !c.state.running),
                    network_bindings: c.state.network_bindings.clone(),
                    health_status: c.state.health.clone(),
                    ..ContainerReport::default()
                })
            })
            .collect(),
        ..TaskReport::default()
    }
}

#[cfg(test)]
mod tests {
    use berth_api::model::TaskDefinition;

    use super::*;

    fn settings() -> EngineSettings {
        EngineSettings {
            cluster: "prod".into(),
            container_instance_arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/a".into(),
            pull_behavior: PullBehavior::default(),
            task_cleanup_wait: Duration::from_secs(1),
            container_stop_timeout: Duration::from_secs(1),
            registry_credentials: BTreeMap::new(),
        }
    }

    fn container(cluster: &str, instance: Option<&str>) -> ManagedContainer {
        let mut labels = BTreeMap::from([
            (labels::CLUSTER.to_string(), cluster.to_string()),
            (labels::TASK_ARN.to_string(), "arn:aws:ecs:us-east-1:000000000000:task/prod/t".to_string()),
        ]);
        if let Some(instance) = instance {
            labels.insert(labels::CONTAINER_INSTANCE.to_string(), instance.to_string());
        }
        ManagedContainer { id: "x".into(), labels, state: Default::default() }
    }

    #[tokio::test]
    async fn a_runner_keeps_little_room_for_its_whole_life() {
        let runtime = Arc::new(crate::runtime::simulated::SimulatedRuntime::default());
        let (engine, _reports) = Engine::start(runtime, settings(), None).await.expect("starts");
        let desired = DesiredTask {
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/prod/t".into(),
            desired_status: "RUNNING".into(),
            version: 1,
            spec: None,
            stopped_reason: None,
        };
        let (_wanted, wanted_rx) = watch::channel(Wanted::of(&desired));
        let (_events, events_rx) = futures::channel::mpsc::unbounded();
        let ctx = runner::Context {
            shared: engine.shared.clone(),
            task_arn: desired.task_arn.clone(),
            acknowledged: Arc::new(Notify::new()),
        };
        let future = runner::run(ctx, Box::new(desired), wanted_rx, events_rx, Vec::new());
        // Every task holds its runner's future all its life: held inline, a task definition (the
        // spec, the runner, a container request) would make each several KiB.
        let (size, definition) = (std::mem::size_of_val(&future), std::mem::size_of::<TaskDefinition>());
        assert!(size < definition, "a runner's future takes {size} bytes, a task definition {definition}");
    }

    #[test]
    fn only_this_instances_containers_are_adopted() {
        let settings = settings();
        let mine = settings.container_instance_arn.clone();
        assert!(belongs_here(&container("prod", Some(&mine)), &settings));
        assert!(!belongs_here(
            &container("prod", Some("arn:aws:ecs:us-east-1:000000000000:container-instance/prod/b")),
            &settings
        ));
        assert!(!belongs_here(&container("staging", Some(&mine)), &settings));
        // Made before the instance label existed, by the agent that had the engine alone.
        assert!(belongs_here(&container("prod", None), &settings));
    }
}
