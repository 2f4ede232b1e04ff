//! ListTagsForResource.

use berth_api::EcsError;
use berth_api::model::{ListTagsForResourceRequest, ListTagsForResourceResponse};

use super::Tagged;
use crate::Ctx;
use crate::ops::required;

/// Handles ListTagsForResource.
pub async fn handle(
    ctx: Ctx,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, EcsError> {
    let arn = required(&input.resource_arn, "resourceArn")?;
    let tags = Tagged::locate(&ctx, arn)?.read(&ctx).await?;
    Ok(ListTagsForResourceResponse { tags: Some(tags) })
}
