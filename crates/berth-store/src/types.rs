//! The values that cross the [`crate::Store`] interface.

/// A store-wide logical clock: each committed transaction takes the next one.
pub type Revision = u64;

/// One key as stored, with the revisions that describe its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value bytes, shared: a watch event reaches every watcher of its prefix, and a copy of
    /// a whole record for each was a visible share of a busy server's time.
    pub value: bytes::Bytes,
    /// The revision of the transaction that created the key (since its last deletion).
    pub create_revision: Revision,
    /// The revision of the transaction that last wrote the key.
    pub mod_revision: Revision,
    /// How many times the key was written since it was created, starting at 1.
    pub version: u64,
}

/// What a range read returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeResult {
    /// The entries, in key order.
    pub kvs: Vec<KeyValue>,
    /// Whether more entries matched beyond the limit.
    pub more: bool,
    /// The store revision the read saw.
    pub revision: Revision,
}

/// A condition a transaction requires of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key's `mod_revision` equals the given revision. `0` means the key must be absent.
    ModRevision {
        /// The key compared.
        key: String,
        /// The revision it must have been last written at.
        revision: Revision,
    },
    /// The key exists, whatever its revision.
    Exists {
        /// The key compared.
        key: String,
    },
}

impl Compare {
    /// The key must be absent.
    pub fn absent(key: impl Into<String>) -> Self {
        Compare::ModRevision { key: key.into(), revision: 0 }
    }

    /// The key must be unchanged since `revision` (0: absent).
    pub fn unchanged(key: impl Into<String>, revision: Revision) -> Self {
        Compare::ModRevision { key: key.into(), revision }
    }

    /// The key must exist.
    pub fn exists(key: impl Into<String>) -> Self {
        Compare::Exists { key: key.into() }
    }

    /// The key this condition is about.
    pub fn key(&self) -> &str {
        match self {
            Compare::ModRevision { key, .. } | Compare::Exists { key } => key,
        }
    }
}

/// A write inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Sets a key to a value.
    Put {
        /// The key written.
        key: String,
        /// The new value.
        value: Vec<u8>,
    },
    /// Removes a key; removing an absent key is not an error and produces no event.
    Delete {
        /// The key removed.
        key: String,
    },
}

impl Op {
    /// Sets `key` to `value`.
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Op::Put { key: key.into(), value: value.into() }
    }

    /// Removes `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        Op::Delete { key: key.into() }
    }

    /// The key this write is about.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
}

/// An all-or-nothing set of writes guarded by compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    /// Conditions that must all hold for the writes to apply.
    pub compares: Vec<Compare>,
    /// The writes, applied in order under one revision. A key may appear more than once; the
    /// last write wins, and the transaction counts as one write of that key (its `version` goes up
    /// by one at most). A delete followed by a put of the same key re-creates it
    /// (`create_revision` is this revision, `version` 1). A transaction with no ops whose
    /// compares hold still commits and takes a new revision.
    pub ops: Vec<Op>,
}

impl Txn {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a condition.
    pub fn when(mut self, compare: Compare) -> Self {
        self.compares.push(compare);
        self
    }

    /// Adds a write.
    pub fn then(mut self, op: Op) -> Self {
        self.ops.push(op);
        self
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Every compare held; the writes are durable at this revision.
    Committed {
        /// The revision the transaction took.
        revision: Revision,
    },
    /// A compare did not hold; nothing was written.
    Failed,
}

/// What happened to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or overwritten; `kv` holds its new state.
    Put,
    /// The key was removed; `kv` holds its last value with `mod_revision` set to the deletion.
    Delete,
}

/// One change seen by a watch.
///
/// A committed transaction produces at most one event per key it touched, describing the key's
/// net change (a put then a delete of a key that did not exist produces none); the events of one
/// transaction share its revision and come in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after a put, or before a delete (with the deleting revision as `mod_revision`).
    pub kv: KeyValue,
}

impl Event {
    /// The revision of the transaction that made this change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}
