//! Berth's state store.
//!
//! Everything the control plane knows lives behind the [`Store`] trait: string keys holding byte
//! values, each change stamped with a cluster-wide, strictly increasing [`Revision`]. The
//! operations are the ones an orchestrator needs and etcd offers — point reads, ordered prefix
//! range reads from one consistent snapshot, compare-and-set transactions, and watches that
//! replay every change after a revision — so that handlers and controllers are written once and an
//! etcd backend can later take the place of the embedded one without touching them.
//!
//! Backends:
//! - [`RedbStore`]: the embedded default, a redb file in the data directory. A write returns only
//!   once it is durable (fsync); concurrent transactions are group-committed, one fsync for many.
//! - [`MemoryStore`]: the same semantics without a disk, for tests and `berth server --store memory`.
//!
//! Every backend must pass the conformance suite in [`conformance`] (behind the `conformance`
//! feature for other crates' tests).

mod engine;
mod error;
mod memory;
mod redb_store;
mod types;
mod watch;

#[cfg(any(test, doc, feature = "conformance"))]
pub mod conformance;

use async_trait::async_trait;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use redb_store::{RedbConfig, RedbStore};
pub use types::{Compare, Event, EventKind, KeyValue, Op, RangeResult, Revision, Txn, TxnOutcome};
pub use watch::{DEFAULT_WATCH_HISTORY, WatchStream};

/// The result type of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A revisioned key-value store with transactions and watches.
///
/// Keys are UTF-8 strings ordered bytewise; callers build them as `/`-separated paths so that a
/// prefix selects a collection. Revisions start at 1 with the first committed transaction; each
/// committed transaction takes exactly one new revision, shared by all its writes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads one key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Reads the keys that start with `prefix`, in key order, from one consistent snapshot.
    ///
    /// Only keys strictly greater than `start_after` are returned, when given. At most `limit`
    /// entries are returned (`0` means no limit); `more` tells whether the range went on.
    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<RangeResult>;

    /// Applies a transaction atomically: if every compare holds, all ops are applied under one
    /// new revision and [`TxnOutcome::Committed`] is returned once durable; otherwise nothing is
    /// written and [`TxnOutcome::Failed`] is returned.
    ///
    /// Dropping the returned future does not withdraw the transaction: it may still commit.
    async fn txn(&self, txn: Txn) -> Result<TxnOutcome>;

    /// Streams every change to keys under `prefix` with a revision greater than `after`.
    ///
    /// `after: None` starts from the current revision (only future changes). Asking for history
    /// the backend no longer keeps fails with [`StoreError::Compacted`]; the caller then re-reads
    /// with [`Store::range`] and watches from that snapshot's revision. A watcher that falls
    /// further behind than the backend keeps has its stream end with the same error, and a
    /// stream ends with [`StoreError::Closed`] once the store is dropped.
    async fn watch(&self, prefix: &str, after: Option<Revision>) -> Result<WatchStream>;

    /// The revision of the most recent committed transaction (0 for an empty store).
    async fn revision(&self) -> Result<Revision>;
}
