//! TagResource.

use berth_api::model::{TagResourceRequest, TagResourceResponse};
use berth_api::{EcsError, tags};

use super::Tagged;
use crate::Ctx;
use crate::ops::required;

/// Handles TagResource: adds tags, replacing the value of keys the resource already has, within
/// ECS's limits; a refused request changes nothing.
pub async fn handle(ctx: Ctx, input: TagResourceRequest) -> Result<TagResourceResponse, EcsError> {
    let arn = required(&input.resource_arn, "resourceArn")?;
    let new = required(&input.tags, "tags")?;
    if new.is_empty() {
        return Err(EcsError::invalid_parameter("At least one tag is required."));
    }
    tags::check_tags(new)?;
    let resource = Tagged::locate(&ctx, arn)?;
    resource.modify(&ctx, |current| tags::merge(current, new)).await?;
    Ok(TagResourceResponse {})
}
