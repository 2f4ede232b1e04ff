//! The placement snapshot of each cluster, kept in memory between RunTask calls.
//!
//! Reading and decoding every container instance record of the cluster for each RunTask made a
//! placement cost in proportion to the cluster: with 5,000 instances, tens of milliseconds of
//! JSON for each call. Instead the server keeps, per cluster, the decoded instance records that
//! are not INACTIVE (with the revision that last wrote each) and the placement engine's view of
//! them, and before each placement applies the changes the store's watch history holds since the
//! revision the snapshot reflects: only records that changed are decoded. The snapshot is drained
//! up to everything the store has published, and the store publishes a commit before it answers
//! it, so a placement sees every write acknowledged before it began, as a read would.
//!
//! Correctness does not rest on the snapshot, only freshness does: the commit still compares
//! every instance it charges with the revision the snapshot holds, so a placement decided on a
//! record that changed meanwhile fails to commit and decides again.
//!
//! The tasks on each instance (which `spread`, `distinctInstance` and `memberOf` over task
//! groups look at) are followed the same way, from the first placement that needs them. They are
//! caught up after the instances, under the same lock, so they are never older than the
//! instances placed against: a task that landed after the tasks' revision rewrote its instance
//! after it too, and that instance's compare fails.
//!
//! When the history no longer holds the changes since the snapshot's revision (the store keeps
//! the last ten thousand events), the snapshot is read again in full.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_scheduler::{InstanceView, PreparedCluster, TaskView};
use berth_store::{Event, EventKind, Revision, Store, StoreError, WatchStream};

use super::{InstanceEntry, TaskSummary, decode};
use crate::state::container_instances::{self, ContainerInstanceRecord, INACTIVE};
use crate::state::follow::{CatchUp, drain};
use crate::state::per_store::{PerStore, lock};
use crate::state::{keys, store_error};

/// How often a placement reads a snapshot again in full when the history keeps running out
/// under it before it gives up.
const MAX_RELOADS: usize = 8;

/// The instances of one cluster as placement sees them.
pub(crate) struct Snapshot {
    instance_prefix: String,
    task_prefix: String,
    /// Every change of an instance record up to this revision is applied (`None`: never read).
    instances_through: Option<Revision>,
    /// The instances that are not INACTIVE, in key order.
    pub(crate) entries: Vec<InstanceEntry>,
    /// The engine's view of each entry, in the same order.
    pub(crate) views: Vec<InstanceView>,
    /// What the engine works out about each view before any request, in the same order, told
    /// of every change to `views`.
    pub(crate) prepared: PreparedCluster,
    /// The tasks on the instances, once a placement needed them.
    tasks: Option<Tasks>,
    /// Instances that placements decided on and have not finished committing to, by key, with
    /// how many such placements each has.
    in_flight: HashMap<String, Hold>,
    /// Instance records that placements in flight are committing, by key, with the bytes they
    /// write (see [`Snapshot::expect`]).
    expected: HashMap<String, Vec<Expected>>,
    /// The ticket of the next placement that expects records.
    next_ticket: u64,
}

/// An instance record a placement is committing, and its encoding.
struct Expected {
    ticket: u64,
    bytes: Vec<u8>,
    record: Arc<ContainerInstanceRecord>,
}

/// The placements in flight that chose one instance.
struct Hold {
    /// How many.
    placements: usize,
    /// The instance's position in the entries when last held (checked before it is used).
    index: usize,
}

/// The tasks that are not stopped, by instance.
struct Tasks {
    /// Every change of a task record up to this revision is applied.
    through: Revision,
    /// Each task's instance and view, by task id.
    by_id: HashMap<String, (String, TaskView)>,
    /// The task ids on each instance, in key order.
    by_instance: HashMap<String, BTreeSet<String>>,
}

// === the snapshots of each store ===

static SNAPSHOTS: PerStore<Mutex<Snapshot>> = PerStore::new();

