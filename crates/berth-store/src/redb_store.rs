//! [`RedbStore`]: the embedded, durable store, one redb file.
//!
//! Layout: table `kvs` maps each key to its encoded record (value and revisions, see
//! [`write_record`]); table `meta` holds the current revision under `"revision"`.
//!
//! Writes go through one dedicated writer thread. Callers queue transactions on a channel; the
//! writer takes everything queued (up to [`RedbConfig::max_batch`]), applies the transactions in
//! order inside a single redb write transaction — each one's compares see the state left by the
//! ones before it — commits once with an fsync, publishes the events, and only then answers the
//! callers. One fsync thus serves a whole batch (group commit), which is what lets many concurrent
//! writers go fast while every acknowledged write is durable. Reads take a redb read transaction
//! on the caller's thread: they see the last committed batch and never wait for the writer.

use std::fmt::Display;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};

use async_trait::async_trait;
use futures::channel::oneshot;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::engine::{self, KvState, Stamp};
use crate::watch::{DEFAULT_WATCH_HISTORY, Hub};
use crate::{
    Event, KeyValue, RangeResult, Result, Revision, Store, StoreError, Txn, TxnOutcome, WatchStream,
};

/// Key to encoded record (see [`write_record`]).
const KVS: TableDefinition<&str, &[u8]> = TableDefinition::new("kvs");
/// Store-wide values; only [`REVISION`] for now.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The `meta` entry holding the revision of the last committed transaction.
const REVISION: &str = "revision";
/// The first byte of every record, so the encoding can change later.
const RECORD_FORMAT: u8 = 1;
/// Format byte plus create revision, mod revision and version.
const RECORD_HEADER: usize = 1 + 3 * 8;

/// Settings of a [`RedbStore`]; [`Default`] gives the ones [`RedbStore::open`] uses.
#[derive(Debug, Clone)]
pub struct RedbConfig {
    /// How many recent events the watch history keeps in memory (at least one). Watches asking
    /// for older revisions, and watchers falling further behind, get [`StoreError::Compacted`].
    pub watch_history: usize,
    /// The most transactions the writer commits together (at least one).
    pub max_batch: usize,
    /// The most memory redb's page cache may use. Reads past it come from the OS page cache.
    /// The default, 128 MiB, keeps the server of the 100,000-task cluster bench well under its
    /// 1 GiB: twice as much cost 160 MiB more there and bought no throughput.
    pub cache_bytes: usize,
}

impl Default for RedbConfig {
    fn default() -> Self {
        RedbConfig { watch_history: DEFAULT_WATCH_HISTORY, max_batch: 4096, cache_bytes: 128 * 1024 * 1024 }
    }
}

/// A durable [`Store`] in one redb file. Cloning is cheap and clones share the same database
/// and writer thread; the thread stops and the file closes when the last clone is dropped.
#[derive(Clone)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    hub: Arc<Hub>,
    /// `None` only while dropping: closing the channel is what stops the writer.
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

/// A transaction waiting for the writer, and where to send its outcome.
struct Request {
    txn: Txn,
    reply: oneshot::Sender<Result<TxnOutcome>>,
}

/// Turns any backend error into [`StoreError::Backend`].
trait OrBackend<T> {
    fn or_backend(self) -> Result<T>;
}

impl<T, E: Display> OrBackend<T> for Result<T, E> {
    fn or_backend(self) -> Result<T> {
        self.map_err(|e| StoreError::Backend(e.to_string()))
    }
}

impl RedbStore {
    /// Opens the store in the redb file at `path`, creating the file if it does not exist, with
    /// the default [`RedbConfig`].
    ///
    /// A file left by a crash is repaired on open; every transaction acknowledged before the crash
    /// is there. The watch history starts empty at the file's current revision.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore> {
        Self::open_with(path, RedbConfig::default())
    }

    /// Opens the store at `path` like [`RedbStore::open`], with the given settings.
    pub fn open_with(path: impl AsRef<Path>, config: RedbConfig) -> Result<RedbStore> {
        let db = Arc::new(Database::builder().set_cache_size(config.cache_bytes).create(path).or_backend()?);
        let revision = init_tables(&db)?;
        let hub = Arc::new(Hub::new(revision, config.watch_history));
        let (requests, queue) = mpsc::channel();
        let writer = {
            let (db, hub, max_batch) = (Arc::clone(&db), Arc::clone(&hub), config.max_batch.max(1));
            thread::Builder::new()
                .name("berth-store-writer".into())
                .spawn(move || run_writer(&db, &hub, &queue, max_batch))
                .or_backend()?
        };
        let inner = Inner { db, hub, requests: Some(requests), writer: Some(writer) };
        Ok(RedbStore { inner: Arc::new(inner) })
    }
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish its batch and return; joining it means the
        // file is closed (the writer holds the last other `Database` handle) once drop returns.
        drop(self.requests.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the berth-store writer thread panicked");
        }
        self.hub.close();
    }
}

