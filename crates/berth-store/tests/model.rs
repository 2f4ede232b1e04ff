//! Property test: random transaction sequences give the same outcomes, contents and events on
//! [`MemoryStore`], [`RedbStore`] and a deliberately naive model of the semantics.

use std::collections::BTreeMap;
use std::task::{Context, Poll};

use berth_store::{
    Compare, Event, EventKind, KeyValue, MemoryStore, Op, RedbStore, Revision, Store, Txn, TxnOutcome,
};
use proptest::prelude::*;

const KEYS: [&str; 6] = ["/a", "/a/1", "/a/2", "/a/2/x", "/ab", "/b/1"];

/// A compare as generated: `Current` becomes "unchanged since the model's current revision".
#[derive(Debug, Clone)]
enum GenCompare {
    Absent(usize),
    Exists(usize),
    Unchanged(usize, Revision),
    Current(usize),
}

#[derive(Debug, Clone)]
enum GenOp {
    Put(usize, u8),
    Delete(usize),
}

fn gen_compare() -> impl Strategy<Value = GenCompare> {
    let key = 0..KEYS.len();
    prop_oneof![
        key.clone().prop_map(GenCompare::Absent),
        key.clone().prop_map(GenCompare::Exists),
        (key.clone(), 0..20u64).prop_map(|(k, r)| GenCompare::Unchanged(k, r)),
        key.prop_map(GenCompare::Current),
    ]
}

fn gen_op() -> impl Strategy<Value = GenOp> {
    let key = 0..KEYS.len();
    prop_oneof![
        3 => (key.clone(), any::<u8>()).prop_map(|(k, v)| GenOp::Put(k, v)),
        1 => key.prop_map(GenOp::Delete),
    ]
}

fn gen_txns() -> impl Strategy<Value = Vec<(Vec<GenCompare>, Vec<GenOp>)>> {
    let txn = (prop::collection::vec(gen_compare(), 0..3), prop::collection::vec(gen_op(), 0..5));
    prop::collection::vec(txn, 1..30)
}

/// The semantics, spelled out as plainly as possible.
#[derive(Default)]
struct Model {
    kvs: BTreeMap<String, KeyValue>,
    revision: Revision,
    events: Vec<Event>,
}

impl Model {
    fn resolve(&self, compare: &GenCompare) -> Compare {
        match *compare {
            GenCompare::Absent(k) => Compare::absent(KEYS[k]),
            GenCompare::Exists(k) => Compare::exists(KEYS[k]),
            GenCompare::Unchanged(k, r) => Compare::unchanged(KEYS[k], r),
            GenCompare::Current(k) => {
                Compare::unchanged(KEYS[k], self.kvs.get(KEYS[k]).map_or(0, |kv| kv.mod_revision))
            }
        }
    }

    fn holds(&self, compare: &Compare) -> bool {
        let current = self.kvs.get(compare.key());
        match compare {
            Compare::ModRevision { revision, .. } => current.map_or(0, |kv| kv.mod_revision) == *revision,
            Compare::Exists { .. } => current.is_some(),
        }
    }

    fn apply(&mut self, txn: &Txn) -> TxnOutcome {
        if !txn.compares.iter().all(|c| self.holds(c)) {
            return TxnOutcome::Failed;
        }
        let revision = self.revision + 1;
        self.revision = revision;
        let before = self.kvs.clone();
        for op in &txn.ops {
            match op {
                Op::Put { key, value } => {
                    let next = match self.kvs.get(key) {
                        Some(kv) if kv.mod_revision == revision => {
                            KeyValue { value: value.clone().into(), ..kv.clone() }
                        }
                        Some(kv) => KeyValue {
                            value: value.clone().into(),
                            mod_revision: revision,
                            version: kv.version + 1,
                            ..kv.clone()
                        },
                        None => KeyValue {
                            key: key.clone(),
                            value: value.clone().into(),
                            create_revision: revision,
                            mod_revision: revision,
                            version: 1,
                        },
                    };
                    self.kvs.insert(key.clone(), next);
                }
                Op::Delete { key } => {
                    self.kvs.remove(key);
                }
            }
        }
        let mut touched: Vec<&str> = txn.ops.iter().map(Op::key).collect();
        touched.sort();
        touched.dedup();
        for key in touched {
            match (before.get(key), self.kvs.get(key)) {
                (_, Some(now)) => self.events.push(Event { kind: EventKind::Put, kv: now.clone() }),
                (Some(was), None) => {
                    let kv = KeyValue { mod_revision: revision, ..was.clone() };
                    self.events.push(Event { kind: EventKind::Delete, kv });
                }
                (None, None) => {}
            }
        }
        TxnOutcome::Committed { revision }
    }
}

