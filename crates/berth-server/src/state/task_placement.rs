//! Placing tasks on container instances and committing them, without ever overbooking one.
//!
//! A placement reads the cluster's instance records with the revision that last wrote each,
//! decides where each task goes (the placement engine for RunTask, the named instances for
//! StartTask), and commits one transaction: every new task record, its [`Assignment`] in its
//! instance's index, and every chosen instance record with the task's demand reserved, under a
//! compare that the instance is unchanged since it was read. Two callers that chose the same
//! instance from the same snapshot cannot both commit: the second one's compare fails, and it
//! reads again and decides again from what the first one left. That compare, not any lock, is
//! the guarantee that no instance is ever promised more than it has.
//!
//! RunTask reads the instances from a snapshot kept in memory per cluster ([`snapshot`]),
//! brought up to date from the store's watch history before each decision, rather than reading
//! and decoding every instance record each time; the compares are the same, so a snapshot that
//! is behind can only make a commit fail and the placement decide again.
//!
//! [`Assignment`]: super::tasks::Assignment

mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_api::model::Failure;
use berth_scheduler::{InstanceView, Request, Strategy, TaskView};
use berth_store::{Compare, Op, Revision, Store, Txn};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::container_instances::{self, ContainerInstanceRecord, INACTIVE};
use super::keys;
use super::records::{commit, decode, encode};
use super::store_error;
use super::tasks::TaskRecord;

/// How often a placement decides again when other writers keep changing the instances it chose.
/// Every failed attempt means another placement or report committed, so the cluster as a whole
/// always progresses; the bound only stops one unlucky caller from spinning forever.
const MAX_ATTEMPTS: usize = 256;

/// One container instance record as read, with what a compare-and-set needs.
#[derive(Debug, Clone)]
pub struct InstanceEntry {
    /// The instance's id (the last segment of its ARN and key).
    pub id: String,
    /// The record's key.
    pub key: String,
    /// The revision that last wrote the record.
    pub revision: Revision,
    /// The record, shared: a placement copies the entries it chose out of the snapshot, and
    /// copying each record whole was a visible share of RunTask's time.
    pub record: Arc<ContainerInstanceRecord>,
}

/// Reads every container instance record of a cluster, in key order.
pub async fn load_instances(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
) -> Result<Vec<InstanceEntry>, EcsError> {
    let prefix = keys::container_instances(scope, cluster);
    let range = store.range(&prefix, None, 0).await.map_err(store_error)?;
    let mut entries = Vec::with_capacity(range.kvs.len());
    for kv in range.kvs {
        let id = kv.key.get(prefix.len()..).unwrap_or_default();
        if id.is_empty() || id.contains('/') {
            // Not an instance record: something else filed under the prefix.
            continue;
        }
        let record = decode::<ContainerInstanceRecord>(&kv.key, &kv.value)?;
        entries.push(InstanceEntry {
            id: id.to_string(),
            key: kv.key.clone(),
            revision: kv.mod_revision,
            record: Arc::new(record),
        });
    }
    Ok(entries)
}

/// The few fields of a task record that scans need (placement views, listings, counts,
/// retention), decoded without the containers, definition and overrides a full record carries.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskSummary {
    /// The fields of the `Task` shape the scans read.
    pub task: TaskSummaryFields,
    /// The cluster's name.
    pub cluster: String,
    /// The instance the task was placed on.
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// See [`TaskSummary`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummaryFields {
    /// The task's ARN.
    pub task_arn: Option<String>,
    /// Where the task is in its lifecycle.
    pub last_status: Option<String>,
    /// What the task should become.
    pub desired_status: Option<String>,
    /// The task's group.
    pub group: Option<String>,
    /// Who started the task.
    pub started_by: Option<String>,
    /// EC2 or EXTERNAL.
    pub launch_type: Option<String>,
    /// The task definition's ARN, which names its family.
    pub task_definition_arn: Option<String>,
    /// When the task reached STOPPED.
    pub stopped_at: Option<f64>,
}

