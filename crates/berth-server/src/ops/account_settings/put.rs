//! PutAccountSetting: sets a setting for one principal, the caller unless `principalArn` names
//! another. Setting it for the root user sets the account default (see the module docs).
//!
//! Refused with `InvalidParameterException`, storing nothing: a name that is no setting, a value
//! the setting does not take, a `principalArn` that is not a user, role or root of this account,
//! an account-wide setting (`fargateFIPSMode`, `fargateTaskRetirementWaitPeriod`) for anyone but
//! the root user, and `guardDutyActivate`, which AWS manages.

use berth_api::EcsError;
use berth_api::model::{PutAccountSettingRequest, PutAccountSettingResponse};

use super::{catalog, hold, principal};
use crate::Ctx;
use crate::ops::required;

/// Handles PutAccountSetting.
pub async fn handle(
    ctx: Ctx,
    input: PutAccountSettingRequest,
) -> Result<PutAccountSettingResponse, EcsError> {
    let spec = catalog::find(required(&input.name, "name")?)?;
    let value = required(&input.value, "value")?;
    spec.check_value(value)?;
    let principal = principal::resolve(&ctx, input.principal_arn.as_ref())?;
    spec.check_holder(principal == principal::root(&ctx))?;
    let setting = hold(&ctx, &principal, &spec, value).await?;
    Ok(PutAccountSettingResponse { setting: Some(setting) })
}