/// Creates the tables of a new file and returns the stored revision.
fn init_tables(db: &Database) -> Result<Revision> {
    let write = db.begin_write().or_backend()?;
    let revision = {
        write.open_table(KVS).or_backend()?;
        let meta = write.open_table(META).or_backend()?;
        let stored = meta.get(REVISION).or_backend()?.map(|guard| guard.value());
        stored.unwrap_or(0)
    };
    write.commit().or_backend()?;
    Ok(revision)
}

/// Writes a key's record into `record`, which is exactly [`RECORD_HEADER`] plus the value's
/// length: format byte, create revision, mod revision, version (little-endian u64s), then the
/// value bytes.
fn write_record(kv: &KeyValue, record: &mut [u8]) {
    let (header, value) = record.split_at_mut(RECORD_HEADER);
    header[0] = RECORD_FORMAT;
    let revisions = [kv.create_revision, kv.mod_revision, kv.version];
    for (slot, revision) in header[1..].chunks_exact_mut(8).zip(revisions) {
        slot.copy_from_slice(&revision.to_le_bytes());
    }
    value.copy_from_slice(&kv.value);
}

/// Decodes the record of `key` written by [`write_record`].
fn decode(key: &str, record: &[u8]) -> Result<KeyValue> {
    Ok(decode_stamp(key, record)?.with(key.to_owned(), record[RECORD_HEADER..].to_vec()))
}

/// Decodes only the revisions of the record of `key`, leaving its value where it is.
fn decode_stamp(key: &str, record: &[u8]) -> Result<Stamp> {
    if record.len() < RECORD_HEADER || record[0] != RECORD_FORMAT {
        return Err(StoreError::Backend(format!("corrupt record for key {key:?}")));
    }
    let field = |i: usize| {
        let start = 1 + 8 * i;
        let bytes: [u8; 8] = record[start..start + 8].try_into().expect("the header length was checked");
        u64::from_le_bytes(bytes)
    };
    Ok(Stamp { create_revision: field(0), mod_revision: field(1), version: field(2) })
}

/// The `kvs` table of a write transaction, as the engine sees it.
struct WriteState<'a, 'txn> {
    table: &'a mut redb::Table<'txn, &'static str, &'static [u8]>,
}

impl KvState for WriteState<'_, '_> {
    fn load(&mut self, key: &str) -> Result<Option<KeyValue>> {
        let record = self.table.get(key).or_backend()?;
        record.map(|guard| decode(key, guard.value())).transpose()
    }

    fn stamp(&mut self, key: &str) -> Result<Option<Stamp>> {
        let record = self.table.get(key).or_backend()?;
        record.map(|guard| decode_stamp(key, guard.value())).transpose()
    }

