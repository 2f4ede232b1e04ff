//! The backend-independent meaning of a transaction and of a range read.
//!
//! Both backends keep their keys in an ordered map of their own (a `BTreeMap`, a redb table) and
//! hand it to these functions through [`KvState`], so the rules for compares, revisions,
//! `create_revision`/`version` bookkeeping and the events a transaction produces are written once.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::{Compare, Event, EventKind, KeyValue, Op, Result, Revision, Txn};

/// What a key's history says of it, without its value: all that compares and puts need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub create_revision: Revision,
    pub mod_revision: Revision,
    pub version: u64,
}

impl Stamp {
    /// The revisions of a key as read whole.
    pub fn of(kv: &KeyValue) -> Stamp {
        Stamp { create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version }
    }

    /// The key as stored with these revisions and `value`.
    pub fn with(self, key: String, value: Vec<u8>) -> KeyValue {
        KeyValue {
            key,
            value: value.into(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
        }
    }
}

/// Point access to a backend's current keys, as a transaction being applied sees them.
pub(crate) trait KvState {
    /// Reads one key.
    fn load(&mut self, key: &str) -> Result<Option<KeyValue>>;
    /// Reads one key's revisions without copying its value: the writer's hot path, since a
    /// compare or a put never looks at the old value (only a delete's event carries it).
    fn stamp(&mut self, key: &str) -> Result<Option<Stamp>>;
    /// Writes one key (insert or overwrite).
    fn save(&mut self, kv: &KeyValue) -> Result<()>;
    /// Removes one key that is known to exist.
    fn remove(&mut self, key: &str) -> Result<()>;
}

/// A key touched by the transaction being applied: what it was before and what it is now.
struct Touched {
    /// The key as stored before this transaction.
    before: Option<Stamp>,
    /// The key's revisions once the ops so far are applied (`None`: absent).
    current: Option<Stamp>,
    /// The value the last put gave it.
    value: Vec<u8>,
}

/// Applies `txn` to `state` under `revision` if its compares hold.
///
/// Returns `None` (and writes nothing) when a compare fails, otherwise the transaction's events:
/// one per key whose net state changed, in key order. The transaction is taken by value so that
/// each put's value moves into its event instead of being copied.
pub(crate) fn apply_txn<S: KvState + ?Sized>(
    state: &mut S,
    txn: Txn,
    revision: Revision,
) -> Result<Option<Vec<Event>>> {
    let Some(mut compared) = compares_hold(state, &txn.compares)? else {
        return Ok(None);
    };
    // Ops are folded into a per-key overlay first, so that a key written several times is
    // stored once and gets one event describing its net change.
    let mut touched: BTreeMap<String, Touched> = BTreeMap::new();
    for op in txn.ops {
        let (key, value) = match op {
            Op::Put { key, value } => (key, Some(value)),
            Op::Delete { key } => (key, None),
        };
        let slot = match touched.entry(key) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                // A key the compares looked at is not looked up again: most puts are guarded
                // by a compare on their own key, and each lookup is a descent of the tree.
                let before = match compared.remove(slot.key().as_str()) {
                    Some(stamp) => stamp,
                    None => state.stamp(slot.key())?,
                };
                slot.insert(Touched { before, current: before, value: Vec::new() })
            }
        };
        match value {
            Some(value) => {
                slot.current = Some(put(slot.current, revision));
                slot.value = value;
            }
            None => {
                slot.current = None;
                slot.value = Vec::new();
            }
        }
    }
    let mut events = Vec::with_capacity(touched.len());
    for (key, Touched { before, current, value }) in touched {
        match (before, current) {
            (_, Some(stamp)) => {
                let kv = stamp.with(key, value);
                state.save(&kv)?;
                events.push(Event { kind: EventKind::Put, kv });
            }
            (Some(_), None) => {
                // A delete's event carries the value it removed: the one old value read here.
                let Some(mut last) = state.load(&key)? else { continue };
                state.remove(&key)?;
                last.mod_revision = revision;
                events.push(Event { kind: EventKind::Delete, kv: last });
            }
            (None, None) => {}
        }
    }
    Ok(Some(events))
}

/// The stamp of each key compared, if every compare holds against the current state (`None`
/// at the first that does not).
fn compares_hold<'c, S: KvState + ?Sized>(
    state: &mut S,
    compares: &'c [Compare],
) -> Result<Option<HashMap<&'c str, Option<Stamp>>>> {
    let mut stamps = HashMap::with_capacity(compares.len());
    for compare in compares {
        let current = state.stamp(compare.key())?;
        let holds = match compare {
            Compare::ModRevision { revision: 0, .. } => current.is_none(),
            Compare::ModRevision { revision, .. } => current.is_some_and(|kv| kv.mod_revision == *revision),
            Compare::Exists { .. } => current.is_some(),
        };
        if !holds {
            return Ok(None);
        }
        stamps.insert(compare.key(), current);
    }
    Ok(Some(stamps))
}

/// The revisions of a key after a put at `revision` over `current`.
fn put(current: Option<Stamp>, revision: Revision) -> Stamp {
    match current {
        // Already written by this transaction: the transaction counts as a single write.
        Some(stamp) if stamp.mod_revision == revision => stamp,
        Some(stamp) => Stamp { mod_revision: revision, version: stamp.version + 1, ..stamp },
        None => Stamp { create_revision: revision, mod_revision: revision, version: 1 },
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
