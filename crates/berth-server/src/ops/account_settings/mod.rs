//! Account settings: PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
//! DeleteAccountSetting, and the value in effect that other operations consult.
//!
//! A setting a principal holds is one `model::Setting` record at `keys::account_setting(scope,
//! principal, name)`. ECS documents that the root user's value of a setting *is* the account's
//! default ("If you change the root user account setting, the default settings are reset for users
//! and roles that do not have specified individual account settings"), and PutAccountSettingDefault
//! changes that same default. So both write the root user's record: there is one account default,
//! whichever operation set it last. The value in effect for a principal is its own, else the
//! root user's, else ECS's default from the [`catalog`].

mod catalog;
pub mod delete;
pub mod list;
mod principal;
pub mod put;
pub mod put_default;

use std::collections::HashMap;

use berth_api::EcsError;
use berth_api::model::Setting;

use self::catalog::Spec;
use crate::Ctx;
use crate::state::keys;
use crate::state::records::{self, Record};

/// The value of setting `name` in effect for the caller: the caller's own, else the account
/// default, else the ECS default. `None` when the name is not a setting.
pub async fn effective(ctx: &Ctx, name: &str) -> Result<Option<String>, EcsError> {
    let Some(spec) = catalog::known(name) else {
        return Ok(None);
    };
    let setting = effective_for(ctx, &ctx.caller_principal(), &spec).await?;
    Ok(setting.value)
}

/// A setting as ECS returns it.
fn setting(spec: &Spec, value: &str, principal: &str) -> Setting {
    Setting {
        name: Some(spec.name.to_string()),
        value: Some(value.to_string()),
        principal_arn: Some(principal.to_string()),
        r#type: Some(spec.setting_type().to_string()),
    }
}

/// The record key prefix of every setting `principal` holds. The key ends `principal|name`, and a
/// principal never holds `|`, so the prefix matches that principal's settings only.
fn held_prefix(ctx: &Ctx, principal: &str) -> String {
    format!("{}{principal}|", keys::account_settings(&ctx.scope))
}

/// The setting `principal` itself holds, if any.
async fn held(ctx: &Ctx, principal: &str, name: &str) -> Result<Option<Record<Setting>>, EcsError> {
    records::get(&*ctx.store, &keys::account_setting(&ctx.scope, principal, name)).await
}

/// Every setting `principal` itself holds, by name.
async fn all_held(ctx: &Ctx, principal: &str) -> Result<HashMap<String, Setting>, EcsError> {
    let page = records::list::<Setting>(&*ctx.store, &held_prefix(ctx, principal), None, 0).await?;
    Ok(page
        .items
        .into_iter()
        .filter_map(|(_, setting)| setting.name.clone().map(|name| (name, setting)))
        .collect())
}

/// Makes `value` the setting `principal` holds, replacing any value it held.
async fn hold(ctx: &Ctx, principal: &str, spec: &Spec, value: &str) -> Result<Setting, EcsError> {
    let held = setting(spec, value, principal);
    records::put(&*ctx.store, &keys::account_setting(&ctx.scope, principal, spec.name), &held).await?;
    Ok(held)
}

/// The setting in effect for `principal`: its own, else the account default (the root user's),
/// else ECS's default, reported as the account's.
async fn effective_for(ctx: &Ctx, principal: &str, spec: &Spec) -> Result<Setting, EcsError> {
    if let Some(own) = held(ctx, principal, spec.name).await? {
        return Ok(own.value);
    }
    let root = principal::root(ctx);
    if root != principal
        && let Some(default) = held(ctx, &root, spec.name).await?
    {
        return Ok(default.value);
    }
    Ok(setting(spec, spec.aws_default, &root))
}
