//! The conformance suite: the behaviour every [`Store`] backend must show.
//!
//! Each check is a `pub async fn` taking a factory of fresh, empty stores
//! (`impl AsyncFn(Setup) -> S`); it panics on the first violation. Run them all with [`run_all`],
//! or generate one `#[tokio::test]` per check with [`conformance_tests!`](crate::conformance_tests)
//! (needs `tokio` with the `macros` and `rt-multi-thread` features among the caller's
//! dev-dependencies):
//!
//! ```no_run
//! // In another crate's tests, with `berth-store = { features = ["conformance"] }`:
//! mod memory {
//!     use berth_store::{MemoryStore, conformance::Setup};
//!     berth_store::conformance_tests!(async |setup: Setup| {
//!         MemoryStore::with_watch_history(setup.watch_history)
//!     });
//! }
//! ```
//!
//! Checks run on a multi-threaded tokio runtime and use `tokio::spawn` for concurrency.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    Compare, DEFAULT_WATCH_HISTORY, Event, EventKind, KeyValue, Op, Revision, Store, StoreError, Txn,
    TxnOutcome, WatchStream,
};

/// What a check needs of the fresh store it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// How many events the store's watch history must keep. Most checks ask for
    /// [`DEFAULT_WATCH_HISTORY`]; [`watch_compacted`] asks for a small one to reach its edge.
    pub watch_history: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Setup { watch_history: DEFAULT_WATCH_HISTORY }
    }
}

/// How long a check waits for an event it expects before failing.
const EVENT_WAIT: Duration = Duration::from_secs(20);
/// How long a check listens to make sure no further event comes.
const QUIET_WAIT: Duration = Duration::from_millis(100);

/// Generates one `#[tokio::test]` per conformance check, each calling the check with the given
/// factory expression (an `AsyncFn(Setup) -> impl Store`, evaluated once per test).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            basics, revisions, key_metadata, compares, atomicity, range_pagination, watch_live,
            watch_replay, watch_concurrent, watch_compacted, cas_counter, close);
    };
    (@each $make:expr; $($check:ident),+) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                $crate::conformance::$check($make).await;
            }
        )+
    };
}

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<S: Store>(make: impl AsyncFn(Setup) -> S) {
    basics(&make).await;
    revisions(&make).await;
    key_metadata(&make).await;
    compares(&make).await;
    atomicity(&make).await;
    range_pagination(&make).await;
    watch_live(&make).await;
    watch_replay(&make).await;
    watch_concurrent(&make).await;
    watch_compacted(&make).await;
    cas_counter(&make).await;
    close(&make).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Applies a transaction that must commit; returns its revision.
async fn commit<S: Store + ?Sized>(store: &S, txn: Txn) -> Revision {
    match store.txn(txn.clone()).await.expect("txn failed with an error") {
        TxnOutcome::Committed { revision } => revision,
        TxnOutcome::Failed => panic!("expected {txn:?} to commit"),
    }
}

/// Applies a transaction whose compares must fail.
async fn fail<S: Store + ?Sized>(store: &S, txn: Txn) {
    let outcome = store.txn(txn.clone()).await.expect("txn failed with an error");
    assert_eq!(outcome, TxnOutcome::Failed, "expected {txn:?} to fail its compares");
}

async fn put<S: Store + ?Sized>(store: &S, key: &str, value: &[u8]) -> Revision {
    commit(store, Txn::new().then(Op::put(key, value))).await
}

async fn get<S: Store + ?Sized>(store: &S, key: &str) -> Option<KeyValue> {
    store.get(key).await.expect("get failed")
}

/// Reads a key that must exist.
async fn must_get<S: Store + ?Sized>(store: &S, key: &str) -> KeyValue {
    get(store, key).await.unwrap_or_else(|| panic!("{key} should exist"))
}

async fn watch<S: Store + ?Sized>(store: &S, prefix: &str, after: Option<Revision>) -> WatchStream {
    store.watch(prefix, after).await.expect("watch failed")
}

/// The next item of a watch, which must come in time.
async fn next_item(stream: &mut WatchStream) -> Option<crate::Result<Event>> {
    tokio::time::timeout(EVENT_WAIT, stream.next()).await.expect("no watch item in time")
}

/// The next event of a watch, which must come in time.
async fn next_event(stream: &mut WatchStream) -> Event {
    next_item(stream).await.expect("the watch ended").expect("the watch failed")
}

/// Asserts that a watch yields nothing for a while.
async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(QUIET_WAIT, stream.next()).await {
        panic!("unexpected watch item {item:?}");
    }
}

