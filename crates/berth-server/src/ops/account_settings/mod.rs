//! Account settings: PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
//! DeleteAccountSetting.

pub mod delete;
pub mod list;
pub mod put;
pub mod put_default;

use berth_api::EcsError;

use crate::Ctx;

/// The value of setting `name` in effect for the caller: the caller's own, else the account
/// default, else the ECS default. `None` when the name is not a setting.
pub async fn effective(_ctx: &Ctx, _name: &str) -> Result<Option<String>, EcsError> {
    Ok(None)
}
