//! DeleteAccountSetting (placeholder until written).

use berth_api::EcsError;
use berth_api::model::{DeleteAccountSettingRequest, DeleteAccountSettingResponse};

use crate::Ctx;

/// Handles DeleteAccountSetting.
pub async fn handle(_ctx: Ctx, _input: DeleteAccountSettingRequest) -> Result<DeleteAccountSettingResponse, EcsError> {
    Err(EcsError::unsupported("DeleteAccountSetting is being written"))
}
