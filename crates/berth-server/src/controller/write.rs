//! Writing a pass's results into the service record, under a compare-and-set on its revision.
//!
//! The API writes the same record (a new deployment, a new desired count). When it wrote in
//! between, the record is read again: if its deployments are still the ones planned for, the
//! counts and states apply to it; otherwise only the started and stopped events are kept, and
//! the watch brings the next pass, which plans for the new deployments.

use berth_api::EcsError;
use berth_api::model::Rollback;

use super::book::Bookkeeping;
use super::launch::Launched;
use super::plan::Plan;
use crate::Ctx;
use crate::state::keys;
use crate::state::records::{self, Record};
use crate::state::services::{self, INACTIVE, ServiceRecord, start_deployment};

/// How often a write retries while the API keeps changing the record.
const MAX_ATTEMPTS: usize = 16;

/// How long before the same unable-to-place event is written again.
pub const UNPLACED_EVENT_EVERY: f64 = 900.0;

/// Writes the outcome of a pass planned on `planned`.
pub async fn save(
    ctx: &Ctx,
    planned: &ServiceRecord,
    plan: &Plan,
    launched: &Launched,
    messages: Vec<String>,
    now: f64,
) -> Result<(), EcsError> {
    let key = keys::service(&ctx.scope, &planned.cluster, planned.name());
    for _ in 0..MAX_ATTEMPTS {
        let Some(Record { value: mut record, revision }) =
            records::get::<ServiceRecord>(&*ctx.store, &key).await?
        else {
            return Ok(());
        };
        let before = record.clone();
        let same = deployment_ids(&record) == deployment_ids(planned);
        for message in &messages {
            record.push_event(message.clone(), now);
        }
        let mut started = None;
        if same {
            apply(&mut record, plan, launched, now);
            if let Some(target) = &plan.rollback_to
                && let Some(definition) = record.definitions.get(target).cloned()
            {
                let reason =
                    format!("ECS deployment circuit breaker: rolling back to deploymentId {target}.");
                let mut deployment = start_deployment(&mut record, definition, now, Some(&reason));
                let revision_arn =
                    record.history.get(target).map(|h| record.service_revision_arn(&h.service_revision_id));
                deployment.service_deployment.rollback = Some(Rollback {
                    reason: Some(reason),
                    started_at: Some(now),
                    service_revision_arn: revision_arn,
                });
                started = Some(deployment);
            }
        }
        if record == before {
            return Ok(());
        }
        if services::save(&*ctx.store, &ctx.scope, &record, revision, started.as_ref()).await?.is_some() {
            return Ok(());
        }
    }
    tracing::warn!(service = planned.name(), "the service kept changing; its pass is written next time");
    Ok(())
}

fn deployment_ids(record: &ServiceRecord) -> Vec<Option<String>> {
    record.service.deployments.iter().flatten().map(|d| d.id.clone()).collect()
}

/// Counts, rollout states, removed deployments, status, events and bookkeeping.
fn apply(record: &mut ServiceRecord, plan: &Plan, launched: &Launched, now: f64) {
    let shortfall = plan.start.saturating_sub(launched.tasks.len() as u32);
    let mut book: Bookkeeping = plan.book.clone();
    if let Some(message) = &launched.refused {
        let repeated = book
            .unplaced
            .as_ref()
            .is_some_and(|(last, at)| last == message && now - at < UNPLACED_EVENT_EVERY);
        if !repeated {
            record.push_event(message.clone(), now);
            book.unplaced = Some((message.clone(), now));
        }
    }
    for (index, counts) in plan.counts.iter().enumerate() {
        let Some(deployment) =
            record.service.deployments.iter_mut().flatten().find(|d| d.id.as_deref() == Some(&counts.id))
        else {
            continue;
        };
        let pending = if index == 0 { counts.pending.saturating_sub(shortfall) } else { counts.pending };
        let new = (
            Some(counts.desired as i32),
            Some(pending as i32),
            Some(counts.running as i32),
            Some(counts.failed as i32),
            Some(counts.rollout.as_str().to_string()),
        );
        let old = (
            deployment.desired_count,
            deployment.pending_count,
            deployment.running_count,
            deployment.failed_tasks,
            deployment.rollout_state.clone(),
        );
        if new != old {
            (
                deployment.desired_count,
                deployment.pending_count,
                deployment.running_count,
                deployment.failed_tasks,
                deployment.rollout_state,
            ) = new;
            deployment.updated_at = Some(now);
        }
        if let Some(reason) = &counts.reason {
            deployment.rollout_state_reason = Some(reason.clone());
        }
    }
    if !plan.remove.is_empty() {
        if let Some(deployments) = record.service.deployments.as_mut() {
            deployments.retain(|d| !d.id.as_ref().is_some_and(|id| plan.remove.contains(id)));
        }
        for id in &plan.remove {
            record.definitions.remove(id);
            record.history.remove(id);
        }
    }
    let service = &mut record.service;
    service.running_count = Some(plan.running as i32);
    service.pending_count = Some(plan.pending.saturating_sub(shortfall) as i32);
    if service.scheduling_strategy.as_deref() == Some("DAEMON") && record.status() != services::DRAINING {
        record.service.desired_count = Some(plan.desired as i32);
    }
    if plan.inactive {
        record.service.status = Some(INACTIVE.to_string());
        record.status_changed_at = Some(now);
    }
    for message in &plan.events {
        record.push_event(message.clone(), now);
    }
    record.controller = serde_json::to_value(&book).unwrap_or_default();
    record.refresh_current_revisions();
}