/// The snapshot of `cluster` in `store` (empty until first brought up to date).
pub(crate) fn of(store: &Arc<dyn Store>, scope: &Scope, cluster: &str) -> Arc<Mutex<Snapshot>> {
    let prefix = keys::container_instances(scope, cluster);
    SNAPSHOTS.get(store, &prefix, || {
        Mutex::new(Snapshot {
            instance_prefix: prefix.clone(),
            task_prefix: keys::tasks(scope, cluster),
            instances_through: None,
            entries: Vec::new(),
            views: Vec::new(),
            prepared: PreparedCluster::default(),
            tasks: None,
            in_flight: HashMap::new(),
            expected: HashMap::new(),
            next_ticket: 0,
        })
    })
}

/// Brings `snapshot` up to everything the store has published (its tasks too, when
/// `with_tasks`), then runs `decide` on it under its lock.
pub(crate) async fn with_fresh<T>(
    store: &Arc<dyn Store>,
    snapshot: &Mutex<Snapshot>,
    with_tasks: bool,
    decide: impl FnOnce(&mut Snapshot) -> T,
) -> Result<T, EcsError> {
    for _ in 0..MAX_RELOADS {
        let (prefixes, instances_from, tasks_from) = {
            let snapshot = lock(snapshot);
            let prefixes = (snapshot.instance_prefix.clone(), snapshot.task_prefix.clone());
            (prefixes, snapshot.instances_through, snapshot.tasks.as_ref().map(|t| t.through))
        };
        let Some(instances_from) = instances_from else {
            reload_instances(store, snapshot, &prefixes.0).await?;
            continue;
        };
        if with_tasks && tasks_from.is_none() {
            reload_tasks(store, snapshot, &prefixes.1).await?;
            continue;
        }
        // The streams are opened before the lock is taken (opening one is the only await); they
        // start where the snapshot was, and events it has since applied are skipped.
        let Some(mut instances) = follow(store, &prefixes.0, instances_from).await? else {
            lock(snapshot).instances_through = None;
            continue;
        };
        let mut tasks = match tasks_from.filter(|_| with_tasks) {
            Some(from) => match follow(store, &prefixes.1, from).await? {
                Some(stream) => Some(stream),
                None => {
                    lock(snapshot).tasks = None;
                    continue;
                }
            },
            None => None,
        };
        let mut guard = lock(snapshot);
        match guard.catch_up(&mut instances, tasks.as_mut()) {
            Ok(()) => return Ok(decide(&mut guard)),
            Err(CatchUp::Reload) => {
                guard.instances_through = None;
                guard.tasks = None;
            }
            Err(CatchUp::Failed(err)) => return Err(err),
        }
    }
    Err(EcsError::server("The cluster's container instances changed too fast to be read; try again."))
}

/// A watch of `prefix` after `from`, or `None` when the history no longer reaches back there.
async fn follow(
    store: &Arc<dyn Store>,
    prefix: &str,
    from: Revision,
) -> Result<Option<WatchStream>, EcsError> {
    match store.watch(prefix, Some(from)).await {
        Ok(stream) => Ok(Some(stream)),
        Err(StoreError::Compacted { .. }) => Ok(None),
        Err(err) => Err(store_error(err)),
    }
}

/// Reads every instance record of the cluster and makes it the snapshot, unless the snapshot
/// is already newer.
async fn reload_instances(
    store: &Arc<dyn Store>,
    snapshot: &Mutex<Snapshot>,
    prefix: &str,
) -> Result<(), EcsError> {
    let range = store.range(prefix, None, 0).await.map_err(store_error)?;
    let mut entries = Vec::with_capacity(range.kvs.len());
    for kv in range.kvs {
        if let Some(entry) = entry_of(prefix, &kv.key, &kv.value, kv.mod_revision)? {
            entries.push(entry);
        }
    }
    let mut snapshot = lock(snapshot);
    if snapshot.instances_through.is_some_and(|through| through >= range.revision) {
        return Ok(());
    }
    snapshot.views = entries.iter().map(|entry| snapshot.view(entry)).collect();
    snapshot.prepared = PreparedCluster::new(&snapshot.views);
    snapshot.entries = entries;
    snapshot.instances_through = Some(range.revision);
    Ok(())
}