impl TaskSummary {
    /// The task definition family, read from the definition's ARN (`task-definition/FAMILY:REV`).
    pub fn family(&self) -> &str {
        let arn = self.task.task_definition_arn.as_deref().unwrap_or_default();
        let resource = arn.rsplit_once(":task-definition/").map_or("", |(_, resource)| resource);
        resource.rsplit_once(':').map_or(resource, |(family, _)| family)
    }

    /// Whether the task has reached STOPPED.
    pub fn is_stopped(&self) -> bool {
        self.task.last_status.as_deref() == Some("STOPPED")
    }
}

/// Reads a summary of every task record of a cluster, with its key, in key order.
pub async fn load_task_summaries(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
) -> Result<Vec<(String, TaskSummary)>, EcsError> {
    let range = store.range(&keys::tasks(scope, cluster), None, 0).await.map_err(store_error)?;
    range.kvs.into_iter().map(|kv| Ok((kv.key.clone(), decode::<TaskSummary>(&kv.key, &kv.value)?))).collect()
}

/// Where the tasks of one placement may go.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The placement engine chooses among the cluster's instances, for `request.count` tasks.
    Engine,
    /// One task on each of these instances (ids), in order, without the engine's choice but with
    /// its resource checks: StartTask.
    Instances(&'a [String]),
}

/// Makes the record of one task for the instance chosen for it (fresh ids on each call).
pub type BuildTask<'a> = dyn FnMut(&InstanceEntry) -> Result<TaskRecord, EcsError> + Send + 'a;

/// Makes the value of a [`Claim`] from what was placed and what failed.
pub type ClaimValue<'a> =
    Box<dyn Fn(&[TaskRecord], &[Failure]) -> Result<Vec<u8>, EcsError> + Send + Sync + 'a>;

/// A key that the placement writes in the same transaction as its tasks, on condition that it
/// does not exist yet: how an idempotency token makes two identical requests launch once.
pub struct Claim<'a> {
    /// The key claimed.
    pub key: String,
    /// The value to store under it, given what was placed and what failed.
    pub value: ClaimValue<'a>,
}

/// What a placement did.
#[derive(Debug)]
pub enum Outcome {
    /// The tasks committed (possibly none) and why the others could not be placed.
    Placed {
        /// The task records as written.
        tasks: Vec<TaskRecord>,
        /// One entry per refusal, as ECS reports them.
        failures: Vec<Failure>,
    },
    /// The claimed key already exists (another request holds it): its stored value; nothing was
    /// written.
    Claimed(Vec<u8>),
}

/// Places tasks and commits them with their reservations in one transaction, retrying from a
/// fresh read when an instance changed meanwhile.
///
/// `build` makes the record of one task for the instance chosen for it (fresh ids each call);
/// it is called again on every attempt. Nothing is written when no task fits. With the engine,
/// a cluster without any registered instance is an `InvalidParameterException`, as in ECS.
pub async fn place_and_commit(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    request: &Request,
    target: Target<'_>,
    build: &mut BuildTask<'_>,
    claim: Option<&Claim<'_>>,
) -> Result<Outcome, EcsError> {
    for _ in 0..MAX_ATTEMPTS {
        if let Some(claim) = claim
            && let Some(existing) = store.get(&claim.key).await.map_err(store_error)?
        {
            return Ok(Outcome::Claimed(existing.value.to_vec()));
        }
        let instances: Vec<InstanceEntry> = load_instances(store, scope, cluster)
            .await?
            .into_iter()
            .filter(|entry| entry.record.instance.status.as_deref() != Some(INACTIVE))
            .collect();
        let decision = match target {
            Target::Engine => decide_by_engine(store, scope, cluster, request, &instances).await?,
            Target::Instances(ids) => decide_on_instances(scope, cluster, request, &instances, ids),
        };
        if decision.chosen.is_empty() {
            return Ok(Outcome::Placed { tasks: Vec::new(), failures: decision.failures });
        }
        let (txn, tasks, _) = transaction(scope, cluster, request, &instances, &decision, build, claim)?;
        if commit(store, txn).await?.is_some() {
            return Ok(Outcome::Placed { tasks, failures: decision.failures });
        }
        tracing::debug!(cluster, "placement raced another writer; deciding again");
        tokio::task::yield_now().await;
    }
    Err(EcsError::server(
        "The cluster's container instances kept changing while the tasks were placed; try again.",
    ))
}

