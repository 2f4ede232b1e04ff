//! Task definition families and revisions.
//!
//! A family record counts the revisions ever registered (revisions are never reused, even after
//! deletion, as in ECS) and tracks the latest ACTIVE one, so that naming a task definition by
//! family alone is two point reads. Each revision is a record of its own, written in the same
//! transaction as its family record.

use berth_api::model::{Tag, TaskDefinition};
use berth_api::{EcsError, arn::Arn};
use berth_store::{Compare, Op, Txn};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys;
use super::records::{self, Record};
use crate::Ctx;

/// Status of a registered task definition.
pub const ACTIVE: &str = "ACTIVE";
/// Status of a deregistered task definition.
pub const INACTIVE: &str = "INACTIVE";
/// Status of a task definition being deleted.
pub const DELETE_IN_PROGRESS: &str = "DELETE_IN_PROGRESS";

/// ECS's quota of revisions in one family.
pub const MAX_REVISIONS: i32 = 1_000_000;

/// The bookkeeping of one family.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FamilyRecord {
    /// The family name.
    pub family: String,
    /// The highest revision ever registered.
    pub last_revision: i32,
    /// The highest ACTIVE revision, if any.
    pub latest_active: Option<i32>,
    /// How many revisions are ACTIVE.
    pub active_count: u32,
    /// How many revisions exist (not deleted). A family with none is no longer listed.
    #[serde(default)]
    pub existing_count: u32,
}

/// One stored revision: the task definition as DescribeTaskDefinition returns it, and its tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDefinitionRecord {
    /// The task definition.
    pub task_definition: TaskDefinition,
    /// The tags, which ECS returns beside the task definition rather than in it.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl TaskDefinitionRecord {
    /// The family name.
    pub fn family(&self) -> &str {
        self.task_definition.family.as_deref().unwrap_or("")
    }

    /// The revision number.
    pub fn revision(&self) -> i32 {
        self.task_definition.revision.unwrap_or(0)
    }

    /// The status (ACTIVE, INACTIVE or DELETE_IN_PROGRESS).
    pub fn status(&self) -> &str {
        self.task_definition.status.as_deref().unwrap_or(ACTIVE)
    }
}

/// Registers the next revision of `definition.family`, filling in the ARN, revision, status and
/// registration time. Retries when another registration of the family commits first.
pub async fn register(
    ctx: &Ctx,
    mut definition: TaskDefinition,
    tags: Vec<Tag>,
) -> Result<TaskDefinitionRecord, EcsError> {
    let family = definition.family.clone().unwrap_or_default();
    let family_key = keys::family(&ctx.scope, &family);
    loop {
        let current = records::get::<FamilyRecord>(&*ctx.store, &family_key).await?;
        let (mut record, seen) = match current {
            Some(found) => (found.value, found.revision),
            None => (FamilyRecord { family: family.clone(), ..FamilyRecord::default() }, 0),
        };
        if record.last_revision >= MAX_REVISIONS {
            return Err(EcsError::new(
                berth_api::ErrorCode::LimitExceededException,
                format!("Family {family} has reached the limit of {MAX_REVISIONS} revisions."),
            ));
        }
        let revision = record.last_revision + 1;
        record.last_revision = revision;
        record.latest_active = Some(revision);
        record.active_count += 1;
        record.existing_count += 1;
        definition.revision = Some(revision);
        definition.task_definition_arn = Some(ctx.scope.task_definition_arn(&family, revision));
        let stored = TaskDefinitionRecord { task_definition: definition.clone(), tags: tags.clone() };
        let revision_key = keys::task_definition(&ctx.scope, &family, revision);
        let txn = Txn::new()
            .when(Compare::unchanged(&family_key, seen))
            .when(Compare::absent(&revision_key))
            .then(Op::put(&family_key, records::encode(&record)?))
            .then(Op::put(&revision_key, records::encode(&stored)?));
        if records::commit(&*ctx.store, txn).await?.is_some() {
            return Ok(stored);
        }
    }
}

/// A task definition reference split into family and, when given, revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The family.
    pub family: String,
    /// The revision, when the reference names one.
    pub revision: Option<i32>,
}

/// Parses `family`, `family:revision` or a task definition ARN of this scope.
pub fn parse_reference(ctx: &Ctx, text: &str) -> Result<Reference, EcsError> {
    let bad = || {
        EcsError::client(format!(
            "Invalid task definition reference '{text}': use family, family:revision or a task definition ARN."
        ))
    };
    let body = if text.starts_with("arn:") {
        let arn = Arn::parse(text)
            .filter(|a| a.service == "ecs" && a.resource_type == "task-definition")
            .ok_or_else(bad)?;
        if !arn.is_in(&ctx.scope) {
            return Err(unable_to_describe());
        }
        arn.resource_id
    } else {
        text.to_string()
    };
    let (family, revision) = match body.split_once(':') {
        Some((family, revision)) => {
            (family.to_string(), Some(revision.parse::<i32>().ok().filter(|r| *r > 0).ok_or_else(bad)?))
        }
        None => (body, None),
    };
    if !berth_api::names::is_simple_name(&family, 255) {
        return Err(bad());
    }
    Ok(Reference { family, revision })
}

