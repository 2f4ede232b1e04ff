//! Services: the record, its deployment history, and how a deployment starts.
//!
//! A service record holds the ECS `Service` shape as DescribeServices returns it, plus what the
//! service controller needs beside it: the task definition of every deployment (copied when the
//! deployment starts, so deregistering the definition cannot strand a rollout) and the
//! controller's own bookkeeping. The API writes what a user asked for (configuration, desired
//! count, new deployments, a stop request); the controller writes what happened (counts, rollout
//! states, events, DRAINING → INACTIVE). Both write with compare-and-set on the record's revision,
//! so neither loses the other's change.
//!
//! Every deployment also has two history records, written in the same transaction as the service:
//! a `ServiceDeployment` ([`keys::service_deployment`]) and the `ServiceRevision` it deploys
//! ([`keys::service_revision`]); ListServiceDeployments, DescribeServiceDeployments and
//! DescribeServiceRevisions read them.

use std::collections::BTreeMap;

use berth_api::EcsError;
use berth_api::arn::{Arn, Scope};
use berth_api::model::{
    ContainerImage, Deployment, Service, ServiceCurrentRevisionSummary, ServiceDeployment, ServiceEvent,
    ServiceRevision, ServiceRevisionSummary, TaskDefinition,
};
use berth_store::{Compare, Op, Revision, Store, Txn};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys;
use super::records::{self, commit, encode};

/// Status of a service that runs (or may run) tasks.
pub const ACTIVE: &str = "ACTIVE";
/// Status of a deleted service whose tasks are still being stopped.
pub const DRAINING: &str = "DRAINING";
/// Status of a deleted service with no task left.
pub const INACTIVE: &str = "INACTIVE";

/// The deployment that the service is rolling out to (or runs).
pub const PRIMARY: &str = "PRIMARY";
/// A deployment an older PRIMARY became; the controller drains its tasks and then drops it.
pub const ACTIVE_DEPLOYMENT: &str = "ACTIVE";

/// How many events a service keeps, newest first (as ECS shows).
pub const MAX_EVENTS: usize = 100;

/// A service as stored: the ECS `Service` shape as DescribeServices returns it (deployments
/// PRIMARY first, events newest first, at most [`MAX_EVENTS`]), plus what the controller needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The ECS shape. Its `tags` are kept here too; DescribeServices strips them unless asked.
    pub service: Service,
    /// The cluster name.
    pub cluster: String,
    /// The task definition of every deployment in `service.deployments`, by deployment id, as
    /// registered when the deployment started (so deregistering the definition cannot strand a
    /// rollout).
    pub definitions: BTreeMap<String, TaskDefinition>,
    /// Controller-owned bookkeeping (the service controller defines its type; the API never
    /// reads or writes it beyond carrying it through its updates).
    #[serde(default)]
    pub controller: serde_json::Value,
    /// The history records of every deployment in `service.deployments`, by deployment id.
    #[serde(default)]
    pub history: BTreeMap<String, DeploymentHistory>,
    /// Rollbacks under way: the id of each service deployment being rolled back (status
    /// ROLLBACK_IN_PROGRESS), with the id of the deployment that rolls it back. Written by
    /// [`save`] when it saves a deployment whose `rollback` member is set, whoever started it
    /// (StopServiceDeployment, or the controller's circuit breaker).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rollbacks: BTreeMap<String, String>,
    /// The `clientToken` of the CreateService call that made the service, with a fingerprint of
    /// that request, so a retried call returns the service rather than failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<ClientToken>,
    /// The `clientToken` of each CreateTaskSet call, with the id of the task set it created, so a
    /// retried call returns that task set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub task_set_tokens: BTreeMap<String, String>,
    /// When the service became DRAINING or INACTIVE (epoch seconds), for retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_changed_at: Option<f64>,
}

/// The history records of one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentHistory {
    /// The id ending the `ServiceDeployment` ARN ([`keys::service_deployment`]).
    pub service_deployment_id: String,
    /// The id ending the `ServiceRevision` ARN ([`keys::service_revision`]).
    pub service_revision_id: String,
}

