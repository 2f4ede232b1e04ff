//! Container instances written straight into a test server's store, as an agent's registration
//! would leave them: ACTIVE, with the resources given and (unless asked otherwise) a connected
//! agent. Task tests need instances to place on without running an agent.
#![allow(dead_code)] // Each test file uses a different part of the helpers.

use std::collections::BTreeSet;

use berth_api::arn::Scope;
use berth_api::model::{Attribute, ContainerInstance, VersionInfo};
use berth_server::state::container_instances::{
    ContainerInstanceRecord, integer, integer_of, port_set, ports_of, resource,
};
use berth_server::state::{keys, records};

use crate::common::TestServer;

/// The scope the test server answers in.
pub fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

/// What an instance offers.
#[derive(Debug, Clone)]
pub struct Instance {
    /// CPU units.
    pub cpu: i64,
    /// Memory in MiB.
    pub memory: i64,
    /// TCP ports the host already uses.
    pub ports: Vec<u16>,
    /// Whether its agent holds a session.
    pub connected: bool,
    /// Attributes beyond the availability zone.
    pub attributes: Vec<(String, String)>,
    /// Its availability zone.
    pub zone: String,
}

impl Instance {
    /// An instance of `cpu` units and `memory` MiB, using port 22, with a connected agent.
    pub fn new(cpu: i64, memory: i64) -> Self {
        Self {
            cpu,
            memory,
            ports: vec![22],
            connected: true,
            attributes: Vec::new(),
            zone: "us-east-1a".into(),
        }
    }

    /// The same, with its agent disconnected.
    pub fn disconnected(mut self) -> Self {
        self.connected = false;
        self
    }
}

/// Writes instance `id` of `cluster`, returning its ARN.
pub async fn add(server: &TestServer, cluster: &str, id: &str, spec: Instance) -> String {
    let arn = scope().container_instance_arn(cluster, id);
    let ports: BTreeSet<u16> = spec.ports.iter().copied().collect();
    let resources = vec![
        integer(resource::CPU, spec.cpu),
        integer(resource::MEMORY, spec.memory),
        port_set(resource::PORTS, &ports),
    ];
    let mut attributes = vec![("ecs.availability-zone".to_string(), spec.zone.clone())];
    attributes.push(("ecs.cpu-architecture".to_string(), "x86_64".to_string()));
    attributes.extend(spec.attributes.iter().cloned());
    let record = ContainerInstanceRecord {
        instance: ContainerInstance {
            container_instance_arn: Some(arn.clone()),
            ec2_instance_id: Some(format!("i-{id}")),
            version: Some(1),
            version_info: Some(VersionInfo { agent_version: Some("1.0.0".into()), ..VersionInfo::default() }),
            remaining_resources: Some(resources.clone()),
            registered_resources: Some(resources),
            status: Some("ACTIVE".into()),
            agent_connected: Some(spec.connected),
            running_tasks_count: Some(0),
            pending_tasks_count: Some(0),
            attributes: Some(
                attributes
                    .into_iter()
                    .map(|(name, value)| Attribute {
                        name: Some(name),
                        value: Some(value),
                        ..Attribute::default()
                    })
                    .collect(),
            ),
            registered_at: Some(1.0),
            ..ContainerInstance::default()
        },
        cluster: cluster.to_string(),
        disconnected_at: None,
    };
    records::put(&*server.store, &keys::container_instance(&scope(), cluster, id), &record)
        .await
        .expect("instance written");
    arn
}

/// Reads instance `id` of `cluster` back.
pub async fn read(server: &TestServer, cluster: &str, id: &str) -> ContainerInstanceRecord {
    records::get::<ContainerInstanceRecord>(&*server.store, &keys::container_instance(&scope(), cluster, id))
        .await
        .expect("instance read")
        .expect("instance exists")
        .value
}

/// Instance `id`'s `(pendingTasksCount, runningTasksCount)` as DescribeContainerInstances
/// shows them.
pub async fn task_counts(server: &TestServer, cluster: &str, id: &str) -> (i32, i32) {
    let described = server
        .client
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(id)
        .send()
        .await
        .expect("instance described");
    let instance = &described.container_instances()[0];
    (instance.pending_tasks_count(), instance.running_tasks_count())
}

/// Changes instance `id` of `cluster` in place.
pub async fn modify(
    server: &TestServer,
    cluster: &str,
    id: &str,
    change: impl FnOnce(&mut ContainerInstanceRecord),
) {
    let mut record = read(server, cluster, id).await;
    change(&mut record);
    records::put(&*server.store, &keys::container_instance(&scope(), cluster, id), &record)
        .await
        .expect("instance written");
}

/// What an instance has left: CPU, memory and the TCP ports taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remaining {
    /// CPU units.
    pub cpu: i64,
    /// Memory in MiB.
    pub memory: i64,
    /// TCP ports taken.
    pub ports: BTreeSet<u16>,
}

/// What instance `id` of `cluster` has left.
pub async fn remaining(server: &TestServer, cluster: &str, id: &str) -> Remaining {
    let record = read(server, cluster, id).await;
    let left = record.instance.remaining_resources.unwrap_or_default();
    Remaining {
        cpu: integer_of(&left, resource::CPU),
        memory: integer_of(&left, resource::MEMORY),
        ports: ports_of(&left, resource::PORTS),
    }
}
