//! PutAccountSetting (placeholder until written).

use berth_api::EcsError;
use berth_api::model::{PutAccountSettingRequest, PutAccountSettingResponse};

use crate::Ctx;

/// Handles PutAccountSetting.
pub async fn handle(_ctx: Ctx, _input: PutAccountSettingRequest) -> Result<PutAccountSettingResponse, EcsError> {
    Err(EcsError::unsupported("PutAccountSetting is being written"))
}