fn kv(key: &str, value: &[u8], create_revision: Revision, mod_revision: Revision, version: u64) -> KeyValue {
    KeyValue { key: key.to_owned(), value: value.to_vec().into(), create_revision, mod_revision, version }
}

fn put_event(kv: KeyValue) -> Event {
    Event { kind: EventKind::Put, kv }
}

fn keys(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Point reads and writes: absent keys, put, overwrite, delete, deleting an absent key.
pub async fn basics<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    assert_eq!(get(&store, "/k").await, None);

    put(&store, "/k", b"v1").await;
    let first = must_get(&store, "/k").await;
    assert_eq!((first.key.as_str(), &first.value[..]), ("/k", &b"v1"[..]));

    put(&store, "/k", b"v2").await;
    assert_eq!(&must_get(&store, "/k").await.value[..], b"v2");

    let deleted = commit(&store, Txn::new().then(Op::delete("/k"))).await;
    assert_eq!(get(&store, "/k").await, None);

    // Deleting an absent key is not an error (the transaction still commits).
    let again = commit(&store, Txn::new().then(Op::delete("/k"))).await;
    assert!(again > deleted);

    // Empty values and non-ASCII keys round-trip.
    put(&store, "/ü/ключ", b"").await;
    let odd = must_get(&store, "/ü/ключ").await;
    assert_eq!((odd.key.as_str(), odd.value.len()), ("/ü/ключ", 0));

    // A key is not a prefix match for a longer one.
    assert_eq!(get(&store, "/ü").await, None);
    let nothing = store.range("/nothing/", None, 0).await.expect("range");
    assert!(nothing.kvs.is_empty() && !nothing.more);
}

/// Revisions: start at 1, one per committed transaction shared by its writes, none for failed
/// ones, one for an empty transaction; `revision()` and range snapshots agree.
pub async fn revisions<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    assert_eq!(store.revision().await.expect("revision"), 0);
    assert_eq!(store.range("", None, 0).await.expect("range").revision, 0);

    assert_eq!(put(&store, "/a", b"1").await, 1);
    let multi = Txn::new().then(Op::put("/b", "2")).then(Op::put("/c", "3")).then(Op::delete("/a"));
    assert_eq!(commit(&store, multi).await, 2);
    for key in ["/b", "/c"] {
        let kv = must_get(&store, key).await;
        assert_eq!((kv.create_revision, kv.mod_revision), (2, 2), "{key}");
    }

    fail(&store, Txn::new().when(Compare::exists("/a")).then(Op::put("/e", "5"))).await;
    assert_eq!(store.revision().await.expect("revision"), 2, "a failed txn takes no revision");
    assert_eq!(get(&store, "/e").await, None);

    assert_eq!(commit(&store, Txn::new()).await, 3, "an empty txn commits with a new revision");
    assert_eq!(put(&store, "/d", b"4").await, 4);
    assert_eq!(store.revision().await.expect("revision"), 4);
    assert_eq!(store.range("", None, 0).await.expect("range").revision, 4);
}

