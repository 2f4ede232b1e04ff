//! One task's runner: its whole life on this host, from pull to cleanup.
//!
//! The runner owns the task's state and is the only writer of it. It waits on three things:
//! the desired state (a `watch` the engine updates), the runtime's events for its containers,
//! and a timer (dependency deadlines and a periodic re-inspection that covers lost events).
//! After every change it publishes the task's report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_api::agent_protocol::{ContainerReport, DesiredTask, TaskReport, TaskSpec};
use berth_api::model::{ContainerDefinition, TaskDefinition};
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::dependencies::{self, Progress, Verdict};
use super::{EventReceiver, Shared, Wanted, overrides};
use crate::metadata::{ContainerMetadata, Limits, MetadataRegistry, PortMetadata, TaskMetadata};
use crate::runtime::{
    ContainerEvent, ContainerRequest, ContainerState, ManagedContainer, RegistryAuth, labels,
};

/// The label holding a container's metadata endpoint token, so a restarted agent serves the
/// same URI the container was given.
pub const METADATA_TOKEN_LABEL: &str = "com.berth.metadata-token";

/// How often a running task's containers are inspected, in case an event was lost.
const RESYNC_EVERY: Duration = Duration::from_secs(15);

/// How often a starting task re-inspects the containers it waits on.
const START_POLL: Duration = Duration::from_secs(1);

/// What a runner needs from its engine.
pub(super) struct Context {
    pub shared: Arc<Shared>,
    pub task_arn: String,
    pub acknowledged: Arc<Notify>,
}

/// Why a task stops.
#[derive(Debug, Clone)]
struct StopCause {
    code: Option<&'static str>,
    reason: String,
}

impl StopCause {
    fn failed_to_start(reason: String) -> Self {
        Self { code: Some("TaskFailedToStart"), reason }
    }
}

struct Slot {
    definition: ContainerDefinition,
    name: String,
    runtime_id: Option<String>,
    token: String,
    progress: Progress,
    status: &'static str,
    exit_code: Option<i32>,
    reason: Option<String>,
    health: Option<String>,
    bindings: Vec<berth_api::model::NetworkBinding>,
    digest: Option<String>,
    started_at: Option<f64>,
    finished_at: Option<f64>,
    created_at: Option<f64>,
}

impl Slot {
    fn essential(&self) -> bool {
        self.definition.essential.unwrap_or(true)
    }

    fn has_health_check(&self) -> bool {
        self.definition.health_check.is_some()
    }

    fn absorb(&mut self, state: &ContainerState) {
        if state.running {
            self.status = "RUNNING";
            self.progress.started = true;
        } else if self.progress.started || state.finished_at.is_some() || state.exit_code.is_some() {
            self.status = "STOPPED";
            self.progress.started = true;
            self.progress.exited = true;
            self.exit_code = state.exit_code;
            self.progress.exit_code = state.exit_code;
            if let Some(error) = &state.error {
                self.reason = Some(error.clone());
            }
        }
        if state.health.is_some() {
            self.health = state.health.clone();
            self.progress.healthy = state.health.as_deref() == Some("HEALTHY");
        }
        if !state.network_bindings.is_empty() {
            self.bindings = state.network_bindings.clone();
        }
        if state.image_digest.is_some() {
            self.digest = state.image_digest.clone();
        }
        self.started_at = state.started_at.or(self.started_at);
        self.finished_at = state.finished_at.or(self.finished_at);
    }
}

/// What the task's report says besides its status, health and containers.
#[derive(Debug, Default)]
struct Summary {
    stop_code: Option<String>,
    reason: Option<String>,
    pull_started_at: Option<f64>,
    pull_stopped_at: Option<f64>,
    started_at: Option<f64>,
    execution_stopped_at: Option<f64>,
}

struct Runner {
    ctx: Context,
    /// The parts of the task's spec the runner keeps besides its definition.
    cluster_arn: String,
    container_arns: Vec<(String, String)>,
    availability_zone: Option<String>,
    /// The task definition with the overrides applied. Its container definitions are in the
    /// slots, each once.
    definition: TaskDefinition,
    cluster: String,
    slots: Vec<Slot>,
    /// Slot indices in `dependsOn` order: each after those it depends on.
    order: Vec<usize>,
    summary: Summary,
    /// The latest report published (shared with the engine and the session).
    report: Arc<TaskReport>,
    desired_status: String,
    started_at: Instant,
}

