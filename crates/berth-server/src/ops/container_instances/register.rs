//! RegisterContainerInstance: an agent joins a cluster, or rejoins it with the ARN it kept.
//!
//! A new instance gets a 32-hex-digit id (ECS's long format), its registered resources as its
//! remaining ones (the reserved ports already taken), status ACTIVE and `agentConnected` false
//! until its agent opens a session.
//!
//! An agent that restarts sends the ARN it stored, and re-registers the same instance: its id,
//! status, task counts, registration time and custom attributes are kept. Its remaining resources
//! are recomputed as the new registration minus what its tasks still hold, rather than kept, so
//! that an instance that comes back with more memory, or another reserved port, is accounted
//! exactly. The tasks are read after the instance record, and the write compares the instance
//! record, which every placement and every STOPPED report writes: so no task can come or go
//! between the two reads without the write failing and being retried.
//!
//! The registration also rewrites its cluster's record, under a compare that it is unchanged and
//! ACTIVE. DeleteCluster checks that no instance is registered and then marks the cluster
//! INACTIVE under a compare on the revision it checked at; one of the two compares always fails,
//! so an instance can never be registered in a cluster that is being deleted.

use berth_api::model::{
    Attribute, ContainerInstance, RegisterContainerInstanceRequest, RegisterContainerInstanceResponse,
    Resource, Tag, VersionInfo,
};
use berth_api::{EcsError, tags};
use berth_scheduler::Demand;
use berth_store::{Compare, Op, Txn};

use super::identity::{self, Identity};
use super::{ACTIVE, INACTIVE, resources};
use crate::Ctx;
use crate::context::now;
use crate::ops::{attributes, clusters};
use crate::state::container_instances::{ContainerInstanceRecord, remaining_after};
use crate::state::keys;
use crate::state::records::{Record, commit, encode};
use crate::state::tasks;

/// How often a registration retries when its cluster or instance record keeps changing.
const MAX_ATTEMPTS: usize = 64;

/// Handles RegisterContainerInstance.
pub async fn handle(
    ctx: Ctx,
    input: RegisterContainerInstanceRequest,
) -> Result<RegisterContainerInstanceResponse, EcsError> {
    let cluster = clusters::name_of(&ctx, input.cluster.as_deref())?;
    let registration = Registration::check(&ctx, &cluster, input)?;
    let record = registration.commit(&ctx).await?;
    Ok(RegisterContainerInstanceResponse {
        container_instance: Some(super::view(&ctx, &record, &["TAGS".into()]).await?),
    })
}

/// A checked registration request.
struct Registration {
    cluster: String,
    /// The instance's id: the one its ARN names when re-registering, else a fresh one.
    id: String,
    /// Whether the request names an instance registered before.
    again: bool,
    identity: Identity,
    registered: Vec<Resource>,
    attributes: Vec<Attribute>,
    tags: Vec<Tag>,
    version_info: Option<VersionInfo>,
}

impl Registration {
    /// Checks everything that does not need the store.
    fn check(ctx: &Ctx, cluster: &str, input: RegisterContainerInstanceRequest) -> Result<Self, EcsError> {
        let identity = identity::parse(input.instance_identity_document.as_deref())?;
        let registered = resources::registered(
            input.total_resources.as_deref().unwrap_or_default(),
            input.platform_devices.as_deref().unwrap_or_default(),
        )?;
        let attributes = given_attributes(input.attributes.as_deref().unwrap_or_default(), &identity)?;
        let tags = input.tags.unwrap_or_default();
        tags::check_tags(&tags)?;
        let previous = input.container_instance_arn.filter(|arn| !arn.is_empty());
        let (id, again) = match previous {
            Some(reference) => (previous_id(ctx, cluster, &reference)?, true),
            None => (uuid::Uuid::new_v4().simple().to_string(), false),
        };
        Ok(Registration {
            cluster: cluster.to_string(),
            id,
            again,
            identity,
            registered,
            attributes,
            tags,
            version_info: input.version_info,
        })
    }

