//! The reconcile loop: which clusters need a pass, and when.
//!
//! One task per server. It watches the whole store and marks a cluster dirty when a service,
//! task or container instance of it changes; every [`RESYNC_EVERY`] it marks every cluster that
//! has services. It never acts on what an event said: a dirty cluster gets a full pass over its
//! current state ([`super::reconcile::cluster`]), so missed, repeated or compacted events cost
//! at most a pass.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_store::{Store, StoreError, WatchStream};

use super::plan::Settings;
use super::reconcile;
use crate::Ctx;
use crate::context::now;
use crate::state::partitions;
use crate::state::store_error;

/// How often every service is looked at even if nothing changed.
pub const RESYNC_EVERY: Duration = Duration::from_secs(10);

/// How long the loop gathers further changes after the first before it starts a pass, so that
/// a burst of task reports costs one pass, not one per report.
const GATHER: Duration = Duration::from_millis(50);

/// A cluster of one partition: region, account, cluster name.
type ClusterId = (String, String, String);

/// Runs the controller over `store` until the task is aborted.
pub async fn run(store: Arc<dyn Store>, settings: Settings) {
    loop {
        if let Err(err) = watch_and_reconcile(&store, settings).await {
            tracing::warn!(%err, "service controller restarting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn watch_and_reconcile(store: &Arc<dyn Store>, settings: Settings) -> Result<(), String> {
    let mut watch = open_watch(store).await?;
    let mut dirty: BTreeSet<ClusterId> = all_clusters(&**store).await.map_err(|e| e.message)?;
    let mut retries: BTreeMap<ClusterId, f64> = BTreeMap::new();
    let mut resync = tokio::time::interval(RESYNC_EVERY);
    resync.tick().await;
    loop {
        for cluster in std::mem::take(&mut dirty) {
            let ctx = Ctx::new(store.clone(), Scope::new(&cluster.0, &cluster.1));
            match reconcile::cluster(&ctx, &cluster.2, settings).await {
                Ok(outcome) => match outcome.retry_at {
                    Some(at) => {
                        retries.insert(cluster, at);
                    }
                    None => {
                        retries.remove(&cluster);
                    }
                },
                Err(err) => tracing::warn!(cluster = %cluster.2, %err, "cluster reconcile failed"),
            }
        }
        let wake = retries.values().copied().fold(f64::INFINITY, f64::min);
        let sleep = if wake.is_finite() { (wake - now()).max(0.0) } else { 3600.0 };
        tokio::select! {
            event = watch.next() => {
                match event {
                    Some(Ok(event)) => mark(&mut dirty, &event.kv.key),
                    Some(Err(StoreError::Compacted { .. })) => {
                        watch = open_watch(store).await?;
                        dirty.extend(all_clusters(&**store).await.map_err(|e| e.message)?);
                    }
                    Some(Err(err)) => return Err(err.to_string()),
                    None => return Err("the store's watch ended".to_string()),
                }
                gather(&mut watch, &mut dirty).await;
            }
            _ = resync.tick() => dirty.extend(all_clusters(&**store).await.map_err(|e| e.message)?),
            _ = tokio::time::sleep(Duration::from_secs_f64(sleep)) => {
                let due = now();
                let ready: Vec<ClusterId> =
                    retries.iter().filter(|(_, at)| **at <= due).map(|(c, _)| c.clone()).collect();
                for cluster in ready {
                    retries.remove(&cluster);
                    dirty.insert(cluster);
                }
            }
        }
    }
}

async fn open_watch(store: &Arc<dyn Store>) -> Result<WatchStream, String> {
    store.watch("/", None).await.map_err(|e| e.to_string())
}

/// Takes in whatever else changed within [`GATHER`].
async fn gather(watch: &mut WatchStream, dirty: &mut BTreeSet<ClusterId>) {
    let deadline = tokio::time::Instant::now() + GATHER;
    while let Ok(Some(Ok(event))) = tokio::time::timeout_at(deadline, watch.next()).await {
        mark(dirty, &event.kv.key);
    }
}

/// Marks the cluster of a changed key, if it is a service, task or container instance.
fn mark(dirty: &mut BTreeSet<ClusterId>, key: &str) {
    let mut parts = key.split('/').skip(1);
    let (Some(region), Some(account), Some(kind), Some(cluster)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if matches!(kind, "service" | "task" | "container-instance") && !cluster.is_empty() {
        dirty.insert((region.to_string(), account.to_string(), cluster.to_string()));
    }
}

/// Every cluster, in every partition, that holds a service record.
async fn all_clusters(store: &dyn Store) -> Result<BTreeSet<ClusterId>, EcsError> {
    let mut found = BTreeSet::new();
    let mut after = None;
    while let Some(scope) = partitions::next(store, after).await? {
        let prefix = format!("/{}/{}/service/", scope.region, scope.account);
        let keys = store.range(&prefix, None, 0).await.map_err(store_error)?;
        for kv in keys.kvs {
            if let Some(cluster) = kv.key[prefix.len()..].split('/').next() {
                found.insert((scope.region.clone(), scope.account.clone(), cluster.to_string()));
            }
        }
        after = Some(partitions::end_of(&scope));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_tasks_and_instances_mark_their_cluster() {
        let mut dirty = BTreeSet::new();
        mark(&mut dirty, "/us-east-1/1/task/c1/abc");
        mark(&mut dirty, "/us-east-1/1/service/c2/web");
        mark(&mut dirty, "/us-east-1/1/container-instance/c3/i");
        mark(&mut dirty, "/us-east-1/1/taskdef/web+0000000001");
        mark(&mut dirty, "/us-east-1/1/instance-task/c4/i/t");
        let clusters: Vec<&str> = dirty.iter().map(|(_, _, c)| c.as_str()).collect();
        assert_eq!(clusters, ["c1", "c2", "c3"]);
    }
}
