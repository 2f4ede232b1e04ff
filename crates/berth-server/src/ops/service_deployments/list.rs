//! ListServiceDeployments.

use berth_api::EcsError;
use berth_api::model::{
    ListServiceDeploymentsRequest, ListServiceDeploymentsResponse, ServiceDeployment, ServiceDeploymentBrief,
    enums,
};
use berth_api::pagination::{decode_token, encode_token, page_size};

use crate::Ctx;
use crate::ops::clusters;
use crate::ops::services as service_ops;
use crate::state::{keys, records, services};

/// Handles ListServiceDeployments: a service's deployments, newest first, optionally only those
/// of some statuses or created in a time window, twenty a page by default. The service may be
/// deleted: its history stays readable while the service is describable.
pub async fn handle(
    ctx: Ctx,
    input: ListServiceDeploymentsRequest,
) -> Result<ListServiceDeploymentsResponse, EcsError> {
    let reference = crate::ops::required(&input.service, "service")?.clone();
    let statuses = input.status.clone().unwrap_or_default();
    if let Some(bad) = statuses.iter().find(|s| !enums::SERVICE_DEPLOYMENT_STATUS.contains(&s.as_str())) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid status '{bad}': use one of {}.",
            enums::SERVICE_DEPLOYMENT_STATUS.join(", ")
        )));
    }
    let limit = page_size(input.max_results, 20, 100)?;
    let cluster_name = clusters::name_of(&ctx, input.cluster.as_deref())?;
    clusters::load_active(&ctx, Some(cluster_name.as_str())).await?;
    let (record, _) = service_ops::load(&ctx, &cluster_name, &reference).await?;
    let listing = format!("ListServiceDeployments/{cluster_name}/{}", record.name());
    let before = input.next_token.as_deref().map(|token| decode_token(&listing, token)).transpose()?;

    let prefix = keys::service_deployments(&ctx.scope, &cluster_name, record.name());
    let window = input.created_at.clone().unwrap_or_default();
    let mut matching: Vec<(String, ServiceDeployment)> =
        records::list::<ServiceDeployment>(&*ctx.store, &prefix, None, 0)
            .await?
            .items
            .into_iter()
            .map(|(key, d)| (key, services::history_view(Some(&record), d)))
            .filter(|(_, d)| statuses.is_empty() || d.status.as_ref().is_some_and(|s| statuses.contains(s)))
            .filter(|(_, d)| {
                let created = d.created_at.unwrap_or(0.0);
                window.after.is_none_or(|after| created >= after)
                    && window.before.is_none_or(|before| created <= before)
            })
            .map(|(key, d)| (order_key(&key, &d), d))
            .collect();
    // Newest first: descending by creation time, then by key, with the token the last order key.
    matching.sort_by(|a, b| b.0.cmp(&a.0));
    let mut rest = matching.into_iter().filter(|(order, _)| before.as_ref().is_none_or(|b| order < b));
    let page: Vec<_> = rest.by_ref().take(limit).collect();
    let next = if rest.next().is_some() {
        page.last().map(|(order, _)| encode_token(&listing, order))
    } else {
        None
    };
    Ok(ListServiceDeploymentsResponse {
        service_deployments: Some(page.into_iter().map(|(_, d)| brief(d)).collect()),
        next_token: next,
    })
}

/// A key that sorts deployments by creation time (milliseconds, zero-padded), then by store key.
fn order_key(key: &str, deployment: &ServiceDeployment) -> String {
    let millis = (deployment.created_at.unwrap_or(0.0) * 1000.0).max(0.0) as u64;
    format!("{millis:020}|{key}")
}

fn brief(d: ServiceDeployment) -> ServiceDeploymentBrief {
    ServiceDeploymentBrief {
        service_deployment_arn: d.service_deployment_arn,
        service_arn: d.service_arn,
        cluster_arn: d.cluster_arn,
        started_at: d.started_at,
        created_at: d.created_at,
        finished_at: d.finished_at,
        target_service_revision_arn: d.target_service_revision.and_then(|t| t.arn),
        status: d.status,
        status_reason: d.status_reason,
    }
}
