//! Which session of each container instance is the current one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The current session generation of each instance (by instance ARN).
#[derive(Clone, Default)]
pub struct Connections {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    current: HashMap<String, u64>,
}

impl Connections {
    /// Records a new session of `instance_arn`, which supersedes any earlier one; returns its
    /// generation.
    pub fn open(&self, instance_arn: &str) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.next += 1;
        let generation = inner.next;
        inner.current.insert(instance_arn.to_string(), generation);
        generation
    }

    /// Ends a session; `true` when it was the instance's current one (so the instance is now
    /// disconnected), `false` when a newer session has taken over.
    pub fn close(&self, instance_arn: &str, generation: u64) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.current.get(instance_arn) == Some(&generation) {
            inner.current.remove(instance_arn);
            true
        } else {
            false
        }
    }

    /// Whether `generation` is still the current session of `instance_arn`.
    pub fn is_current(&self, instance_arn: &str, generation: u64) -> bool {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.current.get(instance_arn) == Some(&generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_superseded_session_does_not_disconnect_its_successor() {
        let connections = Connections::default();
        let first = connections.open("i");
        let second = connections.open("i");
        assert!(!connections.close("i", first));
        assert!(connections.is_current("i", second));
        assert!(connections.close("i", second));
    }
}
