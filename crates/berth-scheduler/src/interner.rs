//! The strings of one cluster (attribute names and values, task groups), numbered, so that a
//! placement compares numbers where it would compare strings on every instance.
//!
//! Numbers are counted by how many prepared instances use them and freed when none does, so a
//! cluster whose tasks or attributes change over months keeps only the strings it holds now.
//! A freed number is given to the next new string: nothing keeps a number between placements
//! but the prepared instances, and a placement looks up the numbers it needs when it starts.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    ids: HashMap<Box<str>, u32>,
    /// By number: the string and how many uses it has (a free number has none).
    entries: Vec<(Box<str>, u32)>,
    /// Numbers no string has now.
    free: Vec<u32>,
}

impl Interner {
    /// The number of `text`, counting one more use of it.
    pub(crate) fn acquire(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            self.entries[id as usize].1 += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = (text.into(), 1);
                id
            }
            None => {
                self.entries.push((text.into(), 1));
                (self.entries.len() - 1) as u32
            }
        };
        self.ids.insert(text.into(), id);
        id
    }

    /// Counts one use of `id` fewer, freeing it when none is left.
    pub(crate) fn release(&mut self, id: u32) {
        let Some((text, uses)) = self.entries.get_mut(id as usize) else { return };
        if *uses == 0 {
            return;
        }
        *uses -= 1;
        if *uses == 0 {
            self.ids.remove(&**text);
            *text = Box::default();
            self.free.push(id);
        }
    }

    /// The number of `text`, if a prepared instance uses it.
    pub(crate) fn get(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// How many strings have numbers now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shared_and_freed_with_their_last_use() {
        let mut strings = Interner::default();
        let a = strings.acquire("zone-a");
        assert_eq!(strings.acquire("zone-a"), a);
        let b = strings.acquire("zone-b");
        assert_ne!(a, b);
        strings.release(a);
        assert_eq!(strings.get("zone-a"), Some(a), "one use left");
        strings.release(a);
        assert_eq!(strings.get("zone-a"), None);
        assert_eq!(strings.len(), 1);
        let c = strings.acquire("zone-c");
        assert_eq!(c, a, "a freed number is reused");
        assert_eq!(strings.get("zone-b"), Some(b));
        // Releasing more than was acquired changes nothing.
        strings.release(a);
        strings.release(a);
        assert_eq!(strings.get("zone-c"), None);
        assert_eq!(strings.acquire("zone-c"), a);
    }
}
