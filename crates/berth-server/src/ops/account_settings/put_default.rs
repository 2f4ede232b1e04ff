//! PutAccountSettingDefault: sets the account default of a setting, the value every user and role
//! without one of its own gets. That default is the root user's setting (see the module docs), so
//! the answer names the root user as its principal.
//!
//! Refused with `InvalidParameterException`, storing nothing: a name that is no setting, a value
//! the setting does not take, and `guardDutyActivate`, which AWS manages.

use berth_api::EcsError;
use berth_api::model::{PutAccountSettingDefaultRequest, PutAccountSettingDefaultResponse};

use super::{catalog, hold, principal};
use crate::Ctx;
use crate::ops::required;

/// Handles PutAccountSettingDefault.
pub async fn handle(
    ctx: Ctx,
    input: PutAccountSettingDefaultRequest,
) -> Result<PutAccountSettingDefaultResponse, EcsError> {
    let spec = catalog::find(required(&input.name, "name")?)?;
    let value = required(&input.value, "value")?;
    spec.check_value(value)?;
    spec.check_holder(true)?;
    let setting = hold(&ctx, &principal::root(&ctx), &spec, value).await?;
    Ok(PutAccountSettingDefaultResponse { setting: Some(setting) })
}
