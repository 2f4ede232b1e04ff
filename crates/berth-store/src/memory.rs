//! [`MemoryStore`]: the store's semantics in memory, for tests and for trying things out.
//!
//! One mutex guards the keys and the revision; a transaction applies and publishes its events
//! while holding it, which makes transactions serial and events reach the watch history in
//! revision order. Nothing survives the process.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::engine::{self, KvState, Stamp};
use crate::watch::{DEFAULT_WATCH_HISTORY, Hub, lock};
use crate::{KeyValue, RangeResult, Result, Revision, Store, Txn, TxnOutcome, WatchStream};

/// An in-memory [`Store`]. Cloning is cheap and clones share the same data.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    data: Mutex<Data>,
    hub: Arc<Hub>,
}

struct Data {
    kvs: BTreeMap<String, KeyValue>,
    revision: Revision,
}

impl KvState for BTreeMap<String, KeyValue> {
    fn load(&mut self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.get(key).cloned())
    }

    fn stamp(&mut self, key: &str) -> Result<Option<Stamp>> {
        Ok(self.get(key).map(Stamp::of))
    }

    fn save(&mut self, kv: &KeyValue) -> Result<()> {
        self.insert(kv.key.clone(), kv.clone());
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<()> {
        BTreeMap::remove(self, key);
        Ok(())
    }
}

impl MemoryStore {
    /// An empty store keeping the default watch history ([`DEFAULT_WATCH_HISTORY`] events).
    pub fn new() -> Self {
        Self::with_watch_history(DEFAULT_WATCH_HISTORY)
    }

    /// An empty store whose watch history keeps the last `events` events (at least one).
    pub fn with_watch_history(events: usize) -> Self {
        let data = Data { kvs: BTreeMap::new(), revision: 0 };
        let inner = Inner { data: Mutex::new(data), hub: Arc::new(Hub::new(0, events)) };
        MemoryStore { inner: Arc::new(inner) }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.hub.close();
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(lock(&self.inner.data).kvs.get(key).cloned())
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<RangeResult> {
        let data = lock(&self.inner.data);
        let start = engine::range_start(prefix, start_after);
        let entries = data.kvs.range::<str, _>((start, Bound::Unbounded)).map(|(_, kv)| Ok(kv.clone()));
        let (kvs, more) = engine::take_page(entries, prefix, limit)?;
        Ok(RangeResult { kvs, more, revision: data.revision })
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        let mut data = lock(&self.inner.data);
        let revision = data.revision + 1;
        let Some(events) = engine::apply_txn(&mut data.kvs, txn, revision)? else {
            return Ok(TxnOutcome::Failed);
        };
        data.revision = revision;
        // Published under the data lock so that events enter the history in revision order.
        self.inner.hub.publish([(revision, events)]);
        Ok(TxnOutcome::Committed { revision })
    }

    async fn watch(&self, prefix: &str, after: Option<Revision>) -> Result<WatchStream> {
        self.inner.hub.subscribe(prefix, after)
    }

    async fn revision(&self) -> Result<Revision> {
        Ok(lock(&self.inner.data).revision)
    }
}
