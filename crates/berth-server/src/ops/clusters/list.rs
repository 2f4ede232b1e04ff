//! ListClusters.

use berth_api::EcsError;
use berth_api::model::{ListClustersRequest, ListClustersResponse};
use berth_api::pagination::{decode_token, encode_token, page_size};
use serde::Deserialize;

use super::ACTIVE;
use crate::Ctx;
use crate::state::keys;
use crate::state::records;

const LISTING: &str = "ListClusters";

/// The two members of a stored cluster a listing needs; the rest is skipped, not decoded.
#[derive(Deserialize)]
struct ClusterSummary {
    #[serde(rename = "clusterArn")]
    cluster_arn: Option<String>,
    status: Option<String>,
}

/// Handles ListClusters: the ARNs of ACTIVE clusters in name order, 100 a page by default.
/// Deleted clusters stay stored, INACTIVE, for DescribeClusters, but are not listed.
pub async fn handle(ctx: Ctx, input: ListClustersRequest) -> Result<ListClustersResponse, EcsError> {
    let limit = page_size(input.max_results, 100, 100)?;
    let after = input.next_token.as_deref().map(|token| decode_token(LISTING, token)).transpose()?;
    let prefix = keys::clusters(&ctx.scope);
    let (items, next) =
        records::filtered_page::<ClusterSummary, _>(&*ctx.store, &prefix, after, limit, |cluster| {
            cluster.status.as_deref() == Some(ACTIVE)
        })
        .await?;
    Ok(ListClustersResponse {
        cluster_arns: Some(items.into_iter().filter_map(|(_, cluster)| cluster.cluster_arn).collect()),
        next_token: next.map(|key| encode_token(LISTING, &key)),
    })
}