/// `create_revision`, `mod_revision` and `version` across overwrites, deletes and re-creation,
/// including several writes of one key in one transaction.
pub async fn key_metadata<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    let r1 = put(&store, "/a", b"1").await;
    let other = put(&store, "/other", b"o").await;
    assert_eq!(must_get(&store, "/a").await, kv("/a", b"1", r1, r1, 1));

    let r2 = put(&store, "/a", b"2").await;
    assert_eq!(must_get(&store, "/a").await, kv("/a", b"2", r1, r2, 2));

    commit(&store, Txn::new().then(Op::delete("/a"))).await;
    let r4 = put(&store, "/a", b"3").await;
    assert_eq!(must_get(&store, "/a").await, kv("/a", b"3", r4, r4, 1), "re-creation resets");

    // Two puts in one txn: the last value wins and the txn counts as one write.
    let r5 = commit(&store, Txn::new().then(Op::put("/a", "x")).then(Op::put("/a", "y"))).await;
    assert_eq!(must_get(&store, "/a").await, kv("/a", b"y", r4, r5, 2));

    // Delete then put in one txn re-creates the key.
    let r6 = commit(&store, Txn::new().then(Op::delete("/a")).then(Op::put("/a", "z"))).await;
    assert_eq!(must_get(&store, "/a").await, kv("/a", b"z", r6, r6, 1));

    // Put then delete in one txn leaves the key absent, whether it existed or not.
    let gone = Txn::new().then(Op::put("/a", "w")).then(Op::delete("/a"));
    commit(&store, gone.then(Op::put("/new", "n")).then(Op::delete("/new"))).await;
    assert_eq!(get(&store, "/a").await, None);
    assert_eq!(get(&store, "/new").await, None);

    assert_eq!(must_get(&store, "/other").await, kv("/other", b"o", other, other, 1));
}

/// Compares: absent, unchanged and exists, each passing and failing; all must hold; a failed
/// transaction writes nothing at all.
pub async fn compares<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    put(&store, "/a", b"1").await;

    commit(&store, Txn::new().when(Compare::absent("/b")).then(Op::put("/b", "1"))).await;
    fail(&store, Txn::new().when(Compare::absent("/a")).then(Op::put("/x", "1"))).await;

    let a = must_get(&store, "/a").await;
    let unchanged = Txn::new().when(Compare::unchanged("/a", a.mod_revision));
    commit(&store, unchanged.clone().then(Op::put("/a", "2"))).await;
    fail(&store, unchanged.then(Op::put("/x", "1"))).await;
    fail(&store, Txn::new().when(Compare::unchanged("/missing", a.mod_revision))).await;

    commit(&store, Txn::new().when(Compare::exists("/a")).then(Op::put("/c", "1"))).await;
    fail(&store, Txn::new().when(Compare::exists("/missing")).then(Op::put("/x", "1"))).await;

    let contradictory = Txn::new().when(Compare::exists("/a")).when(Compare::absent("/a"));
    fail(&store, contradictory.then(Op::put("/x", "1"))).await;

    let before = store.range("", None, 0).await.expect("range");
    let writes_a_lot = Txn::new()
        .when(Compare::exists("/b"))
        .when(Compare::absent("/a"))
        .then(Op::put("/x", "1"))
        .then(Op::put("/a", "9"))
        .then(Op::delete("/b"))
        .then(Op::delete("/c"));
    fail(&store, writes_a_lot).await;
    let after = store.range("", None, 0).await.expect("range");
    assert_eq!(before, after, "a failed txn must write nothing");
}

