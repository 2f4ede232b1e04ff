//! ListServices.

use berth_api::EcsError;
use berth_api::model::{ListServicesRequest, ListServicesResponse, enums};
use berth_api::pagination::{decode_token, encode_token, page_size};

use crate::Ctx;
use crate::ops::clusters;
use crate::state::services::{INACTIVE, ServiceRecord};
use crate::state::{keys, records};

/// Handles ListServices: the ARNs of a cluster's services that are not INACTIVE, in name order,
/// optionally only those of one launch type or scheduling strategy, ten a page by default.
pub async fn handle(ctx: Ctx, input: ListServicesRequest) -> Result<ListServicesResponse, EcsError> {
    if let Some(kind) = input.launch_type.as_deref().filter(|k| !enums::LAUNCH_TYPE.contains(k)) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid launchType '{kind}': use one of {}.",
            enums::LAUNCH_TYPE.join(", ")
        )));
    }
    if let Some(strategy) =
        input.scheduling_strategy.as_deref().filter(|s| !enums::SCHEDULING_STRATEGY.contains(s))
    {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid schedulingStrategy '{strategy}': use REPLICA or DAEMON."
        )));
    }
    let limit = page_size(input.max_results, 10, 100)?;
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let listing = format!("ListServices/{cluster_name}");
    let after = input.next_token.as_deref().map(|token| decode_token(&listing, token)).transpose()?;
    let keep = |record: &ServiceRecord| {
        let service = &record.service;
        record.status() != INACTIVE
            && input.launch_type.as_ref().is_none_or(|kind| service.launch_type.as_ref() == Some(kind))
            && input
                .scheduling_strategy
                .as_ref()
                .is_none_or(|strategy| service.scheduling_strategy.as_ref() == Some(strategy))
    };
    let prefix = keys::services(&ctx.scope, &cluster_name);
    let (items, next) = records::filtered_page(&*ctx.store, &prefix, after, limit, keep).await?;
    Ok(ListServicesResponse {
        service_arns: Some(items.into_iter().filter_map(|(_, record)| record.service.service_arn).collect()),
        next_token: next.map(|key| encode_token(&listing, &key)),
    })
}
