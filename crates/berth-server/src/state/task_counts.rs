//! How many of each cluster's tasks are in each status, kept in memory: what DescribeClusters
//! reports as `runningTasksCount` and `pendingTasksCount`.
//!
//! Counting them by reading every task record made each DescribeClusters cost in proportion to
//! the tasks the cluster holds: 0.8 s with 100,000 while they were being started, and hundreds of
//! megabytes of records read at once. Instead the first DescribeClusters of a cluster reads its
//! task records once, a page at a time, and a watch of them keeps the counts from then on: every
//! change moves one task from one status to another. A drainer takes the watch's events every
//! [`DRAIN_EVERY`], so that the store's bounded watch history does not run past it between
//! reads, and every read drains what has been published before it counts: it sees every write
//! acknowledged before it began, as a read of the records would. Should the history run past
//! the watch anyway, the next read reads the records again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_store::{Event, EventKind, Store, WatchStream};
use serde::Deserialize;

use super::follow::{CatchUp, drain};
use super::per_store::{PerStore, lock};
use super::tasks::{LIFECYCLE, lifecycle_position};
use super::{keys, store_error};

/// How often the drainer takes in a followed cluster's changes.
const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// How long a cluster's counts are kept up without being read: after that the drainer lets them
/// go (the next read reads them again), so that a cluster nobody describes any more, or one
/// deleted, costs nothing.
const IDLE_AFTER: Duration = Duration::from_secs(300);

/// Task records read at a time when a cluster's counts are read in full.
const PAGE: usize = 1_000;

/// How often a read starts over when the history keeps running past it before it gives up.
const MAX_RELOADS: usize = 4;

/// What DescribeClusters shows of a cluster's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskCounts {
    /// Tasks whose last status is RUNNING.
    pub running: usize,
    /// Tasks on their way there: PROVISIONING, PENDING or ACTIVATING.
    pub pending: usize,
}

/// The counts of one cluster.
#[derive(Default)]
struct Tally {
    /// `None` until first read, and again after the watch fell behind.
    followed: Option<Followed>,
    /// Counts each start of following anew, so that the drainer of an earlier one stops.
    generation: u64,
    /// When the counts were last read.
    read_at: Option<Instant>,
}

/// The counts, with the watch that keeps them.
struct Followed {
    stream: WatchStream,
    /// The length of the cluster's task key prefix (what comes after it is the task's id).
    prefix_len: usize,
    statuses: Statuses,
}

/// The status of each task that has not stopped, and how many are in each.
#[derive(Default)]
struct Statuses {
    /// Each task's status, by id, as its position in [`LIFECYCLE`].
    of_task: HashMap<String, usize>,
    /// How many tasks are in each status, by position in [`LIFECYCLE`].
    counts: [usize; LIFECYCLE.len()],
}

static TALLIES: PerStore<Mutex<Tally>> = PerStore::new();

/// The task counts of `cluster` as of now.
pub async fn of(store: &Arc<dyn Store>, scope: &Scope, cluster: &str) -> Result<TaskCounts, EcsError> {
    let prefix = keys::tasks(scope, cluster);
    let tally = TALLIES.get(store, &prefix, Mutex::default);
    for _ in 0..MAX_RELOADS {
        {
            let mut guard = lock(&tally);
            guard.read_at = Some(Instant::now());
            if let Some(followed) = &mut guard.followed {
                match followed.catch_up() {
                    Ok(()) => return Ok(followed.counts()),
                    Err(CatchUp::Reload) => guard.followed = None,
                    Err(CatchUp::Failed(err)) => {
                        guard.followed = None;
                        return Err(err);
                    }
                }
            }
        }
        let followed = match Followed::read(store, &prefix).await {
            Ok(followed) => followed,
            Err(CatchUp::Reload) => continue,
            Err(CatchUp::Failed(err)) => return Err(err),
        };
        let mut guard = lock(&tally);
        guard.generation += 1;
        guard.followed = Some(followed);
        tokio::spawn(keep_draining(Arc::downgrade(&tally), guard.generation));
    }
    Err(EcsError::server("The cluster's tasks changed too fast to be counted; try again."))
}

