//! One agent session: a WebSocket between the control plane and the agent of one instance.
//!
//! The session's life: the agent connects with its instance ARN; the instance is marked
//! `agentConnected`; the agent's `hello` lists every task it has and each report is applied; the
//! server answers with the full desired list (everything assigned to the instance, plus a STOPPED
//! entry for each task the agent has that the server does not assign it); from then on, each
//! change under the instance's task index in the store is pushed, and each report acknowledged.
//! A session that goes silent for [`SILENCE_LIMIT`] is closed; when the current session of an
//! instance ends, the instance is marked disconnected.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use berth_api::EcsError;
use berth_api::agent_protocol::{AgentMessage, DesiredTask, INSTANCE_PARAMETER, ServerMessage, TaskReport};
use berth_api::arn::{Arn, Scope};
use berth_store::{EventKind, Revision, StoreError};
use futures::SinkExt;
use tokio::time::Instant;

use crate::context::now;
use crate::http::AppState;
use crate::state::container_instances::ContainerInstanceRecord;
use crate::state::tasks::{self, ReportOutcome, TaskRecord};
use crate::state::{keys, records};

/// How often each side pings the other.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);

/// How long a session may stay silent (no message, no pong) before it is closed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// The read buffer of each session's WebSocket. The library's default, 128 KiB, is zeroed on
/// every read and held by every session: with thousands of agents that was most of the server's
/// memory and a tenth of its CPU, for messages of a few KiB (longer ones still arrive whole; the
/// buffer grows for them).
const READ_BUFFER: usize = 8 * 1024;

/// How long the acknowledgment of a report that is not STOPPED may wait for a push to ride
/// with. Acks are cumulative, and nothing on the agent waits for one but the cleanup of a
/// stopped task (acknowledged at once): with thousands of instances, one WebSocket message each
/// way per report was a tenth of the server's time, spent in the kernel. An instance that is
/// given a task every second or so (the cluster bench) has a push within 2 s nine times in ten,
/// within 500 ms not half the time; the ack that does go alone costs both sides a message.
const ACK_DELAY: Duration = Duration::from_secs(2);

/// How long the agent has to say hello after connecting.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// The instance a session is for, from its ARN.
#[derive(Debug, Clone)]
struct Target {
    arn: String,
    scope: Scope,
    cluster: String,
    id: String,
}

impl Target {
    fn parse(arn: &str) -> Option<Target> {
        let parsed =
            Arn::parse(arn).filter(|a| a.service == "ecs" && a.resource_type == "container-instance")?;
        let (cluster, id) = parsed.resource_id.split_once('/')?;
        if cluster.is_empty() || id.is_empty() || id.contains('/') {
            return None;
        }
        Some(Target {
            arn: arn.to_string(),
            scope: Scope::new(parsed.region.clone(), parsed.account.clone()),
            cluster: cluster.to_string(),
            id: id.to_string(),
        })
    }

    fn instance_key(&self) -> String {
        keys::container_instance(&self.scope, &self.cluster, &self.id)
    }
}

/// `GET /v1/agent/session?containerInstance=ARN`: upgrades to the session's WebSocket.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(target) = params.get(INSTANCE_PARAMETER).and_then(|arn| Target::parse(arn)) else {
        return (
            http::StatusCode::BAD_REQUEST,
            format!("the {INSTANCE_PARAMETER} query parameter must be a container instance ARN"),
        )
            .into_response();
    };
    ws.read_buffer_size(READ_BUFFER).on_upgrade(move |socket| run(state, target, socket))
}

async fn run(state: AppState, target: Target, mut socket: WebSocket) {
    let store = state.store.clone();
    match records::get::<ContainerInstanceRecord>(&*store, &target.instance_key()).await {
        Ok(Some(record)) if record.value.instance.status.as_deref() != Some("INACTIVE") => {}
        Ok(_) => {
            let reason = format!("{} is not a registered container instance", target.arn);
            let _ = send(&mut socket, &ServerMessage::Refused { reason }).await;
            return;
        }
        Err(err) => {
            tracing::warn!(instance = %target.arn, %err, "session refused: store unavailable");
            return;
        }
    };
    let generation = state.connections.open(&target.arn);
    if let Err(err) = set_connected(&state, &target, true).await {
        tracing::warn!(instance = %target.arn, %err, "failed to mark the agent connected");
    }
    tracing::info!(instance = %target.arn, "agent session opened");
    match serve(&state, &target, &mut socket).await {
        Ok(()) => tracing::info!(instance = %target.arn, "agent session closed"),
        Err(reason) => tracing::info!(instance = %target.arn, %reason, "agent session ended"),
    }
    if state.connections.close(&target.arn, generation)
        && let Err(err) = set_connected(&state, &target, false).await
    {
        tracing::warn!(instance = %target.arn, %err, "failed to mark the agent disconnected");
    }
}