/// Places tasks where the engine chooses, on the cluster's [`snapshot`] kept in memory, and
/// commits them with their reservations in one transaction, retrying when an instance changed
/// meanwhile: RunTask's placement. It decides and commits exactly as [`place_and_commit`] with
/// [`Target::Engine`] does; only the reading of the instances differs, which is brought up to
/// date from the store's history of changes instead of read and decoded in full each time.
pub async fn place_by_engine(
    store: &Arc<dyn Store>,
    scope: &Scope,
    cluster: &str,
    request: &Request,
    build: &mut BuildTask<'_>,
    claim: Option<&Claim<'_>>,
) -> Result<Outcome, EcsError> {
    let snapshot = snapshot::of(store, scope, cluster);
    for _ in 0..MAX_ATTEMPTS {
        if let Some(claim) = claim
            && let Some(existing) = store.get(&claim.key).await.map_err(store_error)?
        {
            return Ok(Outcome::Claimed(existing.value.to_vec()));
        }
        let (instances, decision, chosen_keys) =
            snapshot::with_fresh(store, &snapshot, needs_tasks(request), |snapshot| {
                let (instances, decision) = decide_on_snapshot(request, snapshot)?;
                let keys: Vec<String> = instances.iter().map(|entry| entry.key.clone()).collect();
                snapshot.hold(&keys);
                Ok::<_, EcsError>((instances, decision, keys))
            })
            .await??;
        // Until this attempt has committed or failed, other placements steer `random` clear of
        // the instances it chose (see `berth_scheduler::place_avoiding`).
        let _held = snapshot::Held::new(snapshot.clone(), chosen_keys);
        if decision.chosen.is_empty() {
            return Ok(Outcome::Placed { tasks: Vec::new(), failures: decision.failures });
        }
        let (txn, tasks, charged) =
            transaction(scope, cluster, request, &instances, &decision, build, claim)?;
        let expecting = snapshot::Expecting::new(snapshot.clone(), &charged);
        if let Some(revision) = commit(&**store, txn).await? {
            expecting.learn(revision, charged.into_iter().map(|(entry, _)| entry).collect());
            return Ok(Outcome::Placed { tasks, failures: decision.failures });
        }
        tracing::debug!(cluster, "placement raced another writer; deciding again");
        tokio::task::yield_now().await;
    }
    Err(EcsError::server(
        "The cluster's container instances kept changing while the tasks were placed; try again.",
    ))
}

/// The engine's choice on a snapshot, with copies of the chosen instances' entries (the
/// decision's indices point into them), so that the snapshot can be let go before the
/// transaction is built.
fn decide_on_snapshot(
    request: &Request,
    snapshot: &snapshot::Snapshot,
) -> Result<(Vec<InstanceEntry>, Decision), EcsError> {
    let entries = &snapshot.entries;
    if entries.is_empty() {
        return Err(EcsError::invalid_parameter("No Container Instances were found in your cluster."));
    }
    let busy = snapshot.busy();
    let (placements, failures) =
        berth_scheduler::place_in(&snapshot.views, &snapshot.prepared, &busy, request);
    let mut chosen_entries: Vec<InstanceEntry> = Vec::new();
    let mut positions: HashMap<usize, usize> = HashMap::new();
    let chosen = placements
        .into_iter()
        .map(|placement| {
            *positions.entry(placement.instance).or_insert_with(|| {
                chosen_entries.push(entries[placement.instance].clone());
                chosen_entries.len() - 1
            })
        })
        .collect();
    Ok((chosen_entries, Decision { chosen, failures: failures.into_iter().map(failure).collect() }))
}