/// Takes in the changes of a followed cluster every [`DRAIN_EVERY`], until the cluster is
/// followed anew, its watch falls behind, its store goes, or nobody read it for [`IDLE_AFTER`].
async fn keep_draining(tally: Weak<Mutex<Tally>>, generation: u64) {
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(tally) = tally.upgrade() else { return };
        let mut guard = lock(&tally);
        if guard.generation != generation {
            return;
        }
        if guard.read_at.is_none_or(|at| at.elapsed() > IDLE_AFTER) {
            guard.followed = None;
            return;
        }
        let Some(followed) = &mut guard.followed else { return };
        if followed.catch_up().is_err() {
            // The next read follows it anew, or reports the store's failure.
            guard.followed = None;
            return;
        }
    }
}

impl Followed {
    /// Reads the counts of the task records under `prefix` and starts following them.
    ///
    /// The watch starts before the first page is read and is drained after each page, so the
    /// pages and the events interleave; that still ends right, because for each task the last
    /// thing applied is either its last event or a page read after that event, which shows what
    /// the event left.
    async fn read(store: &Arc<dyn Store>, prefix: &str) -> Result<Followed, CatchUp> {
        let stream = store.watch(prefix, None).await.map_err(store_error)?;
        let mut followed = Followed { stream, prefix_len: prefix.len(), statuses: Statuses::default() };
        let mut after: Option<String> = None;
        loop {
            let page = store.range(prefix, after.as_deref(), PAGE).await.map_err(store_error)?;
            for kv in &page.kvs {
                followed.statuses.set(followed.id_of(&kv.key), Some(&kv.value));
            }
            followed.catch_up()?;
            if !page.more {
                return Ok(followed);
            }
            after = page.kvs.last().map(|kv| kv.key.clone());
        }
    }

    /// Applies every change published so far.
    fn catch_up(&mut self) -> Result<(), CatchUp> {
        let Followed { stream, prefix_len, statuses } = self;
        drain(stream, |event: Event| {
            let value = (event.kind == EventKind::Put).then_some(&event.kv.value[..]);
            statuses.set(event.kv.key.get(*prefix_len..).unwrap_or_default(), value);
            Ok(())
        })?;
        Ok(())
    }

    /// The id of the task whose record is under `key`.
    fn id_of<'k>(&self, key: &'k str) -> &'k str {
        key.get(self.prefix_len..).unwrap_or_default()
    }

    fn counts(&self) -> TaskCounts {
        let at = |status: &str| lifecycle_position(status).map_or(0, |i| self.statuses.counts[i]);
        TaskCounts { running: at("RUNNING"), pending: at("PROVISIONING") + at("PENDING") + at("ACTIVATING") }
    }
}

impl Statuses {
    /// Moves task `id` from the status it was counted in to the one its record `value` holds
    /// (`None`: deleted).
    fn set(&mut self, id: &str, value: Option<&[u8]>) {
        if let Some(before) = self.of_task.remove(id) {
            self.counts[before] -= 1;
        }
        let Some(position) = value.and_then(status_of).as_deref().and_then(lifecycle_position) else {
            return;
        };
        if position + 1 < LIFECYCLE.len() {
            // A stopped task (the last status) never moves again and is not counted.
            self.counts[position] += 1;
            self.of_task.insert(id.to_string(), position);
        }
    }
}

/// The last status of a task record, decoded no further than that; `None` for a value that is
/// not a task record.
fn status_of(value: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Record {
        task: Fields,
    }
    #[derive(Deserialize)]
    struct Fields {
        #[serde(rename = "lastStatus")]
        last_status: Option<String>,
    }
    serde_json::from_slice::<Record>(value).ok()?.task.last_status
}

#[cfg(test)]
mod tests;