    /// Writes the instance together with its cluster's record, retrying on conflict.
    async fn commit(&self, ctx: &Ctx) -> Result<ContainerInstanceRecord, EcsError> {
        let store = &*ctx.store;
        let cluster_key = keys::cluster(&ctx.scope, &self.cluster);
        let key = keys::container_instance(&ctx.scope, &self.cluster, &self.id);
        for _ in 0..MAX_ATTEMPTS {
            let cluster = clusters::load_active(ctx, Some(&self.cluster)).await?;
            let (record, compare) = if self.again {
                let current = super::load(ctx, &self.cluster, &self.id).await?;
                let Record { value: current, revision } = self.still_registered(ctx, current)?;
                let live = tasks::assigned(store, &ctx.scope, &self.cluster, &self.id).await?;
                let demands: Vec<_> =
                    live.iter().filter(|t| !t.released).map(|t| t.reservation.demand()).collect();
                (self.renewed(current, &demands)?, Compare::unchanged(&key, revision))
            } else {
                (self.new_record(ctx), Compare::absent(&key))
            };
            let txn = Txn::new()
                .when(Compare::unchanged(&cluster_key, cluster.revision))
                .when(compare)
                .then(Op::put(&cluster_key, encode(&cluster.value)?))
                .then(Op::put(&key, encode(&record)?));
            if commit(store, txn).await?.is_some() {
                tracing::info!(cluster = %self.cluster, id = %self.id, again = self.again, "container instance registered");
                return Ok(record);
            }
        }
        Err(EcsError::server("The cluster kept changing while the container instance registered; try again."))
    }

    /// The record of a first registration.
    fn new_record(&self, ctx: &Ctx) -> ContainerInstanceRecord {
        let instance = ContainerInstance {
            container_instance_arn: Some(ctx.scope.container_instance_arn(&self.cluster, &self.id)),
            ec2_instance_id: self.identity.instance_id.clone(),
            version: Some(1),
            version_info: Some(self.version_info.clone().unwrap_or_default()),
            remaining_resources: Some(self.registered.clone()),
            registered_resources: Some(self.registered.clone()),
            status: Some(ACTIVE.to_string()),
            agent_connected: Some(false),
            running_tasks_count: Some(0),
            pending_tasks_count: Some(0),
            attributes: Some(self.attributes.clone()),
            registered_at: Some(now()),
            attachments: Some(Vec::new()),
            tags: Some(self.tags.clone()),
            ..ContainerInstance::default()
        };
        ContainerInstanceRecord { instance, cluster: self.cluster.clone(), disconnected_at: None }
    }

    /// The instance named by the request's ARN, which must still be registered.
    fn still_registered(
        &self,
        ctx: &Ctx,
        current: Option<Record<ContainerInstanceRecord>>,
    ) -> Result<Record<ContainerInstanceRecord>, EcsError> {
        let arn = ctx.scope.container_instance_arn(&self.cluster, &self.id);
        let Some(current) = current else {
            return Err(EcsError::invalid_parameter(format!(
                "Container instance {arn} is not registered in cluster {}: register without \
                 containerInstanceArn to join as a new instance.",
                self.cluster
            )));
        };
        if current.value.instance.status.as_deref() == Some(INACTIVE) {
            return Err(EcsError::client(format!(
                "Container instance {arn} was deregistered, which is final: register without \
                 containerInstanceArn to join as a new instance."
            )));
        }
        let (known, reported) = (&current.value.instance.ec2_instance_id, &self.identity.instance_id);
        if let (Some(known), Some(reported)) = (known, reported)
            && known != reported
        {
            return Err(EcsError::invalid_parameter(format!(
                "Container instance {arn} belongs to EC2 instance {known}, but the identity document \
                 is of {reported}."
            )));
        }
        Ok(current)
    }

    /// An instance registered again: what the agent reports now, with what the control plane
    /// keeps (id, status, counts, registration time, custom attributes, tags).
    fn renewed(
        &self,
        mut record: ContainerInstanceRecord,
        live: &[Demand],
    ) -> Result<ContainerInstanceRecord, EcsError> {
        let instance = &mut record.instance;
        instance.remaining_resources = Some(remaining_after(&self.registered, live));
        instance.registered_resources = Some(self.registered.clone());
        if self.version_info.is_some() {
            instance.version_info = self.version_info.clone();
        }
        if self.identity.instance_id.is_some() {
            instance.ec2_instance_id = self.identity.instance_id.clone();
        }
        let kept = instance.attributes.take().unwrap_or_default();
        instance.attributes = Some(renewed_attributes(&self.attributes, &kept)?);
        if !self.tags.is_empty() {
            instance.tags = Some(tags::merge(instance.tags.as_deref().unwrap_or_default(), &self.tags)?);
        }
        super::bump(instance);
        Ok(record)
    }
}

