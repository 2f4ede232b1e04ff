//! State a server keeps in memory beside a store, one value per store and name (a cluster's
//! placement snapshot, its task counts), for as long as the store lives.
//!
//! A store is known by a weak reference, which also keeps its address from being reused by
//! another store while the entry exists; the entries of dropped stores go the next time any
//! value is looked up. Tests open many stores in one process, and none of them sees another's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use berth_store::Store;

/// Values of type `T` by store and name.
pub(crate) struct PerStore<T> {
    stores: Mutex<Vec<Known<T>>>,
}

/// One store, known by a weak reference, and its values by name.
type Known<T> = (Weak<dyn Store>, Arc<Mutex<HashMap<String, Arc<T>>>>);

impl<T> PerStore<T> {
    /// An empty registry (a `static` holds each kind).
    pub(crate) const fn new() -> Self {
        PerStore { stores: Mutex::new(Vec::new()) }
    }

    /// The value named `name` of `store`, made by `make` the first time it is asked for.
    pub(crate) fn get(&self, store: &Arc<dyn Store>, name: &str, make: impl FnOnce() -> T) -> Arc<T> {
        let values = {
            let mut stores = lock(&self.stores);
            stores.retain(|(known, _)| known.strong_count() > 0);
            match stores.iter().find(|(known, _)| std::ptr::addr_eq(known.as_ptr(), Arc::as_ptr(store))) {
                Some((_, values)) => values.clone(),
                None => {
                    let values = Arc::new(Mutex::new(HashMap::new()));
                    stores.push((Arc::downgrade(store), values.clone()));
                    values
                }
            }
        };
        let mut values = lock(&values);
        if let Some(value) = values.get(name) {
            return value.clone();
        }
        let value = Arc::new(make());
        values.insert(name.to_string(), value.clone());
        value
    }
}

/// Locks `mutex`, also after a panic in another holder: every critical section of this state
/// leaves its data consistent at each step, so a panic in one does not make the data wrong.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use berth_store::MemoryStore;

    use super::*;

    #[test]
    fn stores_are_told_apart_and_forgotten_when_dropped() {
        let registry: PerStore<Mutex<u32>> = PerStore::new();
        let first: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let second: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let a = registry.get(&first, "c", Mutex::default);
        *lock(&a) = 7;
        assert_eq!(*lock(&registry.get(&first, "c", Mutex::default)), 7, "one value per store and name");
        assert!(!Arc::ptr_eq(&a, &registry.get(&second, "c", Mutex::default)), "each store has its own");
        assert!(!Arc::ptr_eq(&a, &registry.get(&first, "d", Mutex::default)), "each name has its own");
        let gone = Arc::downgrade(&first);
        drop(first);
        registry.get(&second, "c", Mutex::default);
        let stores = lock(&registry.stores);
        assert_eq!(stores.len(), 1);
        assert!(stores.iter().all(|(known, _)| !std::ptr::addr_eq(known.as_ptr(), gone.as_ptr())));
    }
}
