//! The agent session: the messages the control plane and an agent exchange on their one
//! long-lived WebSocket (`GET /v1/agent/session`, see ARCHITECTURE.md).
//!
//! The protocol carries state, never events. The server sends the desired state of the tasks it
//! assigned to the instance; the agent sends the known state of the tasks it has. Every message
//! is idempotent, so a message lost with a connection costs nothing: the next connect starts with
//! a full exchange (the agent's [`AgentMessage::Hello`] with everything it has, the server's
//! [`ServerMessage::Desired`] with `full: true`), and both sides reconcile from it.
//!
//! Messages are JSON text frames, tagged by `type`. Liveness is WebSocket ping/pong.

use serde::{Deserialize, Serialize};

use crate::model::{NetworkBinding, TaskDefinition, TaskOverride};

/// The path of the session endpoint on the control plane.
pub const SESSION_PATH: &str = "/v1/agent/session";

/// The query parameter naming the container instance (its ARN) that opens a session.
pub const INSTANCE_PARAMETER: &str = "containerInstance";

/// What the control plane sends an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ServerMessage {
    /// The desired state of tasks. With `full`, this is every task the instance should know of:
    /// the agent stops whatever it runs that is not in the list.
    Desired {
        /// Whether the list is complete.
        full: bool,
        /// The tasks.
        tasks: Vec<DesiredTask>,
    },
    /// The server has stored every report of this session up to and including the one with
    /// this sequence number (it applies a session's reports in order). The server may wait a
    /// little before acknowledging a report that is not STOPPED, so that one ack covers several
    /// or rides with a push; a STOPPED report, whose cleanup waits for it, is acknowledged at
    /// once.
    Ack {
        /// The highest sequence number stored.
        seq: u64,
    },
    /// The server refuses the session (unknown or deregistered instance); the agent should not
    /// retry with the same identity.
    Refused {
        /// Why, for a person.
        reason: String,
    },
}

// === impl ServerMessage ===

impl ServerMessage {
    /// The text of `Desired { full: false, tasks: [task] }` for a task already encoded as JSON
    /// (a [`DesiredTask`] as stored), without decoding and encoding it again: a session pushes
    /// every task change its instance gets, and with thousands of instances that re-encoding
    /// was much of the control plane's work.
    pub fn desired_one(task: &serde_json::value::RawValue) -> Result<String, serde_json::Error> {
        /// `ServerMessage::Desired` with a task that is already JSON.
        #[derive(Serialize)]
        #[serde(tag = "type", rename = "desired")]
        struct DesiredOne<'a> {
            full: bool,
            tasks: [&'a serde_json::value::RawValue; 1],
        }
        serde_json::to_string(&DesiredOne { full: false, tasks: [task] })
    }
}

/// What an agent sends the control plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum AgentMessage {
    /// The first message of every session: the agent and every task it has, as it knows them.
    Hello {
        /// The agent's version string.
        agent_version: String,
        /// Every task the agent has, running or stopped but not yet cleaned up.
        tasks: Vec<TaskReport>,
    },
    /// A task's known state changed (the semantics of SubmitTaskStateChange and
    /// SubmitContainerStateChange together: containers ride along with their task).
    Report {
        /// Sequence number, acknowledged by [`ServerMessage::Ack`].
        seq: u64,
        /// The task's state.
        task: TaskReport,
    },
}

/// A task the control plane wants on an instance, in the state it wants it.
///
/// The definition's type is a parameter (see [`TaskSpec`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredTask<D = TaskDefinition> {
    /// The task's ARN.
    pub task_arn: String,
    /// `RUNNING` or `STOPPED`.
    pub desired_status: String,
    /// The task record's version; higher is newer.
    pub version: i64,
    /// What to run; absent for a task the server does not know (the agent stops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<TaskSpec<D>>,
    /// Why the task should stop, when it should.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
}

/// Everything an agent needs to run a task.
///
/// The definition's type is a parameter so that the control plane can write a definition it
/// encoded once into the specs of many tasks (as a `serde_json` raw value); agents read it as a
/// [`TaskDefinition`], the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec<D = TaskDefinition> {
    /// The cluster's ARN.
    pub cluster_arn: String,
    /// The task definition, as it was when the task was launched.
    pub task_definition: D,
    /// The overrides given to RunTask or StartTask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<TaskOverride>,
    /// Each container's ARN, by container name.
    pub container_arns: Vec<(String, String)>,
    /// The availability zone of the instance, for the metadata endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// When the task was created (epoch seconds).
    pub created_at: f64,
}

/// A task as an agent knows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// The task's ARN.
    pub task_arn: String,
    /// The task's known status: `PENDING`, `ACTIVATING`, `RUNNING`, `DEACTIVATING`, `STOPPING`,
    /// `DEPROVISIONING` or `STOPPED`.
    pub status: String,
    /// `EssentialContainerExited`, `TaskFailedToStart`, ... when the agent stopped the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Why the task stopped, when the agent decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    /// When image pulls began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<f64>,
    /// When image pulls ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<f64>,
    /// When the task reached RUNNING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// When the task's containers had all exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_stopped_at: Option<f64>,
    /// The task's containers.
    #[serde(default)]
    pub containers: Vec<ContainerReport>,
}

/// A container as an agent knows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerReport {
    /// The container's name in the task definition.
    pub name: String,
    /// The container's id in the runtime, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    /// `PENDING`, `RUNNING` or `STOPPED`.
    pub status: String,
    /// The exit code, once stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why the container stopped or could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    /// The image digest the container runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// Host ports bound to container ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_bindings: Vec<NetworkBinding>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desired_task_pushed_as_stored_reads_as_the_message() {
        let task = DesiredTask {
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/c/t1".into(),
            desired_status: "RUNNING".into(),
            version: 3,
            spec: None,
            stopped_reason: Some("why".into()),
        };
        let stored = serde_json::to_string(&task).expect("encodes");
        let raw = serde_json::value::RawValue::from_string(stored).expect("raw");
        let text = ServerMessage::desired_one(&raw).expect("encodes");
        let read: ServerMessage = serde_json::from_str(&text).expect("decodes");
        assert_eq!(read, ServerMessage::Desired { full: false, tasks: vec![task] });
    }

    #[test]
    fn messages_are_tagged_json() {
        let message = ServerMessage::Ack { seq: 7 };
        let text = serde_json::to_string(&message).expect("encodes");
        assert_eq!(text, r#"{"type":"ack","seq":7}"#);
        let hello: AgentMessage =
            serde_json::from_str(r#"{"type":"hello","agentVersion":"1","tasks":[]}"#).expect("decodes");
        assert_eq!(hello, AgentMessage::Hello { agent_version: "1".into(), tasks: vec![] });
    }
}