/// Multi-op transactions apply all-or-nothing and range reads are consistent snapshots: money
/// moved between two keys by concurrent compare-and-set transfers always sums to the same.
pub async fn atomicity<S: Store>(make: impl AsyncFn(Setup) -> S) {
    const MOVERS: usize = 4;
    const MOVES_EACH: u64 = 25;
    const TOTAL: u64 = MOVERS as u64 * MOVES_EACH;
    let store = Arc::new(make(Setup::default()).await);
    let seed = Txn::new().then(Op::put("/bank/a", TOTAL.to_string())).then(Op::put("/bank/b", "0"));
    commit(&*store, seed).await;

    let movers: Vec<_> = (0..MOVERS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..MOVES_EACH {
                    while !transfer_one(&*store).await {}
                }
            })
        })
        .collect();
    let reader = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            loop {
                let snapshot = store.range("/bank/", None, 0).await.expect("range");
                let (a, b) = (number(&snapshot.kvs[0]), number(&snapshot.kvs[1]));
                assert_eq!(a + b, TOTAL, "a range saw half a transfer: {snapshot:?}");
                assert!(snapshot.kvs.iter().all(|kv| kv.mod_revision <= snapshot.revision));
                if b == TOTAL {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    for mover in movers {
        mover.await.expect("mover panicked");
    }
    reader.await.expect("reader panicked");
    assert_eq!(number(&must_get(&*store, "/bank/a").await), 0);
}

fn number(kv: &KeyValue) -> u64 {
    let text = std::str::from_utf8(&kv.value).expect("numbers are written as text");
    text.parse().expect("numbers are written as decimal")
}

/// Moves one unit from `/bank/a` to `/bank/b` if neither changed since read; says if it did.
async fn transfer_one<S: Store + ?Sized>(store: &S) -> bool {
    let (a, b) = (must_get(store, "/bank/a").await, must_get(store, "/bank/b").await);
    let txn = Txn::new()
        .when(Compare::unchanged("/bank/a", a.mod_revision))
        .when(Compare::unchanged("/bank/b", b.mod_revision))
        .then(Op::put("/bank/a", (number(&a) - 1).to_string()))
        .then(Op::put("/bank/b", (number(&b) + 1).to_string()));
    matches!(store.txn(txn).await.expect("txn"), TxnOutcome::Committed { .. })
}

/// Range reads: key order, prefix isolation, `start_after` + `limit` pagination covering every
/// key exactly once, and the `more` flag.
pub async fn range_pagination<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    let mut expected: Vec<String> = (0..23).map(|i| format!("/a/{i:02}")).collect();
    expected.push("/a/".to_owned());
    expected.sort();
    // Written in several txns, out of order, among neighbours that must not match "/a/".
    for chunk in expected.iter().rev().collect::<Vec<_>>().chunks(5) {
        let txn = chunk.iter().fold(Txn::new(), |txn, key| txn.then(Op::put(key.as_str(), "v")));
        commit(&store, txn).await;
    }
    for neighbour in ["/a", "/ab", "/a0", "/a.", "/", "/b/1", "/`"] {
        put(&store, neighbour, b"n").await;
    }
    let revision = store.revision().await.expect("revision");

    let full = store.range("/a/", None, 0).await.expect("range");
    assert_eq!(keys(&full.kvs), expected, "prefix isolation and key order");
    assert!(!full.more);
    assert_eq!(full.revision, revision);

    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.range("/a/", after.as_deref(), 5).await.expect("range");
        assert!(page.kvs.len() <= 5);
        paged.extend(page.kvs.iter().map(|kv| kv.key.clone()));
        after = page.kvs.last().map(|kv| kv.key.clone());
        if !page.more {
            break;
        }
    }
    assert_eq!(paged, expected, "pagination covers every key exactly once, in order");

    let exact = store.range("/a/", Some(&expected[expected.len() - 6]), 3).await.expect("range");
    assert!(exact.more, "3 of 5 remaining");
    let last = store.range("/a/", Some(&expected[expected.len() - 4]), 3).await.expect("range");
    assert_eq!(keys(&last.kvs), &expected[expected.len() - 3..]);
    assert!(!last.more, "exactly the last 3 keys: nothing more");

    let before_prefix = store.range("/a/", Some("/"), 0).await.expect("range");
    assert_eq!(keys(&before_prefix.kvs), expected);
    let past_all = store.range("/a/", Some("/a/zz"), 0).await.expect("range");
    assert!(past_all.kvs.is_empty() && !past_all.more);
    let between = store.range("/a/", Some("/a/105"), 0).await.expect("range");
    assert_eq!(keys(&between.kvs).first(), Some(&"/a/11"), "start_after need not exist");
    let big_limit = store.range("/a/", None, 1000).await.expect("range");
    assert!(!big_limit.more && big_limit.kvs.len() == expected.len());

    let everything = store.range("", None, 0).await.expect("range");
    assert_eq!(everything.kvs.len(), expected.len() + 7);
    assert!(everything.kvs.windows(2).all(|w| w[0].key < w[1].key));
}

