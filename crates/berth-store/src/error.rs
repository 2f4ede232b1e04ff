//! Store errors.

/// What can go wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The watch asked for history older than the backend keeps.
    #[error("revision {requested} is compacted; the oldest revision kept is {oldest}")]
    Compacted {
        /// The revision asked for.
        requested: u64,
        /// The oldest revision still available to a watch.
        oldest: u64,
    },
    /// The backend failed (disk, corruption, shutdown).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// The store was closed.
    #[error("store is closed")]
    Closed,
}
