//! Test helpers shared by this crate's integration tests.

use async_trait::async_trait;
use berth_store::conformance::Setup;
use berth_store::{
    KeyValue, RangeResult, RedbConfig, RedbStore, Result, Revision, Store, Txn, TxnOutcome, WatchStream,
};
use tempfile::TempDir;

/// A [`RedbStore`] in a temporary directory that is removed (after the store is closed) when
/// this is dropped.
pub struct TempRedb {
    // Declared first so it is dropped (and the file closed) before the directory goes.
    pub store: RedbStore,
    pub _dir: TempDir,
}

impl TempRedb {
    /// A fresh store with the settings a conformance check asks for.
    pub fn new(setup: Setup) -> TempRedb {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = RedbConfig { watch_history: setup.watch_history, ..RedbConfig::default() };
        let store = RedbStore::open_with(dir.path().join("store.redb"), config).expect("open");
        TempRedb { store, _dir: dir }
    }
}

#[async_trait]
impl Store for TempRedb {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.store.get(key).await
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<RangeResult> {
        self.store.range(prefix, start_after, limit).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        self.store.txn(txn).await
    }

    async fn watch(&self, prefix: &str, after: Option<Revision>) -> Result<WatchStream> {
        self.store.watch(prefix, after).await
    }

    async fn revision(&self) -> Result<Revision> {
        self.store.revision().await
    }
}
