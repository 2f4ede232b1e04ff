//! The backend-independent meaning of a transaction and of a range read.
//!
//! Both backends keep their keys in an ordered map of their own (a `BTreeMap`, a redb table) and
//! hand it to these functions through [`KvState`], so the rules for compares, revisions,
//! `create_revision`/`version` bookkeeping and the events a transaction produces are written once.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Bound;

use crate::{Compare, Event, EventKind, KeyValue, Op, Result, Revision, Txn};

/// Point access to a backend's current keys, as a transaction being applied sees them.
pub(crate) trait KvState {
    /// Reads one key.
    fn load(&mut self, key: &str) -> Result<Option<KeyValue>>;
    /// Writes one key (insert or overwrite).
    fn save(&mut self, kv: &KeyValue) -> Result<()>;
    /// Removes one key that is known to exist.
    fn remove(&mut self, key: &str) -> Result<()>;
}

/// A key touched by the transaction being applied: what it was before and what it is now.
struct Touched {
    before: Option<KeyValue>,
    after: Option<KeyValue>,
}

/// Applies `txn` to `state` under `revision` if its compares hold.
///
/// Returns `None` (and writes nothing) when a compare fails, otherwise the transaction's events:
/// one per key whose net state changed, in key order.
pub(crate) fn apply_txn<S: KvState + ?Sized>(
    state: &mut S,
    txn: &Txn,
    revision: Revision,
) -> Result<Option<Vec<Event>>> {
    if !compares_hold(state, &txn.compares)? {
        return Ok(None);
    }
    // Ops are folded into a per-key overlay first, so that a key written several times is
    // stored once and gets one event describing its net change.
    let mut touched: BTreeMap<&str, Touched> = BTreeMap::new();
    for op in &txn.ops {
        let slot = match touched.entry(op.key()) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                let before = state.load(op.key())?;
                slot.insert(Touched { after: before.clone(), before })
            }
        };
        slot.after = match op {
            Op::Put { key, value } => Some(put(slot.after.take(), key, value, revision)),
            Op::Delete { .. } => None,
        };
    }
    let mut events = Vec::with_capacity(touched.len());
    for (key, Touched { before, after }) in touched {
        match (before, after) {
            (_, Some(kv)) => {
                state.save(&kv)?;
                events.push(Event { kind: EventKind::Put, kv });
            }
            (Some(mut last), None) => {
                state.remove(key)?;
                last.mod_revision = revision;
                events.push(Event { kind: EventKind::Delete, kv: last });
            }
            (None, None) => {}
        }
    }
    Ok(Some(events))
}

/// Whether every compare holds against the current state.
fn compares_hold<S: KvState + ?Sized>(state: &mut S, compares: &[Compare]) -> Result<bool> {
    for compare in compares {
        let current = state.load(compare.key())?;
        let holds = match compare {
            Compare::ModRevision { revision: 0, .. } => current.is_none(),
            Compare::ModRevision { revision, .. } => current.is_some_and(|kv| kv.mod_revision == *revision),
            Compare::Exists { .. } => current.is_some(),
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The state of `key` after putting `value` at `revision` over `current`.
fn put(current: Option<KeyValue>, key: &str, value: &[u8], revision: Revision) -> KeyValue {
    match current {
        // Already written by this transaction: the transaction counts as a single write.
        Some(kv) if kv.mod_revision == revision => KeyValue { value: value.to_vec(), ..kv },
        Some(kv) => KeyValue { value: value.to_vec(), mod_revision: revision, version: kv.version + 1, ..kv },
        None => KeyValue {
            key: key.to_owned(),
            value: value.to_vec(),
            create_revision: revision,
            mod_revision: revision,
            version: 1,
        },
    }
}

/// Where a range read starts in key order: the first key after `start_after`, but never before
/// `prefix` (every key with the prefix sorts at or after it).
pub(crate) fn range_start<'a>(prefix: &'a str, start_after: Option<&'a str>) -> Bound<&'a str> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// Takes one page of a range read from entries iterated in key order from [`range_start`].
///
/// Stops at the first key without `prefix` (keys with a common prefix are contiguous). Returns
/// the page and whether another matching entry followed it.
pub(crate) fn take_page<I>(entries: I, prefix: &str, limit: usize) -> Result<(Vec<KeyValue>, bool)>
where
    I: Iterator<Item = Result<KeyValue>>,
{
    let mut kvs = Vec::new();
    for entry in entries {
        let kv = entry?;
        if !kv.key.starts_with(prefix) {
            break;
        }
        if limit != 0 && kvs.len() == limit {
            return Ok((kvs, true));
        }
        kvs.push(kv);
    }
    Ok((kvs, false))
}