/// Runs a task to its end: returns once it is stopped, reported, acknowledged and cleaned up.
/// `first` is the desired state the task was given to the engine with; `desired` follows what
/// the control plane wants of it from then on.
///
/// This future lives as long as the task, and a future is as big as the biggest state it can
/// be in: held inline, the runner and the container requests of the start would make every
/// task's future several KiB, on pages the process touches for the first time. So the runner
/// and each phase are boxed, the phases only while they run.
pub(super) async fn run(
    ctx: Context,
    first: Box<DesiredTask>,
    mut desired: watch::Receiver<Wanted>,
    mut events: EventReceiver,
    adopted: Vec<ManagedContainer>,
) {
    // What is wanted now, which may be newer than `first` if it changed before this began.
    let wanted = desired.borrow_and_update().clone();
    let mut runner = match prepare(ctx, first, &wanted, &adopted) {
        Ok(runner) => runner,
        Err(ctx) => {
            // Known only from containers on the host, and not wanted: remove them.
            remove_containers(&ctx.shared, adopted.iter().map(|c| c.id.clone()).collect()).await;
            return;
        }
    };
    let cause = if wanted.desired_status == "STOPPED" {
        Some(StopCause { code: None, reason: wanted.stopped_reason.unwrap_or_default() })
    } else {
        None
    };
    let cause = match cause {
        Some(cause) => cause,
        None => match Box::pin(runner.start(&mut desired, &mut events)).await {
            Err(cause) => cause,
            Ok(()) => Box::pin(runner.watch(&mut desired, &mut events)).await,
        },
    };
    Box::pin(runner.stop(cause)).await;
    Box::pin(runner.finish()).await;
}

/// The runner of a task that comes with its spec; the context back when it has none.
fn prepare(
    ctx: Context,
    first: Box<DesiredTask>,
    wanted: &Wanted,
    adopted: &[ManagedContainer],
) -> Result<Box<Runner>, Context> {
    match first.spec {
        Some(spec) => Ok(Box::new(Runner::new(ctx, spec, wanted.desired_status.clone(), adopted))),
        None => Err(ctx),
    }
}

impl Runner {
    fn new(ctx: Context, spec: TaskSpec, desired_status: String, adopted: &[ManagedContainer]) -> Self {
        let TaskSpec { cluster_arn, task_definition, overrides, container_arns, availability_zone, .. } =
            spec;
        let mut definition = overrides::apply(task_definition, overrides.as_ref());
        let cluster = cluster_arn.rsplit('/').next().unwrap_or_default().to_string();
        let slots: Vec<Slot> = definition
            .container_definitions
            .take()
            .into_iter()
            .flatten()
            .map(|container| {
                let name = container.name.clone().unwrap_or_default();
                let found = adopted
                    .iter()
                    .find(|c| c.labels.get(labels::CONTAINER_NAME).map(String::as_str) == Some(&name));
                let mut slot = Slot {
                    definition: container,
                    name,
                    runtime_id: found.map(|c| c.id.clone()),
                    token: found
                        .and_then(|c| c.labels.get(METADATA_TOKEN_LABEL).cloned())
                        .unwrap_or_else(MetadataRegistry::new_token),
                    progress: Progress::default(),
                    status: "PENDING",
                    exit_code: None,
                    reason: None,
                    health: None,
                    bindings: Vec::new(),
                    digest: None,
                    started_at: None,
                    finished_at: None,
                    created_at: None,
                };
                if let Some(found) = found {
                    slot.absorb(&found.state);
                }
                slot
            })
            .collect();
        let order = start_order(&slots);
        let report = Arc::new(TaskReport {
            task_arn: ctx.task_arn.clone(),
            status: "PENDING".to_string(),
            ..TaskReport::default()
        });
        Runner {
            ctx,
            cluster_arn,
            container_arns,
            availability_zone,
            definition,
            cluster,
            slots,
            order,
            summary: Summary::default(),
            report,
            desired_status,
            started_at: Instant::now(),
        }
    }

    fn shared(&self) -> &Shared {
        &self.ctx.shared
    }

    /// Publishes the task's state to the session and the metadata endpoint.
    fn publish(&mut self, status: &str) {
        let report = self.render(status);
        self.publish_report(report);
    }

