use berth_store::{MemoryStore, Op, Txn};

use super::*;

fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

/// Writes task `id` of cluster `c` with `status` as its last status.
async fn put_task(store: &Arc<dyn Store>, id: &str, status: &str) {
    let record = serde_json::json!({"task": {"lastStatus": status, "taskArn": id}, "cluster": "c"});
    let key = keys::task(&scope(), "c", id);
    store.txn(Txn::new().then(Op::put(key, record.to_string().into_bytes()))).await.expect("write");
}

async fn delete_task(store: &Arc<dyn Store>, id: &str) {
    store.txn(Txn::new().then(Op::delete(keys::task(&scope(), "c", id)))).await.expect("delete");
}

async fn counts(store: &Arc<dyn Store>) -> (usize, usize) {
    let counts = of(store, &scope(), "c").await.expect("counts");
    (counts.running, counts.pending)
}

#[tokio::test]
async fn every_change_acknowledged_before_a_read_is_counted() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    assert_eq!(counts(&store).await, (0, 0), "a cluster without tasks");
    put_task(&store, "t1", "PROVISIONING").await;
    put_task(&store, "t2", "PENDING").await;
    put_task(&store, "t3", "RUNNING").await;
    put_task(&store, "t4", "STOPPED").await;
    put_task(&store, "t5", "DEACTIVATING").await;
    assert_eq!(counts(&store).await, (1, 2), "followed from the first read on, without waiting");

    put_task(&store, "t1", "RUNNING").await;
    put_task(&store, "t3", "STOPPED").await;
    delete_task(&store, "t2").await;
    put_task(&store, "t6", "ACTIVATING").await;
    assert_eq!(counts(&store).await, (1, 1));

    // Another cluster's tasks and records that are not tasks count for nothing.
    let other = keys::task(&scope(), "d", "t7");
    let record = serde_json::json!({"task": {"lastStatus": "RUNNING"}}).to_string();
    store.txn(Txn::new().then(Op::put(other, record.into_bytes()))).await.expect("write");
    let odd = keys::task(&scope(), "c", "odd");
    store.txn(Txn::new().then(Op::put(odd, b"not json".to_vec()))).await.expect("write");
    assert_eq!(counts(&store).await, (1, 1));
}

#[tokio::test]
async fn a_cluster_of_many_pages_is_counted_whole() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let tasks = PAGE * 2 + 7;
    let mut txn = Txn::new();
    for n in 0..tasks {
        let status = if n % 3 == 0 { "PENDING" } else { "RUNNING" };
        let record = serde_json::json!({"task": {"lastStatus": status}}).to_string();
        txn = txn.then(Op::put(keys::task(&scope(), "c", &format!("t{n:05}")), record.into_bytes()));
    }
    store.txn(txn).await.expect("write");
    let pending = tasks.div_ceil(3);
    assert_eq!(counts(&store).await, (tasks - pending, pending));
}

#[tokio::test]
async fn counts_are_read_again_when_the_history_runs_past_them() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::with_watch_history(4));
    put_task(&store, "t1", "PENDING").await;
    assert_eq!(counts(&store).await, (0, 1));
    put_task(&store, "t1", "RUNNING").await;
    put_task(&store, "t2", "PENDING").await;
    for n in 0..10 {
        store.txn(Txn::new().then(Op::put(format!("/elsewhere/{n}"), Vec::new()))).await.expect("write");
    }
    assert_eq!(counts(&store).await, (1, 1), "the watch fell behind: read again, still right");
}

#[tokio::test]
async fn the_drainer_keeps_the_watch_within_the_history_between_reads() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::with_watch_history(64));
    assert_eq!(counts(&store).await, (0, 0));
    let tally = TALLIES.get(&store, &keys::tasks(&scope(), "c"), Mutex::default);
    let generation = lock(&tally).generation;
    // Four times the history, in steps the drainer can keep up with.
    for n in 0..256 {
        put_task(&store, &format!("t{n}"), "RUNNING").await;
        if n % 16 == 15 {
            tokio::time::sleep(DRAIN_EVERY * 2).await;
        }
    }
    assert_eq!(counts(&store).await, (256, 0));
    assert_eq!(lock(&tally).generation, generation, "followed throughout, never read again");
}

#[tokio::test(start_paused = true)]
async fn counts_nobody_reads_are_let_go_and_read_again_when_asked_for() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    put_task(&store, "t1", "RUNNING").await;
    assert_eq!(counts(&store).await, (1, 0));
    let tally = TALLIES.get(&store, &keys::tasks(&scope(), "c"), Mutex::default);
    tokio::time::sleep(IDLE_AFTER / 2).await;
    assert!(lock(&tally).followed.is_some(), "kept up while read lately");
    tokio::time::sleep(IDLE_AFTER).await;
    assert!(lock(&tally).followed.is_none(), "let go once nobody read it for a while");
    put_task(&store, "t2", "PENDING").await;
    assert_eq!(counts(&store).await, (1, 1), "read again in full");
}
