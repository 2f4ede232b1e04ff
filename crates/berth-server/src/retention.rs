//! Retention: stopped tasks stay describable for a while, then go.
//!
//! ECS keeps a stopped task visible to DescribeTasks and ListTasks for at least an hour after it
//! stops. [`sweep_stopped_tasks`] removes the task records that have been STOPPED for longer
//! than the retention, with any assignment key that remains, in every region and account the
//! store holds; the server runs it periodically (`--task-retention`, one hour by default). RunTask
//! client tokens are remembered for the same time, so the sweep removes those of that age too.
//!
//! The scan does not read the whole store: it finds each `/<region>/<account>/` partition with
//! a one-key read, reads that partition's task keys (and token keys) by prefix, and skips to the
//! next partition, decoding only task records, and only the few fields the decision needs.

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_store::{Compare, Op, Store, Txn};
use serde::Deserialize;

use crate::ops::tasks::client_token;
use crate::state::records::commit;
use crate::state::store_error;
use crate::state::{keys, partitions};

/// How many task keys one range read of the sweep returns.
const BATCH: usize = 512;

/// The fields of a stored task that decide whether it is swept.
#[derive(Deserialize)]
struct Stopped {
    task: StoppedFields,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    instance_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoppedFields {
    last_status: Option<String>,
    stopped_at: Option<f64>,
}

/// Deletes every task record that has been STOPPED for longer than `older_than` seconds at
/// `now` (epoch seconds), and its assignment key if one remains, across all regions and
/// accounts. Returns how many tasks were deleted. A task that changes while it is being swept is
/// left for the next sweep.
pub async fn sweep_stopped_tasks(store: &dyn Store, older_than: f64, now: f64) -> Result<usize, EcsError> {
    let cutoff = now - older_than;
    let mut removed = 0;
    let mut after: Option<String> = None;
    while let Some(scope) = partitions::next(store, after.clone()).await? {
        let base = format!("/{}/{}/", scope.region, scope.account);
        removed += sweep_partition(store, &scope, &base, cutoff).await?;
        client_token::sweep(store, &base, cutoff).await?;
        after = Some(partitions::end_of(&scope));
    }
    Ok(removed)
}

async fn sweep_partition(
    store: &dyn Store,
    scope: &Scope,
    base: &str,
    cutoff: f64,
) -> Result<usize, EcsError> {
    let prefix = format!("{base}task/");
    let mut removed = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store.range(&prefix, after.as_deref(), BATCH).await.map_err(store_error)?;
        for kv in &page.kvs {
            let Ok(task) = serde_json::from_slice::<Stopped>(&kv.value) else {
                tracing::warn!(key = %kv.key, "task record does not decode; the sweep leaves it");
                continue;
            };
            let expired = task.task.last_status.as_deref() == Some("STOPPED")
                && task.task.stopped_at.is_some_and(|at| at < cutoff);
            if !expired {
                continue;
            }
            let mut txn =
                Txn::new().when(Compare::unchanged(&kv.key, kv.mod_revision)).then(Op::delete(&kv.key));
            if let Some(instance) = &task.instance_id {
                let id = kv.key.rsplit('/').next().unwrap_or_default();
                txn = txn.then(Op::delete(keys::instance_task(scope, &task.cluster, instance, id)));
            }
            if commit(store, txn).await?.is_some() {
                removed += 1;
            }
        }
        match page.kvs.last() {
            Some(last) if page.more => after = Some(last.key.clone()),
            _ => return Ok(removed),
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_api::model::Task;
    use berth_store::MemoryStore;

    use super::*;
    use crate::state::records::{encode, put};
    use crate::state::tasks::{Assignment, Reservation, TaskRecord};

    fn task(scope: &Scope, cluster: &str, id: &str, status: &str, stopped_at: Option<f64>) -> TaskRecord {
        TaskRecord {
            task: Task {
                task_arn: Some(scope.task_arn(cluster, id)),
                last_status: Some(status.into()),
                stopped_at,
                ..Task::default()
            },
            cluster: cluster.into(),
            instance_id: Some("i-1".into()),
            task_definition: Default::default(),
            reservation: Reservation::default(),
            released: status == "STOPPED",
            counted_running: false,
        }
    }

    async fn store_task(store: &dyn Store, scope: &Scope, record: &TaskRecord, with_assignment: bool) {
        let id = record.id().to_string();
        put(store, &keys::task(scope, &record.cluster, &id), record).await.expect("put task");
        if with_assignment {
            let key = keys::instance_task(scope, &record.cluster, "i-1", &id);
            let assignment: Assignment =
                Assignment { desired_status: "STOPPED".into(), version: 2, desired: None };
            put(store, &key, &assignment).await.expect("put assignment");
        }
    }

    #[tokio::test]
    async fn only_tasks_stopped_longer_than_the_retention_go_in_every_partition() {
        let store = MemoryStore::new();
        let east = Scope::new("us-east-1", "000000000000");
        let west = Scope::new("eu-west-1", "111111111111");
        let now = 10_000.0;
        store_task(&store, &east, &task(&east, "c", "old", "STOPPED", Some(now - 7200.0)), true).await;
        store_task(&store, &east, &task(&east, "c", "recent", "STOPPED", Some(now - 60.0)), false).await;
        store_task(&store, &east, &task(&east, "d", "running", "RUNNING", None), false).await;
        store_task(&store, &west, &task(&west, "c", "old-west", "STOPPED", Some(now - 3601.0)), false).await;
        put(&store, &keys::cluster(&west, "zzz"), &serde_json::json!({"clusterName": "zzz"}))
            .await
            .expect("put");
        put(&store, "/odd", &1).await.expect("a key outside the layout");

        let removed = sweep_stopped_tasks(&store, 3600.0, now).await.expect("sweep");
        assert_eq!(removed, 2);
        let left: Vec<String> =
            store.range("/", None, 0).await.expect("range").kvs.into_iter().map(|kv| kv.key).collect();
        assert!(left.contains(&keys::task(&east, "c", "recent")));
        assert!(left.contains(&keys::task(&east, "d", "running")));
        assert!(left.contains(&keys::cluster(&west, "zzz")));
        assert!(!left.contains(&keys::task(&east, "c", "old")));
        assert!(!left.contains(&keys::task(&west, "c", "old-west")));
        assert!(!left.iter().any(|key| key.contains("instance-task")), "the assignment went with its task");

        let revision = store.revision().await.expect("revision");
        assert_eq!(sweep_stopped_tasks(&store, 3600.0, now).await.expect("sweep again"), 0);
        assert_eq!(store.revision().await.expect("revision"), revision, "a second sweep writes nothing");
    }

    #[tokio::test]
    async fn token_records_expire_with_the_tasks() {
        let store = MemoryStore::new();
        let scope = Scope::new("us-east-1", "000000000000");
        let record = |at: f64| client_token::TokenRecord {
            request: "{}".into(),
            cluster: "c".into(),
            task_arns: Vec::new(),
            failures: Vec::new(),
            created_at: at,
        };
        let old = client_token::key(&scope, "old");
        let fresh = client_token::key(&scope, "fresh");
        store
            .txn(
                Txn::new()
                    .then(Op::put(&old, encode(&record(0.0)).expect("encode")))
                    .then(Op::put(&fresh, encode(&record(9_000.0)).expect("encode"))),
            )
            .await
            .expect("txn");
        sweep_stopped_tasks(&store, 3600.0, 10_000.0).await.expect("sweep");
        assert!(store.get(&old).await.expect("get").is_none());
        assert!(store.get(&fresh).await.expect("get").is_some());
    }
}
