//! ListAccountSettings: the settings of one principal (the caller unless `principalArn` names
//! another).
//!
//! Without `effectiveSettings`, the answer holds the settings the principal itself holds; with it,
//! every setting's value in effect for the principal (its own, else the account default, else ECS's
//! default). `name` narrows to one setting and `value` (which needs `name`, as ECS requires) to one
//! value. Settings come in the service model's order of names, up to `maxResults` (1–10, default
//! 10) a page; a `nextToken` holds the last name returned and is bound to the principal and the
//! kind of listing, so a token of another listing is an `InvalidParameterException`.

use std::collections::HashMap;

use berth_api::EcsError;
use berth_api::model::{ListAccountSettingsRequest, ListAccountSettingsResponse, Setting, enums};
use berth_api::pagination::{decode_token, encode_token, page_size};

use super::catalog::{self, Spec};
use super::{all_held, principal, setting};
use crate::Ctx;

/// Page size bounds, from the operation's docs.
const PAGE_DEFAULT: usize = 10;
const PAGE_MAX: usize = 10;

/// Handles ListAccountSettings.
pub async fn handle(
    ctx: Ctx,
    input: ListAccountSettingsRequest,
) -> Result<ListAccountSettingsResponse, EcsError> {
    let principal = principal::resolve(&ctx, input.principal_arn.as_ref())?;
    let size = page_size(input.max_results, PAGE_DEFAULT, PAGE_MAX)?;
    let only = input.name.as_deref().map(catalog::find).transpose()?;
    if input.value.is_some() && only.is_none() {
        return Err(EcsError::invalid_parameter(
            "The value parameter can only be used together with the name parameter.",
        ));
    }
    let effective = input.effective_settings.unwrap_or(false);
    let mut settings = if effective {
        effective_settings(&ctx, &principal, only).await?
    } else {
        held_settings(&ctx, &principal, only).await?
    };
    if let Some(value) = &input.value {
        settings.retain(|setting| setting.value.as_ref() == Some(value));
    }
    let listing = format!("ListAccountSettings/{}/{principal}", if effective { "effective" } else { "held" });
    paginate(settings, &listing, input.next_token.as_deref(), size)
}

/// The settings to consider, in the model's order: all of them, or the one named.
fn specs(only: Option<Spec>) -> impl Iterator<Item = Spec> {
    catalog::all().filter(move |spec| only.is_none_or(|only| only.name == spec.name))
}

/// The settings `principal` itself holds.
async fn held_settings(ctx: &Ctx, principal: &str, only: Option<Spec>) -> Result<Vec<Setting>, EcsError> {
    let own = all_held(ctx, principal).await?;
    Ok(specs(only).filter_map(|spec| own.get(spec.name).cloned()).collect())
}

/// Every setting's value in effect for `principal`. Reads the principal's and the root user's
/// settings once each rather than once per name.
async fn effective_settings(
    ctx: &Ctx,
    principal: &str,
    only: Option<Spec>,
) -> Result<Vec<Setting>, EcsError> {
    let own = all_held(ctx, principal).await?;
    let root = principal::root(ctx);
    let defaults = if root == principal { HashMap::new() } else { all_held(ctx, &root).await? };
    Ok(specs(only)
        .map(|spec| {
            own.get(spec.name)
                .or_else(|| defaults.get(spec.name))
                .cloned()
                .unwrap_or_else(|| setting(&spec, spec.aws_default, &root))
        })
        .collect())
}

/// A setting name's place in the model's order.
fn rank(name: &str) -> Option<usize> {
    enums::SETTING_NAME.iter().position(|known| *known == name)
}

/// One page of `settings` (already in the model's order), after the token's setting.
fn paginate(
    mut settings: Vec<Setting>,
    listing: &str,
    token: Option<&str>,
    size: usize,
) -> Result<ListAccountSettingsResponse, EcsError> {
    if let Some(token) = token {
        let after = rank(&decode_token(listing, token)?)
            .ok_or_else(|| EcsError::invalid_parameter("Invalid nextToken: it names no account setting."))?;
        settings.retain(|setting| setting.name.as_deref().and_then(rank).is_some_and(|rank| rank > after));
    }
    let more = settings.len() > size;
    settings.truncate(size);
    let next_token = more
        .then(|| {
            settings.last().and_then(|last| last.name.as_deref()).map(|name| encode_token(listing, name))
        })
        .flatten();
    Ok(ListAccountSettingsResponse { settings: Some(settings), next_token })
}