/// A CreateService client token and the request it came with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientToken {
    /// The token.
    pub token: String,
    /// The request with the token removed, serialized: the same token with another request is
    /// not a retry.
    pub fingerprint: String,
}

/// What [`start_deployment`] made: the new PRIMARY deployment's id and the history records to
/// write with the service (see [`save`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StartedDeployment {
    /// The new deployment's id (`ecs-svc/` and 19 digits).
    pub deployment_id: String,
    /// The id ending the new service deployment's ARN.
    pub service_deployment_id: String,
    /// The new `ServiceDeployment` record (status IN_PROGRESS).
    pub service_deployment: ServiceDeployment,
    /// The id ending the new service revision's ARN.
    pub service_revision_id: String,
    /// The new `ServiceRevision` record.
    pub service_revision: ServiceRevision,
    /// Service deployments this one supersedes: [`save`] marks those still in progress STOPPED.
    pub superseded: Vec<String>,
}

impl ServiceRecord {
    /// The service name.
    pub fn name(&self) -> &str {
        self.service.service_name.as_deref().unwrap_or_default()
    }

    /// Whether the service's task sets are driven from outside (the EXTERNAL deployment
    /// controller) rather than by deployments.
    pub fn is_external(&self) -> bool {
        self.service.deployment_controller.as_ref().and_then(|c| c.r#type.as_deref()) == Some("EXTERNAL")
    }

    /// The service status (ACTIVE, DRAINING or INACTIVE).
    pub fn status(&self) -> &str {
        self.service.status.as_deref().unwrap_or(ACTIVE)
    }

    /// The region and account of the service, read from its ARN.
    pub fn scope(&self) -> Scope {
        self.service
            .service_arn
            .as_deref()
            .and_then(Arn::parse)
            .map(|arn| Scope::new(arn.region, arn.account))
            .unwrap_or_else(|| Scope::new("", ""))
    }

    /// The ARN of one of the service's deployments in the history.
    pub fn service_deployment_arn(&self, id: &str) -> String {
        self.scope().service_deployment_arn(&self.cluster, self.name(), id)
    }

    /// The ARN of one of the service's revisions.
    pub fn service_revision_arn(&self, id: &str) -> String {
        self.scope().service_revision_arn(&self.cluster, self.name(), id)
    }

    /// The PRIMARY deployment, if the service has one (EXTERNAL services have none).
    pub fn primary(&self) -> Option<&Deployment> {
        self.service.deployments.iter().flatten().find(|d| d.status.as_deref() == Some(PRIMARY))
    }

    /// The PRIMARY deployment, mutably.
    pub fn primary_mut(&mut self) -> Option<&mut Deployment> {
        self.service.deployments.iter_mut().flatten().find(|d| d.status.as_deref() == Some(PRIMARY))
    }

    /// Adds an event, newest first, keeping at most [`MAX_EVENTS`].
    pub fn push_event(&mut self, message: impl Into<String>, now: f64) {
        let events = self.service.events.get_or_insert_with(Vec::new);
        events.insert(
            0,
            ServiceEvent {
                id: Some(Uuid::new_v4().to_string()),
                created_at: Some(now),
                message: Some(message.into()),
            },
        );
        events.truncate(MAX_EVENTS);
    }

    /// Recomputes `currentServiceRevisions` from the deployments and their counts.
    pub fn refresh_current_revisions(&mut self) {
        let summaries = self
            .service
            .deployments
            .iter()
            .flatten()
            .filter_map(|d| {
                let history = self.history.get(d.id.as_deref()?)?;
                Some(ServiceCurrentRevisionSummary {
                    arn: Some(self.service_revision_arn(&history.service_revision_id)),
                    requested_task_count: d.desired_count,
                    running_task_count: d.running_count,
                    pending_task_count: d.pending_count,
                })
            })
            .collect::<Vec<_>>();
        self.service.current_service_revisions = Some(summaries);
    }
}

/// A random id of `digits` decimal digits (leading zeros kept), as ECS's numeric ids look.
fn decimal_id(digits: usize) -> String {
    let (high, low) = Uuid::new_v4().as_u64_pair();
    let text = format!("{high:020}{low:020}");
    text[text.len() - digits..].to_string()
}

/// A random id of letters and digits, as ECS's service deployment ids look.
fn alphanumeric_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat();
    bytes.iter().take(len).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// Starts a new PRIMARY deployment of `definition` with the service's current configuration.
///
/// Pure (no IO): it changes `record` and returns the history records, which [`save`] writes
/// with it. The new deployment is PRIMARY with rolloutState IN_PROGRESS, desiredCount the
/// service's, and zero counts; the previous PRIMARY becomes ACTIVE (the controller drains and
/// drops it); `definition` is kept in `record.definitions`, and the service's `taskDefinition`,
/// `currentServiceDeployment` and `currentServiceRevisions` follow. `reason`, if any, becomes the
/// new service deployment's `statusReason` (a rollback's caller also sets its `rollback` member on
/// the returned record before saving).
pub fn start_deployment(
    record: &mut ServiceRecord,
    definition: TaskDefinition,
    now: f64,
    reason: Option<&str>,
) -> StartedDeployment {
    let deployment_id = format!("ecs-svc/{}", decimal_id(19));
    let service_deployment_id = alphanumeric_id(20);
    let service_revision_id = decimal_id(19);
    let service = &record.service;
    let definition_arn = definition.task_definition_arn.clone();

    let mut source_revisions = Vec::new();
    let mut superseded = Vec::new();
    for existing in service.deployments.iter().flatten() {
        let Some(history) = existing.id.as_deref().and_then(|id| record.history.get(id)) else { continue };
        source_revisions.push(ServiceRevisionSummary {
            arn: Some(record.service_revision_arn(&history.service_revision_id)),
            requested_task_count: existing.desired_count,
            running_task_count: existing.running_count,
            pending_task_count: existing.pending_count,
            ..Default::default()
        });
        if existing.status.as_deref() == Some(PRIMARY) {
            superseded.push(history.service_deployment_id.clone());
        }
    }

    let deployment = Deployment {
        id: Some(deployment_id.clone()),
        status: Some(PRIMARY.to_string()),
        task_definition: definition_arn.clone(),
        desired_count: Some(service.desired_count.unwrap_or(0)),
        pending_count: Some(0),
        running_count: Some(0),
        failed_tasks: Some(0),
        created_at: Some(now),
        updated_at: Some(now),
        capacity_provider_strategy: service.capacity_provider_strategy.clone(),
        launch_type: service.launch_type.clone(),
        platform_version: service.platform_version.clone(),
        platform_family: service.platform_family.clone(),
        network_configuration: service.network_configuration.clone(),
        rollout_state: Some("IN_PROGRESS".to_string()),
        rollout_state_reason: Some(format!("ECS deployment {deployment_id} in progress.")),
        ..Default::default()
    };

    let revision_arn = record.service_revision_arn(&service_revision_id);
    let service_revision = ServiceRevision {
        service_revision_arn: Some(revision_arn.clone()),
        service_arn: service.service_arn.clone(),
        cluster_arn: service.cluster_arn.clone(),
        task_definition: definition_arn,
        capacity_provider_strategy: service.capacity_provider_strategy.clone(),
        launch_type: service.launch_type.clone(),
        platform_version: service.platform_version.clone(),
        platform_family: service.platform_family.clone(),
        load_balancers: service.load_balancers.clone(),
        service_registries: service.service_registries.clone(),
        network_configuration: service.network_configuration.clone(),
        container_images: Some(
            definition
                .container_definitions
                .iter()
                .flatten()
                .map(|c| ContainerImage {
                    container_name: c.name.clone(),
                    image: c.image.clone(),
                    image_digest: None,
                })
                .collect(),
        ),
        guard_duty_enabled: Some(false),
        created_at: Some(now),
        ..Default::default()
    };

    let service_deployment_arn = record.service_deployment_arn(&service_deployment_id);
    let configuration = service.deployment_configuration.clone();
    let service_deployment = ServiceDeployment {
        service_deployment_arn: Some(service_deployment_arn.clone()),
        service_arn: service.service_arn.clone(),
        cluster_arn: service.cluster_arn.clone(),
        created_at: Some(now),
        started_at: Some(now),
        updated_at: Some(now),
        source_service_revisions: Some(source_revisions),
        target_service_revision: Some(ServiceRevisionSummary {
            arn: Some(revision_arn),
            requested_task_count: deployment.desired_count,
            running_task_count: Some(0),
            pending_task_count: Some(0),
            ..Default::default()
        }),
        status: Some("IN_PROGRESS".to_string()),
        status_reason: reason.map(str::to_string),
        deployment_circuit_breaker: configuration
            .as_ref()
            .and_then(|c| c.deployment_circuit_breaker.as_ref())
            .map(|breaker| berth_api::model::ServiceDeploymentCircuitBreaker {
                status: Some(
                    if breaker.enable == Some(true) { "MONITORING" } else { "DISABLED" }.to_string(),
                ),
                failure_count: Some(0),
                threshold: None,
            }),
        deployment_configuration: configuration,
        ..Default::default()
    };

    let service = &mut record.service;
    for existing in service.deployments.iter_mut().flatten() {
        if existing.status.as_deref() == Some(PRIMARY) {
            existing.status = Some(ACTIVE_DEPLOYMENT.to_string());
            existing.updated_at = Some(now);
        }
    }
    let deployments = service.deployments.get_or_insert_with(Vec::new);
    deployments.insert(0, deployment);
    service.task_definition = definition.task_definition_arn.clone();
    service.current_service_deployment = Some(service_deployment_arn);
    record.definitions.insert(deployment_id.clone(), definition);
    record.history.insert(
        deployment_id.clone(),
        DeploymentHistory {
            service_deployment_id: service_deployment_id.clone(),
            service_revision_id: service_revision_id.clone(),
        },
    );
    record.refresh_current_revisions();

    StartedDeployment {
        deployment_id,
        service_deployment_id,
        service_deployment,
        service_revision_id,
        service_revision,
        superseded,
    }
}

/// A `ServiceDeployment` record as the history operations show it. The record is written when
/// its deployment starts and when another supersedes it; how the rollout ends is in the service
/// record (the deployment's rolloutState, which the controller maintains), so an in-progress
/// deployment reads SUCCESSFUL once its rollout COMPLETED and STOPPED once it FAILED, and a
/// rollback reads ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED once the deployment rolling it back did.
pub fn history_view(record: Option<&ServiceRecord>, mut deployment: ServiceDeployment) -> ServiceDeployment {
    let Some(record) = record else { return deployment };
    let arn = deployment.service_deployment_arn.clone().unwrap_or_default();
    let id = arn.rsplit('/').next().unwrap_or_default();
    let deployment_of = |deployment_id: &str| {
        record.service.deployments.iter().flatten().find(|d| d.id.as_deref() == Some(deployment_id))
    };
    let own = record
        .history
        .iter()
        .find(|(_, h)| h.service_deployment_id == id)
        .and_then(|(d, _)| deployment_of(d));
    let status = deployment.status.clone().unwrap_or_default();
    let (watched, success, failure) = match status.as_str() {
        "PENDING" | "IN_PROGRESS" => (own, "SUCCESSFUL", "STOPPED"),
        "ROLLBACK_IN_PROGRESS" => (
            record.rollbacks.get(id).and_then(|d| deployment_of(d)),
            "ROLLBACK_SUCCESSFUL",
            "ROLLBACK_FAILED",
        ),
        _ => (None, "", ""),
    };
    let Some(watched) = watched else { return deployment };
    let outcome = match watched.rollout_state.as_deref() {
        Some("COMPLETED") => success,
        Some("FAILED") => failure,
        _ => return deployment,
    };
    deployment.status = Some(outcome.to_string());
    deployment.finished_at = watched.updated_at;
    deployment.updated_at = watched.updated_at;
    if outcome == "STOPPED" {
        deployment.stopped_at = watched.updated_at;
        deployment.status_reason = watched.rollout_state_reason.clone();
    }
    if let Some(target) =
        deployment.target_service_revision.as_mut().filter(|_| status != "ROLLBACK_IN_PROGRESS")
    {
        target.running_task_count = watched.running_count;
        target.pending_task_count = watched.pending_count;
    }
    deployment
}

/// Reads one service.
pub async fn load(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    name: &str,
) -> Result<Option<(ServiceRecord, Revision)>, EcsError> {
    Ok(records::get::<ServiceRecord>(store, &keys::service(scope, cluster, name))
        .await?
        .map(|record| (record.value, record.revision)))
}

/// Writes `record` if its key is still at `revision` (0: the key must not exist), with the
/// history records of `started`, and marks the service deployments it supersedes STOPPED when
/// they were still in progress (ROLLBACK_IN_PROGRESS when `started` is a rollback, which is then
/// recorded in `rollbacks`). It also persists how the rollouts of the record's deployments ended
/// (see [`history_view`]), so the stored record may differ from `record` in `rollbacks`. `Ok(None)` means another writer came first: read and try again.
pub async fn save(
    store: &dyn Store,
    scope: &Scope,
    record: &ServiceRecord,
    revision: Revision,
    started: Option<&StartedDeployment>,
) -> Result<Option<Revision>, EcsError> {
    save_with(store, scope, record, revision, started, Vec::new()).await
}

/// [`save`], with `extra` operations in the same transaction (such as deleting the history of a
/// service whose name is reused).
pub async fn save_with(
    store: &dyn Store,
    scope: &Scope,
    record: &ServiceRecord,
    revision: Revision,
    started: Option<&StartedDeployment>,
    extra: Vec<Op>,
) -> Result<Option<Revision>, EcsError> {
    let mut record = record.clone();
    let rollback = started.and_then(|s| s.service_deployment.rollback.clone());
    let superseded = started.map(|s| s.superseded.clone()).unwrap_or_default();
    if let (Some(started), Some(_)) = (started, &rollback) {
        for id in &superseded {
            record.rollbacks.insert(id.clone(), started.deployment_id.clone());
        }
    }
    let (cluster, name) = (record.cluster.clone(), record.name().to_string());
    let mut history = Vec::new();
    if let Some(started) = started {
        for id in &superseded {
            let old_key = keys::service_deployment(scope, &cluster, &name, id);
            let Some(old) = records::get::<ServiceDeployment>(store, &old_key).await? else { continue };
            let mut value = old.value;
            if matches!(value.status.as_deref(), Some("PENDING" | "IN_PROGRESS" | "ROLLBACK_REQUESTED")) {
                let now = started.service_deployment.created_at;
                if let Some(rollback) = &rollback {
                    value.status = Some("ROLLBACK_IN_PROGRESS".to_string());
                    value.status_reason = rollback.reason.clone();
                    value.rollback = Some(rollback.clone());
                } else {
                    value.status = Some("STOPPED".to_string());
                    value.status_reason =
                        Some("Superseded by a newer deployment of the service.".to_string());
                    value.stopped_at = now;
                }
                value.updated_at = now;
                history.push((old_key, old.revision, value));
            }
        }
    }
    // Persist how rollouts ended ([`history_view`] derives it from the deployments), so the history
    // keeps it after the controller drops a drained deployment from the record.
    let fresh = started.map(|s| s.service_deployment_id.clone());
    let mut watched: Vec<String> = record
        .service
        .deployments
        .iter()
        .flatten()
        .filter_map(|d| record.history.get(d.id.as_deref()?))
        .map(|h| h.service_deployment_id.clone())
        .collect();
    watched.extend(record.rollbacks.keys().cloned());
    watched.sort();
    watched.dedup();
    for id in watched {
        if superseded.contains(&id) || fresh.as_ref() == Some(&id) {
            continue;
        }
        let old_key = keys::service_deployment(scope, &cluster, &name, &id);
        let Some(old) = records::get::<ServiceDeployment>(store, &old_key).await? else { continue };
        let shown = history_view(Some(&record), old.value.clone());
        if shown.status != old.value.status {
            if matches!(shown.status.as_deref(), Some("ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED")) {
                record.rollbacks.remove(&id);
            }
            history.push((old_key, old.revision, shown));
        }
    }

    let key = keys::service(scope, &cluster, &name);
    let mut txn = Txn::new().when(Compare::unchanged(&key, revision));
    for op in extra {
        txn = txn.then(op);
    }
    txn = txn.then(Op::put(&key, encode(&record)?));
    for (old_key, old_revision, value) in history {
        txn = txn.when(Compare::unchanged(&old_key, old_revision)).then(Op::put(&old_key, encode(&value)?));
    }
    if let Some(started) = started {
        txn = txn
            .then(Op::put(
                keys::service_deployment(scope, &cluster, &name, &started.service_deployment_id),
                encode(&started.service_deployment)?,
            ))
            .then(Op::put(
                keys::service_revision(scope, &cluster, &name, &started.service_revision_id),
                encode(&started.service_revision)?,
            ));
    }
    commit(store, txn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ServiceRecord {
        let scope = Scope::new("us-east-1", "000000000000");
        ServiceRecord {
            service: Service {
                service_arn: Some(scope.service_arn("c", "web")),
                service_name: Some("web".into()),
                cluster_arn: Some(scope.cluster_arn("c")),
                desired_count: Some(3),
                ..Default::default()
            },
            cluster: "c".into(),
            definitions: BTreeMap::new(),
            controller: serde_json::Value::Null,
            history: BTreeMap::new(),
            rollbacks: BTreeMap::new(),
            client_token: None,
            task_set_tokens: BTreeMap::new(),
            status_changed_at: None,
        }
    }

    fn definition(revision: i32) -> TaskDefinition {
        TaskDefinition {
            task_definition_arn: Some(format!(
                "arn:aws:ecs:us-east-1:000000000000:task-definition/web:{revision}"
            )),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_deployment_is_primary_and_the_old_one_becomes_active() {
        let mut record = record();
        let first = start_deployment(&mut record, definition(1), 1.0, None);
        assert!(first.deployment_id.starts_with("ecs-svc/"));
        assert_eq!(first.deployment_id.len(), "ecs-svc/".len() + 19);
        assert!(first.superseded.is_empty());
        let second = start_deployment(&mut record, definition(2), 2.0, Some("forced"));
        let deployments = record.service.deployments.as_ref().expect("deployments");
        assert_eq!(deployments.len(), 2);
        assert_eq!(deployments[0].id.as_ref(), Some(&second.deployment_id));
        assert_eq!(deployments[0].status.as_deref(), Some(PRIMARY));
        assert_eq!(deployments[0].desired_count, Some(3));
        assert_eq!(deployments[1].status.as_deref(), Some(ACTIVE_DEPLOYMENT));
        assert_eq!(second.superseded, vec![first.service_deployment_id.clone()]);
        assert_eq!(record.definitions.len(), 2);
        assert_eq!(record.service.task_definition, definition(2).task_definition_arn);
        assert_eq!(second.service_deployment.source_service_revisions.as_ref().map(Vec::len), Some(1));
        assert_eq!(record.service.current_service_revisions.as_ref().map(Vec::len), Some(2));
        assert!(second.service_deployment.service_deployment_arn.as_deref().is_some_and(|arn| {
            arn.starts_with("arn:aws:ecs:us-east-1:000000000000:service-deployment/c/web/")
        }));
    }

    #[test]
    fn events_stay_bounded_newest_first() {
        let mut record = record();
        for n in 0..150 {
            record.push_event(format!("event {n}"), f64::from(n));
        }
        let events = record.service.events.as_ref().expect("events");
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events[0].message.as_deref(), Some("event 149"));
    }
}