    fn publish_report(&mut self, report: TaskReport) {
        self.report = Arc::new(report);
        self.shared().publish(self.report.clone());
        self.refresh_metadata();
    }

    /// Shows the task's current state on the metadata endpoint, without a report: a container
    /// may ask for its own metadata the moment it starts, before the next report is due.
    fn refresh_metadata(&self) {
        if let Some(registry) = &self.shared().metadata {
            registry.upsert_task(self.metadata());
        }
    }

    /// Publishes only if the state differs from the last published.
    fn publish_if_changed(&mut self, status: &str) {
        let report = self.render(status);
        if report != *self.report {
            self.publish_report(report);
        }
    }

    /// The task's report as of now.
    fn render(&self, status: &str) -> TaskReport {
        let summary = &self.summary;
        TaskReport {
            task_arn: self.ctx.task_arn.clone(),
            status: status.to_string(),
            stop_code: summary.stop_code.clone(),
            reason: summary.reason.clone(),
            health_status: self.task_health(),
            pull_started_at: summary.pull_started_at,
            pull_stopped_at: summary.pull_stopped_at,
            started_at: summary.started_at,
            execution_stopped_at: summary.execution_stopped_at,
            containers: self
                .slots
                .iter()
                .map(|slot| ContainerReport {
                    name: slot.name.clone(),
                    runtime_id: slot.runtime_id.clone(),
                    status: slot.status.to_string(),
                    exit_code: slot.exit_code,
                    reason: slot.reason.clone(),
                    health_status: slot.health.clone(),
                    image_digest: slot.digest.clone(),
                    network_bindings: slot.bindings.clone(),
                })
                .collect(),
        }
    }

    /// HEALTHY when every essential container with a health check is healthy, UNHEALTHY when
    /// one is unhealthy, UNKNOWN otherwise; none when no container has a health check.
    fn task_health(&self) -> Option<String> {
        let checked: Vec<&Slot> =
            self.slots.iter().filter(|s| s.essential() && s.has_health_check()).collect();
        if checked.is_empty() {
            return None;
        }
        if checked.iter().any(|s| s.health.as_deref() == Some("UNHEALTHY")) {
            return Some("UNHEALTHY".to_string());
        }
        if checked.iter().all(|s| s.health.as_deref() == Some("HEALTHY")) {
            return Some("HEALTHY".to_string());
        }
        Some("UNKNOWN".to_string())
    }

    /// Pulls, creates and starts the containers in dependency order. `Ok` once every container
    /// has started (the task is RUNNING), or the reason the task must stop.
    async fn start(
        &mut self,
        desired: &mut watch::Receiver<Wanted>,
        events: &mut EventReceiver,
    ) -> Result<(), StopCause> {
        if self.slots.iter().all(|s| s.progress.started) && !self.slots.is_empty() {
            // Re-adopted after a restart with everything already started.
            self.check_essentials()?;
            self.publish("RUNNING");
            return Ok(());
        }
        self.publish("PENDING");
        self.pull().await?;
        self.create().await?;
        loop {
            self.check_essentials()?;
            let mut next_deadline: Option<Instant> = None;
            let mut progressed = false;
            for position in 0..self.order.len() {
                let index = self.order[position];
                if self.slots[index].progress.started {
                    continue;
                }
                match self.dependencies_of(index) {
                    Verdict::Met => {
                        self.start_container(index).await?;
                        progressed = true;
                    }
                    Verdict::Impossible(reason) => {
                        return Err(StopCause::failed_to_start(format!(
                            "CannotStartContainerError: container {} cannot start: {reason}",
                            self.slots[index].name
                        )));
                    }
                    Verdict::Waiting => {
                        if let Some(deadline) = self.dependency_deadline(index) {
                            if deadline <= Instant::now() {
                                return Err(StopCause::failed_to_start(format!(
                                    "CannotStartContainerError: container {} gave up waiting for its dependencies \
                                     (startTimeout)",
                                    self.slots[index].name
                                )));
                            }
                            next_deadline =
                                Some(next_deadline.map_or(deadline, |d: Instant| d.min(deadline)));
                        }
                    }
                }
            }
            if self.slots.iter().all(|s| s.progress.started) {
                self.check_essentials()?;
                self.summary.started_at = Some(now());
                self.publish("RUNNING");
                return Ok(());
            }
            // Only while something still waits: a PENDING that RUNNING replaces at once would
            // never leave the session's report window.
            if progressed {
                self.publish("PENDING");
                continue;
            }
            let wake =
                next_deadline.unwrap_or_else(|| Instant::now() + START_POLL).min(Instant::now() + START_POLL);
            tokio::select! {
                changed = desired.changed() => {
                    if changed.is_err() || desired.borrow().desired_status == "STOPPED" {
                        return Err(self.requested_stop(&desired.borrow()));
                    }
                }
                Some(event) = events.next() => self.on_event(event).await,
                _ = tokio::time::sleep_until(wake) => self.inspect_all().await,
            }
        }
    }

