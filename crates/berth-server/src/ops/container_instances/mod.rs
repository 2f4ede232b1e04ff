//! Container instances: RegisterContainerInstance, DeregisterContainerInstance,
//! DescribeContainerInstances, ListContainerInstances, UpdateContainerInstancesState and
//! DiscoverPollEndpoint.
//!
//! An instance is one record under its cluster's prefix, keyed by its id
//! ([`crate::state::container_instances`]). Deregistration marks it INACTIVE and keeps it, as ECS
//! does: DescribeContainerInstances still shows it, ListContainerInstances hides it unless asked,
//! and it no longer counts as registered, so its cluster can be deleted.

pub mod deregister;
pub mod describe;
pub mod discover_poll_endpoint;
mod identity;
pub mod list;
pub mod register;
mod resources;
pub mod update_state;

use berth_api::model::{ContainerInstance, ContainerInstanceHealthStatus, enums};
use berth_api::{EcsError, arn};
use berth_store::{Compare, Op, Txn};

use crate::Ctx;
use crate::ops::clusters;
use crate::state::container_instances::{self as state, ContainerInstanceRecord};
use crate::state::keys;
use crate::state::records::{self, Record, commit, encode};

/// The resource type of container instance ARNs.
pub const RESOURCE_TYPE: &str = "container-instance";
/// An instance that takes tasks.
pub const ACTIVE: &str = "ACTIVE";
/// An instance that takes no new tasks while its tasks are moved away.
pub const DRAINING: &str = "DRAINING";
pub use crate::state::container_instances::INACTIVE;

/// How often a change retries when other writers keep changing the instance under it.
const MAX_ATTEMPTS: usize = 64;

/// The name of the ACTIVE cluster a request names (`default` when none);
/// `ClusterNotFoundException` when it is unknown or deleted.
pub async fn active_cluster(ctx: &Ctx, reference: Option<&str>) -> Result<String, EcsError> {
    clusters::load_active(ctx, reference).await?;
    clusters::name_of(ctx, reference)
}

/// The id a reference (an id or an ARN) gives an instance of `cluster`; `None` when it is an ARN
/// of another cluster, region or account, which names nothing this cluster holds.
pub fn instance_id(ctx: &Ctx, cluster: &str, reference: &str) -> Result<Option<String>, EcsError> {
    arn::member_id(&ctx.scope, cluster, RESOURCE_TYPE, reference)
}

/// The ARN a reference stands for, as `failures` report it.
pub fn reference_arn(ctx: &Ctx, cluster: &str, reference: &str) -> String {
    if reference.starts_with("arn:") {
        reference.to_string()
    } else {
        ctx.scope.container_instance_arn(cluster, reference)
    }
}

/// Reads one instance of `cluster` by id.
pub async fn load(
    ctx: &Ctx,
    cluster: &str,
    id: &str,
) -> Result<Option<Record<ContainerInstanceRecord>>, EcsError> {
    state::load(&*ctx.store, &ctx.scope, cluster, id).await
}

/// Reads the instance a reference names; `None` when it names none (including a malformed
/// reference, which can name nothing).
pub async fn find(
    ctx: &Ctx,
    cluster: &str,
    reference: &str,
) -> Result<Option<ContainerInstanceRecord>, EcsError> {
    match instance_id(ctx, cluster, reference) {
        Ok(Some(id)) => Ok(load(ctx, cluster, &id).await?.map(|record| record.value)),
        Ok(None) | Err(_) => Ok(None),
    }
}

/// What [`update`] made of an instance.
pub enum Updated {
    /// No instance has that id.
    Missing,
    /// The instance, as written (or as it was, when `change` left it alone).
    Done(Box<ContainerInstanceRecord>),
}

/// Reads an instance, lets `change` modify it (returning whether it did, or an error that aborts
/// with nothing written), and writes it back with its version bumped under a compare that it is
/// unchanged since read, retrying on conflict. `change` must be a pure function of the record.
pub async fn update(
    ctx: &Ctx,
    cluster: &str,
    id: &str,
    mut change: impl FnMut(&mut ContainerInstanceRecord) -> Result<bool, EcsError>,
) -> Result<Updated, EcsError> {
    let key = keys::container_instance(&ctx.scope, cluster, id);
    for _ in 0..MAX_ATTEMPTS {
        let Some(Record { value: mut record, revision }) = records::get(&*ctx.store, &key).await? else {
            return Ok(Updated::Missing);
        };
        if !change(&mut record)? {
            return Ok(Updated::Done(Box::new(record)));
        }
        bump(&mut record.instance);
        let txn = Txn::new().when(Compare::unchanged(&key, revision)).then(Op::put(&key, encode(&record)?));
        if commit(&*ctx.store, txn).await?.is_some() {
            return Ok(Updated::Done(Box::new(record)));
        }
    }
    Err(EcsError::server("The container instance kept changing while it was updated; try again."))
}

/// Counts one more change of an instance: ECS's `version` moves on every change, which is how an
/// agent or a watcher tells a newer record from an older one.
pub fn bump(instance: &mut ContainerInstance) {
    instance.version = Some(instance.version.unwrap_or(0) + 1);
}

/// Checks DescribeContainerInstances' `include` values.
pub fn check_include(include: &[String]) -> Result<(), EcsError> {
    for field in include {
        if !enums::CONTAINER_INSTANCE_FIELD.contains(&field.as_str()) {
            return Err(EcsError::invalid_parameter(format!(
                "Unknown include value '{field}': use TAGS or CONTAINER_INSTANCE_HEALTH."
            )));
        }
    }
    Ok(())
}

/// The instance as responses show it: its running and pending task counts, its tags only with
/// `TAGS`, its health only with `CONTAINER_INSTANCE_HEALTH`. Berth runs no instance health checks
/// of its own yet, so an instance whose health nobody has reported says so: `INSUFFICIENT_DATA`.
pub async fn view(
    ctx: &Ctx,
    record: &ContainerInstanceRecord,
    include: &[String],
) -> Result<ContainerInstance, EcsError> {
    let running = state::running_tasks(&*ctx.store, &ctx.scope, &record.cluster, record.id()).await?;
    Ok(with_fields(state::with_task_counts(record.instance.clone(), running), include))
}

/// The optional parts of an instance as `include` asks for them.
fn with_fields(mut instance: ContainerInstance, include: &[String]) -> ContainerInstance {
    let wants = |field: &str| include.iter().any(|f| f == field);
    instance.tags = Some(if wants("TAGS") { instance.tags.unwrap_or_default() } else { Vec::new() });
    instance.health_status = if wants("CONTAINER_INSTANCE_HEALTH") {
        Some(instance.health_status.unwrap_or_else(|| ContainerInstanceHealthStatus {
            overall_status: Some("INSUFFICIENT_DATA".to_string()),
            details: Some(Vec::new()),
        }))
    } else {
        None
    };
    instance
}