async fn set_connected(state: &AppState, target: &Target, connected: bool) -> Result<(), EcsError> {
    records::update::<ContainerInstanceRecord, _>(&*state.store, &target.instance_key(), |record| {
        let mut record = record.ok_or_else(|| EcsError::client("the container instance is gone"))?;
        record.instance.agent_connected = Some(connected);
        record.disconnected_at = if connected { None } else { Some(now()) };
        record.instance.version = Some(record.instance.version.unwrap_or(0) + 1);
        Ok(record)
    })
    .await
    .map(|_| ())
}

/// Runs the session until the agent leaves, goes silent, or the session fails.
async fn serve(state: &AppState, target: &Target, socket: &mut WebSocket) -> Result<(), String> {
    let store = &*state.store;
    let hello = tokio::time::timeout(HELLO_TIMEOUT, next_message(socket))
        .await
        .map_err(|_| "no hello from the agent".to_string())??;
    let Some(AgentMessage::Hello { agent_version, tasks: reported }) = hello else {
        return Err("the agent's first message was not a hello".to_string());
    };
    tracing::debug!(instance = %target.arn, %agent_version, tasks = reported.len(), "agent hello");
    let mut strays = Vec::new();
    for report in &reported {
        if !apply(state, target, report).await? {
            strays.push(stop_unknown(&report.task_arn));
        }
    }
    let mut revision = send_full(state, target, socket, strays).await?;
    let prefix = keys::instance_tasks(&target.scope, &target.cluster, &target.id);
    let mut watch = store.watch(&prefix, Some(revision)).await.map_err(|e| e.to_string())?;
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let mut last_heard = Instant::now();
    let mut acks = PendingAck::default();
    loop {
        tokio::select! {
            message = socket.recv() => {
                last_heard = Instant::now();
                match message {
                    None | Some(Ok(Message::Close(_))) => return Ok(()),
                    Some(Err(err)) => return Err(err.to_string()),
                    Some(Ok(Message::Text(text))) => {
                        handle_agent_message(state, target, socket, &mut acks, text.as_str()).await?;
                    }
                    Some(Ok(_)) => {}
                }
            }
            event = watch.next() => match event {
                Some(Ok(event)) => {
                    revision = revision.max(event.revision());
                    if event.kind == EventKind::Put {
                        if let Some(seq) = acks.take() {
                            // Written with the push, by its flush.
                            socket.feed(frame(&ServerMessage::Ack { seq })?).await.map_err(|e| e.to_string())?;
                        }
                        push_task(state, target, socket, &event.kv.key, &event.kv.value).await?;
                    }
                }
                Some(Err(StoreError::Compacted { .. })) => {
                    // The session fell behind the store's watch history: start over from a
                    // full list, which is always correct.
                    revision = send_full(state, target, socket, Vec::new()).await?;
                    watch = store.watch(&prefix, Some(revision)).await.map_err(|e| e.to_string())?;
                }
                Some(Err(err)) => return Err(err.to_string()),
                None => return Err("the store's watch ended".to_string()),
            },
            _ = acks.due() => send_ack(socket, &mut acks).await?,
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return Err(format!("no word from the agent for {} s", SILENCE_LIMIT.as_secs()));
                }
                socket.send(Message::Ping(Vec::new().into())).await.map_err(|e| e.to_string())?;
            }
        }
    }
}

/// The highest report sequence number stored and not yet acknowledged, and when its ack is due.
#[derive(Default)]
struct PendingAck {
    pending: Option<(u64, Instant)>,
}

impl PendingAck {
    /// Notes report `seq` stored; the ack is due [`ACK_DELAY`] after the oldest unacknowledged one.
    fn stored(&mut self, seq: u64) {
        let due = self.pending.map_or_else(|| Instant::now() + ACK_DELAY, |(_, due)| due);
        self.pending = Some((seq, due));
    }

    /// The sequence number to acknowledge now, if any, which is then no longer pending.
    fn take(&mut self) -> Option<u64> {
        self.pending.take().map(|(seq, _)| seq)
    }

    /// Resolves when an ack is due (never while none is pending).
    async fn due(&self) {
        match self.pending {
            Some((_, due)) => tokio::time::sleep_until(due).await,
            None => std::future::pending().await,
        }
    }
}

/// Sends the pending ack now, if there is one.
async fn send_ack(socket: &mut WebSocket, acks: &mut PendingAck) -> Result<(), String> {
    match acks.take() {
        Some(seq) => send(socket, &ServerMessage::Ack { seq }).await,
        None => Ok(()),
    }
}

