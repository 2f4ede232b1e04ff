//! `berth server` as a user starts it: settings from flags, environment and a TOML file, in that
//! order of precedence; JSON logs on request; a clear refusal of bad settings; and the protocol
//! as a bare HTTP client sees it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("address").port()
}

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `berth server` with `args` and `env`, and reads the port it says it listens on.
fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.arg("server").args(args).current_dir(dir.path()).stdout(Stdio::piped()).stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("berth server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line on stdout");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Server { child, port, _dir: dir }
}

/// Sends one raw HTTP request and returns the status line and the body.
fn request(port: u16, target: Option<&str>, body: &str, extra: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let target = target
        .map(|t| format!("X-Amz-Target: AmazonEC2ContainerServiceV20141113.{t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\n{target}{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.lines().next().unwrap_or_default().to_string();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn flags_beat_environment_which_beats_the_config_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file_port = free_port();
    let config = dir.path().join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{file_port}\"\nregion = \"ap-south-1\"\naccount_id = \"111111111111\"\n"
        ),
    )
    .expect("config written");
    let config = config.to_str().expect("utf-8 path");

    // The file alone decides everything it names.
    let server = start(&["--config", config], &[]);
    assert_eq!(server.port, file_port);
    let (_, body) = request(server.port, Some("CreateCluster"), r#"{"clusterName":"c"}"#, "");
    assert!(body.contains("arn:aws:ecs:ap-south-1:111111111111:cluster/c"), "{body}");
    drop(server);

    // The environment beats the file; a flag beats both.
    let env_port = free_port();
    let flag_port = free_port();
    let env_listen = format!("127.0.0.1:{env_port}");
    let server =
        start(&["--config", config], &[("BERTH_LISTEN", &env_listen), ("BERTH_REGION", "eu-north-1")]);
    assert_eq!(server.port, env_port);
    let (_, body) = request(server.port, Some("CreateCluster"), r#"{"clusterName":"c"}"#, "");
    assert!(body.contains("arn:aws:ecs:eu-north-1:111111111111:cluster/c"), "{body}");
    drop(server);
    let flag_listen = format!("127.0.0.1:{flag_port}");
    let server = start(&["--config", config, "--listen", &flag_listen], &[("BERTH_LISTEN", &env_listen)]);
    assert_eq!(server.port, flag_port);
}

#[test]
fn a_memory_store_writes_nothing_and_forgets_what_the_durable_store_keeps_across_a_kill() {
    for (store, kept) in [("redb", true), ("memory", false)] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("data");
        let data = data.to_str().expect("utf-8 path");
        let args = ["--listen", "127.0.0.1:0", "--data-dir", data, "--store", store];
        let server = start(&args, &[]);
        let (status, body) = request(server.port, Some("CreateCluster"), r#"{"clusterName":"kept"}"#, "");
        assert!(status.contains("200"), "{store}: {status} {body}");
        drop(server); // SIGKILL: only what was acknowledged durably can come back.

        let server = start(&args, &[]);
        let (_, body) = request(server.port, Some("ListClusters"), "{}", "");
        assert_eq!(body.contains("cluster/kept"), kept, "{store}: {body}");
        assert_eq!(dir.path().join("data").join("berth.redb").exists(), kept, "{store}: the store file");
    }
}

#[test]
fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["--log-format", "json", "server", "--listen", &listen, "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).expect("a log line");
    let _ = child.kill();
    let _ = child.wait();
    let parsed: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("{line:?}: {err}"));
    assert!(parsed.get("level").is_some() && parsed.get("fields").is_some(), "{line}");
}

#[test]
fn a_bad_account_id_is_refused_with_one_clear_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "server",
            "--account-id",
            "12ab",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/nonexistent/never-created",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("account id must be 12 digits"), "{stderr}");
}

#[test]
fn the_protocol_as_a_bare_client_sees_it() {
    let server = start(&["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    // No signature: the server's default region.
    let (status, body) = request(server.port, Some("CreateCluster"), "", "");
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("arn:aws:ecs:us-east-1:000000000000:cluster/default"), "{body}");
    // A signature names the region.
    let auth = "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/sa-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00\r\n";
    let (_, body) = request(server.port, Some("CreateCluster"), "{}", auth);
    assert!(body.contains("arn:aws:ecs:sa-east-1:"), "{body}");
    // No target, an unknown target, bad JSON, a wrong type.
    let (status, body) = request(server.port, None, "{}", "");
    assert!(status.contains("400") && body.contains("MissingAction"), "{status} {body}");
    let (status, body) = request(server.port, Some("LaunchRockets"), "{}", "");
    assert!(status.contains("400") && body.contains("UnknownOperationException"), "{status} {body}");
    let (status, body) = request(server.port, Some("ListClusters"), "{not json", "");
    assert!(status.contains("400") && body.contains("SerializationException"), "{status} {body}");
    let (status, body) = request(server.port, Some("ListClusters"), r#"{"maxResults":"ten"}"#, "");
    assert!(status.contains("400") && body.contains("SerializationException"), "{status} {body}");
    // An operation of the model that is not served yet says so.
    let (status, body) = request(server.port, Some("ExecuteCommand"), "{}", "");
    assert!(status.contains("400") && body.contains("UnsupportedFeatureException"), "{status} {body}");
}

#[test]
fn an_oversized_body_is_refused_before_it_is_read() {
    let server = start(&["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // Declare 100 MiB but send only the headers: the answer must come without the body.
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\nContent-Length: 104857600\r\n\r\n"
    )
    .expect("write");
    let started = Instant::now();
    let mut response = vec![0u8; 4096];
    let read = stream.read(&mut response).expect("a response before the body");
    let response = String::from_utf8_lossy(&response[..read]);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("RequestEntityTooLargeException"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn health_answers_when_ready() {
    let server = start(&["--listen", "127.0.0.1:0", "--data-dir", "data"], &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(stream, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200") && response.contains("\"ok\""), "{response}");
}

#[test]
fn berth_up_without_a_docker_engine_says_so_in_one_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("DOCKER_HOST", format!("unix://{}/no-docker.sock", dir.path().display()))
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].contains("cannot reach the Docker Engine"), "{stderr}");
    assert!(!dir.path().join("berth.redb").exists(), "nothing was started before Docker was checked");
}

#[test]
fn berth_up_takes_the_servers_settings_and_refuses_bad_ones_before_anything_starts() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let refusal = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("up")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = refusal(&["--agent-lost-after", "0s"]);
    assert!(stderr.contains("agent_lost_after must be longer than zero"), "{stderr}");
    let stderr = refusal(&["--task-retention", "soon"]);
    assert!(stderr.contains("--task-retention"), "{stderr}");
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "account_id = \"12ab\"\n").expect("config written");
    let stderr = refusal(&["--config", config.to_str().expect("utf-8 path")]);
    assert!(stderr.contains("account id must be 12 digits"), "{stderr}");
    let stderr = refusal(&["--store", "memory"]);
    assert!(stderr.contains("--store memory is for berth server"), "{stderr}");
    assert!(!dir.path().join("berth.redb").exists(), "nothing was started");
}