/// Reads every task record of the cluster and makes it the snapshot's tasks, unless those are
/// already newer.
async fn reload_tasks(
    store: &Arc<dyn Store>,
    snapshot: &Mutex<Snapshot>,
    prefix: &str,
) -> Result<(), EcsError> {
    let range = store.range(prefix, None, 0).await.map_err(store_error)?;
    let revision = range.revision;
    let mut tasks = Tasks { through: revision, by_id: HashMap::new(), by_instance: HashMap::new() };
    for kv in range.kvs {
        let summary = decode::<TaskSummary>(&kv.key, &kv.value)?;
        tasks.put(task_id(prefix, &kv.key), &summary);
    }
    let mut snapshot = lock(snapshot);
    if snapshot.tasks.as_ref().is_some_and(|t| t.through >= revision) {
        return Ok(());
    }
    snapshot.tasks = Some(tasks);
    for index in 0..snapshot.entries.len() {
        snapshot.views[index].tasks = snapshot.tasks_of(&snapshot.entries[index].id);
        let snapshot = &mut *snapshot;
        snapshot.prepared.replace(index, &snapshot.views[index]);
    }
    Ok(())
}

// === impl Snapshot ===

impl Snapshot {
    /// Applies what the streams have now, instances first, then tasks.
    fn catch_up(
        &mut self,
        instances: &mut WatchStream,
        tasks: Option<&mut WatchStream>,
    ) -> Result<(), CatchUp> {
        let from = self.instances_through.unwrap_or(0);
        let through = drain(instances, |event| {
            if event.revision() > from {
                self.apply_instance(&event)?;
            }
            Ok(())
        })?;
        self.instances_through = Some(through.max(from));
        let Some(tasks) = tasks else { return Ok(()) };
        let from = self.tasks.as_ref().map_or(0, |t| t.through);
        let mut touched = BTreeSet::new();
        let through = drain(tasks, |event| {
            if event.revision() > from {
                self.apply_task(&event, &mut touched)?;
            }
            Ok(())
        })?;
        if let Some(tasks) = &mut self.tasks {
            tasks.through = through.max(from);
        }
        for instance in touched {
            if let Ok(index) = self.position(&self.key_of(&instance)) {
                self.views[index].tasks = self.tasks_of(&instance);
                self.prepared.replace(index, &self.views[index]);
            }
        }
        Ok(())
    }

    fn apply_instance(&mut self, event: &Event) -> Result<(), EcsError> {
        let key = &event.kv.key;
        if event.kind == EventKind::Put
            && let Ok(index) = self.position(key)
            && self.entries[index].revision >= event.kv.mod_revision
        {
            // Already learnt from the placement that wrote it (see `learn`).
            return Ok(());
        }
        let entry = match event.kind {
            EventKind::Put => match self.expected_record(key, &event.kv.value) {
                Some(record) => {
                    let id = key.get(self.instance_prefix.len()..).unwrap_or_default().to_string();
                    Some(InstanceEntry { id, key: key.clone(), revision: event.kv.mod_revision, record })
                }
                None => entry_of(&self.instance_prefix, key, &event.kv.value, event.kv.mod_revision)?,
            },
            EventKind::Delete => None,
        };
        match (self.position(key), entry) {
            (Ok(index), Some(entry)) => {
                self.views[index] = self.view(&entry);
                self.prepared.replace(index, &self.views[index]);
                self.entries[index] = entry;
            }
            (Err(index), Some(entry)) => {
                let view = self.view(&entry);
                self.prepared.insert(index, &view);
                self.views.insert(index, view);
                self.entries.insert(index, entry);
            }
            (Ok(index), None) => {
                self.views.remove(index);
                self.prepared.remove(index);
                self.entries.remove(index);
            }
            (Err(_), None) => {}
        }
        Ok(())
    }

