//! One pass over one cluster: read its services, instances and tasks once, then plan and apply
//! for each service.

use std::collections::HashMap;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_scheduler::validate_constraints;
use futures::StreamExt;

use super::book::Bookkeeping;
use super::launch::{self, Launched};
use super::plan::{self, Input, Plan, Scheduling, Settings, StopReason, events};
use super::task_sets;
use super::views::{self, SCHEDULER_STOP_CODE, StoredTask};
use super::write;
use crate::Ctx;
use crate::context::now;
use crate::ops::tasks::stop::stop_task;
use crate::state::keys;
use crate::state::records;
use crate::state::services::{INACTIVE, ServiceRecord};
use crate::state::store_error;
use crate::state::task_placement::{InstanceEntry, load_instances};

/// How many tasks are stopped at once.
const STOPS_IN_FLIGHT: usize = 64;

/// What a cluster pass asks of the loop: when to look again if nothing else wakes it.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The earliest time a service of the cluster wants another pass (a throttle ending).
    pub retry_at: Option<f64>,
}

/// Reconciles every service of `cluster`.
pub async fn cluster(ctx: &Ctx, cluster: &str, settings: Settings) -> Result<Outcome, EcsError> {
    let services = records::list::<ServiceRecord>(&*ctx.store, &keys::services(&ctx.scope, cluster), None, 0)
        .await?
        .items;
    let mut outcome = Outcome::default();
    let services: Vec<ServiceRecord> =
        services.into_iter().map(|(_, r)| r).filter(|r| r.status() != INACTIVE).collect();
    if services.is_empty() {
        return Ok(outcome);
    }
    let instances = load_instances(&*ctx.store, &ctx.scope, cluster).await?;
    let instances: Vec<InstanceEntry> = instances
        .into_iter()
        .filter(|e| e.record.instance.status.as_deref() != Some(crate::state::container_instances::INACTIVE))
        .collect();
    let mut tasks = tasks_by_group(&ctx.scope, ctx, cluster).await?;
    for record in services {
        let name = record.name().to_string();
        let span = tracing::debug_span!("reconciling service", service = %name, cluster);
        let _entered = span.enter();
        let mine = tasks.remove(&views::group_of(&name)).unwrap_or_default();
        match service(ctx, record, &mine, &instances, settings).await {
            Ok(Some(at)) => outcome.retry_at = Some(outcome.retry_at.map_or(at, |t: f64| t.min(at))),
            Ok(None) => {}
            Err(err) => tracing::warn!(service = %name, %err, "service reconcile failed"),
        }
    }
    Ok(outcome)
}

/// Every task of the cluster, by group, decoded to the fields the controller reads.
async fn tasks_by_group(
    scope: &Scope,
    ctx: &Ctx,
    cluster: &str,
) -> Result<HashMap<String, Vec<StoredTask>>, EcsError> {
    let range = ctx.store.range(&keys::tasks(scope, cluster), None, 0).await.map_err(store_error)?;
    let mut groups: HashMap<String, Vec<StoredTask>> = HashMap::new();
    for kv in range.kvs {
        match serde_json::from_slice::<StoredTask>(&kv.value) {
            Ok(task) => {
                if let Some(group) = task.task.group.clone().filter(|g| g.starts_with("service:")) {
                    groups.entry(group).or_default().push(task);
                }
            }
            Err(err) => tracing::warn!(key = %kv.key, %err, "undecodable task record skipped"),
        }
    }
    Ok(groups)
}

/// Plans and applies one service; returns when it wants to be looked at again.
async fn service(
    ctx: &Ctx,
    record: ServiceRecord,
    tasks: &[StoredTask],
    instances: &[InstanceEntry],
    settings: Settings,
) -> Result<Option<f64>, EcsError> {
    let view = views::service_view(&record);
    if record.is_external() {
        task_sets::reconcile(ctx, &record, tasks).await?;
        return Ok(None);
    }
    let deployments = views::deployment_views(&record);
    if deployments.is_empty() {
        return Ok(None);
    }
    let constraints = match view.scheduling {
        Scheduling::Daemon => Some(daemon_constraints(&record)),
        Scheduling::Replica => None,
    };
    let instance_views = views::instance_views(instances, constraints.as_deref());
    let task_views: Vec<plan::TaskView> = tasks.iter().map(views::task_view).collect();
    let book: Bookkeeping = serde_json::from_value(record.controller.clone()).unwrap_or_default();
    let now = now();
    let plan = plan::plan(&Input {
        service: &view,
        deployments: &deployments,
        tasks: &task_views,
        instances: &instance_views,
        now,
        book: &book,
        settings,
    });
    let primary = deployments[0].id.clone();
    let stopped = stop_all(ctx, &record, &plan, &primary).await;
    let launched = if plan.start > 0 {
        launch::start(ctx, &record, &primary, plan.start, view.scheduling == Scheduling::Daemon).await
    } else {
        Launched::default()
    };
    let mut messages = Vec::new();
    for (running, ids) in [(true, &stopped.0), (false, &stopped.1)] {
        for chunk in ids.chunks(events::TASKS_PER_EVENT) {
            messages.push(events::stopped(&view.name, running, chunk));
        }
    }
    for chunk in launched.tasks.chunks(events::TASKS_PER_EVENT) {
        messages.push(events::started(&view.name, chunk));
    }
    write::save(ctx, &record, &plan, &launched, messages, now).await?;
    Ok(plan.retry_at)
}

/// The service's placement constraints as the engine reads them (DAEMON eligibility); ones that
/// do not parse count as none, since CreateService already refused bad ones.
fn daemon_constraints(record: &ServiceRecord) -> Vec<berth_scheduler::Constraint> {
    let definition = record.primary().and_then(|d| d.id.as_ref()).and_then(|id| record.definitions.get(id));
    let inherited = definition
        .into_iter()
        .flat_map(|d| d.placement_constraints.iter().flatten())
        .map(|c| (c.r#type.as_deref(), c.expression.as_deref()));
    let own = record
        .service
        .placement_constraints
        .iter()
        .flatten()
        .map(|c| (c.r#type.as_deref(), c.expression.as_deref()));
    validate_constraints(inherited.chain(own)).unwrap_or_default()
}

/// Stops the plan's tasks, a few at a time; returns the ids stopped that were running and
/// those that were not.
async fn stop_all(
    ctx: &Ctx,
    record: &ServiceRecord,
    plan: &Plan,
    primary: &str,
) -> (Vec<String>, Vec<String>) {
    let cluster = record.cluster.clone();
    let results: Vec<Option<(bool, String)>> = futures::stream::iter(plan.stop.iter().cloned())
        .map(|stop| {
            let cluster = cluster.clone();
            async move {
                let reason = match stop.reason {
                    StopReason::Scaling | StopReason::Draining => {
                        format!("Scaling activity initiated by (deployment {primary})")
                    }
                    StopReason::Unhealthy => "Task failed container health checks".to_string(),
                };
                match stop_task(ctx, &cluster, &stop.task, SCHEDULER_STOP_CODE, &reason).await {
                    Ok(_) => Some((stop.was_running, stop.task)),
                    Err(err) => {
                        tracing::warn!(task = %stop.task, %err, "failed to stop a service task");
                        None
                    }
                }
            }
        })
        .buffer_unordered(STOPS_IN_FLIGHT)
        .collect()
        .await;
    let mut running = Vec::new();
    let mut pending = Vec::new();
    for (was_running, id) in results.into_iter().flatten() {
        if was_running { running.push(id) } else { pending.push(id) }
    }
    (running, pending)
}
