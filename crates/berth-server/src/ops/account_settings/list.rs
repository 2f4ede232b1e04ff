//! ListAccountSettings (placeholder until written).

use berth_api::EcsError;
use berth_api::model::{ListAccountSettingsRequest, ListAccountSettingsResponse};

use crate::Ctx;

/// Handles ListAccountSettings.
pub async fn handle(_ctx: Ctx, _input: ListAccountSettingsRequest) -> Result<ListAccountSettingsResponse, EcsError> {
    Err(EcsError::unsupported("ListAccountSettings is being written"))
}