    /// Watches a RUNNING task until it must stop.
    async fn watch(
        &mut self,
        desired: &mut watch::Receiver<Wanted>,
        events: &mut EventReceiver,
    ) -> StopCause {
        let mut resync = tokio::time::interval_at(Instant::now() + RESYNC_EVERY, RESYNC_EVERY);
        loop {
            if desired.borrow().desired_status == "STOPPED" {
                return self.requested_stop(&desired.borrow());
            }
            tokio::select! {
                changed = desired.changed() => {
                    if changed.is_err() {
                        return self.requested_stop(&desired.borrow());
                    }
                }
                Some(event) = events.next() => {
                    self.on_event(event).await;
                    if let Err(cause) = self.check_essentials() {
                        return cause;
                    }
                    self.publish_if_changed("RUNNING");
                }
                _ = resync.tick() => {
                    self.inspect_all().await;
                    if let Err(cause) = self.check_essentials() {
                        return cause;
                    }
                    self.publish_if_changed("RUNNING");
                }
            }
        }
    }

    fn requested_stop(&mut self, desired: &Wanted) -> StopCause {
        self.desired_status = "STOPPED".to_string();
        StopCause { code: None, reason: desired.stopped_reason.clone().unwrap_or_default() }
    }

    /// An essential container that exited stops the task.
    fn check_essentials(&self) -> Result<(), StopCause> {
        if self.slots.iter().any(|s| s.essential() && s.progress.exited) {
            return Err(StopCause {
                code: Some("EssentialContainerExited"),
                reason: "Essential container in task exited".to_string(),
            });
        }
        Ok(())
    }

    async fn pull(&mut self) -> Result<(), StopCause> {
        let runtime = self.shared().runtime.clone();
        let behavior = self.shared().settings.pull_behavior;
        self.summary.pull_started_at = Some(now());
        for index in 0..self.slots.len() {
            if self.slots[index].runtime_id.is_some() {
                continue;
            }
            let image = self.slots[index].definition.image.clone().unwrap_or_default();
            let auth = self.registry_auth(index)?;
            match runtime.pull(&image, behavior, auth.as_ref()).await {
                Ok(digest) => self.slots[index].digest = digest,
                Err(err) => {
                    let reason = err.to_string();
                    self.slots[index].reason = Some(reason.clone());
                    self.summary.pull_stopped_at = Some(now());
                    return Err(StopCause::failed_to_start(reason));
                }
            }
        }
        self.summary.pull_stopped_at = Some(now());
        Ok(())
    }

    fn registry_auth(&mut self, index: usize) -> Result<Option<RegistryAuth>, StopCause> {
        let Some(parameter) = self.slots[index]
            .definition
            .repository_credentials
            .as_ref()
            .and_then(|c| c.credentials_parameter.clone())
        else {
            return Ok(None);
        };
        match self.shared().settings.registry_credentials.get(&parameter) {
            Some(auth) => Ok(Some(auth.clone())),
            None => {
                let reason = format!(
                    "ResourceInitializationError: unable to pull registry auth: no credentials named {parameter} \
                     are configured on this agent"
                );
                self.slots[index].reason = Some(reason.clone());
                Err(StopCause::failed_to_start(reason))
            }
        }
    }

    async fn create(&mut self) -> Result<(), StopCause> {
        let runtime = self.shared().runtime.clone();
        for position in 0..self.order.len() {
            let index = self.order[position];
            if self.slots[index].runtime_id.is_some() {
                continue;
            }
            let request = self.container_request(index);
            match runtime.create(&request).await {
                Ok(id) => {
                    self.ctx.shared.own(&id, &self.ctx.task_arn);
                    self.slots[index].runtime_id = Some(id);
                    self.slots[index].created_at = Some(now());
                }
                Err(err) => {
                    let reason = err.to_string();
                    self.slots[index].reason = Some(reason.clone());
                    return Err(StopCause::failed_to_start(reason));
                }
            }
        }
        // Docker ids are known from here on; containers started next may ask for them.
        self.refresh_metadata();
        Ok(())
    }