/// Live watch events: kinds, values, revisions, prefix filtering, one net event per key in key
/// order within a transaction, delete events carrying the last value.
pub async fn watch_live<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    let mut watched = watch(&store, "/w/", None).await;
    let mut everything = watch(&store, "", None).await;

    let r1 = put(&store, "/w/a", b"1").await;
    let r2 = put(&store, "/x/out", b"o").await;
    let r3 = commit(&store, Txn::new().then(Op::put("/w/b", "b")).then(Op::put("/w/a", "2"))).await;
    let r4 = commit(&store, Txn::new().then(Op::delete("/w/a"))).await;
    let transient = Txn::new().then(Op::put("/w/tmp", "t")).then(Op::delete("/w/tmp"));
    commit(&store, transient).await;
    let r6 = put(&store, "/w/c", b"c").await;

    let expected = [
        put_event(kv("/w/a", b"1", r1, r1, 1)),
        put_event(kv("/w/a", b"2", r1, r3, 2)),
        put_event(kv("/w/b", b"b", r3, r3, 1)),
        Event { kind: EventKind::Delete, kv: kv("/w/a", b"2", r1, r4, 2) },
        put_event(kv("/w/c", b"c", r6, r6, 1)),
    ];
    for want in &expected {
        assert_eq!(&next_event(&mut watched).await, want);
    }
    assert_quiet(&mut watched).await;

    let mut all = Vec::new();
    for _ in 0..expected.len() + 1 {
        all.push(next_event(&mut everything).await);
    }
    assert_eq!(all[1], put_event(kv("/x/out", b"o", r2, r2, 1)));
    assert_eq!(all.iter().map(Event::revision).collect::<Vec<_>>(), [r1, r2, r3, r3, r4, r6]);
    assert_quiet(&mut everything).await;
}

/// Watches from a past revision replay history then go on live; from a future revision they
/// skip what comes before it.
pub async fn watch_replay<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    let mut revisions = Vec::new();
    for i in 0..5 {
        revisions.push(put(&store, &format!("/h/{i}"), b"v").await);
        put(&store, "/elsewhere", b"x").await;
    }

    let mut from_start = watch(&store, "/h/", Some(0)).await;
    let mut from_third = watch(&store, "/h/", Some(revisions[2])).await;
    for (i, revision) in revisions.iter().enumerate() {
        let event = next_event(&mut from_start).await;
        assert_eq!((event.revision(), event.kv.key), (*revision, format!("/h/{i}")));
    }
    for (i, revision) in revisions.iter().enumerate().skip(3) {
        let event = next_event(&mut from_third).await;
        assert_eq!((event.revision(), event.kv.key), (*revision, format!("/h/{i}")));
    }

    let current = store.revision().await.expect("revision");
    let mut from_now = watch(&store, "/h/", Some(current)).await;
    let mut from_future = watch(&store, "/h/", Some(current + 2)).await;
    assert_quiet(&mut from_now).await;
    let mut live = Vec::new();
    for key in ["/h/5", "/h/6", "/h/7"] {
        live.push(put(&store, key, b"v").await);
    }
    for stream in [&mut from_start, &mut from_third, &mut from_now] {
        for revision in &live {
            assert_eq!(next_event(stream).await.revision(), *revision);
        }
        assert_quiet(stream).await;
    }
    assert_eq!(next_event(&mut from_future).await.kv.key, "/h/7");
    assert_quiet(&mut from_future).await;
}

/// Under concurrent writers a watch sees every change under its prefix exactly once, in
/// strictly increasing revision order — also one set up while the writers are running.
pub async fn watch_concurrent<S: Store>(make: impl AsyncFn(Setup) -> S) {
    const WRITERS: usize = 8;
    const TXNS_EACH: usize = 200;
    let store = Arc::new(make(Setup::default()).await);
    let start = store.revision().await.expect("revision");
    let mut early = watch(&*store, "/c/", Some(start)).await;

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..TXNS_EACH {
                    put(&*store, &format!("/c/{writer}/{i:04}"), b"v").await;
                    if i % 4 == 0 {
                        put(&*store, &format!("/noise/{writer}"), b"n").await;
                    }
                }
            })
        })
        .collect();

    // Set up a second watch from a revision read while the writers are busy.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let middle = store.revision().await.expect("revision");
    let mut late = watch(&*store, "/c/", Some(middle)).await;

    let mut seen = Vec::with_capacity(WRITERS * TXNS_EACH);
    let mut keys = BTreeSet::new();
    for _ in 0..WRITERS * TXNS_EACH {
        let event = next_event(&mut early).await;
        assert!(seen.last().is_none_or(|last: &Event| last.revision() < event.revision()));
        assert!(event.kv.key.starts_with("/c/") && event.kind == EventKind::Put);
        assert!(keys.insert(event.kv.key.clone()), "duplicate event for {}", event.kv.key);
        seen.push(event);
    }
    for writer in writers {
        writer.await.expect("writer panicked");
    }
    assert_quiet(&mut early).await;

    let expected_late: Vec<&Event> = seen.iter().filter(|e| e.revision() > middle).collect();
    for want in expected_late {
        assert_eq!(&next_event(&mut late).await, want, "the late watch must match the early one");
    }
    assert_quiet(&mut late).await;
    let listed = store.range("/c/", None, 0).await.expect("range");
    assert_eq!(listed.kvs.len(), WRITERS * TXNS_EACH);
}

