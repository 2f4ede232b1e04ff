//! The JSON documents of the task metadata endpoint, version 4, in the shapes and member names the
//! ECS agent serves them (the ECS developer guide's "task metadata v4 JSON response").
//!
//! The task engine fills these structs; the server only serializes them. Members the agent omits
//! when empty are `Option`s or collections skipped when empty, so the documents stay as small as
//! the ECS agent's. Timestamps are epoch seconds here, as everywhere in Berth, and are written as
//! RFC 3339 strings in UTC, as the endpoint shows them.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

/// The metadata of one task: what `${ECS_CONTAINER_METADATA_URI_V4}/task` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskMetadata {
    /// The cluster's ARN or name.
    pub cluster: String,
    /// The task's ARN.
    #[serde(rename = "TaskARN")]
    pub task_arn: String,
    /// The task definition family.
    pub family: String,
    /// The task definition revision, as a string (the endpoint writes it so).
    pub revision: String,
    /// The status ECS wants the task in (`RUNNING`, `STOPPED`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub desired_status: String,
    /// The status the agent last saw (`PENDING`, `RUNNING`, `STOPPED`, ...).
    pub known_status: String,
    /// Task-level limits: CPU in vCPUs, memory in MiB. Absent when the task definition sets none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// When the first image pull began (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub pull_started_at: Option<f64>,
    /// When the last image pull finished (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub pull_stopped_at: Option<f64>,
    /// When the task's essential containers all stopped (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub execution_stopped_at: Option<f64>,
    /// The Availability Zone of the host, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// `EC2`: tasks Berth runs are on container instances.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub launch_type: String,
    /// Every container of the task.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerMetadata>,
    /// The service that started the task, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// The VPC of the host, if it has one.
    #[serde(rename = "VPCID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The task's tags: served only by `/taskWithTags`.
    #[serde(skip)]
    pub task_tags: BTreeMap<String, String>,
    /// The container instance's tags: served only by `/taskWithTags`.
    #[serde(skip)]
    pub container_instance_tags: BTreeMap<String, String>,
}

impl Default for TaskMetadata {
    fn default() -> Self {
        TaskMetadata {
            cluster: String::new(),
            task_arn: String::new(),
            family: String::new(),
            revision: String::new(),
            desired_status: String::new(),
            known_status: String::new(),
            limits: None,
            pull_started_at: None,
            pull_stopped_at: None,
            execution_stopped_at: None,
            availability_zone: None,
            launch_type: "EC2".to_string(),
            containers: Vec::new(),
            service_name: None,
            vpc_id: None,
            task_tags: BTreeMap::new(),
            container_instance_tags: BTreeMap::new(),
        }
    }
}

/// The task document with its tags, as `/taskWithTags` serves it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TaskWithTags<'a> {
    #[serde(flatten)]
    pub task: &'a TaskMetadata,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub task_tags: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub container_instance_tags: &'a BTreeMap<String, String>,
}

/// The metadata of one container: what `${ECS_CONTAINER_METADATA_URI_V4}` returns, and one
/// element of the task document's `Containers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerMetadata {
    /// The token of this container's endpoint ([`super::MetadataRegistry::new_token`]), the last
    /// segment of its `ECS_CONTAINER_METADATA_URI_V4`. Never served: it is what lets the
    /// container, and only it, reach this document. Empty: the container has no endpoint.
    #[serde(skip)]
    pub endpoint_token: String,
    /// The Docker id; empty until the container is created.
    pub docker_id: String,
    /// The container's name in the task definition.
    pub name: String,
    /// The container's name in Docker.
    pub docker_name: String,
    /// The image as the task definition names it.
    pub image: String,
    /// The image's id (`sha256:...`), once known.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Host ports bound to the container's ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMetadata>,
    /// The container's Docker labels (the ECS labels among them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The status ECS wants the container in.
    pub desired_status: String,
    /// The status the agent last saw (`PENDING`, `CREATED`, `RUNNING`, `STOPPED`, ...).
    pub known_status: String,
    /// The exit code, once the container has exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Container-level limits: CPU in CPU units, memory in MiB.
    pub limits: Limits,
    /// When the container was created (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub created_at: Option<f64>,
    /// When it started (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub started_at: Option<f64>,
    /// When it exited (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub finished_at: Option<f64>,
    /// `NORMAL` for the task definition's containers.
    #[serde(rename = "Type")]
    pub container_type: String,
    /// The log driver, when the task definition sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    /// The log driver's options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub log_options: BTreeMap<String, String>,
    /// The container's ARN.
    #[serde(rename = "ContainerARN", skip_serializing_if = "Option::is_none")]
    pub container_arn: Option<String>,
    /// The networks the container is attached to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkMetadata>,
    /// The container's health, when its definition has a health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthMetadata>,
    /// The volumes mounted in the container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMetadata>,
    /// How many times the container was restarted by its restart policy, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<i32>,
}

