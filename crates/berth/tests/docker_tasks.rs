//! Tasks on real Docker containers, end to end: RunTask through the AWS SDK, the control plane,
//! the agent session, the Docker runtime, and back to DescribeTasks.
//!
//! Containers that run until stopped get `"stopTimeout": 1`: `sleep` or `httpd` as PID 1 ignore
//! SIGTERM, so each stop would otherwise wait out ECS's default 30 s before the SIGKILL.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Cluster, containers_of, logs_of, remove_cluster_containers};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_that_depends_on_a_healthy_one_starts_after_it_is_healthy() {
    let cluster = Cluster::with_agent("depends-healthy").await;
    let definition = cluster
        .register(json!({
            "family": "ordered",
            "containerDefinitions": [
                {
                    "name": "db", "image": cluster.image, "memory": 32, "stopTimeout": 1, "essential": true,
                    "command": ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"],
                    "healthCheck": {"command": ["CMD-SHELL", "test -f /tmp/ready"], "interval": 5, "timeout": 2,
                                    "retries": 3, "startPeriod": 0}
                },
                {
                    "name": "web", "image": cluster.image, "memory": 32, "stopTimeout": 1, "essential": true,
                    "command": ["sleep", "3600"],
                    "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]
                }
            ]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    let task = cluster.wait_running(&task_arn).await;
    let docker = berth_testkit::docker().await;
    let started = |name: &str| {
        let id = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(name))
            .and_then(|c| c.runtime_id())
            .expect("runtime id")
            .to_string();
        let docker = docker.clone();
        async move {
            let inspect = docker
                .inspect_container(&id, None::<bollard::query_parameters::InspectContainerOptions>)
                .await
                .expect("inspect");
            let text = inspect.state.and_then(|s| s.started_at).expect("started");
            chrono_like_seconds(&text)
        }
    };
    let (db, web) = (started("db").await, started("web").await);
    assert!(web - db >= 2.0, "web started {:.2} s after db, before db could be healthy", web - db);
    let db_container = task.containers().iter().find(|c| c.name() == Some("db")).expect("db");
    assert_eq!(db_container.health_status().map(|h| h.as_str()), Some("HEALTHY"));
    assert_eq!(task.health_status().map(|h| h.as_str()), Some("HEALTHY"));
    cluster.client.stop_task().cluster(&cluster.name).task(&task_arn).send().await.expect("stop");
    cluster.wait_stopped(&task_arn).await;
    remove_cluster_containers(&cluster.name).await;
    cluster.stop().await;
}

/// Seconds since the epoch of Docker's RFC 3339 timestamps (`2026-11-22T21:00:00.123456789Z`),
/// good enough to compare two of them.
fn chrono_like_seconds(text: &str) -> f64 {
    let (date, time) = text.split_once('T').expect("timestamp");
    let parts: Vec<f64> = date.split('-').map(|p| p.parse().expect("date")).collect();
    let time = time.trim_end_matches('Z');
    let clock: Vec<f64> = time.split(':').map(|p| p.parse().expect("time")).collect();
    let days = parts[0] * 372.0 + parts[1] * 31.0 + parts[2];
    days * 86_400.0 + clock[0] * 3600.0 + clock[1] * 60.0 + clock[2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_port_mapped_server_answers_on_the_reported_host_port() {
    let cluster = Cluster::with_agent("ports").await;
    let definition = cluster
        .register(json!({
            "family": "web",
            "containerDefinitions": [{
                "name": "httpd", "image": cluster.image, "memory": 32, "stopTimeout": 1,
                "command": ["sh", "-c", "mkdir -p /www && echo hello-from-berth > /www/index.html && exec httpd -f -p 8080 -h /www"],
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}]
            }]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    let task = cluster.wait_running(&task_arn).await;
    let binding = task.containers()[0].network_bindings().first().expect("a network binding").clone();
    assert_eq!(binding.container_port(), Some(8080));
    let host_port = binding.host_port().expect("host port");
    assert!(host_port > 0);
    let body = http_get(&format!("127.0.0.1:{host_port}"), "/index.html").await;
    assert!(body.contains("hello-from-berth"), "answer: {body}");
    cluster.client.stop_task().cluster(&cluster.name).task(&task_arn).send().await.expect("stop");
    cluster.wait_stopped(&task_arn).await;
    cluster.stop().await;
}

async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await {
            let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            if stream.write_all(request.as_bytes()).await.is_ok() {
                let mut answer = String::new();
                if stream.read_to_string(&mut answer).await.is_ok() && !answer.is_empty() {
                    return answer;
                }
            }
        }
        assert!(Instant::now() < deadline, "nothing answered on {addr}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_essential_container_exiting_stops_the_task_with_its_exit_code() {
    let cluster = Cluster::with_agent("essential-exit").await;
    let definition = cluster
        .register(json!({
            "family": "exits",
            "containerDefinitions": [{
                "name": "main", "image": cluster.image, "memory": 32, "essential": true,
                "command": ["sh", "-c", "sleep 1; exit 3"]
            }]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    let task = cluster.wait_stopped(&task_arn).await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("EssentialContainerExited"));
    assert_eq!(task.stopped_reason(), Some("Essential container in task exited"));
    assert_eq!(task.containers()[0].exit_code(), Some(3));
    assert_eq!(task.desired_status(), Some("STOPPED"));
    for member in [task.started_at(), task.stopped_at(), task.execution_stopped_at(), task.created_at()] {
        assert!(member.is_some(), "timestamps are set: {task:#?}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_image_fails_the_task_with_cannot_pull() {
    let mut cluster = Cluster::start("missing-image").await;
    let registry = berth_testkit::Registry::start().await;
    let mut config = cluster.agent_config(Duration::from_secs(0));
    config.pull_behavior = berth_agent::runtime::PullBehavior::Always;
    cluster.start_agent_with(config).await;
    let image = format!("{}/berth/does-not-exist:1", registry.addr);
    let definition = cluster
        .register(json!({
            "family": "missing",
            "containerDefinitions": [{"name": "main", "image": image, "memory": 32}]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    let task = cluster.wait_stopped(&task_arn).await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    let reason = task.stopped_reason().unwrap_or_default();
    assert!(reason.starts_with("CannotPullContainerError:"), "reason: {reason}");
    assert!(task.pull_started_at().is_some() && task.pull_stopped_at().is_some());
    let container_reason = task.containers()[0].reason().unwrap_or_default();
    assert!(container_reason.contains("CannotPullContainerError"), "container reason: {container_reason}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_is_pulled_from_a_registry() {
    let mut cluster = Cluster::start("pull").await;
    let registry = berth_testkit::Registry::start().await;
    let image = registry.push(&cluster.image, "berth/pulled").await;
    let mut config = cluster.agent_config(Duration::from_secs(0));
    config.pull_behavior = berth_agent::runtime::PullBehavior::Always;
    cluster.start_agent_with(config).await;
    let definition = cluster
        .register(json!({
            "family": "pulled",
            "containerDefinitions": [{"name": "main", "image": image, "memory": 32, "stopTimeout": 1, "command": ["sleep", "60"]}]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    let task = cluster.wait_running(&task_arn).await;
    assert!(task.containers()[0].image_digest().is_some_and(|d| d.starts_with("sha256:")), "{task:#?}");
    cluster.client.stop_task().cluster(&cluster.name).task(&task_arn).send().await.expect("stop");
    cluster.wait_stopped(&task_arn).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_ignoring_sigterm_is_killed_after_its_stop_timeout() {
    let cluster = Cluster::with_agent("stop-timeout").await;
    let definition = cluster
        .register(json!({
            "family": "stubborn",
            "containerDefinitions": [{
                "name": "main", "image": cluster.image, "memory": 32, "stopTimeout": 4,
                "command": ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
            }]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    cluster.wait_running(&task_arn).await;
    let asked = Instant::now();
    cluster
        .client
        .stop_task()
        .cluster(&cluster.name)
        .task(&task_arn)
        .reason("done with it")
        .send()
        .await
        .expect("stop");
    let task = cluster.wait_stopped(&task_arn).await;
    let took = asked.elapsed();
    assert!(took >= Duration::from_secs(4), "stopped after {took:?}, before the 4 s stop timeout");
    assert!(took < Duration::from_secs(15), "stopped after {took:?}");
    assert_eq!(task.containers()[0].exit_code(), Some(137), "killed by SIGKILL");
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
    assert_eq!(task.stopped_reason(), Some("done with it"));
    assert!(task.stopping_at().is_some());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_metadata_endpoint_read_from_inside_a_container_names_its_own_task() {
    let mut cluster = Cluster::start("metadata").await;
    cluster.start_agent(Duration::from_secs(600)).await;
    let definition = cluster
        .register(json!({
            "family": "meta",
            "containerDefinitions": [{
                "name": "main", "image": cluster.image, "memory": 32, "stopTimeout": 1,
                "command": ["sh", "-c", "wget -qO- \"$ECS_CONTAINER_METADATA_URI_V4/task\"; echo; wget -qO- \"$ECS_CONTAINER_METADATA_URI_V4\"; echo; sleep 60"]
            }]
        }))
        .await;
    let task_arn = cluster.run(&definition).await;
    let task = cluster.wait_running(&task_arn).await;
    let runtime_id = task.containers()[0].runtime_id().expect("runtime id").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let logs = loop {
        let logs = logs_of(&runtime_id).await;
        if logs.lines().filter(|l| l.starts_with('{')).count() >= 2 || Instant::now() > deadline {
            break logs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let documents: Vec<serde_json::Value> =
        logs.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(documents.len(), 2, "logs: {logs}");
    let (task_doc, container_doc) = (&documents[0], &documents[1]);
    assert_eq!(task_doc["TaskARN"], json!(task_arn));
    assert_eq!(task_doc["Family"], json!("meta"));
    assert_eq!(task_doc["Revision"], json!("1"));
    assert_eq!(task_doc["Cluster"].as_str().map(|c| c.ends_with(&cluster.name)), Some(true));
    assert_eq!(task_doc["DesiredStatus"], json!("RUNNING"));
    assert_eq!(task_doc["Containers"][0]["Name"], json!("main"));
    assert_eq!(container_doc["DockerId"], json!(runtime_id));
    assert_eq!(container_doc["Labels"]["com.amazonaws.ecs.task-arn"], json!(task_arn));
    cluster.client.stop_task().cluster(&cluster.name).task(&task_arn).send().await.expect("stop");
    cluster.wait_stopped(&task_arn).await;
    remove_cluster_containers(&cluster.name).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_and_nothing_starts() {
    let cluster = Cluster::with_agent("bad-input").await;
    let definition = cluster
        .register(json!({
            "family": "small",
            "containerDefinitions": [{"name": "main", "image": cluster.image, "memory": 32, "stopTimeout": 1, "command": ["sleep", "60"]}]
        }))
        .await;
    let code = |result: Result<_, aws_sdk_ecs::error::SdkError<_, _>>| -> String {
        use aws_sdk_ecs::error::ProvideErrorMetadata;
        match result {
            Ok(_) => panic!("expected an error"),
            Err(err) => err.code().unwrap_or_default().to_string(),
        }
    };
    let unknown_cluster =
        cluster.client.run_task().cluster("no-such-cluster").task_definition(&definition).send().await;
    assert_eq!(code(unknown_cluster.map(|_| ())), "ClusterNotFoundException");
    let unknown_definition =
        cluster.client.run_task().cluster(&cluster.name).task_definition("no-such-family").send().await;
    assert!(
        ["ClientException", "InvalidParameterException"]
            .contains(&code(unknown_definition.map(|_| ())).as_str())
    );
    let too_many =
        cluster.client.run_task().cluster(&cluster.name).task_definition(&definition).count(11).send().await;
    assert_eq!(code(too_many.map(|_| ())), "InvalidParameterException");
    let huge = cluster
        .register(json!({
            "family": "huge",
            "containerDefinitions": [{"name": "main", "image": cluster.image, "memory": 100_000_000}]
        }))
        .await;
    let output = cluster
        .client
        .run_task()
        .cluster(&cluster.name)
        .task_definition(&huge)
        .send()
        .await
        .expect("run task");
    assert!(output.tasks().is_empty());
    assert_eq!(output.failures().len(), 1, "{:?}", output.failures());
    assert_eq!(output.failures()[0].reason(), Some("RESOURCE:MEMORY"));
    let listed = cluster.client.list_tasks().cluster(&cluster.name).send().await.expect("list tasks");
    assert!(listed.task_arns().is_empty(), "nothing started: {:?}", listed.task_arns());
    cluster.stop().await;
}

/// The agent as a separate process, for the crash tests.
struct AgentProcess {
    child: std::process::Child,
}

impl AgentProcess {
    fn spawn(cluster: &Cluster, metadata_port: u16) -> AgentProcess {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["agent", "--server", &cluster.endpoint, "--cluster", &cluster.name])
            .arg("--data-dir")
            .arg(cluster.dir.path().join("agent-process"))
            .args(["--pull-behavior", "prefer-cached", "--task-cleanup-wait", "0s"])
            .args(["--metadata-port", &metadata_port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("berth agent starts");
        AgentProcess { child }
    }

    fn kill(mut self) {
        // SIGKILL: the agent gets no chance to clean up.
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }
}

async fn instance_connected(cluster: &Cluster, connected: bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let arns =
            cluster.client.list_container_instances().cluster(&cluster.name).send().await.expect("list");
        if let Some(arn) = arns.container_instance_arns().first() {
            let described = cluster
                .client
                .describe_container_instances()
                .cluster(&cluster.name)
                .container_instances(arn)
                .send()
                .await
                .expect("describe");
            let instance = &described.container_instances()[0];
            if instance.agent_connected() == connected {
                assert_eq!(arns.container_instance_arns().len(), 1, "one host is one instance");
                return arn.clone();
            }
        }
        assert!(Instant::now() < deadline, "agentConnected never became {connected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_agent_readopts_its_containers_and_removes_those_of_tasks_stopped_meanwhile() {
    let cluster = Cluster::start("readopt").await;
    let port = berth_testkit::free_port();
    let agent = AgentProcess::spawn(&cluster, port);
    let instance = instance_connected(&cluster, true).await;
    let definition = cluster
        .register(json!({
            "family": "longrun",
            "containerDefinitions": [{"name": "main", "image": cluster.image, "memory": 32, "stopTimeout": 1, "command": ["sleep", "3600"]}]
        }))
        .await;
    let kept = cluster.run(&definition).await;
    let stopped_meanwhile = cluster.run(&definition).await;
    cluster.wait_running(&kept).await;
    cluster.wait_running(&stopped_meanwhile).await;
    let kept_container = containers_of(&kept).await;
    assert_eq!(kept_container.len(), 1);

    agent.kill();
    instance_connected(&cluster, false).await;
    cluster.client.stop_task().cluster(&cluster.name).task(&stopped_meanwhile).send().await.expect("stop");
    assert_eq!(
        containers_of(&stopped_meanwhile).await.len(),
        1,
        "nothing can remove it while the agent is down"
    );

    let agent = AgentProcess::spawn(&cluster, port);
    assert_eq!(
        instance_connected(&cluster, true).await,
        instance,
        "the restarted agent is the same instance"
    );
    let task = cluster.wait_stopped(&stopped_meanwhile).await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !containers_of(&stopped_meanwhile).await.is_empty() {
        assert!(Instant::now() < deadline, "the stopped task's container was never removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let task = cluster.wait_running(&kept).await;
    let after = containers_of(&kept).await;
    assert_eq!(after.len(), 1, "re-adopted, not duplicated");
    assert_eq!(after[0].id, kept_container[0].id, "the same container runs on");
    assert_eq!(after[0].state, Some(bollard::models::ContainerSummaryStateEnum::RUNNING));
    assert_eq!(task.containers()[0].runtime_id(), after[0].id.as_deref());

    cluster.client.stop_task().cluster(&cluster.name).task(&kept).send().await.expect("stop");
    cluster.wait_stopped(&kept).await;
    agent.kill();
    remove_cluster_containers(&cluster.name).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_registry_credentials_come_from_the_agent_by_credentials_parameter() {
    let mut cluster = Cluster::start("registry-auth").await;
    let registry = berth_testkit::Registry::start_with_auth("berth", "s3cret").await;
    let image = registry.push(&cluster.image, "berth/private").await;
    let secret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:registry-login";
    let mut config = cluster.agent_config(Duration::from_secs(0));
    config.pull_behavior = berth_agent::runtime::PullBehavior::Always;
    config.registry_credentials.insert(
        secret.to_string(),
        berth_agent::runtime::RegistryAuth { username: "berth".into(), password: "s3cret".into() },
    );
    cluster.start_agent_with(config).await;
    let with_credentials = cluster
        .register(json!({
            "family": "private",
            "containerDefinitions": [{
                "name": "main", "image": image, "memory": 32, "stopTimeout": 1, "command": ["sleep", "60"],
                "repositoryCredentials": {"credentialsParameter": secret}
            }]
        }))
        .await;
    let task_arn = cluster.run(&with_credentials).await;
    cluster.wait_running(&task_arn).await;
    cluster.client.stop_task().cluster(&cluster.name).task(&task_arn).send().await.expect("stop");
    cluster.wait_stopped(&task_arn).await;

    let without_credentials = cluster
        .register(json!({
            "family": "private-anonymous",
            "containerDefinitions": [{"name": "main", "image": image, "memory": 32, "stopTimeout": 1, "command": ["sleep", "60"]}]
        }))
        .await;
    let task_arn = cluster.run(&without_credentials).await;
    let task = cluster.wait_stopped(&task_arn).await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    assert!(task.stopped_reason().unwrap_or_default().starts_with("CannotPullContainerError"), "{task:#?}");
    cluster.stop().await;
}