async fn handle_agent_message(
    state: &AppState,
    target: &Target,
    socket: &mut WebSocket,
    acks: &mut PendingAck,
    text: &str,
) -> Result<(), String> {
    let message: AgentMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => {
            tracing::warn!(instance = %target.arn, %err, "unreadable agent message ignored");
            return Ok(());
        }
    };
    match message {
        AgentMessage::Report { seq, task } => {
            let known = apply(state, target, &task).await?;
            acks.stored(seq);
            if !known {
                let stop = ServerMessage::Desired { full: false, tasks: vec![stop_unknown(&task.task_arn)] };
                send(socket, &stop).await?;
            }
            if task.status == "STOPPED" {
                // The agent cleans the task up only once this is acknowledged.
                send_ack(socket, acks).await?;
            }
            Ok(())
        }
        AgentMessage::Hello { .. } => {
            // A second hello is a full report again: reconcile as on connect.
            Err("the agent said hello twice; it will reconnect".to_string())
        }
    }
}

/// Applies a report; `false` when the task is not assigned to this instance.
async fn apply(state: &AppState, target: &Target, report: &TaskReport) -> Result<bool, String> {
    match tasks::apply_report(&*state.store, &target.scope, &target.cluster, &target.id, report).await {
        Ok(ReportOutcome::Unknown) => Ok(false),
        Ok(ReportOutcome::Applied) => Ok(true),
        Err(err) => Err(format!("failed to store a report: {err}")),
    }
}

/// The desired entry for a task the agent has and the server does not assign to it.
fn stop_unknown(task_arn: &str) -> DesiredTask {
    DesiredTask {
        task_arn: task_arn.to_string(),
        desired_status: "STOPPED".to_string(),
        version: 0,
        spec: None,
        stopped_reason: Some("The task is not assigned to this container instance.".to_string()),
    }
}

/// Sends the complete desired list; returns the store revision it reflects.
async fn send_full(
    state: &AppState,
    target: &Target,
    socket: &mut WebSocket,
    mut extra: Vec<DesiredTask>,
) -> Result<Revision, String> {
    let store = &*state.store;
    let revision = store.revision().await.map_err(|e| e.to_string())?;
    let assigned = tasks::assigned(store, &target.scope, &target.cluster, &target.id)
        .await
        .map_err(|e| format!("failed to list the instance's tasks: {e}"))?;
    let mut desired: Vec<DesiredTask> = assigned.iter().map(TaskRecord::desired).collect();
    desired.append(&mut extra);
    send(socket, &ServerMessage::Desired { full: true, tasks: desired }).await?;
    Ok(revision)
}

/// Pushes the task whose index entry at `index_key` was just written as `entry`: as the entry
/// holds it, when it does, else as the task record makes it.
async fn push_task(
    state: &AppState,
    target: &Target,
    socket: &mut WebSocket,
    index_key: &str,
    entry: &[u8],
) -> Result<(), String> {
    /// The one part of an [`tasks::Assignment`] a push needs, left encoded.
    #[derive(serde::Deserialize)]
    struct Stored<'a> {
        #[serde(borrow, default)]
        desired: Option<&'a serde_json::value::RawValue>,
    }
    if let Ok(Stored { desired: Some(desired) }) = serde_json::from_slice::<Stored>(entry) {
        let text = ServerMessage::desired_one(desired).map_err(|e| e.to_string())?;
        return socket.send(Message::Text(text.into())).await.map_err(|e| e.to_string());
    }
    let task_id = index_key.rsplit('/').next().unwrap_or_default();
    let key = keys::task(&target.scope, &target.cluster, task_id);
    let record = records::get::<TaskRecord>(&*state.store, &key).await.map_err(|e| e.to_string())?;
    if let Some(record) = record {
        send(socket, &ServerMessage::Desired { full: false, tasks: vec![record.value.desired()] }).await?;
    }
    Ok(())
}

async fn next_message(socket: &mut WebSocket) -> Result<Option<AgentMessage>, String> {
    loop {
        match socket.recv().await {
            None | Some(Ok(Message::Close(_))) => return Err("the agent closed the session".to_string()),
            Some(Err(err)) => return Err(err.to_string()),
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str())
                    .map(Some)
                    .map_err(|err| format!("unreadable agent message: {err}"));
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> Result<(), String> {
    socket.send(frame(message)?).await.map_err(|e| e.to_string())
}

/// The text frame of `message`.
fn frame(message: &ServerMessage) -> Result<Message, String> {
    let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
    Ok(Message::Text(text.into()))
}
