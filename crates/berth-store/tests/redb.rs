//! Behaviour specific to [`RedbStore`]: persistence across reopen, watch history after a
//! restart, clean shutdown, and group-commit throughput.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_store::{Compare, Op, RedbStore, Store, StoreError, Txn, TxnOutcome};

async fn put(store: &RedbStore, key: &str, value: &str) -> u64 {
    match store.txn(Txn::new().then(Op::put(key, value))).await.expect("txn") {
        TxnOutcome::Committed { revision } => revision,
        TxnOutcome::Failed => panic!("unconditional put failed"),
    }
}

#[tokio::test]
async fn data_and_revision_survive_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let store = RedbStore::open(&path).expect("open");
    put(&store, "/a", "1").await;
    put(&store, "/a", "2").await;
    let last = put(&store, "/b", "3").await;
    drop(store);

    // Reopening right after dropping works: the writer thread is gone and the file is closed.
    let store = RedbStore::open(&path).expect("reopen");
    assert_eq!(store.revision().await.expect("revision"), last);
    let a = store.get("/a").await.expect("get").expect("/a exists");
    assert_eq!((&a.value[..], a.create_revision, a.mod_revision, a.version), (&b"2"[..], 1, 2, 2));
    assert_eq!(put(&store, "/c", "4").await, last + 1, "revisions go on from the stored one");
}

#[tokio::test]
async fn watch_history_restarts_at_the_current_revision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let store = RedbStore::open(&path).expect("open");
    for i in 0..5 {
        put(&store, &format!("/k/{i}"), "v").await;
    }
    drop(store);

    let store = RedbStore::open(&path).expect("reopen");
    match store.watch("/k/", Some(4)).await {
        Err(StoreError::Compacted { requested: 4, oldest: 5 }) => {}
        other => panic!("expected Compacted {{ 4, 5 }}, got {other:?}"),
    }
    let mut stream = store.watch("/k/", Some(5)).await.expect("watch from the current revision");
    let revision = put(&store, "/k/5", "v").await;
    let event = stream.next().await.expect("an event").expect("no error");
    assert_eq!(event.revision(), revision);
}

#[tokio::test]
async fn clones_share_one_store_and_the_last_drop_closes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let store = RedbStore::open(&path).expect("open");
    let clone = store.clone();
    put(&clone, "/a", "1").await;
    assert!(store.get("/a").await.expect("get").is_some());
    drop(store);
    put(&clone, "/b", "2").await;
    assert!(matches!(RedbStore::open(&path), Err(StoreError::Backend(_))), "still open by the clone");
    drop(clone);
    RedbStore::open(&path).expect("reopen after the last clone is dropped");
}

#[tokio::test]
async fn a_batch_sees_its_earlier_transactions() {
    // Many conflicting creates of one key queued together: exactly one may win.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(RedbStore::open(dir.path().join("store.redb")).expect("open"));
    let attempts: Vec<_> = (0..64)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let create =
                    Txn::new().when(Compare::absent("/leader")).then(Op::put("/leader", format!("{i}")));
                store.txn(create).await.expect("txn")
            })
        })
        .collect();
    let mut winners = 0;
    for attempt in attempts {
        if let TxnOutcome::Committed { .. } = attempt.await.expect("task") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.revision().await.expect("revision"), 1);
}

/// 64 concurrent writers of single-put transactions: prints throughput and latency, and fails
/// only if group commit is clearly not working (the targets are in the crate's report).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_64_concurrent_writers() {
    const WRITERS: usize = 64;
    const RUN_FOR: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(RedbStore::open(dir.path().join("store.redb")).expect("open"));
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let value = vec![b'x'; 256];
                while started.elapsed() < RUN_FOR {
                    let key = format!("/bench/{writer:02}/{:06}", latencies.len());
                    let begun = Instant::now();
                    store.txn(Txn::new().then(Op::put(key, value.clone()))).await.expect("txn");
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for writer in writers {
        latencies.extend(writer.await.expect("writer"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "redb group commit, {WRITERS} writers: {} txns in {:.2?} = {rate:.0} txns/s; p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        elapsed,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    );
    assert!(rate > 1000.0, "{rate:.0} txns/s: is group commit working?");
}