/// The id of the instance a re-registration names, which must be of this cluster.
fn previous_id(ctx: &Ctx, cluster: &str, reference: &str) -> Result<String, EcsError> {
    super::instance_id(ctx, cluster, reference)?.ok_or_else(|| {
        EcsError::invalid_parameter(format!(
            "containerInstanceArn {reference} is not an instance of cluster {cluster} in region {} \
             and account {}.",
            ctx.scope.region, ctx.scope.account
        ))
    })
}

/// The attributes a registration gives: the agent's, checked like PutAttributes', plus ECS's
/// automatic ones where the agent did not give them (`ecs.os-type` is `linux` unless given).
fn given_attributes(given: &[Attribute], identity: &Identity) -> Result<Vec<Attribute>, EcsError> {
    let mut list: Vec<Attribute> = Vec::with_capacity(given.len() + 5);
    for attribute in given {
        attributes::check(attribute)?;
        let name = attribute.name.clone().unwrap_or_default();
        if list.iter().any(|a| a.name.as_deref() == Some(name.as_str())) {
            return Err(EcsError::invalid_parameter(format!("Attribute {name} is given more than once.")));
        }
        list.push(Attribute { name: Some(name), value: attribute.value.clone(), ..Attribute::default() });
    }
    let automatic = identity.attributes().into_iter().chain([("ecs.os-type", "linux")]);
    for (name, value) in automatic {
        if !list.iter().any(|a| a.name.as_deref() == Some(name)) {
            attributes::set(&mut list, name, Some(value.to_string()));
        }
    }
    check_custom_limit(&list)?;
    Ok(list)
}

/// A re-registration's attributes: the ones it gives, plus the custom attributes the instance
/// already had (set with PutAttributes) that it does not give again. Built-in attributes are the
/// agent's to report, so the old ones go.
fn renewed_attributes(given: &[Attribute], kept: &[Attribute]) -> Result<Vec<Attribute>, EcsError> {
    let mut list = given.to_vec();
    for old in kept {
        let name = old.name.as_deref().unwrap_or_default();
        if !attributes::is_builtin(name) && !list.iter().any(|a| a.name.as_deref() == Some(name)) {
            list.push(old.clone());
        }
    }
    check_custom_limit(&list)?;
    Ok(list)
}

fn check_custom_limit(list: &[Attribute]) -> Result<(), EcsError> {
    let custom = attributes::custom_count(list);
    if custom > attributes::MAX_CUSTOM {
        return Err(EcsError::invalid_parameter(format!(
            "A container instance can have at most {} custom attributes; this registration would \
             give it {custom}.",
            attributes::MAX_CUSTOM
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(name: &str, value: Option<&str>) -> Attribute {
        Attribute { name: Some(name.into()), value: value.map(String::from), ..Attribute::default() }
    }

    #[test]
    fn automatic_attributes_fill_in_what_the_agent_left_out() {
        let identity = Identity { availability_zone: Some("us-east-1b".into()), ..Identity::default() };
        let list = given_attributes(
            &[attribute("ecs.os-type", Some("windows")), attribute("stack", None)],
            &identity,
        )
        .expect("valid");
        let value =
            |name: &str| list.iter().find(|a| a.name.as_deref() == Some(name)).and_then(|a| a.value.clone());
        assert_eq!(value("ecs.os-type").as_deref(), Some("windows"));
        assert_eq!(value("ecs.availability-zone").as_deref(), Some("us-east-1b"));
        assert!(list.iter().any(|a| a.name.as_deref() == Some("stack")));
        assert!(given_attributes(&[attribute("a", None), attribute("a", None)], &identity).is_err());
        let eleven: Vec<_> = (0..11).map(|i| attribute(&format!("c{i}"), None)).collect();
        assert!(given_attributes(&eleven, &identity).is_err());
    }

    #[test]
    fn renewal_keeps_custom_attributes_and_drops_old_builtin_ones() {
        let given = [attribute("ecs.os-type", Some("linux")), attribute("stack", Some("new"))];
        let kept = [
            attribute("ecs.capability.old", None),
            attribute("stack", Some("old")),
            attribute("team", Some("web")),
        ];
        let list = renewed_attributes(&given, &kept).expect("valid");
        let names: Vec<_> = list.iter().filter_map(|a| a.name.as_deref()).collect();
        assert_eq!(names, ["ecs.os-type", "stack", "team"]);
        assert_eq!(list[1].value.as_deref(), Some("new"));
    }
}