/// History older than the store keeps, and a watcher falling too far behind, end in
/// [`StoreError::Compacted`]; re-listing and watching from the snapshot then works.
pub async fn watch_compacted<S: Store>(make: impl AsyncFn(Setup) -> S) {
    const HISTORY: usize = 16;
    let store = make(Setup { watch_history: HISTORY }).await;
    for i in 0..HISTORY * 3 {
        put(&store, &format!("/k/{i}"), b"v").await;
    }
    let current = store.revision().await.expect("revision");
    match store.watch("", Some(1)).await {
        Err(StoreError::Compacted { requested, oldest }) => {
            assert_eq!(requested, 1);
            assert!(oldest > 1 && oldest <= current, "oldest {oldest} of {current}");
        }
        other => panic!("expected Compacted, got {other:?}"),
    }
    let mut recent = watch(&store, "", Some(current - 4)).await;
    for revision in current - 3..=current {
        assert_eq!(next_event(&mut recent).await.revision(), revision);
    }

    // A watcher that does not read while far more than the history is written.
    let mut slow = watch(&store, "/k/", Some(current)).await;
    for i in 0..HISTORY * 3 {
        put(&store, &format!("/k/{i}"), b"w").await;
    }
    let mut last = current;
    loop {
        match next_item(&mut slow).await.expect("the slow watch must end with an error") {
            Ok(event) => {
                assert!(event.revision() > last);
                last = event.revision();
            }
            Err(StoreError::Compacted { .. }) => break,
            Err(other) => panic!("expected Compacted, got {other}"),
        }
    }
    assert!(next_item(&mut slow).await.is_none(), "the stream ends after Compacted");

    // The recovery a client does: re-list, then watch from the snapshot.
    let snapshot = store.range("/k/", None, 0).await.expect("range");
    let mut resumed = watch(&store, "/k/", Some(snapshot.revision)).await;
    let revision = put(&store, "/k/0", b"x").await;
    assert_eq!(next_event(&mut resumed).await.revision(), revision);
}

/// Many concurrent compare-and-set increments of one counter, retried on conflict, all land.
pub async fn cas_counter<S: Store>(make: impl AsyncFn(Setup) -> S) {
    const TASKS: u64 = 32;
    const MAX_ATTEMPTS: usize = 10_000;
    let store = Arc::new(make(Setup::default()).await);
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..MAX_ATTEMPTS {
                    let current = get(&*store, "/counter").await;
                    let (count, revision) = current.map_or((0, 0), |kv| (number(&kv), kv.mod_revision));
                    let increment = Txn::new()
                        .when(Compare::unchanged("/counter", revision))
                        .then(Op::put("/counter", (count + 1).to_string()));
                    if let TxnOutcome::Committed { .. } = store.txn(increment).await.expect("txn") {
                        return;
                    }
                }
                panic!("no increment landed in {MAX_ATTEMPTS} attempts");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("incrementer panicked");
    }
    let counter = must_get(&*store, "/counter").await;
    assert_eq!((number(&counter), counter.version), (TASKS, TASKS));
}

/// Dropping the store ends its watches with [`StoreError::Closed`] once they have read
/// everything committed.
pub async fn close<S: Store>(make: impl AsyncFn(Setup) -> S) {
    let store = make(Setup::default()).await;
    let mut stream = watch(&store, "", None).await;
    let revision = put(&store, "/last", b"words").await;
    drop(store);
    assert_eq!(next_event(&mut stream).await.revision(), revision);
    match next_item(&mut stream).await {
        Some(Err(StoreError::Closed)) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(next_item(&mut stream).await.is_none());
}
