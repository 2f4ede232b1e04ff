//! UntagResource.

use berth_api::model::{UntagResourceRequest, UntagResourceResponse};
use berth_api::{EcsError, tags};

use super::Tagged;
use crate::Ctx;
use crate::ops::required;

/// Handles UntagResource: removes the named keys; keys the resource lacks are ignored, as in ECS.
pub async fn handle(ctx: Ctx, input: UntagResourceRequest) -> Result<UntagResourceResponse, EcsError> {
    let arn = required(&input.resource_arn, "resourceArn")?;
    let keys = required(&input.tag_keys, "tagKeys")?;
    if keys.is_empty() {
        return Err(EcsError::invalid_parameter("At least one tag key is required."));
    }
    for key in keys {
        tags::check_key(key)?;
    }
    let resource = Tagged::locate(&ctx, arn)?;
    resource
        .modify(&ctx, |current| {
            Ok(current
                .iter()
                .filter(|tag| !keys.iter().any(|k| Some(k) == tag.key.as_ref()))
                .cloned()
                .collect())
        })
        .await?;
    Ok(UntagResourceResponse {})
}