    fn container_request(&self, index: usize) -> ContainerRequest {
        let slot = &self.slots[index];
        let mut extra_environment = BTreeMap::new();
        if let Some(registry) = &self.shared().metadata {
            let uri = registry.container_uri(&slot.token);
            extra_environment.insert("ECS_CONTAINER_METADATA_URI_V4".to_string(), uri.clone());
            extra_environment.insert("ECS_CONTAINER_METADATA_URI".to_string(), uri);
        }
        extra_environment.insert("AWS_EXECUTION_ENV".to_string(), "AWS_ECS_EC2".to_string());
        let mut container = slot.definition.clone();
        container
            .docker_labels
            .get_or_insert_with(Default::default)
            .insert(METADATA_TOKEN_LABEL.to_string(), slot.token.clone());
        // Over any label of the same name the definition sets: adoption relies on it.
        container.docker_labels.get_or_insert_with(Default::default).insert(
            crate::runtime::labels::CONTAINER_INSTANCE.to_string(),
            self.shared().settings.container_instance_arn.clone(),
        );
        let siblings =
            self.slots.iter().filter_map(|s| Some((s.name.clone(), s.runtime_id.clone()?))).collect();
        ContainerRequest {
            task_arn: self.ctx.task_arn.clone(),
            cluster: self.cluster.clone(),
            task_definition: self.definition.clone(),
            container,
            extra_environment,
            siblings,
            runtime_name: runtime_name(&self.definition, &slot.name, &self.ctx.task_arn),
        }
    }

    async fn start_container(&mut self, index: usize) -> Result<(), StopCause> {
        let runtime = self.shared().runtime.clone();
        let Some(id) = self.slots[index].runtime_id.clone() else {
            return Err(StopCause::failed_to_start(format!(
                "CannotStartContainerError: container {} was never created",
                self.slots[index].name
            )));
        };
        if let Err(err) = runtime.start(&id).await {
            let reason = err.to_string();
            self.slots[index].reason = Some(reason.clone());
            return Err(StopCause::failed_to_start(reason));
        }
        self.slots[index].progress.started = true;
        self.slots[index].status = "RUNNING";
        if let Ok(state) = runtime.inspect(&id).await {
            self.slots[index].absorb(&state);
        }
        Ok(())
    }

    fn dependencies_of(&self, index: usize) -> Verdict {
        let mut verdict = Verdict::Met;
        for dependency in self.slots[index].definition.depends_on.iter().flatten() {
            let Some(target) =
                self.slots.iter().find(|s| Some(s.name.as_str()) == dependency.container_name.as_deref())
            else {
                continue;
            };
            match dependencies::judge(dependency, &target.progress) {
                Verdict::Met => {}
                Verdict::Waiting => verdict = Verdict::Waiting,
                impossible @ Verdict::Impossible(_) => return impossible,
            }
        }
        verdict
    }

