//! ListTaskDefinitionFamilies.

use berth_api::EcsError;
use berth_api::model::{ListTaskDefinitionFamiliesRequest, ListTaskDefinitionFamiliesResponse};
use berth_api::pagination::{decode_token, encode_token, page_size};

use crate::Ctx;
use crate::state::keys;
use crate::state::records;
use crate::state::task_definitions::FamilyRecord;

const LISTING: &str = "ListTaskDefinitionFamilies";

/// Handles ListTaskDefinitionFamilies: family names starting with `familyPrefix`, in name order.
/// ACTIVE lists families with an ACTIVE revision, INACTIVE those with none, ALL (the default, as the
/// API reference says "by default, both ACTIVE and INACTIVE task definition families are listed") both.
pub async fn handle(
    ctx: Ctx,
    input: ListTaskDefinitionFamiliesRequest,
) -> Result<ListTaskDefinitionFamiliesResponse, EcsError> {
    let status = input.status.as_deref().unwrap_or("ALL");
    let wanted: fn(&FamilyRecord) -> bool = match status {
        "ACTIVE" => |family| family.active_count > 0,
        // A family whose revisions were all deleted is gone from every listing, as in ECS.
        "INACTIVE" => |family| family.active_count == 0 && family.existing_count > 0,
        "ALL" => |family| family.existing_count > 0,
        other => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid status '{other}': use ACTIVE, INACTIVE or ALL."
            )));
        }
    };
    let limit = page_size(input.max_results, 100, 100)?;
    let after = input.next_token.as_deref().map(|token| decode_token(LISTING, token)).transpose()?;
    let prefix = format!("{}{}", keys::families(&ctx.scope), input.family_prefix.as_deref().unwrap_or(""));
    let (items, next) = records::filtered_page(&*ctx.store, &prefix, after, limit, wanted).await?;
    Ok(ListTaskDefinitionFamiliesResponse {
        families: Some(items.into_iter().map(|(_, family)| family.family).collect()),
        next_token: next.map(|key| encode_token(LISTING, &key)),
    })
}
