//! Services: CreateService, UpdateService, DeleteService, DescribeServices, ListServices.
//!
//! The API side of services: it checks a request, stores what the user asked for in the
//! [`ServiceRecord`] (starting a deployment with [`services::start_deployment`] when the task
//! definition or configuration of the tasks changes), and leaves running the tasks to the service
//! controller, which reads the same record. Every write is a compare-and-set on the record's
//! revision, so a concurrent controller write is never lost: the handler reads again and re-applies
//! its change.

pub mod create;
pub mod delete;
pub mod describe;
pub mod launch;
pub mod list;
pub mod settings;
pub mod update;

use berth_api::arn::member_id;
use berth_api::model::Service;
use berth_api::{EcsError, ErrorCode};
use berth_store::Revision;

use crate::Ctx;
use crate::state::services::{self, ACTIVE, ServiceRecord, StartedDeployment};

/// How often a handler re-reads and re-applies its change when the record keeps changing.
pub const MAX_ATTEMPTS: usize = 64;

/// The `ServiceNotFoundException` ECS answers for a service that does not exist.
pub fn not_found() -> EcsError {
    EcsError::new(ErrorCode::ServiceNotFoundException, "Service not found.")
}

/// The `ServiceNotActiveException` ECS answers for a deleted service.
pub fn not_active() -> EcsError {
    EcsError::new(ErrorCode::ServiceNotActiveException, "Service was not ACTIVE.")
}

/// Resolves a service reference (its name, or its ARN in the long `service/CLUSTER/NAME` or the
/// old `service/NAME` format) to its name; `None` when an ARN names another cluster, region or
/// account, which callers report as not found.
pub fn name_of(ctx: &Ctx, cluster: &str, reference: &str) -> Result<Option<String>, EcsError> {
    let name = member_id(&ctx.scope, cluster, "service", reference)?;
    Ok(name.filter(|n| berth_api::names::is_simple_name(n, 255)))
}

/// Loads a service of `cluster` in any status; `ServiceNotFoundException` when there is none.
pub async fn load(ctx: &Ctx, cluster: &str, reference: &str) -> Result<(ServiceRecord, Revision), EcsError> {
    let name = name_of(ctx, cluster, reference)?.ok_or_else(not_found)?;
    services::load(&*ctx.store, &ctx.scope, cluster, &name).await?.ok_or_else(not_found)
}

/// Loads an ACTIVE service; a DRAINING or INACTIVE one is `ServiceNotActiveException`.
pub async fn load_active(
    ctx: &Ctx,
    cluster: &str,
    reference: &str,
) -> Result<(ServiceRecord, Revision), EcsError> {
    let (record, revision) = load(ctx, cluster, reference).await?;
    if record.status() != ACTIVE {
        return Err(not_active());
    }
    Ok((record, revision))
}

/// Applies `change` to an ACTIVE service and saves it with compare-and-set, re-reading and
/// re-applying on a conflict. `change` returns the deployment it started, if any.
pub async fn update_active<F>(
    ctx: &Ctx,
    cluster: &str,
    reference: &str,
    mut change: F,
) -> Result<ServiceRecord, EcsError>
where
    F: FnMut(&mut ServiceRecord) -> Result<Option<StartedDeployment>, EcsError>,
{
    for _ in 0..MAX_ATTEMPTS {
        let (mut record, revision) = load_active(ctx, cluster, reference).await?;
        let started = change(&mut record)?;
        if services::save(&*ctx.store, &ctx.scope, &record, revision, started.as_ref()).await?.is_some() {
            return Ok(record);
        }
    }
    Err(EcsError::server("The service kept changing while it was updated; try again."))
}

/// The service as an API answer: its tags only when asked for (`include` TAGS), as ECS does.
pub fn view(record: &ServiceRecord, with_tags: bool) -> Service {
    let mut service = record.service.clone();
    if !with_tags {
        service.tags = None;
    }
    service
}
