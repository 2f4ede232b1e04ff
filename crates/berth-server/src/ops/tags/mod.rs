//! Tags on every taggable resource: TagResource, UntagResource, ListTagsForResource.
//!
//! Each resource keeps its tags in its own record; [`Tagged`] finds the record an ARN names and
//! reads or rewrites the tags in it with compare-and-set, whatever kind of record it is.

pub mod list;
pub mod tag;
pub mod untag;

use berth_api::model::{CapacityProvider, Cluster, Tag, TaskSet};
use berth_api::{EcsError, arn::Arn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Ctx;
use crate::state::keys;
use crate::state::records;
use crate::state::services::ServiceRecord;
use crate::state::task_definitions::TaskDefinitionRecord;

/// A resource that carries tags, located by its ARN.
pub enum Tagged {
    /// A cluster record.
    Cluster(String),
    /// A task definition revision record.
    TaskDefinition(String),
    /// A capacity provider record.
    CapacityProvider(String),
    /// A service record.
    Service(String),
    /// A task set record.
    TaskSet(String),
}

impl Tagged {
    /// Finds the record a resource ARN names. Kinds of resource that Berth does not hold yet, or
    /// ARNs of another region or account, are reported as not found.
    pub fn locate(ctx: &Ctx, resource_arn: &str) -> Result<Tagged, EcsError> {
        let arn = Arn::parse(resource_arn).filter(|arn| arn.service == "ecs").ok_or_else(|| {
            EcsError::invalid_parameter(format!("'{resource_arn}' is not an ECS resource ARN."))
        })?;
        let not_found =
            || EcsError::resource_not_found(format!("The resource {resource_arn} does not exist."));
        if !arn.is_in(&ctx.scope) {
            return Err(not_found());
        }
        let scope = &ctx.scope;
        match arn.resource_type.as_str() {
            "cluster" => Ok(Tagged::Cluster(keys::cluster(scope, &arn.resource_id))),
            "task-definition" => {
                let (family, revision) = arn.resource_id.split_once(':').ok_or_else(not_found)?;
                let revision = revision.parse::<i32>().map_err(|_| not_found())?;
                Ok(Tagged::TaskDefinition(keys::task_definition(scope, family, revision)))
            }
            "capacity-provider" => {
                Ok(Tagged::CapacityProvider(keys::capacity_provider(scope, &arn.resource_id)))
            }
            "service" => {
                // Only the long format (`service/CLUSTER/NAME`) says which cluster holds it.
                let (cluster, name) = arn.resource_id.split_once('/').ok_or_else(not_found)?;
                Ok(Tagged::Service(keys::service(scope, cluster, name)))
            }
            "task-set" => {
                let mut parts = arn.resource_id.splitn(3, '/');
                let (Some(cluster), Some(service), Some(id)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(not_found());
                };
                Ok(Tagged::TaskSet(keys::task_set(scope, cluster, service, id)))
            }
            "task" | "container-instance" => Err(not_found()),
            other => {
                Err(EcsError::invalid_parameter(format!("Resources of type '{other}' cannot be tagged.")))
            }
        }
    }

    /// The resource's tags.
    pub async fn read(&self, ctx: &Ctx) -> Result<Vec<Tag>, EcsError> {
        match self {
            Tagged::Cluster(key) => {
                let cluster =
                    active_cluster(records::get::<Cluster>(&*ctx.store, key).await?.map(|r| r.value))?;
                Ok(cluster.tags.unwrap_or_default())
            }
            Tagged::TaskDefinition(key) => {
                let record = records::get::<TaskDefinitionRecord>(&*ctx.store, key).await?;
                Ok(record.ok_or_else(missing)?.value.tags)
            }
            Tagged::CapacityProvider(key) => {
                let record = records::get::<CapacityProvider>(&*ctx.store, key).await?;
                Ok(record.ok_or_else(missing)?.value.tags.unwrap_or_default())
            }
            Tagged::Service(key) => {
                let record = records::get::<ServiceRecord>(&*ctx.store, key).await?;
                Ok(record.ok_or_else(missing)?.value.service.tags.unwrap_or_default())
            }
            Tagged::TaskSet(key) => {
                let record = records::get::<TaskSet>(&*ctx.store, key).await?;
                Ok(record.ok_or_else(missing)?.value.tags.unwrap_or_default())
            }
        }
    }

    /// Rewrites the resource's tags with `change`, which may refuse with an error.
    pub async fn modify(
        &self,
        ctx: &Ctx,
        change: impl Fn(&[Tag]) -> Result<Vec<Tag>, EcsError>,
    ) -> Result<(), EcsError> {
        match self {
            Tagged::Cluster(key) => {
                modify_record::<Cluster>(ctx, key, |cluster| {
                    let current = active_cluster(Some(cluster.clone()))?.tags.unwrap_or_default();
                    cluster.tags = Some(change(&current)?);
                    Ok(())
                })
                .await
            }
            Tagged::TaskDefinition(key) => {
                modify_record::<TaskDefinitionRecord>(ctx, key, |record| {
                    record.tags = change(&record.tags)?;
                    Ok(())
                })
                .await
            }
            Tagged::CapacityProvider(key) => {
                modify_record::<CapacityProvider>(ctx, key, |provider| {
                    provider.tags = Some(change(provider.tags.as_deref().unwrap_or_default())?);
                    Ok(())
                })
                .await
            }
            Tagged::Service(key) => {
                modify_record::<ServiceRecord>(ctx, key, |record| {
                    let service = &mut record.service;
                    service.tags = Some(change(service.tags.as_deref().unwrap_or_default())?);
                    Ok(())
                })
                .await
            }
            Tagged::TaskSet(key) => {
                modify_record::<TaskSet>(ctx, key, |set| {
                    set.tags = Some(change(set.tags.as_deref().unwrap_or_default())?);
                    Ok(())
                })
                .await
            }
        }
    }
}

async fn modify_record<T>(
    ctx: &Ctx,
    key: &str,
    change: impl Fn(&mut T) -> Result<(), EcsError>,
) -> Result<(), EcsError>
where
    T: Serialize + DeserializeOwned,
{
    records::update::<T, _>(&*ctx.store, key, |current| {
        let mut value = current.ok_or_else(missing)?;
        change(&mut value)?;
        Ok(value)
    })
    .await
    .map(|_| ())
}

fn active_cluster(cluster: Option<Cluster>) -> Result<Cluster, EcsError> {
    cluster.filter(|c| c.status.as_deref() == Some("ACTIVE")).ok_or_else(EcsError::cluster_not_found)
}

fn missing() -> EcsError {
    EcsError::resource_not_found("The specified resource does not exist.")
}