/// Which instance (by index into the entries) each placed task goes to, and the refusals.
struct Decision {
    chosen: Vec<usize>,
    failures: Vec<Failure>,
}

async fn decide_by_engine(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
    request: &Request,
    instances: &[InstanceEntry],
) -> Result<Decision, EcsError> {
    if instances.is_empty() {
        return Err(EcsError::invalid_parameter("No Container Instances were found in your cluster."));
    }
    let mut tasks_by_instance =
        if needs_tasks(request) { task_views(store, scope, cluster).await? } else { HashMap::new() };
    let views: Vec<InstanceView> = instances
        .iter()
        .map(|entry| {
            container_instances::view(&entry.record, tasks_by_instance.remove(&entry.id).unwrap_or_default())
        })
        .collect();
    let (placements, failures) = berth_scheduler::place(&views, request);
    Ok(Decision {
        chosen: placements.into_iter().map(|placement| placement.instance).collect(),
        failures: failures.into_iter().map(failure).collect(),
    })
}

/// Whether the engine looks at the tasks already on the instances: constraints do
/// (`distinctInstance`, and `memberOf` expressions over task groups or task counts), and so does
/// `spread`; `binpack` and `random` look only at resources. Skipping the read keeps the common
/// placement to one range read.
fn needs_tasks(request: &Request) -> bool {
    !request.constraints.is_empty() || request.strategies.iter().any(|s| matches!(s, Strategy::Spread(_)))
}

/// The tasks on each instance that have not stopped, as the engine sees them (its constraints
/// and strategies look at groups and families). Reading them apart from the instances is safe:
/// every task that lands or stops also rewrites its instance record, so a task missed here makes
/// the instance's compare fail and the placement decide again.
async fn task_views(
    store: &dyn Store,
    scope: &Scope,
    cluster: &str,
) -> Result<HashMap<String, Vec<TaskView>>, EcsError> {
    let mut views: HashMap<String, Vec<TaskView>> = HashMap::new();
    for (_, summary) in load_task_summaries(store, scope, cluster).await? {
        if summary.is_stopped() {
            continue;
        }
        let Some(instance) = summary.instance_id.clone() else { continue };
        let view = TaskView { group: summary.task.group.clone(), family: summary.family().to_string() };
        views.entry(instance).or_default().push(view);
    }
    Ok(views)
}

/// StartTask's choice: each named instance in turn, checked by the engine alone against what the
/// earlier tasks of the same request already took.
fn decide_on_instances(
    scope: &Scope,
    cluster: &str,
    request: &Request,
    instances: &[InstanceEntry],
    ids: &[String],
) -> Decision {
    let single = Request {
        count: 1,
        demand: request.demand.clone(),
        group: request.group.clone(),
        family: request.family.clone(),
        ..Request::default()
    };
    let mut working: BTreeMap<usize, ContainerInstanceRecord> = BTreeMap::new();
    let mut decision = Decision { chosen: Vec::new(), failures: Vec::new() };
    for id in ids {
        let Some(index) = instances.iter().position(|entry| &entry.id == id) else {
            decision.failures.push(Failure {
                arn: Some(scope.container_instance_arn(cluster, id)),
                reason: Some("MISSING".to_string()),
                detail: None,
            });
            continue;
        };
        let record =
            working.entry(index).or_insert_with(|| ContainerInstanceRecord::clone(&instances[index].record));
        let (placed, refusals) =
            berth_scheduler::place(&[container_instances::view(record, Vec::new())], &single);
        if placed.is_empty() {
            decision.failures.extend(refusals.into_iter().map(failure));
        } else {
            container_instances::reserve(&mut record.instance, &request.demand);
            decision.chosen.push(index);
        }
    }
    decision
}

