//! DeleteAccountSetting: removes the value a principal holds, so that it falls back to the
//! account default (or, for the root user, to ECS's default).
//!
//! The answer is the setting removed. Deleting a setting the principal does not hold changes
//! nothing and is not an error (a delete is idempotent); the answer is then the setting in effect
//! for the principal. `guardDutyActivate` cannot be deleted, as AWS manages it.

use berth_api::EcsError;
use berth_api::model::{DeleteAccountSettingRequest, DeleteAccountSettingResponse, Setting};
use berth_store::{Compare, Op, Txn};

use super::catalog::Spec;
use super::{catalog, effective_for, held, principal};
use crate::Ctx;
use crate::ops::required;
use crate::state::keys;
use crate::state::records;

/// How many times a delete re-reads a setting that keeps changing under it.
const ATTEMPTS: usize = 16;

/// Handles DeleteAccountSetting.
pub async fn handle(
    ctx: Ctx,
    input: DeleteAccountSettingRequest,
) -> Result<DeleteAccountSettingResponse, EcsError> {
    let spec = catalog::find(required(&input.name, "name")?)?;
    let principal = principal::resolve(&ctx, input.principal_arn.as_ref())?;
    spec.check_writable()?;
    let setting = match remove(&ctx, &principal, &spec).await? {
        Some(removed) => removed,
        None => effective_for(&ctx, &principal, &spec).await?,
    };
    Ok(DeleteAccountSettingResponse { setting: Some(setting) })
}

/// Removes the setting `principal` holds, returning it; `None` if it held none.
async fn remove(ctx: &Ctx, principal: &str, spec: &Spec) -> Result<Option<Setting>, EcsError> {
    let key = keys::account_setting(&ctx.scope, principal, spec.name);
    for _ in 0..ATTEMPTS {
        let Some(record) = held(ctx, principal, spec.name).await? else {
            return Ok(None);
        };
        // Guarded by the revision read, so the answer is exactly the value that was removed.
        let txn = Txn::new().when(Compare::unchanged(&key, record.revision)).then(Op::delete(&key));
        if records::commit(&*ctx.store, txn).await?.is_some() {
            return Ok(Some(record.value));
        }
    }
    Err(EcsError::server(format!("The setting {} is changing too fast to delete; try again.", spec.name)))
}
