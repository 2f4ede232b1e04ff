//! The agent's side of the session: connect, say hello with every task, apply what the server
//! wants, send reports, keep the connection alive, and reconnect with backoff and jitter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_api::agent_protocol::{AgentMessage, DesiredTask, ServerMessage, TaskReport};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::client::EcsClient;
use crate::engine::Engine;
use crate::host::AGENT_VERSION;

/// How often the agent pings the server.
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// The session's WebSocket read buffer. The library's default, 128 KiB, is zeroed on every
/// read: with thousands of simulated instances in one process that was about an eighth of the
/// process's CPU, for messages of a few KiB (longer ones still arrive whole; the buffer grows).
const READ_BUFFER: usize = 8 * 1024;

/// How long the session gathers reports before sending them. Reports are whole states, so of
/// several for one task in that time only the newest is sent: a task whose image is already
/// there goes PENDING and RUNNING within a millisecond, and reporting both costs the control
/// plane two writes where one tells it everything. Short enough that nobody waiting for a
/// status notices.
const REPORT_WINDOW: Duration = Duration::from_millis(20);

/// How long the server may stay silent before the agent reconnects.
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// The first reconnect delay; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest reconnect delay.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A session that lasted this long resets the backoff.
const STABLE_SESSION: Duration = Duration::from_secs(60);

/// Why the session loop gave up for good.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The server no longer knows the instance (it was deregistered).
    #[error("the control plane refused this container instance: {0}")]
    Refused(String),
}

