//! Watches: the history of recent events and the streams that read it.
//!
//! Every backend publishes each committed transaction's events, in revision order, to one
//! [`Hub`]. The hub keeps them in a bounded ring (the watch history) and each [`WatchStream`] is
//! only a cursor into that ring, so:
//! - replay and live delivery are the same read, done under the hub's lock that publishing also
//!   takes: nothing committed while a watch is being set up can be missed or seen twice;
//! - writers never wait for watchers and watchers hold no events of their own: a watcher that
//!   falls so far behind that its position leaves the ring gets [`StoreError::Compacted`] and
//!   must re-list, and memory stays bounded by the ring's size;
//! - a publish wakes only the waiting watchers whose prefix one of its events falls under (the
//!   hub indexes them by prefix), and tells each exactly which of the published events are
//!   for it. A control plane holds a watch per agent session, thousands of them, each on its own
//!   instance's prefix: waking them all on every commit to scan events that are not theirs cost
//!   more than the rest of the server together, and so did each woken watcher scanning the rest
//!   of a batch of hundreds of events for the one or two that were its own;
//! - a woken watcher stays on the waiting list until it runs, so the publishes between its wake
//!   and its poll go on noting its events (without waking it again). When it runs it takes the
//!   noted events and skips everything else published since it started waiting: by construction
//!   none of that was for it, so its leaving the ring is no reason to report it compacted. Under
//!   load a watcher runs several publishes after its wake, and scanning what they published,
//!   with a prefix compare per event, was the server's hottest loop.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::Stream;

use crate::{Event, Result, Revision, StoreError};

/// How many events the watch history keeps unless configured otherwise.
///
/// The history exists so that a watcher that reconnects, or falls briefly behind, resumes without
/// re-listing; a watcher further behind than this re-lists, which is always correct. Each event
/// holds its value, so the history costs memory in proportion: 10,000 events of a few KiB is tens
/// of MiB, where 100,000 made the server's footprint grow by hundreds of MiB under write load.
pub const DEFAULT_WATCH_HISTORY: usize = 10_000;

/// How many ring entries one poll examines before yielding, so that a watcher on a quiet prefix
/// behind a busy one holds the hub's lock only briefly at a time.
const SCAN_CHUNK: usize = 4096;

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section
/// here leaves the state valid at each step), so poisoning is not an error.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The watch history of one store and the wakers of the watchers waiting on it.
pub(crate) struct Hub {
    state: Mutex<HubState>,
}

struct HubState {
    /// Recent events in revision order; events of one revision are adjacent.
    ring: VecDeque<Arc<Event>>,
    /// The sequence number of `ring[0]`; every published event gets the next one.
    front_seq: u64,
    /// The most events `ring` holds.
    capacity: usize,
    /// Every event with a revision above this one is still in `ring`.
    history_start: Revision,
    /// The last published revision.
    current: Revision,
    /// The watchers that have read everything published and wait for an event under their
    /// prefix (or were woken by one and have not run yet), by watcher id.
    waiting: HashMap<u64, Waiter>,
    /// The ids of the waiting watchers, by prefix.
    by_prefix: HashMap<Arc<str>, Vec<u64>>,
    /// How many waiting watchers have a prefix of each length: the lengths at which an event's
    /// key is looked up in `by_prefix`.
    lengths: BTreeMap<usize, usize>,
    next_watcher: u64,
    closed: bool,
}

/// A watcher waiting for an event under its prefix.
struct Waiter {
    prefix: Arc<str>,
    waker: Waker,
    /// The sequence numbers of the events under its prefix published since it started waiting,
    /// in order: none until a publish wakes it. Once the first of them has left the ring the
    /// watcher is compacted whatever follows, so no more are noted.
    noted: Vec<u64>,
}

impl HubState {
    /// The sequence number the next published event gets.
    fn end_seq(&self) -> u64 {
        self.front_seq + self.ring.len() as u64
    }

    fn add_waiter(&mut self, id: u64, prefix: &Arc<str>, waker: &Waker) {
        let waiter = Waiter { prefix: prefix.clone(), waker: waker.clone(), noted: Vec::new() };
        if self.waiting.insert(id, waiter).is_none() {
            self.by_prefix.entry(prefix.clone()).or_default().push(id);
            *self.lengths.entry(prefix.len()).or_default() += 1;
        }
    }