/// Reads back everything a store holds and every event it has kept.
///
/// Commits one more transaction (a sentinel key outside every compared range) after reading,
/// so the replay knows where history ends.
async fn contents<S: Store>(store: &S) -> (Vec<KeyValue>, Vec<KeyValue>, Revision, Vec<Event>) {
    let all = store.range("", None, 0).await.expect("range");
    let under_a = store.range("/a/", None, 0).await.expect("range");
    let revision = store.revision().await.expect("revision");
    assert_eq!(all.revision, revision);
    let mut stream = store.watch("", Some(0)).await.expect("watch");
    store.txn(Txn::new().then(Op::put(SENTINEL, "end"))).await.expect("sentinel");
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("replay in time")
            .expect("the watch goes on")
            .expect("no watch error");
        if event.kv.key == SENTINEL {
            break;
        }
        events.push(event);
    }
    (all.kvs, under_a.kvs, revision, events)
}

/// Submits every transaction before awaiting any, in order, so the writer finds them queued
/// together and commits them in shared batches; returns their outcomes in order.
async fn all_at_once<S: Store>(store: &S, txns: impl Iterator<Item = Txn>) -> Vec<TxnOutcome> {
    let mut pending: Vec<_> = txns.map(|txn| store.txn(txn)).collect();
    // One poll each, in order, queues each transaction (the first poll runs up to the wait).
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut early: Vec<Option<TxnOutcome>> = pending
        .iter_mut()
        .map(|txn| match txn.as_mut().poll(&mut cx) {
            Poll::Ready(outcome) => Some(outcome.expect("txn")),
            Poll::Pending => None,
        })
        .collect();
    let mut outcomes = Vec::new();
    for (txn, early) in pending.into_iter().zip(early.drain(..)) {
        outcomes.push(match early {
            Some(outcome) => outcome,
            None => txn.await.expect("txn"),
        });
    }
    outcomes
}

/// Written after a case's transactions to mark the end of its history.
const SENTINEL: &str = "/~end";

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn backends_match_the_model(txns in gen_txns()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let redb = RedbStore::open(dir.path().join("one-by-one.redb")).expect("open");
            let batched = RedbStore::open(dir.path().join("batched.redb")).expect("open");
            let memory = MemoryStore::new();
            let mut model = Model::default();
            let mut applied = Vec::new();
            for (compares, ops) in &txns {
                let txn = Txn {
                    compares: compares.iter().map(|c| model.resolve(c)).collect(),
                    ops: ops
                        .iter()
                        .map(|op| match *op {
                            GenOp::Put(k, v) => Op::put(KEYS[k], vec![v]),
                            GenOp::Delete(k) => Op::delete(KEYS[k]),
                        })
                        .collect(),
                };
                let expected = model.apply(&txn);
                assert_eq!(memory.txn(txn.clone()).await.expect("memory txn"), expected, "{txn:?}");
                assert_eq!(redb.txn(txn.clone()).await.expect("redb txn"), expected, "{txn:?}");
                applied.push((txn, expected));
            }
            let outcomes = all_at_once(&batched, applied.iter().map(|(txn, _)| txn.clone())).await;
            let expected: Vec<TxnOutcome> = applied.iter().map(|(_, outcome)| *outcome).collect();
            assert_eq!(outcomes, expected, "transactions queued together");

            let want_all: Vec<KeyValue> = model.kvs.values().cloned().collect();
            let want_a: Vec<KeyValue> = want_all.iter().filter(|kv| kv.key.starts_with("/a/")).cloned().collect();
            let want = (want_all, want_a, model.revision, model.events.clone());
            assert_eq!(contents(&memory).await, want, "memory store");
            assert_eq!(contents(&redb).await, want, "redb store");
            assert_eq!(contents(&batched).await, want, "redb store, batched");
        });
    }
}
