//! The task metadata endpoint (v4) over real HTTP: the documents and errors a container sees,
//! first from a loopback client, then from inside a real container on Docker's bridge.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_agent::metadata::{
    ContainerMetadata, DockerStats, HealthMetadata, Limits, MetadataRegistry, MetadataServer,
    NetworkMetadata, PortMetadata, StatsSource, TaskMetadata, bridge_gateway,
};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{LogsOptions, RemoveContainerOptions, WaitContainerOptions};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const TASK_ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task/demo/8f03e41243824aea923aca126495f665";
const WEB_ID: &str = "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66";
const LOG_ID: &str = "1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80912";

/// Stats the test decides, by Docker id: the loopback tests check what the server does with
/// them, not Docker (the container test below uses Docker's own).
struct FixedStats(HashMap<String, Value>);

#[async_trait]
impl StatsSource for FixedStats {
    async fn stats(&self, docker_id: &str) -> Option<Value> {
        self.0.get(docker_id).cloned()
    }
}

fn fixed_stats() -> Arc<dyn StatsSource> {
    let web = json!({"id": WEB_ID, "memory_stats": {"usage": 4096}});
    Arc::new(FixedStats(HashMap::from([(WEB_ID.to_string(), web)])))
}

fn container(name: &str, docker_id: &str, token: &str) -> ContainerMetadata {
    let labels = BTreeMap::from([
        ("com.amazonaws.ecs.task-arn".to_string(), TASK_ARN.to_string()),
        ("com.amazonaws.ecs.container-name".to_string(), name.to_string()),
    ]);
    ContainerMetadata {
        endpoint_token: token.to_string(),
        docker_id: docker_id.to_string(),
        name: name.to_string(),
        docker_name: format!("ecs-web-3-{name}-cca48e8dcadd97805600"),
        image: "nginx:1.27".to_string(),
        image_id: "sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553".to_string(),
        labels,
        desired_status: "RUNNING".to_string(),
        known_status: "RUNNING".to_string(),
        limits: Limits { cpu: Some(10.0), memory: Some(128) },
        created_at: Some(1_601_597_707.620_912),
        started_at: Some(1_601_597_708.062_559),
        container_arn: Some(format!("arn:aws:ecs:us-east-1:000000000000:container/demo/{name}")),
        networks: vec![NetworkMetadata {
            network_mode: "bridge".to_string(),
            ipv4_addresses: vec!["172.17.0.2".to_string()],
            ..NetworkMetadata::default()
        }],
        ..ContainerMetadata::default()
    }
}

/// A running two-container task: `web` (with a port, health and stats) and `log`.
fn two_container_task(web_token: &str, log_token: &str) -> TaskMetadata {
    let mut web = container("web", WEB_ID, web_token);
    web.ports = vec![PortMetadata {
        container_port: 80,
        protocol: "tcp".to_string(),
        host_port: Some(49153),
        host_ip: Some("0.0.0.0".to_string()),
    }];
    web.health = Some(HealthMetadata {
        status: "HEALTHY".to_string(),
        status_since: Some(1_601_597_738.5),
        ..HealthMetadata::default()
    });
    TaskMetadata {
        cluster: "demo".to_string(),
        task_arn: TASK_ARN.to_string(),
        family: "web".to_string(),
        revision: "3".to_string(),
        desired_status: "RUNNING".to_string(),
        known_status: "RUNNING".to_string(),
        limits: Some(Limits { cpu: Some(0.25), memory: Some(512) }),
        pull_started_at: Some(1_601_597_700.0),
        pull_stopped_at: Some(1_601_597_706.25),
        containers: vec![web, container("log", LOG_ID, log_token)],
        service_name: Some("web-svc".to_string()),
        task_tags: BTreeMap::from([("team".to_string(), "platform".to_string())]),
        ..TaskMetadata::default()
    }
}

