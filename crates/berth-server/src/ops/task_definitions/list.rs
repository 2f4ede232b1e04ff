//! ListTaskDefinitions.

use berth_api::EcsError;
use berth_api::model::{ListTaskDefinitionsRequest, ListTaskDefinitionsResponse};
use berth_api::pagination::{decode_token, encode_token, page_size};

use crate::Ctx;
use crate::state::keys;
use crate::state::records;
use crate::state::task_definitions::{ACTIVE, DELETE_IN_PROGRESS, INACTIVE, TaskDefinitionRecord};

/// Handles ListTaskDefinitions: ARNs of one status (ACTIVE by default), optionally of one family
/// (`familyPrefix` names a whole family, as in ECS), by family then revision, ascending by default.
pub async fn handle(
    ctx: Ctx,
    input: ListTaskDefinitionsRequest,
) -> Result<ListTaskDefinitionsResponse, EcsError> {
    let status = input.status.as_deref().unwrap_or(ACTIVE);
    if ![ACTIVE, INACTIVE, DELETE_IN_PROGRESS].contains(&status) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid status '{status}': use ACTIVE, INACTIVE or DELETE_IN_PROGRESS."
        )));
    }
    let descending = match input.sort.as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => {
            return Err(EcsError::invalid_parameter(format!("Invalid sort '{other}': use ASC or DESC.")));
        }
    };
    let limit = page_size(input.max_results, 100, 100)?;
    let prefix = match input.family_prefix.as_deref() {
        Some(family) => keys::family_revisions(&ctx.scope, family),
        None => keys::task_definitions(&ctx.scope),
    };
    // Tokens of the two orders are not interchangeable.
    let listing = if descending { "ListTaskDefinitions/DESC" } else { "ListTaskDefinitions/ASC" };
    let after = input.next_token.as_deref().map(|token| decode_token(listing, token)).transpose()?;
    let keep = |record: &TaskDefinitionRecord| record.status() == status;
    let (items, next) = if descending {
        descending_page(&ctx, &prefix, after, limit, keep).await?
    } else {
        records::filtered_page(&*ctx.store, &prefix, after, limit, keep).await?
    };
    Ok(ListTaskDefinitionsResponse {
        task_definition_arns: Some(
            items.into_iter().filter_map(|(_, r)| r.task_definition.task_definition_arn).collect(),
        ),
        next_token: next.map(|key| encode_token(listing, &key)),
    })
}

/// The store reads in ascending key order only; a descending page reads the matching keys and
/// walks them backwards from the token.
async fn descending_page(
    ctx: &Ctx,
    prefix: &str,
    before: Option<String>,
    limit: usize,
    keep: impl Fn(&TaskDefinitionRecord) -> bool,
) -> Result<(Vec<(String, TaskDefinitionRecord)>, Option<String>), EcsError> {
    let all = records::list::<TaskDefinitionRecord>(&*ctx.store, prefix, None, 0).await?.items;
    let mut matching =
        all.into_iter().rev().filter(|(key, record)| before.as_ref().is_none_or(|b| key < b) && keep(record));
    let items: Vec<_> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let next = if more { items.last().map(|(key, _)| key.clone()) } else { None };
    Ok((items, next))
}