/// Holds the session until `shutdown` flips to true or the server refuses the instance.
pub async fn run(
    client: EcsClient,
    instance_arn: String,
    engine: Engine,
    mut reports: mpsc::UnboundedReceiver<Arc<TaskReport>>,
    connected: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SessionError> {
    let url = client.session_url(&instance_arn);
    let mut backoff = MIN_BACKOFF;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let began = Instant::now();
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        match tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await {
            Ok((socket, _)) => {
                tracing::info!(instance = %instance_arn, "session with the control plane open");
                let outcome = serve(socket, &engine, &mut reports, &connected, &mut shutdown).await;
                connected.send_replace(false);
                match outcome {
                    Ok(()) => return Ok(()),
                    Err(Ended::Refused(reason)) => return Err(SessionError::Refused(reason)),
                    Err(Ended::Lost(reason)) => {
                        tracing::warn!(%reason, "session with the control plane lost")
                    }
                }
            }
            Err(err) => tracing::debug!(%err, "cannot open the session"),
        }
        if began.elapsed() > STABLE_SESSION {
            backoff = MIN_BACKOFF;
        }
        let delay = jitter(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// A delay between half and all of `backoff`, so agents that lost the server together do not
/// all come back at the same instant.
fn jitter(backoff: Duration) -> Duration {
    let millis = backoff.as_millis().max(2) as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

enum Ended {
    Refused(String),
    Lost(String),
}

async fn serve<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    engine: &Engine,
    reports: &mut mpsc::UnboundedReceiver<Arc<TaskReport>>,
    connected: &watch::Sender<bool>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Ended>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    // The hello carries every task's latest state, so reports queued while disconnected are
    // already in it.
    while reports.try_recv().is_ok() {}
    let hello = AgentMessage::Hello { agent_version: AGENT_VERSION.to_string(), tasks: engine.snapshot() };
    send(&mut sink, &hello).await?;
    let mut seq: u64 = 0;
    // Only a STOPPED report's acknowledgement matters to the engine (it lets the task's
    // containers be cleaned up), so only those are remembered, by sequence number.
    let mut unacknowledged_stops: BTreeMap<u64, String> = BTreeMap::new();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let mut last_heard = Instant::now();
    // Reports waiting for the end of their window. The window's timer lives as long as the
    // session and is only reset: a sleep made afresh on every turn of the loop registered and
    // dropped a timer for every message while reports were waiting.
    let mut gathered: Vec<Arc<TaskReport>> = Vec::new();
    let window = tokio::time::sleep(REPORT_WINDOW);
    tokio::pin!(window);
    loop {
        tokio::select! {
            // The socket is looked at last: each look costs tungstenite a read buffer's worth of
            // zeroing, so a turn woken by a report or by the window's end goes without. Neither
            // can keep the socket waiting, as each takes everything there is at once.
            biased;
            Some(report) = reports.recv() => {
                if gathered.is_empty() {
                    window.as_mut().reset(Instant::now() + REPORT_WINDOW);
                }
                gathered.push(report);
                // A runner publishes a few states in a row; take them all in one turn.
                while let Ok(report) = reports.try_recv() {
                    gathered.push(report);
                }
            }
            () = &mut window, if !gathered.is_empty() => {
                for report in coalesce(std::mem::take(&mut gathered), reports) {
                    seq += 1;
                    if report.status == "STOPPED" {
                        unacknowledged_stops.insert(seq, report.task_arn.clone());
                    }
                    feed(&mut sink, &OutgoingReport { seq, task: &report }).await?;
                }
                // One write for every report of the window.
                sink.flush().await.map_err(|e| Ended::Lost(e.to_string()))?;
            }
            message = stream.next() => {
                last_heard = Instant::now();
                match message {
                    None | Some(Ok(Message::Close(_))) => return Err(Ended::Lost("the server closed the session".into())),
                    Some(Err(err)) => return Err(Ended::Lost(err.to_string())),
                    Some(Ok(Message::Text(text))) => {
                        on_message(text.as_str(), engine, connected, &mut unacknowledged_stops)?;
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                let silent = last_heard.elapsed();
                if silent > SILENCE_LIMIT {
                    return Err(Ended::Lost(format!("no word from the server for {} s", SILENCE_LIMIT.as_secs())));
                }
                // A server that spoke lately (it pings as often as the agent) is there, and the
                // pong the agent answered its ping with tells it the agent is: a ping of ours
                // would tell neither side anything new.
                if silent >= PING_INTERVAL {
                    sink.send(Message::Ping(Vec::new().into())).await.map_err(|e| Ended::Lost(e.to_string()))?;
                }
            }
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ok(());
            }
        }
    }
}

/// Acts on one message from the server.
fn on_message(
    text: &str,
    engine: &Engine,
    connected: &watch::Sender<bool>,
    unacknowledged_stops: &mut BTreeMap<u64, String>,
) -> Result<(), Ended> {
    match decode(text) {
        Ok(ServerMessage::Desired { full, tasks }) => {
            engine.apply(full, tasks);
            // The server sends the full list once it has marked the instance connected and
            // taken in the hello: from here the session is up.
            if full {
                connected.send_replace(true);
            }
        }
        Ok(ServerMessage::Ack { seq }) => {
            for task_arn in acknowledged_through(unacknowledged_stops, seq) {
                engine.acknowledge(&task_arn, "STOPPED");
            }
        }
        Ok(ServerMessage::Refused { reason }) => return Err(Ended::Refused(reason)),
        Err(err) => tracing::warn!(%err, "unreadable message from the server ignored"),
    }
    Ok(())
}

/// Takes out of `unacknowledged` every report an ack of `seq` covers: acks are cumulative.
fn acknowledged_through(unacknowledged: &mut BTreeMap<u64, String>, seq: u64) -> Vec<String> {
    let later = unacknowledged.split_off(&seq.saturating_add(1));
    std::mem::replace(unacknowledged, later).into_values().collect()
}

/// A server message as the agent reads it: every field of every [`ServerMessage`] variant side
/// by side, so that serde reads the text in one pass. Decoding `ServerMessage` itself, an
/// internally tagged enum, first copies the whole message into serde's generic buffer to find
/// its `type` and then decodes that buffer again; for the ~1.3 KiB `desired` pushed with every
/// task that was most of the session's decoding work.
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: Kind,
    full: Option<bool>,
    tasks: Option<Vec<DesiredTask>>,
    seq: Option<u64>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kind {
    Desired,
    Ack,
    Refused,
}

/// Reads a server message as `serde_json::from_str::<ServerMessage>` does, refusing a message
/// that lacks a field its type needs.
fn decode(text: &str) -> Result<ServerMessage, String> {
    let incoming: Incoming = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let missing = |field: &str| format!("missing field `{field}`");
    Ok(match incoming.kind {
        Kind::Desired => ServerMessage::Desired {
            full: incoming.full.ok_or_else(|| missing("full"))?,
            tasks: incoming.tasks.ok_or_else(|| missing("tasks"))?,
        },
        Kind::Ack => ServerMessage::Ack { seq: incoming.seq.ok_or_else(|| missing("seq"))? },
        Kind::Refused => ServerMessage::Refused { reason: incoming.reason.ok_or_else(|| missing("reason"))? },
    })
}

/// [`AgentMessage::Report`] written from a report the engine shares, instead of a copy of it.
#[derive(Serialize)]
#[serde(tag = "type", rename = "report")]
struct OutgoingReport<'a> {
    seq: u64,
    task: &'a TaskReport,
}

/// `gathered` and whatever else is queued right now, keeping only the newest report of each
/// task, in the order the tasks first appeared.
fn coalesce(
    gathered: Vec<Arc<TaskReport>>,
    reports: &mut mpsc::UnboundedReceiver<Arc<TaskReport>>,
) -> Vec<Arc<TaskReport>> {
    let mut latest: Vec<Arc<TaskReport>> = Vec::with_capacity(gathered.len());
    let queued = std::iter::from_fn(|| reports.try_recv().ok());
    for report in gathered.into_iter().chain(queued) {
        match latest.iter_mut().find(|r| r.task_arn == report.task_arn) {
            Some(slot) => *slot = report,
            None => latest.push(report),
        }
    }
    latest
}

/// Room for a report's text; most fit, so the text is not grown step by step.
const REPORT_TEXT: usize = 1024;

/// Queues `message` without writing it; [`SinkExt::flush`] writes what is queued.
async fn feed<S, M>(sink: &mut S, message: &M) -> Result<(), Ended>
where
    S: futures::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
    M: Serialize,
{
    let mut text = Vec::with_capacity(REPORT_TEXT);
    serde_json::to_writer(&mut text, message).map_err(|e| Ended::Lost(e.to_string()))?;
    let text = String::from_utf8(text).map_err(|e| Ended::Lost(e.to_string()))?;
    sink.feed(Message::Text(text.into())).await.map_err(|e| Ended::Lost(e.to_string()))
}

async fn send<S>(sink: &mut S, message: &AgentMessage) -> Result<(), Ended>
where
    S: futures::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    feed(sink, message).await?;
    sink.flush().await.map_err(|e| Ended::Lost(e.to_string()))
}

#[cfg(test)]
mod tests {
    use berth_api::agent_protocol::{ContainerReport, TaskSpec};
    use berth_api::model::{ContainerDefinition, TaskDefinition};

    use super::*;

    fn report(task: &str, status: &str) -> Arc<TaskReport> {
        Arc::new(TaskReport { task_arn: task.into(), status: status.into(), ..TaskReport::default() })
    }

    #[test]
    fn only_the_newest_report_of_each_task_is_sent() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for (task, status) in [("b", "PENDING"), ("a", "RUNNING"), ("b", "RUNNING")] {
            tx.send(report(task, status)).expect("queued");
        }
        let sent = coalesce(vec![report("a", "PENDING")], &mut rx);
        assert_eq!(sent, vec![report("a", "RUNNING"), report("b", "RUNNING")]);
    }

    fn desired_task() -> DesiredTask {
        DesiredTask {
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/c/t1".into(),
            desired_status: "RUNNING".into(),
            version: 3,
            spec: Some(TaskSpec {
                cluster_arn: "arn:aws:ecs:us-east-1:000000000000:cluster/c".into(),
                task_definition: TaskDefinition {
                    family: Some("web".into()),
                    container_definitions: Some(vec![ContainerDefinition {
                        name: Some("main".into()),
                        image: Some("nginx".into()),
                        ..ContainerDefinition::default()
                    }]),
                    ..TaskDefinition::default()
                },
                overrides: None,
                container_arns: vec![("main".into(), "arn:container".into())],
                availability_zone: Some("a".into()),
                created_at: 1.5,
            }),
            stopped_reason: None,
        }
    }

    #[test]
    fn an_ack_covers_every_report_up_to_its_sequence_number() {
        let mut stops: BTreeMap<u64, String> =
            [(2, "a".to_string()), (5, "b".into()), (9, "c".into())].into();
        assert_eq!(acknowledged_through(&mut stops, 1), Vec::<String>::new());
        assert_eq!(acknowledged_through(&mut stops, 6), ["a", "b"]);
        assert_eq!(stops.keys().copied().collect::<Vec<_>>(), [9]);
        assert_eq!(acknowledged_through(&mut stops, u64::MAX), ["c"]);
        assert!(stops.is_empty());
    }

    #[test]
    fn server_messages_decode_as_the_protocol_decodes_them() {
        let messages = [
            ServerMessage::Desired { full: true, tasks: vec![desired_task()] },
            ServerMessage::Desired { full: false, tasks: Vec::new() },
            ServerMessage::Ack { seq: 42 },
            ServerMessage::Refused { reason: "deregistered".into() },
        ];
        for message in messages {
            let text = serde_json::to_string(&message).expect("encodes");
            assert_eq!(decode(&text), Ok(message), "{text}");
        }
        let raw = serde_json::value::to_raw_value(&desired_task()).expect("encodes");
        let pushed = ServerMessage::desired_one(&raw).expect("encodes");
        assert_eq!(decode(&pushed), Ok(ServerMessage::Desired { full: false, tasks: vec![desired_task()] }));
    }

    #[test]
    fn server_messages_the_protocol_refuses_are_refused() {
        for text in [
            r#"{"type":"desired","tasks":[]}"#,
            r#"{"type":"desired","full":true}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"refused"}"#,
            r#"{"type":"hello","seq":1}"#,
            r#"{"seq":1}"#,
        ] {
            assert!(serde_json::from_str::<ServerMessage>(text).is_err(), "the protocol reads {text}");
            assert!(decode(text).is_err(), "{text} decoded");
        }
    }

    #[test]
    fn a_report_is_written_as_the_protocol_writes_it() {
        let task = TaskReport {
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/c/t1".into(),
            status: "RUNNING".into(),
            started_at: Some(2.5),
            containers: vec![ContainerReport {
                name: "main".into(),
                runtime_id: Some("abc".into()),
                status: "RUNNING".into(),
                ..ContainerReport::default()
            }],
            ..TaskReport::default()
        };
        let ours = serde_json::to_string(&OutgoingReport { seq: 7, task: &task }).expect("encodes");
        let theirs = serde_json::to_string(&AgentMessage::Report { seq: 7, task }).expect("encodes");
        assert_eq!(ours, theirs);
    }
}
