//! UpdateClusterSettings.

use berth_api::EcsError;
use berth_api::model::{UpdateClusterSettingsRequest, UpdateClusterSettingsResponse};

use crate::Ctx;
use crate::ops::required;

/// Handles UpdateClusterSettings: replaces the named settings, keeps the rest.
pub async fn handle(
    ctx: Ctx,
    input: UpdateClusterSettingsRequest,
) -> Result<UpdateClusterSettingsResponse, EcsError> {
    let reference = required(&input.cluster, "cluster")?.clone();
    let settings = required(&input.settings, "settings")?.clone();
    super::check_settings(&settings)?;
    let cluster = super::update_active(&ctx, Some(&reference), |cluster| {
        super::merge_settings(cluster.settings.get_or_insert_with(Vec::new), &settings);
        Ok(())
    })
    .await?;
    let parts = ["SETTINGS".to_string()];
    Ok(UpdateClusterSettingsResponse { cluster: Some(super::view(&ctx, cluster, &parts).await?) })
}
