//! Walking the store's partitions: every `/<region>/<account>/` that holds keys.
//!
//! Maintenance that spans all regions and accounts (the retention sweep, resetting agent
//! connections at start) visits one partition at a time with a one-key read to find each,
//! instead of reading the whole store.

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_store::Store;

use super::store_error;

/// The first partition whose keys sort after `after` (`None`: the first of all).
pub async fn next(store: &dyn Store, mut after: Option<String>) -> Result<Option<Scope>, EcsError> {
    loop {
        let page = store.range("/", after.as_deref(), 1).await.map_err(store_error)?;
        let Some(kv) = page.kvs.into_iter().next() else { return Ok(None) };
        let mut parts = kv.key.splitn(4, '/').skip(1);
        if let (Some(region), Some(account), Some(_)) = (parts.next(), parts.next(), parts.next()) {
            return Ok(Some(Scope::new(region, account)));
        }
        // A key outside the `/R/A/kind/...` layout: step past it alone.
        after = Some(kv.key);
    }
}

/// A key that sorts after every key of `scope`'s partition: pass it to [`next`] to move on.
pub fn end_of(scope: &Scope) -> String {
    format!("/{}/{}/\u{10FFFF}", scope.region, scope.account)
}
