//! DiscoverPollEndpoint: where an agent should talk to the control plane.

use berth_api::EcsError;
use berth_api::model::{DiscoverPollEndpointRequest, DiscoverPollEndpointResponse};

use crate::Ctx;
use crate::ops::clusters;

/// Handles DiscoverPollEndpoint. ECS answers with separate endpoints for the agent's session,
/// its telemetry and Service Connect; Berth serves all three from the control plane itself, so
/// each is the control plane's own URL. Agents call this before they register, so neither the
/// cluster nor the instance has to exist; references that are malformed are still refused.
pub async fn handle(
    ctx: Ctx,
    input: DiscoverPollEndpointRequest,
) -> Result<DiscoverPollEndpointResponse, EcsError> {
    let cluster = clusters::name_of(&ctx, input.cluster.as_deref())?;
    if let Some(reference) = input.container_instance.as_deref().filter(|r| !r.is_empty()) {
        super::instance_id(&ctx, &cluster, reference)?;
    }
    Ok(DiscoverPollEndpointResponse {
        endpoint: Some(ctx.endpoint.clone()),
        telemetry_endpoint: Some(ctx.endpoint.clone()),
        service_connect_endpoint: Some(ctx.endpoint.clone()),
    })
}