/// An instance a placement charges, as it writes it, and the bytes it writes.
type Charged = (InstanceEntry, Vec<u8>);

/// The one transaction of a placement: the tasks, their assignments, the instances charged.
/// Returns it with the task records and the charged instances' entries as it writes them (their
/// revisions still the ones compared), each with its encoding.
fn transaction(
    scope: &Scope,
    cluster: &str,
    request: &Request,
    instances: &[InstanceEntry],
    decision: &Decision,
    build: &mut BuildTask<'_>,
    claim: Option<&Claim<'_>>,
) -> Result<(Txn, Vec<TaskRecord>, Vec<Charged>), EcsError> {
    let mut txn = Txn::new();
    let mut charged: BTreeMap<usize, ContainerInstanceRecord> = BTreeMap::new();
    let mut tasks: Vec<TaskRecord> = Vec::with_capacity(decision.chosen.len());
    // The tasks of one request share their definition, and each task writes it twice (in its
    // record and in its assignment): it is encoded once, and again only if a task's differs.
    let mut definition: Option<Box<RawValue>> = None;
    for &index in &decision.chosen {
        let entry = &instances[index];
        let task = build(entry)?;
        let record = charged.entry(index).or_insert_with(|| ContainerInstanceRecord::clone(&entry.record));
        container_instances::reserve(&mut record.instance, &request.demand);
        let shared = tasks.last().is_some_and(|last| last.task_definition == task.task_definition);
        let raw = match definition.take() {
            Some(raw) if shared => raw,
            _ => serde_json::value::to_raw_value(&task.task_definition)
                .map_err(|err| EcsError::server(format!("failed to encode a task definition: {err}")))?,
        };
        let (task, own) = task.swap_definition(&*raw);
        let task_key = keys::task(scope, cluster, task.id());
        txn = txn.when(Compare::absent(&task_key)).then(Op::put(&task_key, encode(&task)?)).then(Op::put(
            keys::instance_task(scope, cluster, &entry.id, task.id()),
            encode(&task.assignment())?,
        ));
        tasks.push(task.swap_definition(own).0);
        definition = Some(raw);
    }
    let mut written = Vec::with_capacity(charged.len());
    for (index, mut record) in charged {
        let entry = &instances[index];
        record.instance.version = Some(record.instance.version.unwrap_or(0) + 1);
        let bytes = encode(&record)?;
        txn =
            txn.when(Compare::unchanged(&entry.key, entry.revision)).then(Op::put(&entry.key, bytes.clone()));
        let record = Arc::new(record);
        let written_entry =
            InstanceEntry { id: entry.id.clone(), key: entry.key.clone(), revision: entry.revision, record };
        written.push((written_entry, bytes));
    }
    if let Some(claim) = claim {
        let value = (claim.value)(&tasks, &decision.failures)?;
        txn = txn.when(Compare::absent(&claim.key)).then(Op::put(&claim.key, value));
    }
    Ok((txn, tasks, written))
}

fn failure(refusal: berth_scheduler::Failure) -> Failure {
    Failure { arn: Some(refusal.arn), reason: Some(refusal.reason), detail: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_its_family_from_the_definition_arn() {
        let summary = TaskSummary {
            task: TaskSummaryFields {
                task_definition_arn: Some(
                    "arn:aws:ecs:us-east-1:000000000000:task-definition/web-2:17".into(),
                ),
                ..TaskSummaryFields::default()
            },
            cluster: "c".into(),
            instance_id: None,
        };
        assert_eq!(summary.family(), "web-2");
        let without = TaskSummary { task: TaskSummaryFields::default(), ..summary };
        assert_eq!(without.family(), "");
    }
}
