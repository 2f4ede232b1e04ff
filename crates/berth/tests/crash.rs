//! Crash safety: a write the server acknowledged survives the server being killed.
//!
//! A real `berth server` process takes RegisterTaskDefinition calls from 32 concurrent SDK
//! clients; mid-stream it is killed with SIGKILL and started again on the same data directory.
//! Every revision that was acknowledged before the kill must be there afterwards, and the store
//! must open cleanly. This repeats ten times on one data directory, so later rounds also prove
//! that a store which has survived earlier kills keeps working.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_ecs::config::{BehaviorVersion, Region};
use aws_sdk_ecs::types::ContainerDefinition;

const ROUNDS: usize = 10;
const WRITERS: usize = 32;

fn client(endpoint: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

/// Starts a server on a port the kernel picks and reads the address it printed. Picking a
/// "free" port up front would race with the other test processes that nextest runs at once:
/// another server could take the port first and this test would talk to it.
fn start_server(data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("berth server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("a line on stdout");
    let endpoint = line
        .trim()
        .strip_prefix("berth server listening on ")
        .unwrap_or_else(|| panic!("the server did not say where it listens: {line:?}"))
        .to_string();
    (child, endpoint)
}

async fn wait_ready(endpoint: &str) {
    let ecs = client(endpoint);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ecs.list_clusters().send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {endpoint} did not become ready; the store may not have reopened");
}

/// Registers revisions of its own family until the server stops answering, recording each one
/// the server acknowledged.
async fn writer(endpoint: String, id: usize, acknowledged: Arc<Mutex<BTreeSet<(usize, i32)>>>) {
    let ecs = client(&endpoint);
    let container = ContainerDefinition::builder().name("app").image("busybox").memory(64).build();
    loop {
        let result = ecs
            .register_task_definition()
            .family(format!("crash-{id}"))
            .container_definitions(container.clone())
            .send()
            .await;
        match result {
            Ok(output) => {
                let revision = output.task_definition().map(|td| td.revision()).expect("a revision");
                acknowledged.lock().expect("lock").insert((id, revision));
            }
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    for round in 0..ROUNDS {
        let (mut server, endpoint) = start_server(data_dir.path());
        wait_ready(&endpoint).await;
        let so_far = acknowledged.lock().expect("lock").clone();
        verify(&endpoint, &so_far).await;
        let before = so_far.len();
        let writers: Vec<_> =
            (0..WRITERS).map(|id| tokio::spawn(writer(endpoint.clone(), id, acknowledged.clone()))).collect();
        // Kill once writes are being acknowledged (how soon depends on the machine's load, so
        // wait for it rather than guess), at a different moment each round, with writes in
        // flight.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged.lock().expect("lock").len() <= before {
            assert!(Instant::now() < deadline, "round {round}: no write was acknowledged within 60 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(97 * round as u64 % 400)).await;
        server.kill().expect("SIGKILL");
        server.wait().expect("reaped");
        for task in writers {
            task.await.expect("writer");
        }
        let after = acknowledged.lock().expect("lock").len();
        assert!(after > before, "round {round}: no write was acknowledged before the kill");
    }
    let (mut server, endpoint) = start_server(data_dir.path());
    wait_ready(&endpoint).await;
    let all = acknowledged.lock().expect("lock").clone();
    verify(&endpoint, &all).await;
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
}

/// Every acknowledged revision describes, and each family's latest revision is at least the
/// highest acknowledged one (a revision number is never handed out twice).
async fn verify(endpoint: &str, acknowledged: &BTreeSet<(usize, i32)>) {
    let ecs = client(endpoint);
    for (id, revision) in acknowledged {
        let described = ecs
            .describe_task_definition()
            .task_definition(format!("crash-{id}:{revision}"))
            .send()
            .await
            .unwrap_or_else(|err| panic!("acknowledged revision crash-{id}:{revision} is lost: {err:?}"));
        assert_eq!(described.task_definition().map(|td| td.revision()), Some(*revision));
    }
}