    /// Takes watcher `id` off the waiting list; returns it if it was on it.
    fn remove_waiter(&mut self, id: u64) -> Option<Waiter> {
        let waiter = self.waiting.remove(&id)?;
        if let Some(ids) = self.by_prefix.get_mut(&waiter.prefix) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_prefix.remove(&waiter.prefix);
            }
        }
        if let Some(count) = self.lengths.get_mut(&waiter.prefix.len()) {
            *count -= 1;
            if *count == 0 {
                self.lengths.remove(&waiter.prefix.len());
            }
        }
        Some(waiter)
    }

    /// Notes the event at `seq` for every waiting watcher whose prefix `key` falls under; a
    /// watcher noted for the first time since it started waiting is woken (its waker goes into
    /// `wakers`), and stays waiting: what is published before it runs is noted for it too.
    fn note_for_waiters(&mut self, key: &str, seq: u64, wakers: &mut Vec<Waker>) {
        if self.waiting.is_empty() {
            return;
        }
        let HubState { lengths, by_prefix, waiting, front_seq, .. } = self;
        for length in lengths.range(..=key.len()).map(|(length, _)| *length) {
            let Some(ids) = key.get(..length).and_then(|prefix| by_prefix.get(prefix)) else { continue };
            for id in ids {
                let Some(waiter) = waiting.get_mut(id) else { continue };
                match waiter.noted.first() {
                    None => wakers.push(waiter.waker.clone()),
                    Some(first) if first < front_seq => continue,
                    Some(_) => {}
                }
                waiter.noted.push(seq);
            }
        }
    }
}

impl Hub {
    /// A hub whose history starts at `current` (the store's revision when it was opened) and
    /// keeps at most `capacity` events (at least one).
    pub(crate) fn new(current: Revision, capacity: usize) -> Self {
        let state = HubState {
            ring: VecDeque::new(),
            front_seq: 0,
            capacity: capacity.max(1),
            history_start: current,
            current,
            waiting: HashMap::new(),
            by_prefix: HashMap::new(),
            lengths: BTreeMap::new(),
            next_watcher: 0,
            closed: false,
        };
        Hub { state: Mutex::new(state) }
    }

    /// Publishes committed transactions, given as `(revision, events)` in increasing revision
    /// order and above any revision published before. Callers serialize their calls.
    pub(crate) fn publish(&self, commits: impl IntoIterator<Item = (Revision, Vec<Event>)>) {
        let mut wakers: Vec<Waker> = Vec::new();
        {
            let mut state = lock(&self.state);
            for (revision, events) in commits {
                state.current = revision;
                for event in events {
                    let seq = state.end_seq();
                    state.note_for_waiters(&event.kv.key, seq, &mut wakers);
                    state.ring.push_back(Arc::new(event));
                }
            }
            while state.ring.len() > state.capacity {
                let Some(evicted) = state.ring.pop_front() else {
                    break;
                };
                state.front_seq += 1;
                state.history_start = state.history_start.max(evicted.revision());
            }
        }
        // Woken outside the lock: a woken watcher's first move is to take it.
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Ends every watch once it has read what was published: the store is gone.
    pub(crate) fn close(&self) {
        let wakers: Vec<Waker> = {
            let mut state = lock(&self.state);
            state.closed = true;
            // A waiting watcher, when it runs, takes what was noted for it and finds the hub
            // closed.
            state.waiting.values().map(|waiter| waiter.waker.clone()).collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Starts a watch of `prefix` after `after` (`None`: after the last published revision).
    pub(crate) fn subscribe(self: &Arc<Self>, prefix: &str, after: Option<Revision>) -> Result<WatchStream> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(StoreError::Closed);
        }
        let after = after.unwrap_or(state.current);
        if after < state.history_start {
            return Err(StoreError::Compacted { requested: after, oldest: state.history_start });
        }
        let skip = state.ring.partition_point(|event| event.revision() <= after);
        let id = state.next_watcher;
        state.next_watcher += 1;
        Ok(WatchStream {
            hub: Arc::clone(self),
            id,
            prefix: Arc::from(prefix),
            after,
            cursor: state.front_seq + skip as u64,
            seen_through: after,
            ready: VecDeque::new(),
            finished: false,
        })
    }
}

/// A stream of the changes under a prefix, in revision order, without gaps or duplicates.
///
/// Yields `Ok(event)` for every change after the revision the watch started from. It ends with
/// one `Err` and then `None`: [`StoreError::Compacted`] when the watcher fell further behind than
/// the store's watch history (re-list with [`crate::Store::range`] and watch again from that
/// snapshot's revision), or [`StoreError::Closed`] when the store was dropped. Read it with
/// [`futures::StreamExt::next`] or [`WatchStream::next`].
pub struct WatchStream {
    hub: Arc<Hub>,
    id: u64,
    prefix: Arc<str>,
    /// Only events above this revision are wanted (it can be ahead of the store).
    after: Revision,
    /// The sequence number of the next ring entry to examine.
    cursor: u64,
    /// Every matching event up to this revision has been queued in `ready`.
    seen_through: Revision,
    /// Matching events taken from the ring and not yet yielded.
    ready: VecDeque<Arc<Event>>,
    finished: bool,
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream")
            .field("prefix", &self.prefix)
            .field("seen_through", &self.seen_through)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl WatchStream {
    /// The next change, or `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        futures::StreamExt::next(self).await
    }

