//! Task sets of services with an EXTERNAL deployment controller: CreateTaskSet, UpdateTaskSet,
//! DeleteTaskSet, DescribeTaskSets, UpdateServicePrimaryTaskSet.
//!
//! A task set is stored as its `TaskSet` shape under [`keys::task_set`]; the task definition it
//! runs is copied into its service's record (`definitions`, by task set id) in the same
//! transaction, so the service controller finds both with the service. Every write of a task set
//! is a compare-and-set on the service record as well, so task set changes and service changes
//! are ordered.

pub mod create;
pub mod delete;
pub mod describe;
pub mod update;
pub mod update_primary;

use berth_api::arn::Arn;
use berth_api::model::{Scale, TaskSet};
use berth_api::{EcsError, ErrorCode};
use berth_store::{Compare, Op, Revision, Txn};

use crate::Ctx;
use crate::ops::services as service_ops;
use crate::state::keys;
use crate::state::records::{self, commit, encode};
use crate::state::services::ServiceRecord;

/// Status of the task set that receives production traffic.
pub const PRIMARY: &str = "PRIMARY";
/// Status of any other task set.
pub const ACTIVE: &str = "ACTIVE";

/// The `TaskSetNotFoundException` ECS answers for an unknown task set.
pub fn not_found() -> EcsError {
    EcsError::new(ErrorCode::TaskSetNotFoundException, "The specified task set does not exist.")
}

/// Loads an ACTIVE service that manages task sets: one with the EXTERNAL deployment controller.
pub async fn load_external(
    ctx: &Ctx,
    cluster: &str,
    reference: &str,
) -> Result<(ServiceRecord, Revision), EcsError> {
    let (record, revision) = service_ops::load_active(ctx, cluster, reference).await?;
    if !record.is_external() {
        return Err(EcsError::invalid_parameter(
            "Task sets can only be managed on a service that uses the EXTERNAL deployment controller.",
        ));
    }
    Ok((record, revision))
}

/// Resolves a task set reference (its id, `ecs-svc/` and digits, or its ARN
/// `task-set/CLUSTER/SERVICE/ID`) to its id; `None` when it names another service, cluster,
/// region or account.
pub fn id_of(ctx: &Ctx, record: &ServiceRecord, reference: &str) -> Result<Option<String>, EcsError> {
    let invalid = || EcsError::invalid_parameter(format!("Invalid task set: '{reference}'."));
    let id = if reference.starts_with("arn:") {
        let arn = Arn::parse(reference)
            .filter(|a| a.service == "ecs" && a.resource_type == "task-set")
            .ok_or_else(invalid)?;
        let mut parts = arn.resource_id.splitn(3, '/');
        let (Some(cluster), Some(service), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        if !arn.is_in(&ctx.scope) || cluster != record.cluster || service != record.name() {
            return Ok(None);
        }
        id.to_string()
    } else {
        reference.to_string()
    };
    let valid = id.strip_prefix("ecs-svc/").is_some_and(|digits| {
        !digits.is_empty() && digits.len() <= 32 && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !valid {
        return if reference.starts_with("arn:") { Err(invalid()) } else { Ok(None) };
    }
    Ok(Some(id))
}

/// Checks a scale (a percentage of the service's desired count, 0 to 100) and completes it.
pub fn check_scale(scale: Option<&Scale>) -> Result<Scale, EcsError> {
    let unit = scale.and_then(|s| s.unit.clone()).unwrap_or_else(|| "PERCENT".to_string());
    if unit != "PERCENT" {
        return Err(EcsError::invalid_parameter(format!("Invalid scale unit '{unit}': use PERCENT.")));
    }
    let value = scale.and_then(|s| s.value).unwrap_or(100.0);
    if !(0.0..=100.0).contains(&value) {
        return Err(EcsError::invalid_parameter("A task set's scale must be between 0 and 100 percent."));
    }
    Ok(Scale { value: Some(value), unit: Some(unit) })
}

/// The number of tasks a task set runs: its scale of the service's desired count, rounded up.
pub fn computed_desired_count(desired: i32, scale: &Scale) -> i32 {
    let value = scale.value.unwrap_or(100.0);
    (f64::from(desired.max(0)) * value / 100.0).ceil() as i32
}

/// Loads one task set of a service.
pub async fn load(ctx: &Ctx, record: &ServiceRecord, id: &str) -> Result<(TaskSet, Revision), EcsError> {
    let key = keys::task_set(&ctx.scope, &record.cluster, record.name(), id);
    let found = records::get::<TaskSet>(&*ctx.store, &key).await?.ok_or_else(not_found)?;
    Ok((found.value, found.revision))
}

/// Writes the service record and task set writes together, each under compare-and-set.
/// `Ok(false)`: another writer came first.
pub async fn commit_with_service(
    ctx: &Ctx,
    record: &ServiceRecord,
    revision: Revision,
    writes: Vec<(String, Revision, Option<TaskSet>)>,
) -> Result<bool, EcsError> {
    let service_key = keys::service(&ctx.scope, &record.cluster, record.name());
    let mut txn = Txn::new().when(Compare::unchanged(&service_key, revision));
    for (key, set_revision, set) in writes {
        txn = txn.when(Compare::unchanged(&key, set_revision));
        txn = match set {
            Some(set) => txn.then(Op::put(&key, encode(&set)?)),
            None => txn.then(Op::delete(&key)),
        };
    }
    txn = txn.then(Op::put(&service_key, encode(record)?));
    Ok(commit(&*ctx.store, txn).await?.is_some())
}

/// The task set as an API answer: its tags only when asked for.
pub fn view(mut set: TaskSet, with_tags: bool) -> TaskSet {
    if !with_tags {
        set.tags = None;
    }
    set
}