    fn apply_task(&mut self, event: &Event, touched: &mut BTreeSet<String>) -> Result<(), EcsError> {
        let Some(tasks) = &mut self.tasks else { return Ok(()) };
        let id = task_id(&self.task_prefix, &event.kv.key);
        if let Some((instance, _)) = tasks.remove(&id) {
            touched.insert(instance);
        }
        if event.kind == EventKind::Put {
            let summary = decode::<TaskSummary>(&event.kv.key, &event.kv.value)?;
            if let Some(instance) = tasks.put(id, &summary) {
                touched.insert(instance);
            }
        }
        Ok(())
    }

    /// Notes the instance records a placement is about to commit, with the bytes it writes, so
    /// that whoever catches up on the commit's events before the placement [`learn`]s them takes
    /// the records as they are instead of decoding them: with dozens of placements in flight,
    /// another one usually gets there first. Returns the ticket that [`Snapshot::forget`] takes.
    /// A record is taken only when the event's bytes are exactly the expected ones, which makes it
    /// that record whoever wrote it.
    ///
    /// [`learn`]: Snapshot::learn
    pub(crate) fn expect(&mut self, written: &[(InstanceEntry, Vec<u8>)]) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        for (entry, bytes) in written {
            let expected = Expected { ticket, bytes: bytes.clone(), record: entry.record.clone() };
            self.expected.entry(entry.key.clone()).or_default().push(expected);
        }
        ticket
    }

    /// Drops what placement `ticket` expected: it committed and learnt, or failed.
    fn forget(&mut self, ticket: u64) {
        self.expected.retain(|_, list| {
            list.retain(|expected| expected.ticket != ticket);
            !list.is_empty()
        });
    }

    /// The record a placement in flight writes to `key` as `bytes`, if one does.
    fn expected_record(&self, key: &str, bytes: &[u8]) -> Option<Arc<ContainerInstanceRecord>> {
        let list = self.expected.get(key)?;
        list.iter().find(|expected| expected.bytes == bytes).map(|expected| expected.record.clone())
    }

    /// Takes in the instance records a placement of this server has just committed at
    /// `revision`, so that catching up skips their events instead of decoding each again: every
    /// placement rewrites the instances it charges, so with ten tasks a call that decoding was
    /// most of the snapshot's upkeep. An entry the snapshot already holds at that revision or a
    /// later one is left alone. Learning a record ahead of the events before it is safe: the
    /// commit compared the record unchanged since the revision the snapshot held, so no event of
    /// that key lies between.
    pub(crate) fn learn(&mut self, revision: Revision, written: Vec<InstanceEntry>) {
        for mut entry in written {
            let Ok(index) = self.position(&entry.key) else { continue };
            if self.entries[index].revision >= revision {
                continue;
            }
            entry.revision = revision;
            self.views[index] = self.view(&entry);
            self.prepared.replace(index, &self.views[index]);
            self.entries[index] = entry;
        }
    }

    /// Which entries placements in flight have chosen (empty when none has).
    pub(crate) fn busy(&self) -> Vec<bool> {
        if self.in_flight.is_empty() {
            return Vec::new();
        }
        let mut busy = vec![false; self.entries.len()];
        for (key, held) in &self.in_flight {
            // The position found when the hold began is still right unless instances joined or
            // left since; looking each key up again would cost a search per hold per placement,
            // which with 64 placements in flight on thousands of instances was a tenth of the
            // server's time.
            let index = match self.entries.get(held.index) {
                Some(entry) if key.strip_prefix(self.instance_prefix.as_str()) == Some(&entry.id) => {
                    Ok(held.index)
                }
                _ => self.position(key),
            };
            if let Ok(index) = index {
                busy[index] = true;
            }
        }
        busy
    }

    /// Notes that a placement chose the instances with `keys` and has yet to commit.
    pub(crate) fn hold(&mut self, keys: &[String]) {
        for key in keys {
            let index = self.position(key).unwrap_or(usize::MAX);
            let held = self.in_flight.entry(key.clone()).or_insert(Hold { placements: 0, index });
            held.placements += 1;
            held.index = index;
        }
    }

    /// Notes that the placement holding `keys` has committed, or given up.
    fn release(&mut self, keys: &[String]) {
        for key in keys {
            if let Some(held) = self.in_flight.get_mut(key) {
                held.placements -= 1;
                if held.placements == 0 {
                    self.in_flight.remove(key);
                }
            }
        }
    }

    /// The entry with `key`'s position, or where it would go.
    fn position(&self, key: &str) -> Result<usize, usize> {
        // Every entry's key is the cluster's instance prefix and its id, so key order is id
        // order: comparing ids spares each step of the search the long prefix that all keys
        // share, which was most of the search's time.
        match key.strip_prefix(self.instance_prefix.as_str()) {
            Some(id) => self.entries.binary_search_by(|entry| entry.id.as_str().cmp(id)),
            None => self.entries.binary_search_by(|entry| entry.key.as_str().cmp(key)),
        }
    }

    fn key_of(&self, instance_id: &str) -> String {
        format!("{}{instance_id}", self.instance_prefix)
    }

    fn view(&self, entry: &InstanceEntry) -> InstanceView {
        container_instances::view(&entry.record, self.tasks_of(&entry.id))
    }

    /// The engine's view of the tasks on an instance (none while tasks are not followed).
    fn tasks_of(&self, instance_id: &str) -> Vec<TaskView> {
        let Some(tasks) = &self.tasks else { return Vec::new() };
        let Some(ids) = tasks.by_instance.get(instance_id) else { return Vec::new() };
        ids.iter().filter_map(|id| tasks.by_id.get(id).map(|(_, view)| view.clone())).collect()
    }
}

