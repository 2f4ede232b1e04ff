//! The agent session spoken raw, over a real WebSocket: how the server acknowledges reports.
//! Acks are cumulative; a STOPPED report is acknowledged at once (the agent's cleanup waits for
//! it), other reports within a short delay or with the next push.

mod common;
#[path = "common/instances.rs"]
mod instances;

use std::time::Duration;

use aws_sdk_ecs::types::ContainerDefinition;
use berth_api::agent_protocol::{AgentMessage, DesiredTask, SESSION_PATH, ServerMessage, TaskReport};
use futures::{SinkExt, StreamExt};
use instances::Instance;
use tokio_tungstenite::tungstenite::Message;

const CLUSTER: &str = "acks";

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the session of the instance `arn` and says hello with no tasks; returns the socket and
/// the full desired list the server answers with.
async fn open_session(server: &common::TestServer, arn: &str) -> (Socket, Vec<DesiredTask>) {
    let address = server.endpoint.trim_start_matches("http://");
    let url = format!("ws://{address}{SESSION_PATH}?containerInstance={arn}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("session opens");
    let hello = AgentMessage::Hello { agent_version: "test".into(), tasks: Vec::new() };
    send(&mut socket, &hello).await;
    match next(&mut socket).await {
        ServerMessage::Desired { full: true, tasks } => (socket, tasks),
        other => panic!("expected the full desired list, got {other:?}"),
    }
}

async fn send(socket: &mut Socket, message: &AgentMessage) {
    let text = serde_json::to_string(message).expect("encodes");
    socket.send(Message::Text(text.into())).await.expect("sent");
}

/// The server's next message (pings skipped), waiting at most ten seconds.
async fn next(socket: &mut Socket) -> ServerMessage {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the server answers within ten seconds")
            .expect("the session is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("a server message");
        }
    }
}

fn report(task_arn: &str, status: &str) -> TaskReport {
    TaskReport { task_arn: task_arn.into(), status: status.into(), ..TaskReport::default() }
}

#[tokio::test]
async fn reports_are_acknowledged_cumulatively_and_a_stop_at_once() {
    let server = common::start().await;
    let ecs = &server.client;
    ecs.create_cluster().cluster_name(CLUSTER).send().await.expect("cluster");
    let job = ContainerDefinition::builder().name("job").image("busybox").cpu(128).memory(128).build();
    ecs.register_task_definition().family("job").container_definitions(job).send().await.expect("definition");
    let arn = instances::add(&server, CLUSTER, "i1", Instance::new(1024, 1024)).await;
    let ran = ecs.run_task().cluster(CLUSTER).task_definition("job").count(2).send().await.expect("run");
    let tasks: Vec<String> = ran.tasks().iter().filter_map(|t| t.task_arn().map(str::to_string)).collect();
    assert_eq!(tasks.len(), 2);

    let (mut socket, desired) = open_session(&server, &arn).await;
    assert_eq!(desired.len(), 2, "both tasks are assigned to the instance");

    // A report that is not STOPPED is acknowledged, if a little later.
    send(&mut socket, &AgentMessage::Report { seq: 1, task: report(&tasks[0], "RUNNING") }).await;
    assert_eq!(next(&mut socket).await, ServerMessage::Ack { seq: 1 });

    // Two reports, the second STOPPED: one ack covers both, sent as the stop is stored.
    send(&mut socket, &AgentMessage::Report { seq: 2, task: report(&tasks[1], "RUNNING") }).await;
    send(&mut socket, &AgentMessage::Report { seq: 3, task: report(&tasks[0], "STOPPED") }).await;
    assert_eq!(next(&mut socket).await, ServerMessage::Ack { seq: 3 });
    let described = ecs.describe_tasks().cluster(CLUSTER).tasks(&tasks[0]).tasks(&tasks[1]).send().await;
    let mut statuses: Vec<(String, String)> = described
        .expect("described")
        .tasks()
        .iter()
        .map(|t| (t.task_arn().unwrap_or_default().into(), t.last_status().unwrap_or_default().into()))
        .collect();
    statuses.sort();
    let mut expected =
        vec![(tasks[0].clone(), "STOPPED".to_string()), (tasks[1].clone(), "RUNNING".to_string())];
    expected.sort();
    assert_eq!(statuses, expected, "an ack means stored");

    // An ack still pending goes out no later than the next push: StopTask pushes the task
    // desired STOPPED.
    send(&mut socket, &AgentMessage::Report { seq: 4, task: report(&tasks[1], "RUNNING") }).await;
    ecs.stop_task().cluster(CLUSTER).task(&tasks[1]).send().await.expect("stop");
    let mut seen = Vec::new();
    while !seen.iter().any(|m| matches!(m, ServerMessage::Desired { .. })) {
        seen.push(next(&mut socket).await);
    }
    assert!(seen.contains(&ServerMessage::Ack { seq: 4 }), "{seen:?}");
    server.stop().await;
}
