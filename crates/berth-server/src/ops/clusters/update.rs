//! UpdateCluster: settings, configuration and Service Connect defaults.

use berth_api::EcsError;
use berth_api::model::{UpdateClusterRequest, UpdateClusterResponse};

use crate::Ctx;
use crate::ops::required;

/// Handles UpdateCluster. Members left out keep their values.
pub async fn handle(ctx: Ctx, input: UpdateClusterRequest) -> Result<UpdateClusterResponse, EcsError> {
    let reference = required(&input.cluster, "cluster")?.clone();
    if let Some(settings) = &input.settings {
        super::check_settings(settings)?;
    }
    let cluster = super::update_active(&ctx, Some(&reference), |cluster| {
        if let Some(settings) = &input.settings {
            super::merge_settings(cluster.settings.get_or_insert_with(Vec::new), settings);
        }
        if let Some(configuration) = &input.configuration {
            cluster.configuration = Some(configuration.clone());
        }
        if let Some(defaults) = &input.service_connect_defaults {
            cluster.service_connect_defaults = Some(super::service_connect_defaults(defaults));
        }
        Ok(())
    })
    .await?;
    let parts = ["SETTINGS".to_string(), "CONFIGURATIONS".to_string(), "TAGS".to_string()];
    Ok(UpdateClusterResponse { cluster: Some(super::view(&ctx, cluster, &parts).await?) })
}