/// The instances a placement holds ([`Snapshot::hold`]) until it has committed or given up;
/// dropping it lets them go, whichever way the placement ended.
pub(crate) struct Held {
    snapshot: Arc<Mutex<Snapshot>>,
    keys: Vec<String>,
}

impl Held {
    /// Takes over the hold on `keys`, which the caller has just placed with [`Snapshot::hold`].
    pub(crate) fn new(snapshot: Arc<Mutex<Snapshot>>, keys: Vec<String>) -> Held {
        Held { snapshot, keys }
    }
}

/// What a placement expects to commit ([`Snapshot::expect`]), until it is dropped: after the
/// placement learnt what it committed, or when it failed.
pub(crate) struct Expecting {
    snapshot: Arc<Mutex<Snapshot>>,
    ticket: u64,
}

impl Expecting {
    /// Notes `written` as expected by a placement about to commit it.
    pub(crate) fn new(snapshot: Arc<Mutex<Snapshot>>, written: &[(InstanceEntry, Vec<u8>)]) -> Expecting {
        let ticket = lock(&snapshot).expect(written);
        Expecting { snapshot, ticket }
    }

    /// [`Snapshot::learn`]: the placement committed `written` at `revision`.
    pub(crate) fn learn(self, revision: Revision, written: Vec<InstanceEntry>) {
        lock(&self.snapshot).learn(revision, written);
    }
}

impl Drop for Expecting {
    fn drop(&mut self) {
        lock(&self.snapshot).forget(self.ticket);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        lock(&self.snapshot).release(&self.keys);
    }
}

impl Tasks {
    /// Records a task as its summary shows it; returns its instance when it holds one (stopped
    /// tasks and tasks without an instance hold none).
    fn put(&mut self, id: String, summary: &TaskSummary) -> Option<String> {
        if summary.is_stopped() {
            return None;
        }
        let instance = summary.instance_id.clone()?;
        let view = TaskView { group: summary.task.group.clone(), family: summary.family().to_string() };
        self.by_instance.entry(instance.clone()).or_default().insert(id.clone());
        self.by_id.insert(id, (instance.clone(), view));
        Some(instance)
    }

    fn remove(&mut self, id: &str) -> Option<(String, TaskView)> {
        let (instance, view) = self.by_id.remove(id)?;
        if let Some(ids) = self.by_instance.get_mut(&instance) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_instance.remove(&instance);
            }
        }
        Some((instance, view))
    }
}