    fn save(&mut self, kv: &KeyValue) -> Result<()> {
        // Written straight into its place in the tree: building the record apart first copied
        // every value the writer thread stores once more.
        let mut slot =
            self.table.insert_reserve(kv.key.as_str(), RECORD_HEADER + kv.value.len()).or_backend()?;
        write_record(kv, slot.as_mut());
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<()> {
        self.table.remove(key).or_backend()?;
        Ok(())
    }
}

/// The writer thread: commits queued transactions in batches until every sender is gone.
fn run_writer(db: &Database, hub: &Hub, queue: &mpsc::Receiver<Request>, max_batch: usize) {
    while let Ok(first) = queue.recv() {
        let (mut txns, mut replies) = (Vec::new(), Vec::new());
        for request in std::iter::once(first).chain(queue.try_iter().take(max_batch - 1)) {
            txns.push(request.txn);
            replies.push(request.reply);
        }
        let transactions = txns.len();
        match commit_batch(db, txns) {
            Ok(outcomes) => answer(hub, replies, outcomes),
            Err(error) => {
                tracing::error!(%error, transactions, "store batch failed");
                for reply in replies {
                    // A caller that stopped waiting does not care.
                    let _ = reply.send(Err(StoreError::Backend(error.to_string())));
                }
            }
        }
    }
}

/// What became of one transaction of a batch: `None` if a compare failed.
type Outcome = Option<(Revision, Vec<Event>)>;

/// Applies `txns` in order in one durable redb transaction; nothing is written on error.
fn commit_batch(db: &Database, txns: Vec<Txn>) -> Result<Vec<Outcome>> {
    let mut write = db.begin_write().or_backend()?;
    write.set_durability(Durability::Immediate).or_backend()?;
    let mut outcomes = Vec::with_capacity(txns.len());
    let (start, end) = {
        let mut kvs = write.open_table(KVS).or_backend()?;
        let mut meta = write.open_table(META).or_backend()?;
        let start = meta.get(REVISION).or_backend()?.map_or(0, |guard| guard.value());
        let mut revision = start;
        let mut state = WriteState { table: &mut kvs };
        for txn in txns {
            let outcome = engine::apply_txn(&mut state, txn, revision + 1)?;
            if outcome.is_some() {
                revision += 1;
            }
            outcomes.push(outcome.map(|events| (revision, events)));
        }
        if revision != start {
            meta.insert(REVISION, revision).or_backend()?;
        }
        (start, revision)
    };
    if start == end {
        // Every compare failed: nothing to make durable, so spare the fsync.
        write.abort().or_backend()?;
    } else {
        write.commit().or_backend()?;
    }
    Ok(outcomes)
}

/// Publishes a committed batch's events, then tells each caller its outcome: a caller that saw
/// `Committed` and then watches from "now" will not be shown its own change again.
fn answer(hub: &Hub, waiting: Vec<oneshot::Sender<Result<TxnOutcome>>>, mut outcomes: Vec<Outcome>) {
    let replies: Vec<TxnOutcome> = (outcomes.iter())
        .map(|outcome| match outcome {
            Some((revision, _)) => TxnOutcome::Committed { revision: *revision },
            None => TxnOutcome::Failed,
        })
        .collect();
    hub.publish(outcomes.drain(..).flatten());
    for (caller, reply) in waiting.into_iter().zip(replies) {
        // A caller that stopped waiting does not care.
        let _ = caller.send(Ok(reply));
    }
}

impl RedbStore {
    fn read(&self) -> Result<redb::ReadTransaction> {
        self.inner.db.begin_read().or_backend()
    }
}

/// The revision stored in a read transaction's snapshot.
fn stored_revision(read: &redb::ReadTransaction) -> Result<Revision> {
    let meta = read.open_table(META).or_backend()?;
    let stored = meta.get(REVISION).or_backend()?.map(|guard| guard.value());
    Ok(stored.unwrap_or(0))
}

#[async_trait]
impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let read = self.read()?;
        let kvs = read.open_table(KVS).or_backend()?;
        let record = kvs.get(key).or_backend()?;
        record.map(|guard| decode(key, guard.value())).transpose()
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<RangeResult> {
        let read = self.read()?;
        let revision = stored_revision(&read)?;
        let kvs = read.open_table(KVS).or_backend()?;
        let start = engine::range_start(prefix, start_after);
        let entries = kvs.range::<&str>((start, Bound::Unbounded)).or_backend()?.map(|entry| {
            let (key, record) = entry.or_backend()?;
            decode(key.value(), record.value())
        });
        let (kvs, more) = engine::take_page(entries, prefix, limit)?;
        Ok(RangeResult { kvs, more, revision })
    }

    /// Queues the transaction for the writer and waits until it is durable (or failed).
    ///
    /// Dropping the returned future does not withdraw a transaction already queued: it may
    /// still commit.
    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        let (reply, outcome) = oneshot::channel();
        let requests = self.inner.requests.as_ref().ok_or(StoreError::Closed)?;
        requests.send(Request { txn, reply }).map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Backend("the store writer thread stopped".into()))?
    }

    async fn watch(&self, prefix: &str, after: Option<Revision>) -> Result<WatchStream> {
        self.inner.hub.subscribe(prefix, after)
    }

    async fn revision(&self) -> Result<Revision> {
        stored_revision(&self.read()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(kv: &KeyValue) -> Vec<u8> {
        let mut record = vec![0; RECORD_HEADER + kv.value.len()];
        write_record(kv, &mut record);
        record
    }

    #[test]
    fn records_round_trip() {
        let kv = KeyValue {
            key: "/k".into(),
            value: b"value".to_vec().into(),
            create_revision: 3,
            mod_revision: u64::MAX,
            version: 7,
        };
        assert_eq!(decode("/k", &encode(&kv)).unwrap(), kv);
        let empty = KeyValue { value: bytes::Bytes::new(), ..kv };
        assert_eq!(decode("/k", &encode(&empty)).unwrap(), empty);
    }

    #[test]
    fn corrupt_records_are_backend_errors() {
        let good = encode(&KeyValue {
            key: "/k".into(),
            value: b"v".to_vec().into(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
        });
        let mut wrong_format = good.clone();
        wrong_format[0] = 99;
        for record in [&good[..RECORD_HEADER - 1], &wrong_format[..], &[][..]] {
            assert!(matches!(decode("/k", record), Err(StoreError::Backend(_))));
        }
    }
}
