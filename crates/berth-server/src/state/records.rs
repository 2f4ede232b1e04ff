//! Typed reads and writes of JSON records, with compare-and-set retries.

use berth_api::EcsError;
use berth_store::{Compare, Op, Revision, Store, Txn, TxnOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::store_error;

/// How often an update retries when other writers keep changing its record. Contention that
/// outlasts this many rounds is a server fault, not something to spin on.
const MAX_ATTEMPTS: usize = 64;

/// A record as read, with the revision that last wrote it (for compare-and-set).
#[derive(Debug, Clone)]
pub struct Record<T> {
    /// The decoded value.
    pub value: T,
    /// The store revision that last wrote the record.
    pub revision: Revision,
}

/// A page of records in key order.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The records, each with its key.
    pub items: Vec<(String, T)>,
    /// Whether more records follow the last one.
    pub more: bool,
}

/// Encodes a record.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, EcsError> {
    serde_json::to_vec(value).map_err(|err| EcsError::server(format!("failed to encode a record: {err}")))
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(key: &str, bytes: &'a [u8]) -> Result<T, EcsError> {
    serde_json::from_slice(bytes).map_err(|err| {
        tracing::error!(key, %err, "stored record does not decode");
        EcsError::server(format!("The record at {key} is unreadable."))
    })
}

/// Reads one record.
pub async fn get<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<Record<T>>, EcsError> {
    let Some(kv) = store.get(key).await.map_err(store_error)? else {
        return Ok(None);
    };
    Ok(Some(Record { value: decode(key, &kv.value)?, revision: kv.mod_revision }))
}

/// Reads up to `limit` records under `prefix` after `start_after` (`limit` 0: all of them).
pub async fn list<T: DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Page<T>, EcsError> {
    let range = store.range(prefix, start_after, limit).await.map_err(store_error)?;
    let items = range
        .kvs
        .into_iter()
        .map(|kv| Ok((kv.key.clone(), decode(&kv.key, &kv.value)?)))
        .collect::<Result<Vec<_>, EcsError>>()?;
    Ok(Page { items, more: range.more })
}

/// A page of the records under `prefix` after `after` that `keep` accepts, at most `limit` of them,
/// with the key to continue after when more may follow. Records that `keep` rejects are skipped
/// without counting, so a page is full whenever enough records match.
pub async fn filtered_page<T, F>(
    store: &dyn Store,
    prefix: &str,
    mut after: Option<String>,
    limit: usize,
    mut keep: F,
) -> Result<(Vec<(String, T)>, Option<String>), EcsError>
where
    T: DeserializeOwned,
    F: FnMut(&T) -> bool,
{
    const BATCH: usize = 256;
    let mut items = Vec::new();
    loop {
        let page = list::<T>(store, prefix, after.as_deref(), BATCH.max(limit)).await?;
        let batch_len = page.items.len();
        for (index, (key, value)) in page.items.into_iter().enumerate() {
            after = Some(key.clone());
            if keep(&value) {
                items.push((key, value));
                if items.len() == limit {
                    let more = page.more || index + 1 < batch_len;
                    return Ok((items, if more { after } else { None }));
                }
            }
        }
        if !page.more {
            return Ok((items, None));
        }
    }
}

/// Whether any key lies under `prefix`.
pub async fn any_under(store: &dyn Store, prefix: &str) -> Result<bool, EcsError> {
    Ok(!store.range(prefix, None, 1).await.map_err(store_error)?.kvs.is_empty())
}

/// Writes one record unconditionally.
pub async fn put<T: Serialize>(store: &dyn Store, key: &str, value: &T) -> Result<Revision, EcsError> {
    commit(store, Txn::new().then(Op::put(key, encode(value)?)))
        .await?
        .ok_or_else(|| EcsError::server("an unconditional write was refused"))
}

/// Applies a transaction, returning its revision, or `None` when a compare failed.
pub async fn commit(store: &dyn Store, txn: Txn) -> Result<Option<Revision>, EcsError> {
    match store.txn(txn).await.map_err(store_error)? {
        TxnOutcome::Committed { revision } => Ok(Some(revision)),
        TxnOutcome::Failed => Ok(None),
    }
}

/// Reads a record, lets `change` decide its new value, and writes it back if nobody wrote it in
/// between; otherwise reads again and retries. `change` must therefore be a pure function of the
/// record it is given. It returns the new value to write, or an error that aborts with nothing
/// written.
pub async fn update<T, F>(store: &dyn Store, key: &str, mut change: F) -> Result<T, EcsError>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(Option<T>) -> Result<T, EcsError>,
{
    for _ in 0..MAX_ATTEMPTS {
        let current = get::<T>(store, key).await?;
        let revision = current.as_ref().map_or(0, |record| record.revision);
        let new = change(current.map(|record| record.value))?;
        let txn = Txn::new().when(Compare::unchanged(key, revision)).then(Op::put(key, encode(&new)?));
        if commit(store, txn).await?.is_some() {
            return Ok(new);
        }
    }
    Err(EcsError::server(format!("The record at {key} is changing too fast to update; try again.")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_store::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn concurrent_updates_lose_nothing() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    update::<u64, _>(&*store, "/n", |n| Ok(n.unwrap_or(0) + 1)).await.expect("update");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let record = get::<u64>(&*store, "/n").await.expect("read").expect("present");
        assert_eq!(record.value, 160);
    }

    #[tokio::test]
    async fn an_aborted_update_writes_nothing() {
        let store = MemoryStore::new();
        let result = update::<u64, _>(&store, "/n", |_| Err(EcsError::client("no"))).await;
        assert!(result.is_err());
        assert!(get::<u64>(&store, "/n").await.expect("read").is_none());
    }
}