impl Default for ContainerMetadata {
    fn default() -> Self {
        ContainerMetadata {
            endpoint_token: String::new(),
            docker_id: String::new(),
            name: String::new(),
            docker_name: String::new(),
            image: String::new(),
            image_id: String::new(),
            ports: Vec::new(),
            labels: BTreeMap::new(),
            desired_status: String::new(),
            known_status: String::new(),
            exit_code: None,
            limits: Limits::default(),
            created_at: None,
            started_at: None,
            finished_at: None,
            container_type: "NORMAL".to_string(),
            log_driver: None,
            log_options: BTreeMap::new(),
            container_arn: None,
            networks: Vec::new(),
            health: None,
            volumes: Vec::new(),
            restart_count: None,
        }
    }
}

/// CPU and memory limits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Limits {
    /// CPU: vCPUs for a task, CPU units for a container. A whole number is written without a
    /// fraction (`10`, not `10.0`), as the ECS agent writes it.
    #[serde(rename = "CPU", skip_serializing_if = "Option::is_none", serialize_with = "number_opt")]
    pub cpu: Option<f64>,
    /// Memory in MiB.
    #[serde(rename = "Memory", skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
}

/// A port of the container and the host port bound to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortMetadata {
    /// The container's port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The host port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// The host address the port is bound on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
}

/// A network the container is attached to.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NetworkMetadata {
    /// `bridge`, `host`, `awsvpc` or `none`.
    #[serde(rename = "NetworkMode")]
    pub network_mode: String,
    /// The container's IPv4 addresses on it.
    #[serde(rename = "IPv4Addresses", skip_serializing_if = "Vec::is_empty")]
    pub ipv4_addresses: Vec<String>,
    /// The container's IPv6 addresses on it.
    #[serde(rename = "IPv6Addresses", skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<String>,
}

/// The result of the container's health check (lower-case members, as the agent writes them).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthMetadata {
    /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN`.
    pub status: String,
    /// When the status last changed (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub status_since: Option<f64>,
    /// The exit code of the last failed check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The output of the last failed check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// A volume mounted in the container.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeMetadata {
    /// The Docker volume's name (named volumes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_name: Option<String>,
    /// The path on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The path in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

// === serialization helpers ===

/// Epoch seconds as an RFC 3339 UTC timestamp, to the microsecond (an `f64` near the present
/// holds no more), without trailing zeros in the fraction: `2020-10-02T00:15:07.620912Z`.
pub fn rfc3339(epoch_seconds: f64) -> Option<String> {
    if !epoch_seconds.is_finite() {
        return None;
    }
    // The cast saturates on huge values, and the multiplication is checked: either way an
    // out-of-range time is refused below rather than wrapped.
    let micros = (epoch_seconds * 1e6).round() as i128;
    let time = time::OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1000)?).ok()?;
    time.format(&time::format_description::well_known::Rfc3339).ok()
}

fn rfc3339_opt<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value.and_then(rfc3339) {
        Some(text) => serializer.serialize_str(&text),
        None => serializer.serialize_none(),
    }
}

fn number_opt<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match *value {
        // Exact: the value is whole and well inside i64's range.
        Some(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => serializer.serialize_i64(n as i64),
        Some(n) => serializer.serialize_f64(n),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_without_trailing_zeros() {
        assert_eq!(rfc3339(0.0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(1_601_597_707.620_912).as_deref(), Some("2020-10-02T00:15:07.620912Z"));
        assert_eq!(rfc3339(1_601_597_708.5).as_deref(), Some("2020-10-02T00:15:08.5Z"));
        assert_eq!(rfc3339(f64::NAN), None);
        assert_eq!(rfc3339(1e300), None);
    }

    #[test]
    fn whole_cpu_is_written_as_an_integer() {
        let limits = Limits { cpu: Some(10.0), memory: Some(128) };
        assert_eq!(serde_json::to_value(limits).unwrap(), json!({"CPU": 10, "Memory": 128}));
        let limits = Limits { cpu: Some(0.25), memory: None };
        assert_eq!(serde_json::to_value(limits).unwrap(), json!({"CPU": 0.25}));
    }

    #[test]
    fn empty_members_are_omitted_and_required_ones_kept() {
        let container = serde_json::to_value(ContainerMetadata::default()).unwrap();
        let members: Vec<&str> = container.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            members,
            [
                "DesiredStatus",
                "DockerId",
                "DockerName",
                "Image",
                "ImageID",
                "KnownStatus",
                "Limits",
                "Name",
                "Type"
            ]
        );
        let task = serde_json::to_value(TaskMetadata::default()).unwrap();
        assert_eq!(
            task,
            json!({"Cluster": "", "TaskARN": "", "Family": "", "Revision": "", "KnownStatus": "",
                   "LaunchType": "EC2"})
        );
    }
}