/// GETs `url`; returns the status, the content type and the body as JSON.
async fn get(url: &str) -> (u16, String, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = url.parse().expect("a valid URL");
    let response = client.get(uri).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("GET {url}: body is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, content_type, json)
}

async fn loopback_server() -> (MetadataServer, MetadataRegistry) {
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let server = MetadataServer::start(bind, fixed_stats()).await.expect("metadata server starts");
    let registry = server.registry();
    (server, registry)
}

#[tokio::test]
async fn container_path_serves_the_containers_own_metadata() {
    let (server, registry) = loopback_server().await;
    let (web, log) = (MetadataRegistry::new_token(), MetadataRegistry::new_token());
    registry.upsert_task(two_container_task(&web, &log));

    let uri = registry.container_uri(&web);
    assert_eq!(uri, format!("{}/v4/{web}", server.base_url()));
    let (status, content_type, body) = get(&uri).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(body["DockerId"], WEB_ID);
    assert_eq!(body["Name"], "web");
    assert_eq!(body["DockerName"], "ecs-web-3-web-cca48e8dcadd97805600");
    assert_eq!(body["Image"], "nginx:1.27");
    assert_eq!(body["Labels"]["com.amazonaws.ecs.task-arn"], TASK_ARN);
    assert_eq!(
        (body["DesiredStatus"].as_str(), body["KnownStatus"].as_str()),
        (Some("RUNNING"), Some("RUNNING"))
    );
    assert_eq!(body["Limits"], json!({"CPU": 10, "Memory": 128}));
    assert_eq!(body["CreatedAt"], "2020-10-02T00:15:07.620912Z");
    assert_eq!(body["StartedAt"], "2020-10-02T00:15:08.062559Z");
    assert_eq!(body["Type"], "NORMAL");
    assert_eq!(body["Networks"], json!([{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}]));
    assert_eq!(
        body["Ports"],
        json!([{"ContainerPort": 80, "Protocol": "tcp", "HostPort": 49153, "HostIp": "0.0.0.0"}])
    );
    assert_eq!(body["Health"], json!({"status": "HEALTHY", "statusSince": "2020-10-02T00:15:38.5Z"}));
    assert_eq!(body["ContainerARN"], "arn:aws:ecs:us-east-1:000000000000:container/demo/web");
    assert!(body.get("FinishedAt").is_none() && body.get("ExitCode").is_none(), "unset members are omitted");

    let (_, _, other) = get(&registry.container_uri(&log)).await;
    assert_eq!(other["Name"], "log", "each token reaches its own container");
}

#[tokio::test]
async fn task_path_serves_the_task_with_every_container() {
    let (_server, registry) = loopback_server().await;
    let (web, log) = (MetadataRegistry::new_token(), MetadataRegistry::new_token());
    registry.upsert_task(two_container_task(&web, &log));

    for token in [&web, &log] {
        let (status, _, task) = get(&format!("{}/task", registry.container_uri(token))).await;
        assert_eq!(status, 200);
        assert_eq!(task["Cluster"], "demo");
        assert_eq!(task["TaskARN"], TASK_ARN);
        assert_eq!((task["Family"].as_str(), task["Revision"].as_str()), (Some("web"), Some("3")));
        assert_eq!(task["DesiredStatus"], "RUNNING");
        assert_eq!(task["KnownStatus"], "RUNNING");
        assert_eq!(task["Limits"], json!({"CPU": 0.25, "Memory": 512}));
        assert_eq!(task["PullStartedAt"], "2020-10-02T00:15:00Z");
        assert_eq!(task["PullStoppedAt"], "2020-10-02T00:15:06.25Z");
        assert_eq!(task["LaunchType"], "EC2");
        assert_eq!(task["ServiceName"], "web-svc");
        let names: Vec<&str> =
            task["Containers"].as_array().unwrap().iter().map(|c| c["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["web", "log"]);
        assert_eq!(task["Containers"][1]["DockerId"], LOG_ID);
        assert!(task.get("TaskTags").is_none(), "tags are only in /taskWithTags");
    }
    let (_, _, tagged) = get(&format!("{}/taskWithTags", registry.container_uri(&web))).await;
    assert_eq!(tagged["TaskTags"], json!({"team": "platform"}));
    assert_eq!(tagged["TaskARN"], TASK_ARN);
    assert!(tagged.get("ContainerInstanceTags").is_none());
}

#[tokio::test]
async fn stats_paths_serve_the_containers_stats() {
    let (_server, registry) = loopback_server().await;
    let (web, log) = (MetadataRegistry::new_token(), MetadataRegistry::new_token());
    let mut task = two_container_task(&web, &log);
    let pending = MetadataRegistry::new_token();
    task.containers.push(container("init", "", &pending));
    registry.upsert_task(task);

    let (status, _, stats) = get(&format!("{}/stats", registry.container_uri(&web))).await;
    assert_eq!(status, 200);
    assert_eq!(stats, json!({"id": WEB_ID, "memory_stats": {"usage": 4096}}));

    // `log` has no stats: null in the task's map, 404 on its own path; `init` is not created yet.
    let (status, _, all) = get(&format!("{}/task/stats", registry.container_uri(&log))).await;
    assert_eq!(status, 200);
    assert_eq!(all, json!({WEB_ID: {"id": WEB_ID, "memory_stats": {"usage": 4096}}, LOG_ID: null}));
    let (status, _, error) = get(&format!("{}/stats", registry.container_uri(&log))).await;
    assert_eq!(status, 404);
    assert_eq!(error, "V4 container stats handler: no stats are available for container log");
    let (status, _, error) = get(&format!("{}/stats", registry.container_uri(&pending))).await;
    assert_eq!(status, 404);
    assert_eq!(error, "V4 container stats handler: container init has not been created yet");
}

#[tokio::test]
async fn unknown_and_revoked_tokens_get_404_with_a_json_error() {
    let (_server, registry) = loopback_server().await;
    let (web, log) = (MetadataRegistry::new_token(), MetadataRegistry::new_token());
    registry.upsert_task(two_container_task(&web, &log));

    let stranger = registry.container_uri(&MetadataRegistry::new_token());
    let expected = [
        ("", "V4 container metadata handler"),
        ("/task", "V4 task metadata handler"),
        ("/taskWithTags", "V4 task metadata handler"),
        ("/stats", "V4 container stats handler"),
        ("/task/stats", "V4 task stats handler"),
    ];
    for (path, handler) in expected {
        let (status, content_type, error) = get(&format!("{stranger}{path}")).await;
        assert_eq!((status, content_type.as_str()), (404, "application/json"), "{path}");
        assert_eq!(error, format!("{handler}: no container has this endpoint token"), "{path}");
    }
    let (status, _, _) = get(&format!("{}/v4/{web}/nothing-here", registry.base_url())).await;
    assert_eq!(status, 404);

    // A task that loses a container revokes its token; a removed task revokes them all.
    let mut smaller = two_container_task(&web, &log);
    smaller.containers.truncate(1);
    registry.upsert_task(smaller);
    assert_eq!(get(&registry.container_uri(&log)).await.0, 404);
    assert_eq!(get(&registry.container_uri(&web)).await.0, 200);
    registry.remove_task(TASK_ARN);
    assert_eq!(get(&registry.container_uri(&web)).await.0, 404);
}

#[tokio::test]
async fn a_task_update_is_served_at_once() {
    let (_server, registry) = loopback_server().await;
    let (web, log) = (MetadataRegistry::new_token(), MetadataRegistry::new_token());
    registry.upsert_task(two_container_task(&web, &log));
    let mut stopped = two_container_task(&web, &log);
    stopped.known_status = "STOPPED".to_string();
    stopped.containers[0].known_status = "STOPPED".to_string();
    stopped.containers[0].exit_code = Some(137);
    registry.upsert_task(stopped);

    let (_, _, task) = get(&format!("{}/task", registry.container_uri(&web))).await;
    assert_eq!(task["KnownStatus"], "STOPPED");
    assert_eq!(task["Containers"][0]["ExitCode"], 137);
}

#[tokio::test]
async fn the_server_stops_when_dropped() {
    let (server, registry) = loopback_server().await;
    let addr = server.local_addr();
    server.shutdown().await;
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "nothing listens on {addr} after shutdown");
    drop(registry);
}

/// The real thing: a busybox container on Docker's default bridge, given its URI in
/// `ECS_CONTAINER_METADATA_URI_V4` as the agent gives it, reads its task and its own stats from
/// the endpoint bound on the bridge gateway, which serves Docker's stats of it.
#[tokio::test]
async fn a_container_on_the_bridge_reads_its_task_and_stats() {
    let docker = berth_testkit::docker().await;
    let image = berth_testkit::busybox_image().await;
    let gateway = bridge_gateway().await.expect("Docker's bridge network has an IPv4 gateway");
    let stats: Arc<dyn StatsSource> = Arc::new(DockerStats::connect().await.expect("Docker for stats"));
    let server =
        MetadataServer::start(SocketAddr::new(gateway, 0), stats).await.expect("bind on the gateway");
    let registry = server.registry();
    let token = MetadataRegistry::new_token();

    let script = "wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task && echo && wget -qO- $ECS_CONTAINER_METADATA_URI_V4/stats";
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        env: Some(vec![format!("ECS_CONTAINER_METADATA_URI_V4={}", registry.container_uri(&token))]),
        ..ContainerCreateBody::default()
    };
    let created = docker.create_container(None::<bollard::query_parameters::CreateContainerOptions>, body);
    let id = created.await.expect("create the container").id;

    // The engine registers the task once the container exists, before starting it.
    let mut task = two_container_task(&token, &MetadataRegistry::new_token());
    task.containers[0].docker_id = id.clone();
    registry.upsert_task(task);

    docker
        .start_container(&id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .expect("start");
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        docker.wait_container(&id, None::<WaitContainerOptions>).collect::<Vec<_>>(),
    )
    .await;
    let logs_options = LogsOptions { stdout: true, stderr: true, ..LogsOptions::default() };
    let output: Vec<String> = docker
        .logs(&id, Some(logs_options))
        .map(|chunk| chunk.map(|c| c.to_string()).unwrap_or_default())
        .collect()
        .await;
    let inspected =
        docker.inspect_container(&id, None::<bollard::query_parameters::InspectContainerOptions>).await;
    let remove = RemoveContainerOptions { force: true, ..RemoveContainerOptions::default() };
    let _ = docker.remove_container(&id, Some(remove)).await;

    let output = output.concat();
    assert!(waited.is_ok(), "the container did not exit within 60 s; output: {output}");
    let exit_code = inspected.ok().and_then(|c| c.state).and_then(|s| s.exit_code);
    assert_eq!(exit_code, Some(0), "wget failed inside the container; output: {output}");
    let mut documents = output.lines().filter(|line| !line.trim().is_empty());
    let task: Value = serde_json::from_str(documents.next().unwrap_or_default()).expect("the task document");
    assert_eq!(task["TaskARN"], TASK_ARN);
    assert_eq!(task["Containers"][0]["DockerId"], id.as_str());
    let stats: Value =
        serde_json::from_str(documents.next().unwrap_or_default()).expect("the stats document");
    assert_eq!(stats["id"], id.as_str(), "Docker's stats of this very container");
    assert!(stats["memory_stats"].is_object() && stats["cpu_stats"].is_object(), "{stats}");
}