/// ECS's answer for a task definition that does not exist.
pub fn unable_to_describe() -> EcsError {
    EcsError::client("Unable to describe task definition.")
}

/// Finds the revision a reference names: the given revision, or the family's latest ACTIVE one.
pub async fn find(
    ctx: &Ctx,
    reference: &Reference,
) -> Result<Option<Record<TaskDefinitionRecord>>, EcsError> {
    find_raw(ctx, reference).await
}

/// [`find`], decoding the record as any type that reads it (a partial or raw view of it).
pub async fn find_raw<T: DeserializeOwned>(
    ctx: &Ctx,
    reference: &Reference,
) -> Result<Option<Record<T>>, EcsError> {
    let revision = match reference.revision {
        Some(revision) => revision,
        None => {
            let family =
                records::get::<FamilyRecord>(&*ctx.store, &keys::family(&ctx.scope, &reference.family))
                    .await?;
            match family.and_then(|f| f.value.latest_active) {
                Some(revision) => revision,
                None => return Ok(None),
            }
        }
    };
    records::get(&*ctx.store, &keys::task_definition(&ctx.scope, &reference.family, revision)).await
}

/// Changes one revision's status and keeps its family record in step, in one transaction.
pub async fn set_status(
    ctx: &Ctx,
    reference: &Reference,
    change: impl Fn(&mut TaskDefinitionRecord) -> Result<(), EcsError>,
) -> Result<TaskDefinitionRecord, EcsError> {
    let family_key = keys::family(&ctx.scope, &reference.family);
    loop {
        let current = find(ctx, reference).await?.ok_or_else(unable_to_describe)?;
        let family =
            records::get::<FamilyRecord>(&*ctx.store, &family_key).await?.ok_or_else(unable_to_describe)?;
        let mut updated = current.value.clone();
        change(&mut updated)?;
        let mut family_record = family.value.clone();
        if current.value.status() == ACTIVE && updated.status() != ACTIVE {
            family_record.active_count = family_record.active_count.saturating_sub(1);
            if family_record.latest_active == Some(updated.revision()) {
                family_record.latest_active =
                    latest_active_below(ctx, &reference.family, updated.revision()).await?;
            }
        }
        let revision_key = keys::task_definition(&ctx.scope, &reference.family, updated.revision());
        let txn = Txn::new()
            .when(Compare::unchanged(&family_key, family.revision))
            .when(Compare::unchanged(&revision_key, current.revision))
            .then(Op::put(&family_key, records::encode(&family_record)?))
            .then(Op::put(&revision_key, records::encode(&updated)?));
        if records::commit(&*ctx.store, txn).await?.is_some() {
            return Ok(updated);
        }
    }
}

/// The highest ACTIVE revision of `family` below `revision`.
async fn latest_active_below(ctx: &Ctx, family: &str, revision: i32) -> Result<Option<i32>, EcsError> {
    let prefix = keys::family_revisions(&ctx.scope, family);
    let page = records::list::<TaskDefinitionRecord>(&*ctx.store, &prefix, None, 0).await?;
    Ok(page
        .items
        .iter()
        .map(|(_, record)| record)
        .filter(|record| record.status() == ACTIVE && record.revision() < revision)
        .map(TaskDefinitionRecord::revision)
        .max())
}

/// Removes one INACTIVE revision, and counts it out of its family in the same transaction. The
/// family keeps its revision counter, so numbers are never reused. `false` when either record
/// changed since it was read; the caller reads again.
pub async fn remove(ctx: &Ctx, record: &Record<TaskDefinitionRecord>) -> Result<bool, EcsError> {
    let family_key = keys::family(&ctx.scope, record.value.family());
    let family =
        records::get::<FamilyRecord>(&*ctx.store, &family_key).await?.ok_or_else(unable_to_describe)?;
    let mut counted = family.value;
    counted.existing_count = counted.existing_count.saturating_sub(1);
    let key = keys::task_definition(&ctx.scope, record.value.family(), record.value.revision());
    let txn = Txn::new()
        .when(Compare::unchanged(&key, record.revision))
        .when(Compare::unchanged(&family_key, family.revision))
        .then(Op::delete(&key))
        .then(Op::put(&family_key, records::encode(&counted)?));
    Ok(records::commit(&*ctx.store, txn).await?.is_some())
}