    /// The revision through which the stream has examined the history: every change under its
    /// prefix up to it has been yielded or is queued to be. A reader that polls until the stream
    /// is pending and finds this unchanged has seen every change published so far, which is how
    /// a cache catches up with the store without waiting for the next change.
    pub fn seen_through(&self) -> Revision {
        self.seen_through
    }

    /// Moves the matching events of the next stretch of the ring into `ready`. When there are
    /// none left to read, registers `waker` for the next publish, under the same lock that
    /// publishing takes, so that no publish can slip in between.
    fn scan(&mut self, waker: &Waker) -> Scan {
        let mut state = lock(&self.hub.state);
        if let Some(Waiter { noted: seqs, .. }) = state.remove_waiter(self.id) {
            // Every event under its prefix published since it began waiting was noted for it:
            // take those and go on at the end. If the first has left the ring, it is compacted.
            let front = state.front_seq;
            match seqs.first() {
                Some(&first) if first < front => self.cursor = self.cursor.max(first),
                _ => {
                    let after = self.after;
                    let events = seqs.iter().filter_map(|seq| state.ring.get((seq - front) as usize));
                    self.ready.extend(events.filter(|e| e.revision() > after).cloned());
                    self.cursor = self.cursor.max(state.end_seq());
                }
            }
        }
        if self.cursor < state.front_seq {
            let (requested, oldest) = (self.seen_through, state.history_start);
            return Scan::Ended(StoreError::Compacted { requested, oldest });
        }
        let start = usize::try_from(self.cursor - state.front_seq)
            .expect("the cursor is within the ring, whose length is a usize");
        let end = state.ring.len().min(start + SCAN_CHUNK);
        let (prefix, after) = (&*self.prefix, self.after);
        let matching =
            (state.ring.range(start..end)).filter(|e| e.revision() > after && e.kv.key.starts_with(prefix));
        self.ready.extend(matching.cloned());
        self.cursor = state.front_seq + end as u64;
        // Revisions start at 1, so `next.revision() - 1` cannot underflow.
        let through = state.ring.get(end).map_or(state.current, |next| next.revision() - 1);
        self.seen_through = self.seen_through.max(through);
        if !self.ready.is_empty() {
            Scan::Queued
        } else if end < state.ring.len() {
            Scan::RingGoesOn
        } else if state.closed {
            Scan::Ended(StoreError::Closed)
        } else {
            state.add_waiter(self.id, &self.prefix, waker);
            Scan::Waiting
        }
    }
}

/// What [`WatchStream::scan`] found.
enum Scan {
    /// Events were queued in `ready`.
    Queued,
    /// Nothing matched in this stretch, but the ring goes on.
    RingGoesOn,
    /// Everything published was read; the waker is registered.
    Waiting,
    /// The stream ends with this error.
    Ended(StoreError),
}

impl Stream for WatchStream {
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ready.is_empty() && !this.finished {
            match this.scan(cx.waker()) {
                Scan::Queued => {}
                Scan::RingGoesOn => {
                    // Give the executor (and writers, who want the lock) a turn before going on.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Scan::Waiting => return Poll::Pending,
                Scan::Ended(error) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
        match this.ready.pop_front() {
            Some(event) => Poll::Ready(Some(Ok(Event::clone(&event)))),
            None => Poll::Ready(None), // only reached once finished
        }
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        let mut state = lock(&self.hub.state);
        state.remove_waiter(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, KeyValue};

    fn event(key: &str, revision: Revision) -> Event {
        let kv = KeyValue {
            key: key.into(),
            value: bytes::Bytes::new(),
            create_revision: revision,
            mod_revision: revision,
            version: 1,
        };
        Event { kind: EventKind::Put, kv }
    }

    #[test]
    fn evicting_part_of_a_revision_makes_it_the_oldest_kept() {
        let hub = Arc::new(Hub::new(0, 3));
        hub.publish([(1, vec![event("/a", 1)]), (2, vec![event("/a", 2), event("/b", 2)])]);
        assert!(hub.subscribe("", Some(0)).is_ok(), "nothing evicted yet");
        hub.publish([(3, vec![event("/a", 3)])]);
        // Revision 1 is gone: history starts after it.
        assert!(matches!(hub.subscribe("", Some(0)), Err(StoreError::Compacted { requested: 0, oldest: 1 })));
        hub.publish([(4, vec![event("/a", 4)])]);
        // Half of revision 2 is gone: watching after 1 would miss it.
        assert!(matches!(hub.subscribe("", Some(1)), Err(StoreError::Compacted { requested: 1, oldest: 2 })));
        assert!(hub.subscribe("", Some(2)).is_ok());
    }

    #[tokio::test]
    async fn a_lagging_watch_reports_how_far_it_got() {
        let hub = Arc::new(Hub::new(0, 4));
        let mut stream = hub.subscribe("/a", Some(0)).unwrap();
        hub.publish([(1, vec![event("/a", 1)]), (2, vec![event("/b", 2)])]);
        assert_eq!(stream.next().await.unwrap().unwrap().revision(), 1);
        hub.publish((3..10).map(|r| (r, vec![event("/a", r)])));
        match stream.next().await {
            Some(Err(StoreError::Compacted { requested: 2, oldest: 5 })) => {}
            other => panic!("expected Compacted {{ 2, 5 }}, got {other:?}"),
        }
        assert!(stream.next().await.is_none());
    }

    /// Counts the wakes of one watcher.
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Polls `stream` once with a waker that counts its wakes.
    fn poll_counting(stream: &mut WatchStream) -> (Poll<Option<Result<Event>>>, Arc<Wakes>) {
        let wakes = Arc::new(Wakes(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let poll = Pin::new(stream).poll_next(&mut Context::from_waker(&waker));
        (poll, wakes)
    }

    fn woken(wakes: &Wakes) -> usize {
        wakes.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_publish_wakes_only_the_watchers_it_is_for() {
        let hub = Arc::new(Hub::new(0, 100));
        let mut a = hub.subscribe("/i/a/", None).unwrap();
        let mut b = hub.subscribe("/i/b/", None).unwrap();
        let mut all = hub.subscribe("", None).unwrap();
        let (_, a_wakes) = poll_counting(&mut a);
        let (_, b_wakes) = poll_counting(&mut b);
        let (_, all_wakes) = poll_counting(&mut all);
        hub.publish([(1, vec![event("/i/a/t1", 1)]), (2, vec![event("/i/ab", 2)])]);
        assert_eq!((woken(&a_wakes), woken(&b_wakes), woken(&all_wakes)), (1, 0, 1));
        assert_eq!(a.next().await.unwrap().unwrap().kv.key, "/i/a/t1");
        hub.publish([(3, vec![event("/i/b/t2", 3)])]);
        assert_eq!(woken(&b_wakes), 1);
        assert_eq!(b.next().await.unwrap().unwrap().kv.key, "/i/b/t2");
        for revision in 1..=3 {
            assert_eq!(all.next().await.unwrap().unwrap().revision(), revision);
        }
    }

    #[tokio::test]
    async fn a_woken_watcher_gets_every_event_of_the_publish_for_it_and_what_came_after() {
        let hub = Arc::new(Hub::new(0, 100));
        let mut a = hub.subscribe("/i/a/", None).unwrap();
        assert!(poll_counting(&mut a).0.is_pending());
        let batch = vec![event("/i/b/1", 1), event("/i/a/1", 1), event("/i/b/2", 1), event("/i/a/2", 1)];
        hub.publish([(1, batch), (2, vec![event("/i/c/1", 2), event("/i/a/3", 2)])]);
        // Published after the wake and before the poll: noted for it without waking it again.
        hub.publish([(3, vec![event("/i/b/3", 3), event("/i/a/4", 3)])]);
        let mut keys = Vec::new();
        for _ in 0..4 {
            keys.push(a.next().await.unwrap().unwrap().kv.key);
        }
        assert_eq!(keys, ["/i/a/1", "/i/a/2", "/i/a/3", "/i/a/4"]);
        assert_eq!(a.seen_through(), 3);
        assert!(poll_counting(&mut a).0.is_pending());
    }

    #[tokio::test]
    async fn a_woken_watcher_whose_events_left_the_ring_is_compacted() {
        let hub = Arc::new(Hub::new(0, 2));
        let mut a = hub.subscribe("/a", None).unwrap();
        assert!(poll_counting(&mut a).0.is_pending());
        hub.publish([(1, vec![event("/a", 1)]), (2, vec![event("/b", 2)]), (3, vec![event("/b", 3)])]);
        assert!(matches!(a.next().await, Some(Err(StoreError::Compacted { .. }))));
    }

    #[tokio::test]
    async fn a_woken_watcher_is_compacted_when_an_event_noted_after_its_wake_left_the_ring() {
        let hub = Arc::new(Hub::new(0, 3));
        let mut a = hub.subscribe("/a", None).unwrap();
        let (_, wakes) = poll_counting(&mut a);
        hub.publish([(1, vec![event("/b", 1)])]);
        hub.publish([(2, vec![event("/a", 2)])]);
        hub.publish([(3, vec![event("/a", 3)])]);
        assert_eq!(woken(&wakes), 1, "woken once, by the first event for it");
        hub.publish((4..=6).map(|r| (r, vec![event("/b", r)])));
        match a.next().await {
            Some(Err(StoreError::Compacted { requested: 0, oldest: 3 })) => {}
            other => panic!("expected Compacted {{ 0, 3 }}, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn closing_keeps_what_was_noted_for_a_woken_watcher() {
        let hub = Arc::new(Hub::new(0, 10));
        let mut a = hub.subscribe("/a", None).unwrap();
        assert!(poll_counting(&mut a).0.is_pending());
        hub.publish([(1, vec![event("/a", 1)]), (2, vec![event("/b", 2)])]);
        hub.close();
        assert_eq!(a.next().await.unwrap().unwrap().revision(), 1);
        assert!(matches!(a.next().await, Some(Err(StoreError::Closed))));
        assert!(a.next().await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_watcher_is_not_compacted_by_history_that_was_not_for_it() {
        let hub = Arc::new(Hub::new(0, 4));
        let mut quiet = hub.subscribe("/quiet/", None).unwrap();
        assert!(poll_counting(&mut quiet).0.is_pending());
        hub.publish((1..=10).map(|r| (r, vec![event("/busy", r)])));
        // Polled without being woken (as a `select!` does): nothing for it, and no compaction.
        assert!(poll_counting(&mut quiet).0.is_pending());
        assert_eq!(quiet.seen_through(), 10);
        hub.publish((11..=20).map(|r| (r, vec![event("/busy", r)])));
        hub.publish([(21, vec![event("/quiet/x", 21)])]);
        assert_eq!(quiet.next().await.unwrap().unwrap().revision(), 21);
    }

    #[tokio::test]
    async fn closing_ends_a_waiting_watch_as_closed_not_compacted() {
        let hub = Arc::new(Hub::new(0, 2));
        let mut quiet = hub.subscribe("/quiet/", None).unwrap();
        assert!(poll_counting(&mut quiet).0.is_pending());
        hub.publish((1..=5).map(|r| (r, vec![event("/busy", r)])));
        hub.close();
        assert!(matches!(quiet.next().await, Some(Err(StoreError::Closed))));
    }

    #[tokio::test]
    async fn a_long_scan_yields_and_resumes() {
        let hub = Arc::new(Hub::new(0, SCAN_CHUNK * 3));
        let mut stream = hub.subscribe("/wanted", None).unwrap();
        let noise = (1..=2 * SCAN_CHUNK as u64).map(|r| (r, vec![event("/noise", r)]));
        hub.publish(noise);
        let last = 2 * SCAN_CHUNK as u64 + 1;
        hub.publish([(last, vec![event("/wanted", last)])]);
        assert_eq!(stream.next().await.unwrap().unwrap().revision(), last);
    }
}