    /// When the container at `index` gives up on its dependencies: the earliest startTimeout of a
    /// dependency that has not met its condition, counted from when the task began starting.
    fn dependency_deadline(&self, index: usize) -> Option<Instant> {
        self.slots[index]
            .definition
            .depends_on
            .iter()
            .flatten()
            .filter_map(|dependency| {
                let target = self
                    .slots
                    .iter()
                    .find(|s| Some(s.name.as_str()) == dependency.container_name.as_deref())?;
                if dependencies::judge(dependency, &target.progress) == Verdict::Met {
                    return None;
                }
                let seconds = target.definition.start_timeout?;
                Some(self.started_at + Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
            })
            .min()
    }

    async fn on_event(&mut self, event: ContainerEvent) {
        match event {
            ContainerEvent::Died { id } => self.inspect(&id).await,
            ContainerEvent::Health { id, status } => {
                if let Some(slot) =
                    self.slots.iter_mut().find(|s| s.runtime_id.as_deref() == Some(id.as_str()))
                {
                    slot.progress.healthy = status == "HEALTHY";
                    slot.health = Some(status);
                }
            }
        }
    }

    async fn inspect(&mut self, id: &str) {
        let runtime = self.shared().runtime.clone();
        let Some(index) = self.slots.iter().position(|s| s.runtime_id.as_deref() == Some(id)) else {
            return;
        };
        match runtime.inspect(id).await {
            Ok(state) => self.slots[index].absorb(&state),
            Err(crate::runtime::RuntimeError::NotFound(_)) => {
                let slot = &mut self.slots[index];
                if slot.progress.started && !slot.progress.exited {
                    slot.progress.exited = true;
                    slot.status = "STOPPED";
                    slot.reason = Some("The container was removed outside of Berth.".to_string());
                }
            }
            Err(err) => tracing::debug!(container = %id, %err, "inspect failed"),
        }
    }

    async fn inspect_all(&mut self) {
        let ids: Vec<String> = self.slots.iter().filter_map(|s| s.runtime_id.clone()).collect();
        for id in ids {
            self.inspect(&id).await;
        }
    }

    /// Stops the containers, dependents before what they depend on, and reports STOPPED.
    async fn stop(&mut self, cause: StopCause) {
        let runtime = self.shared().runtime.clone();
        let default_timeout = self.shared().settings.container_stop_timeout;
        if self.slots.iter().any(|s| s.progress.started && !s.progress.exited) {
            self.publish("STOPPING");
        }
        for position in (0..self.order.len()).rev() {
            let index = self.order[position];
            let Some(id) = self.slots[index].runtime_id.clone() else { continue };
            if self.slots[index].progress.started && !self.slots[index].progress.exited {
                let timeout = self.slots[index]
                    .definition
                    .stop_timeout
                    .and_then(|s| u64::try_from(s).ok())
                    .map_or(default_timeout, Duration::from_secs);
                if let Err(err) = runtime.stop(&id, timeout).await {
                    tracing::warn!(container = %id, %err, "failed to stop a container");
                }
            }
            self.inspect(&id).await;
        }
        for slot in &mut self.slots {
            slot.status = "STOPPED";
        }
        self.summary.stop_code = cause.code.map(str::to_string);
        if !cause.reason.is_empty() {
            self.summary.reason = Some(cause.reason);
        }
        self.summary.execution_stopped_at = Some(now());
        self.desired_status = "STOPPED".to_string();
        self.publish("STOPPED");
    }

    /// Waits until the control plane has the STOPPED report, keeps the containers for the cleanup
    /// wait (so their logs and exit state can be looked at), then removes them.
    async fn finish(&self) {
        self.ctx.acknowledged.notified().await;
        tokio::time::sleep(self.shared().settings.task_cleanup_wait).await;
        let ids = self.slots.iter().filter_map(|s| s.runtime_id.clone()).collect();
        remove_containers(&self.ctx.shared, ids).await;
        let runtime = self.shared().runtime.clone();
        for volume in task_volume_names(&self.definition, &self.ctx.task_arn) {
            if let Err(err) = runtime.remove_volume(&volume).await {
                tracing::debug!(%volume, %err, "task volume not removed");
            }
        }
        if let Some(registry) = &self.shared().metadata {
            registry.remove_task(&self.ctx.task_arn);
        }
    }

    fn metadata(&self) -> TaskMetadata {
        let (family, revision) = (
            self.definition.family.clone().unwrap_or_default(),
            self.definition.revision.map(|r| r.to_string()).unwrap_or_default(),
        );
        let network_mode = self.definition.network_mode.clone().unwrap_or_else(|| "bridge".to_string());
        TaskMetadata {
            cluster: self.cluster_arn.clone(),
            task_arn: self.ctx.task_arn.clone(),
            family,
            revision,
            desired_status: self.desired_status.clone(),
            known_status: self.report.status.clone(),
            limits: Some(Limits {
                cpu: self
                    .definition
                    .cpu
                    .as_deref()
                    .and_then(|c| c.parse::<f64>().ok())
                    .map(|units| units / 1024.0),
                memory: self.definition.memory.as_deref().and_then(|m| m.parse().ok()),
            }),
            pull_started_at: self.summary.pull_started_at,
            pull_stopped_at: self.summary.pull_stopped_at,
            execution_stopped_at: self.summary.execution_stopped_at,
            availability_zone: self.availability_zone.clone(),
            containers: self
                .slots
                .iter()
                .map(|slot| ContainerMetadata {
                    endpoint_token: slot.token.clone(),
                    docker_id: slot.runtime_id.clone().unwrap_or_default(),
                    name: slot.name.clone(),
                    docker_name: runtime_name(&self.definition, &slot.name, &self.ctx.task_arn),
                    image: slot.definition.image.clone().unwrap_or_default(),
                    image_id: slot.digest.clone().unwrap_or_default(),
                    ports: slot
                        .bindings
                        .iter()
                        .map(|b| PortMetadata {
                            container_port: b.container_port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
                            protocol: b.protocol.clone().unwrap_or_else(|| "tcp".to_string()),
                            host_port: b.host_port.and_then(|p| u16::try_from(p).ok()),
                            host_ip: b.bind_ip.clone(),
                        })
                        .collect(),
                    labels: [
                        (labels::CLUSTER, self.cluster.clone()),
                        (labels::CONTAINER_NAME, slot.name.clone()),
                        (labels::TASK_ARN, self.ctx.task_arn.clone()),
                        (labels::FAMILY, self.definition.family.clone().unwrap_or_default()),
                        (
                            labels::VERSION,
                            self.definition.revision.map(|r| r.to_string()).unwrap_or_default(),
                        ),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                    desired_status: self.desired_status.clone(),
                    known_status: slot.status.to_string(),
                    exit_code: slot.exit_code,
                    limits: Limits {
                        cpu: Some(f64::from(slot.definition.cpu.unwrap_or(0))),
                        memory: slot.definition.memory.map(i64::from),
                    },
                    created_at: slot.created_at,
                    started_at: slot.started_at,
                    finished_at: slot.finished_at,
                    container_arn: self
                        .container_arns
                        .iter()
                        .find(|(n, _)| n == &slot.name)
                        .map(|(_, a)| a.clone()),
                    networks: vec![crate::metadata::NetworkMetadata {
                        network_mode: network_mode.clone(),
                        ..Default::default()
                    }],
                    log_driver: Some("json-file".to_string()),
                    ..ContainerMetadata::default()
                })
                .collect(),
            ..TaskMetadata::default()
        }
    }
}

/// The slots' indices in `dependsOn` (and `volumesFrom`) order.
fn start_order(slots: &[Slot]) -> Vec<usize> {
    let containers: Vec<(String, Vec<String>)> = slots
        .iter()
        .map(|slot| {
            let mut deps: Vec<String> = slot
                .definition
                .depends_on
                .iter()
                .flatten()
                .filter_map(|d| d.container_name.clone())
                .collect();
            deps.extend(
                slot.definition.volumes_from.iter().flatten().filter_map(|v| v.source_container.clone()),
            );
            (slot.name.clone(), deps)
        })
        .collect();
    dependencies::start_order(&containers)
        .iter()
        .map(|name| slots.iter().position(|s| &s.name == name).unwrap_or(0))
        .collect()
}

async fn remove_containers(shared: &Shared, ids: Vec<String>) {
    for id in ids {
        let _ = shared.runtime.stop(&id, Duration::from_secs(0)).await;
        if let Err(err) = shared.runtime.remove(&id).await {
            tracing::debug!(container = %id, %err, "container not removed");
        }
    }
}

/// The runtime name of a task's container: `ecs-FAMILY-REVISION-NAME-TASKID`, reduced to the
/// characters Docker allows. Deterministic, so a re-sent task finds its containers.
pub fn runtime_name(definition: &TaskDefinition, container: &str, task_arn: &str) -> String {
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    let raw = format!(
        "ecs-{}-{}-{}-{}",
        definition.family.as_deref().unwrap_or("task"),
        definition.revision.unwrap_or(0),
        container,
        task_id
    );
    raw.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' })
        .collect()
}

/// The names of the Docker volumes a task creates for itself (task-scoped volumes).
fn task_volume_names(definition: &TaskDefinition, task_arn: &str) -> Vec<String> {
    definition
        .volumes
        .iter()
        .flatten()
        .filter(|v| {
            v.docker_volume_configuration
                .as_ref()
                .is_some_and(|c| c.scope.as_deref().unwrap_or("task") == "task")
        })
        .filter_map(|v| Some(crate::runtime::docker::task_volume_name(task_arn, v.name.as_deref()?)))
        .collect()
}

fn now() -> f64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since.as_millis() as f64 / 1000.0
}