/// The snapshot entry of an instance record, or `None` for something that is not one (a key
/// deeper under the prefix) or an INACTIVE instance, which takes no tasks.
fn entry_of(
    prefix: &str,
    key: &str,
    value: &[u8],
    revision: Revision,
) -> Result<Option<InstanceEntry>, EcsError> {
    let id = key.get(prefix.len()..).unwrap_or_default();
    if id.is_empty() || id.contains('/') {
        return Ok(None);
    }
    let record = decode::<ContainerInstanceRecord>(key, value)?;
    if record.instance.status.as_deref() == Some(INACTIVE) {
        return Ok(None);
    }
    Ok(Some(InstanceEntry { id: id.to_string(), key: key.to_string(), revision, record: Arc::new(record) }))
}

fn task_id(prefix: &str, key: &str) -> String {
    key.get(prefix.len()..).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use berth_api::model::ContainerInstance;
    use berth_store::{MemoryStore, Op, Txn};

    use super::*;

    fn scope() -> Scope {
        Scope::new("us-east-1", "000000000000")
    }

    async fn put(store: &Arc<dyn Store>, key: &str, value: Vec<u8>) {
        store.txn(Txn::new().then(Op::put(key, value))).await.expect("write");
    }

    async fn put_instance(store: &Arc<dyn Store>, id: &str, status: &str, memory: i32) {
        let record = ContainerInstanceRecord {
            instance: ContainerInstance {
                container_instance_arn: Some(scope().container_instance_arn("c", id)),
                status: Some(status.into()),
                agent_connected: Some(true),
                remaining_resources: Some(vec![container_instances::integer("MEMORY", memory.into())]),
                ..ContainerInstance::default()
            },
            cluster: "c".into(),
            disconnected_at: None,
        };
        let key = keys::container_instance(&scope(), "c", id);
        put(store, &key, serde_json::to_vec(&record).expect("encodes")).await;
    }

    async fn put_task(store: &Arc<dyn Store>, id: &str, instance: &str, status: &str) {
        let record = serde_json::json!({
            "task": {
                "lastStatus": status,
                "group": "service:web",
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
            },
            "cluster": "c",
            "instance_id": instance,
        });
        put(store, &keys::task(&scope(), "c", id), serde_json::to_vec(&record).expect("encodes")).await;
    }

    /// (instance id, remaining memory, tasks) of every instance in the fresh snapshot.
    async fn seen(store: &Arc<dyn Store>, with_tasks: bool) -> Vec<(String, i64, usize)> {
        let snapshot = of(store, &scope(), "c");
        with_fresh(store, &snapshot, with_tasks, |snapshot| {
            snapshot
                .entries
                .iter()
                .zip(&snapshot.views)
                .map(|(entry, view)| (entry.id.clone(), view.remaining_memory, view.tasks.len()))
                .collect()
        })
        .await
        .expect("fresh")
    }

    fn row(id: &str, memory: i64, tasks: usize) -> (String, i64, usize) {
        (id.to_string(), memory, tasks)
    }

    #[tokio::test]
    async fn follows_every_change_and_reads_again_when_the_history_runs_out() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::with_watch_history(4));
        put_instance(&store, "i2", "ACTIVE", 100).await;
        put_instance(&store, "i1", "ACTIVE", 100).await;
        assert_eq!(seen(&store, false).await, [row("i1", 100, 0), row("i2", 100, 0)], "in key order");

        // Within the history: the changes are applied, and an INACTIVE instance leaves.
        put_instance(&store, "i1", "ACTIVE", 60).await;
        put_instance(&store, "i3", "ACTIVE", 100).await;
        put_instance(&store, "i2", INACTIVE, 100).await;
        assert_eq!(seen(&store, false).await, [row("i1", 60, 0), row("i3", 100, 0)]);

        // Past the history (other keys crowd it out): read again, still right.
        put_instance(&store, "i3", "ACTIVE", 10).await;
        for n in 0..10 {
            put(&store, &format!("/elsewhere/{n}"), Vec::new()).await;
        }
        assert_eq!(seen(&store, false).await, [row("i1", 60, 0), row("i3", 10, 0)]);
    }

    /// The entry of instance `id` of cluster `c` with `memory` remaining.
    fn entry(id: &str, memory: i32) -> InstanceEntry {
        let record = ContainerInstanceRecord {
            instance: ContainerInstance {
                container_instance_arn: Some(scope().container_instance_arn("c", id)),
                status: Some("ACTIVE".into()),
                remaining_resources: Some(vec![container_instances::integer("MEMORY", memory.into())]),
                ..ContainerInstance::default()
            },
            cluster: "c".into(),
            disconnected_at: None,
        };
        InstanceEntry {
            id: id.into(),
            key: keys::container_instance(&scope(), "c", id),
            revision: 0,
            record: Arc::new(record),
        }
    }

    #[tokio::test]
    async fn records_learnt_from_a_commit_are_not_read_again_and_later_changes_still_apply() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        put_instance(&store, "i1", "ACTIVE", 100).await;
        put_instance(&store, "i2", "ACTIVE", 100).await;
        assert_eq!(seen(&store, false).await, [row("i1", 100, 0), row("i2", 100, 0)]);
        // A placement commits i1 at 60 and learns it. (It learns 59 here, unlike what it wrote,
        // only to show that the event of that revision is then skipped, not decoded again.)
        put_instance(&store, "i1", "ACTIVE", 60).await;
        let committed = store.revision().await.expect("revision");
        let snapshot = of(&store, &scope(), "c");
        lock(&snapshot).learn(committed, vec![entry("i1", 59)]);
        put_instance(&store, "i2", "ACTIVE", 70).await;
        assert_eq!(seen(&store, false).await, [row("i1", 59, 0), row("i2", 70, 0)]);
        // Learning something older than the snapshot holds changes nothing; later writes apply.
        lock(&snapshot).learn(committed - 1, vec![entry("i2", 1)]);
        put_instance(&store, "i1", "ACTIVE", 30).await;
        assert_eq!(seen(&store, false).await, [row("i1", 30, 0), row("i2", 70, 0)]);
    }

    #[tokio::test]
    async fn a_record_expected_by_a_placement_in_flight_is_taken_as_is_when_its_bytes_match() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        put_instance(&store, "i1", "ACTIVE", 100).await;
        assert_eq!(seen(&store, false).await, [row("i1", 100, 0)]);
        let snapshot = of(&store, &scope(), "c");
        // The placement expects to write i1's record with 60 remaining; the record it holds says
        // 59, unlike its bytes, only to show which of the two catching up takes.
        let mut written = entry("i1", 60).record;
        Arc::make_mut(&mut written).instance.agent_connected = Some(true);
        let bytes = serde_json::to_vec(&*written).expect("encodes");
        let expecting = Expecting::new(snapshot.clone(), &[(entry("i1", 59), bytes)]);
        put_instance(&store, "i1", "ACTIVE", 60).await;
        assert_eq!(seen(&store, false).await, [row("i1", 59, 0)], "taken as expected, not decoded");
        // Other bytes at that key are decoded; once the placement is done, nothing is expected.
        put_instance(&store, "i1", "ACTIVE", 50).await;
        assert_eq!(seen(&store, false).await, [row("i1", 50, 0)]);
        drop(expecting);
        assert!(lock(&snapshot).expected.is_empty());
    }

    #[tokio::test]
    async fn tasks_are_followed_once_a_placement_needs_them() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        put_instance(&store, "i1", "ACTIVE", 100).await;
        put_task(&store, "t1", "i1", "RUNNING").await;
        assert_eq!(seen(&store, false).await, [row("i1", 100, 0)], "not followed until needed");
        assert_eq!(seen(&store, true).await, [row("i1", 100, 1)]);
        put_task(&store, "t2", "i1", "PENDING").await;
        put_task(&store, "t1", "i1", "STOPPED").await;
        put_instance(&store, "i2", "ACTIVE", 100).await;
        put_task(&store, "t3", "i2", "RUNNING").await;
        assert_eq!(seen(&store, true).await, [row("i1", 100, 1), row("i2", 100, 1)]);
    }
}
