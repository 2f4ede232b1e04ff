//! PutAccountSettingDefault (placeholder until written).

use berth_api::EcsError;
use berth_api::model::{PutAccountSettingDefaultRequest, PutAccountSettingDefaultResponse};

use crate::Ctx;

/// Handles PutAccountSettingDefault.
pub async fn handle(_ctx: Ctx, _input: PutAccountSettingDefaultRequest) -> Result<PutAccountSettingDefaultResponse, EcsError> {
    Err(EcsError::unsupported("PutAccountSettingDefault is being written"))
}
