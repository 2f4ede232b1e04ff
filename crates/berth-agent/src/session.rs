//! The agent's side of the session: connect, say hello with every task, apply what the server
//! wants, send reports, keep the connection alive, and reconnect with backoff and jitter.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_api::agent_protocol::{AgentMessage, ServerMessage, TaskReport};
use futures::{SinkExt, StreamExt};
use rand::Rng;
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
    mut reports: mpsc::UnboundedReceiver<TaskReport>,
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
    reports: &mut mpsc::UnboundedReceiver<TaskReport>,
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
    let mut unacknowledged: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let mut last_heard = Instant::now();
    // Reports waiting for the end of their window, and when it ends.
    let mut gathered: Vec<TaskReport> = Vec::new();
    let mut send_at: Option<Instant> = None;
    loop {
        tokio::select! {
            message = stream.next() => {
                last_heard = Instant::now();
                match message {
                    None | Some(Ok(Message::Close(_))) => return Err(Ended::Lost("the server closed the session".into())),
                    Some(Err(err)) => return Err(Ended::Lost(err.to_string())),
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(text.as_str()) {
                        Ok(ServerMessage::Desired { full, tasks }) => {
                            engine.apply(full, tasks);
                            // The server sends the full list once it has marked the instance
                            // connected and taken in the hello: from here the session is up.
                            if full {
                                connected.send_replace(true);
                            }
                        }
                        Ok(ServerMessage::Ack { seq }) => {
                            // Cumulative: every report up to `seq` is stored.
                            let later = unacknowledged.split_off(&seq.saturating_add(1));
                            for (task_arn, status) in std::mem::replace(&mut unacknowledged, later).into_values() {
                                engine.acknowledge(&task_arn, &status);
                            }
                        }
                        Ok(ServerMessage::Refused { reason }) => return Err(Ended::Refused(reason)),
                        Err(err) => tracing::warn!(%err, "unreadable message from the server ignored"),
                    },
                    Some(Ok(_)) => {}
                }
            }
            Some(report) = reports.recv() => {
                gathered.push(report);
                send_at.get_or_insert_with(|| Instant::now() + REPORT_WINDOW);
            }
            _ = sleep_until(send_at) => {
                send_at = None;
                for report in coalesce(std::mem::take(&mut gathered), reports) {
                    seq += 1;
                    unacknowledged.insert(seq, (report.task_arn.clone(), report.status.clone()));
                    send(&mut sink, &AgentMessage::Report { seq, task: report }).await?;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return Err(Ended::Lost(format!("no word from the server for {} s", SILENCE_LIMIT.as_secs())));
                }
                sink.send(Message::Ping(Vec::new().into())).await.map_err(|e| Ended::Lost(e.to_string()))?;
            }
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ok(());
            }
        }
    }
}

/// `gathered` and whatever else is queued right now, keeping only the newest report of each
/// task, in the order the tasks first appeared.
fn coalesce(gathered: Vec<TaskReport>, reports: &mut mpsc::UnboundedReceiver<TaskReport>) -> Vec<TaskReport> {
    let mut latest: Vec<TaskReport> = Vec::with_capacity(gathered.len());
    let queued = std::iter::from_fn(|| reports.try_recv().ok());
    for report in gathered.into_iter().chain(queued) {
        match latest.iter_mut().find(|r| r.task_arn == report.task_arn) {
            Some(slot) => *slot = report,
            None => latest.push(report),
        }
    }
    latest
}

/// Waits until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn send<S>(sink: &mut S, message: &AgentMessage) -> Result<(), Ended>
where
    S: futures::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = serde_json::to_string(message).map_err(|e| Ended::Lost(e.to_string()))?;
    sink.send(Message::Text(text.into())).await.map_err(|e| Ended::Lost(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(task: &str, status: &str) -> TaskReport {
        TaskReport { task_arn: task.into(), status: status.into(), ..TaskReport::default() }
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
}
