//! The Docker runtime against the real local Docker Engine: containers are created, run, stopped,
//! inspected and removed for real, images are pulled from a real (loopback) registry. Every test
//! uses its own task ARN, and a guard removes the containers and volumes carrying it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use berth_agent::runtime::docker::{DockerRuntime, DockerSettings, task_volume_name};
use berth_agent::runtime::{
    ContainerEvent, ContainerRequest, ContainerState, PullBehavior, RegistryAuth, Runtime, RuntimeError,
    labels,
};
use berth_api::model::{
    ContainerDefinition, DockerVolumeConfiguration, EnvironmentFile, HealthCheck, KeyValuePair, MountPoint,
    PortMapping, TaskDefinition, Volume, VolumeFrom,
};
use berth_testkit::Registry;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions,
};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// === harness ===

/// One test's task: a unique ARN, and on drop the removal of everything labelled with it.
struct Task {
    arn: String,
    id: String,
}

impl Task {
    fn new() -> Task {
        berth_testkit::docker_or_fail();
        let id = uuid::Uuid::new_v4().simple().to_string();
        Task { arn: format!("arn:aws:ecs:us-east-1:000000000000:task/docker-tests/{id}"), id }
    }

    /// A request for container `name` of this task running busybox with `command`.
    async fn request(&self, name: &str, command: &[&str]) -> ContainerRequest {
        let container = ContainerDefinition {
            name: Some(name.into()),
            image: Some(berth_testkit::busybox_image().await),
            command: Some(command.iter().map(|part| part.to_string()).collect()),
            ..ContainerDefinition::default()
        };
        ContainerRequest {
            task_arn: self.arn.clone(),
            cluster: "docker-tests".into(),
            task_definition: TaskDefinition {
                family: Some("docker-runtime".into()),
                revision: Some(3),
                ..TaskDefinition::default()
            },
            container,
            extra_environment: BTreeMap::new(),
            siblings: BTreeMap::new(),
            runtime_name: format!("berth-test-{}-{name}", self.id),
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let label = format!("{}={}", labels::TASK_ARN, self.arn);
        // Drop cannot await; a thread with its own runtime does the removal.
        let cleanup = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(remove_labelled(label));
        });
        let _ = cleanup.join();
    }
}

async fn remove_labelled(label: String) {
    let docker = berth_testkit::docker().await;
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let listing = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
    for container in docker.list_containers(Some(listing)).await.unwrap_or_default() {
        let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        if let Some(id) = container.id {
            let _ = docker.remove_container(&id, Some(options)).await;
        }
    }
    let listing = ListVolumesOptionsBuilder::new().filters(&filters).build();
    let volumes =
        docker.list_volumes(Some(listing)).await.ok().and_then(|list| list.volumes).unwrap_or_default();
    for volume in volumes {
        let _ = docker.remove_volume(&volume.name, None::<RemoveVolumeOptions>).await;
    }
}

async fn runtime() -> DockerRuntime {
    berth_testkit::docker_or_fail();
    DockerRuntime::connect(DockerSettings::default()).await.expect("connects to the local engine")
}

/// Creates and starts the container; returns its id.
async fn run(runtime: &DockerRuntime, request: &ContainerRequest) -> String {
    let id = runtime.create(request).await.expect("create");
    runtime.start(&id).await.expect("start");
    id
}

/// Polls until the container has exited.
async fn exited(runtime: &DockerRuntime, id: &str) -> ContainerState {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = runtime.inspect(id).await.expect("inspect");
        if !state.running && state.exit_code.is_some() {
            return state;
        }
        assert!(Instant::now() < deadline, "container {id} still running after 30 s: {state:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the container wrote to stdout and stderr.
async fn logs(id: &str) -> String {
    let docker = berth_testkit::docker().await;
    let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
    let chunks: Vec<_> = docker.logs(id, Some(options)).collect().await;
    chunks.into_iter().filter_map(Result::ok).map(|chunk| chunk.to_string()).collect()
}

fn health_check(command: &str) -> HealthCheck {
    HealthCheck {
        command: Some(vec!["CMD-SHELL".into(), command.into()]),
        // Faster than ECS allows (5 s at least), so the test does not wait; the engine accepts it.
        interval: Some(1),
        timeout: Some(2),
        retries: Some(1),
        start_period: None,
    }
}

// === containers ===

#[tokio::test]
async fn an_exit_code_is_inspected_and_the_death_is_an_event() {
    let (task, runtime) = (Task::new(), runtime().await);
    let mut events = runtime.events();
    let id = run(&runtime, &task.request("exit", &["sh", "-c", "exit 3"]).await).await;
    let state = exited(&runtime, &id).await;
    assert_eq!(state.exit_code, Some(3));
    assert!(state.error.is_none(), "{state:?}");
    let (started, finished) = (state.started_at.expect("started"), state.finished_at.expect("finished"));
    assert!(started > 1.6e9 && finished >= started, "epoch seconds: {started} {finished}");
    let died = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.next().await {
            if event == (ContainerEvent::Died { id: id.clone() }) {
                return true;
            }
        }
        false
    });
    assert!(died.await.unwrap_or(false), "no Died event for {id}");
}

#[tokio::test]
async fn an_ephemeral_host_port_serves_the_container() {
    let (task, runtime) = (Task::new(), runtime().await);
    let mut request = task.request("web", &["httpd", "-f", "-p", "8080", "-h", "/www"]).await;
    request.container.port_mappings =
        Some(vec![PortMapping { container_port: Some(8080), host_port: Some(0), ..PortMapping::default() }]);
    let id = run(&runtime, &request).await;
    let state = runtime.inspect(&id).await.expect("inspect");
    let binding = state
        .network_bindings
        .iter()
        .find(|binding| binding.bind_ip.as_deref() == Some("0.0.0.0"))
        .unwrap_or_else(|| panic!("an IPv4 binding: {:?}", state.network_bindings));
    assert_eq!((binding.container_port, binding.protocol.as_deref()), (Some(8080), Some("tcp")));
    let host_port = binding.host_port.and_then(|port| u16::try_from(port).ok()).expect("a host port");
    assert!(host_port > 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        if let Some(page) = http_get(host_port).await {
            break page;
        }
        assert!(Instant::now() < deadline, "nothing answered on 127.0.0.1:{host_port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.starts_with("HTTP/1.") && page.contains(" 200 "), "{page}");
    assert!(page.contains("hello from berth-test"), "{page}");
}

async fn http_get(port: u16) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.write_all(b"GET /index.html HTTP/1.0\r\nHost: test\r\n\r\n").await.ok()?;
    let mut page = String::new();
    stream.read_to_string(&mut page).await.ok()?;
    (!page.is_empty()).then_some(page)
}

#[tokio::test]
async fn stop_waits_the_timeout_then_kills_a_container_that_ignores_sigterm() {
    let (task, runtime) = (Task::new(), runtime().await);
    let script = r#"trap "" TERM; while true; do sleep 1; done"#;
    let id = run(&runtime, &task.request("stubborn", &["sh", "-c", script]).await).await;
    let started = Instant::now();
    runtime.stop(&id, Duration::from_secs(3)).await.expect("stop");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(10), "stop took {took:?}");
    let state = runtime.inspect(&id).await.expect("inspect");
    assert_eq!((state.running, state.exit_code), (false, Some(137)));
    runtime.stop(&id, Duration::from_secs(3)).await.expect("stopping a stopped container is fine");
}

#[tokio::test]
async fn health_checks_report_healthy_and_unhealthy_and_stream_events() {
    let (task, runtime) = (Task::new(), runtime().await);
    let mut events = runtime.events();
    let mut good = task.request("good", &["sleep", "300"]).await;
    good.container.health_check = Some(health_check("true"));
    let mut bad = task.request("bad", &["sleep", "300"]).await;
    bad.container.health_check = Some(health_check("false"));
    let good = run(&runtime, &good).await;
    let bad = run(&runtime, &bad).await;
    let mut seen: HashMap<String, String> = HashMap::new();
    let collect = async {
        while let Some(event) = events.next().await {
            if let ContainerEvent::Health { id, status } = event
                && (id == good || id == bad)
            {
                seen.insert(id, status);
                if seen.len() == 2 {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), collect).await;
    assert_eq!(seen.get(&good).map(String::as_str), Some("HEALTHY"), "{seen:?}");
    assert_eq!(seen.get(&bad).map(String::as_str), Some("UNHEALTHY"), "{seen:?}");
    assert_eq!(runtime.inspect(&good).await.expect("inspect").health.as_deref(), Some("HEALTHY"));
    assert_eq!(runtime.inspect(&bad).await.expect("inspect").health.as_deref(), Some("UNHEALTHY"));
}

#[tokio::test]
async fn the_ecs_labels_and_docker_labels_are_on_the_container() {
    let (task, runtime) = (Task::new(), runtime().await);
    let mut request = task.request("labelled", &["sleep", "300"]).await;
    request.container.docker_labels = Some(BTreeMap::from([("team".to_string(), "platform".to_string())]));
    let id = runtime.create(&request).await.expect("create");
    let managed = runtime.list_managed().await.expect("list");
    let container =
        managed.iter().find(|container| container.id == id).expect("the created container is managed");
    let label = |name: &str| container.labels.get(name).map(String::as_str);
    assert_eq!(label(labels::TASK_ARN), Some(task.arn.as_str()));
    assert_eq!(label(labels::CLUSTER), Some("docker-tests"));
    assert_eq!(label(labels::CONTAINER_NAME), Some("labelled"));
    assert_eq!(label(labels::FAMILY), Some("docker-runtime"));
    assert_eq!(label(labels::VERSION), Some("3"));
    assert_eq!(label("team"), Some("platform"));
    assert!(!container.state.running && container.state.exit_code.is_none(), "created, not started");
}

#[tokio::test]
async fn create_is_idempotent_on_the_runtime_name() {
    let (task, runtime) = (Task::new(), runtime().await);
    let request = task.request("once", &["sleep", "300"]).await;
    let first = runtime.create(&request).await.expect("create");
    let again = runtime.create(&request).await.expect("create again");
    assert_eq!(first, again);
    let mine: Vec<_> = runtime
        .list_managed()
        .await
        .expect("list")
        .into_iter()
        .filter(|container| container.labels.get(labels::TASK_ARN) == Some(&task.arn))
        .collect();
    assert_eq!(mine.len(), 1, "one container, not two");
}

#[tokio::test]
async fn list_managed_finds_exited_containers_and_remove_forgets_them() {
    let (task, runtime) = (Task::new(), runtime().await);
    let id = run(&runtime, &task.request("done", &["true"]).await).await;
    exited(&runtime, &id).await;
    let managed = runtime.list_managed().await.expect("list");
    let done =
        managed.iter().find(|container| container.id == id).expect("an exited container is still listed");
    assert_eq!((done.state.running, done.state.exit_code), (false, Some(0)));
    runtime.remove(&id).await.expect("remove");
    assert!(matches!(runtime.inspect(&id).await, Err(RuntimeError::NotFound(_))));
    assert!(!runtime.list_managed().await.expect("list").iter().any(|container| container.id == id));
}

#[tokio::test]
async fn environment_comes_from_files_the_definition_and_the_agent() {
    let (task, runtime) = (Task::new(), runtime().await);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app.env");
    std::fs::write(&file, "# app settings\nFROM_FILE=file\nOVERRIDDEN=file\n").expect("env file");
    let mut request = task.request("env", &["sh", "-c", "echo \"$FROM_FILE $OVERRIDDEN $FROM_AGENT\""]).await;
    request.container.environment_files = Some(vec![EnvironmentFile {
        value: Some(format!("file://{}", file.display())),
        r#type: Some("s3".into()),
    }]);
    request.container.environment =
        Some(vec![KeyValuePair { name: Some("OVERRIDDEN".into()), value: Some("definition".into()) }]);
    request.extra_environment.insert("FROM_AGENT".into(), "agent".into());
    let id = run(&runtime, &request).await;
    assert_eq!(exited(&runtime, &id).await.exit_code, Some(0));
    assert_eq!(logs(&id).await.trim(), "file definition agent");

    let mut relative = task.request("relative", &["true"]).await;
    relative.container.environment_files =
        Some(vec![EnvironmentFile { value: Some("app.env".into()), r#type: Some("s3".into()) }]);
    let error = runtime.create(&relative).await.expect_err("a relative path is refused");
    assert!(matches!(&error, RuntimeError::Create(message) if message.contains("absolute")), "{error}");
}

// === volumes ===

fn task_volume(name: &str) -> Volume {
    Volume {
        name: Some(name.into()),
        docker_volume_configuration: Some(DockerVolumeConfiguration {
            scope: Some("task".into()),
            ..DockerVolumeConfiguration::default()
        }),
        ..Volume::default()
    }
}

fn mount(volume: &str, path: &str) -> MountPoint {
    MountPoint {
        source_volume: Some(volume.into()),
        container_path: Some(path.into()),
        read_only: Some(false),
    }
}

#[tokio::test]
async fn a_task_scoped_volume_is_shared_by_the_task_containers() {
    let (task, runtime) = (Task::new(), runtime().await);
    let mut writer = task.request("writer", &["sh", "-c", "echo shared-data > /data/note"]).await;
    writer.task_definition.volumes = Some(vec![task_volume("scratch")]);
    writer.container.mount_points = Some(vec![mount("scratch", "/data")]);
    let mut reader = task.request("reader", &["cat", "/mnt/note"]).await;
    reader.task_definition = writer.task_definition.clone();
    reader.container.mount_points = Some(vec![mount("scratch", "/mnt")]);

    let written = run(&runtime, &writer).await;
    assert_eq!(exited(&runtime, &written).await.exit_code, Some(0));
    let read = run(&runtime, &reader).await;
    assert_eq!(exited(&runtime, &read).await.exit_code, Some(0));
    assert_eq!(logs(&read).await.trim(), "shared-data");

    let name = task_volume_name(&task.arn, "scratch");
    let docker = berth_testkit::docker().await;
    let volume = docker.inspect_volume(&name).await.expect("the task volume exists under its task name");
    assert_eq!(volume.labels.get(labels::TASK_ARN), Some(&task.arn));
    runtime.remove(&written).await.expect("remove writer");
    runtime.remove(&read).await.expect("remove reader");
    runtime.remove_volume(&name).await.expect("remove volume");
    assert!(docker.inspect_volume(&name).await.is_err(), "the volume is gone");
    runtime.remove_volume(&name).await.expect("removing it again is fine");
}

#[tokio::test]
async fn volumes_from_mounts_a_sibling_volumes_read_only() {
    let (task, runtime) = (Task::new(), runtime().await);
    let mut source = task.request("source", &["sh", "-c", "echo from-source > /data/file"]).await;
    source.task_definition.volumes = Some(vec![task_volume("data")]);
    source.container.mount_points = Some(vec![mount("data", "/data")]);
    let source_id = run(&runtime, &source).await;
    assert_eq!(exited(&runtime, &source_id).await.exit_code, Some(0));

    let mut borrower = task.request("borrower", &["sh", "-c", "cat /data/file && ! touch /data/other"]).await;
    borrower.task_definition = source.task_definition.clone();
    borrower.container.volumes_from =
        Some(vec![VolumeFrom { source_container: Some("source".into()), read_only: Some(true) }]);
    borrower.siblings.insert("source".into(), source_id);
    let id = run(&runtime, &borrower).await;
    assert_eq!(
        exited(&runtime, &id).await.exit_code,
        Some(0),
        "read works, writing is refused: {}",
        logs(&id).await
    );
    assert!(logs(&id).await.contains("from-source"));
}

// === images ===

#[tokio::test]
async fn pull_always_fetches_from_a_loopback_registry_and_a_missing_repository_fails() {
    let runtime = runtime().await;
    let registry = Registry::start().await;
    let image = registry.push(&berth_testkit::busybox_image().await, "pulled/busybox").await;
    let digest = runtime.pull(&image, PullBehavior::Always, None).await.expect("pull");
    assert!(digest.as_deref().is_some_and(|digest| digest.starts_with("sha256:")), "{digest:?}");

    let missing = format!("{}/no/such-image:latest", registry.addr);
    let error = runtime.pull(&missing, PullBehavior::Always, None).await.expect_err("missing");
    assert!(matches!(&error, RuntimeError::Pull(message) if message.contains(&missing)), "{error}");
    assert!(error.to_string().starts_with("CannotPullContainerError: "), "{error}");
}

#[tokio::test]
async fn default_falls_back_to_the_cache_when_the_registry_is_gone_and_always_does_not() {
    let runtime = runtime().await;
    let mut registry = Registry::start().await;
    let image = registry.push(&berth_testkit::busybox_image().await, "fallback/busybox").await;
    let digest = runtime.pull(&image, PullBehavior::Always, None).await.expect("first pull");
    registry.stop();

    let cached = runtime.pull(&image, PullBehavior::Default, None).await.expect("default uses the cache");
    assert_eq!(cached, digest);
    let error =
        runtime.pull(&image, PullBehavior::Always, None).await.expect_err("always needs the registry");
    assert!(matches!(error, RuntimeError::Pull(_)), "{error}");
    for behavior in [PullBehavior::Once, PullBehavior::PreferCached] {
        assert_eq!(runtime.pull(&image, behavior, None).await.expect("cached"), digest, "{behavior:?}");
    }
}

#[tokio::test]
async fn prefer_cached_uses_a_local_image_without_any_registry() {
    let runtime = runtime().await;
    let image = berth_testkit::busybox_image().await;
    // The image exists only locally: a pull would go to Docker Hub, which is not reachable.
    let digest = runtime.pull(&image, PullBehavior::PreferCached, None).await.expect("cached");
    assert_eq!(digest, None, "an imported image has no repo digest");

    let nowhere = format!("127.0.0.1:{}/never/pushed:latest", berth_testkit::free_port());
    let error = runtime.pull(&nowhere, PullBehavior::PreferCached, None).await.expect_err("not cached");
    assert!(matches!(error, RuntimeError::Pull(_)), "{error}");
}

#[tokio::test]
async fn a_private_registry_needs_the_credentials() {
    let runtime = runtime().await;
    let registry = Registry::start_with_auth("berth", "s3cret-pass").await;
    let image = registry.push(&berth_testkit::busybox_image().await, "private/busybox").await;
    let error = runtime.pull(&image, PullBehavior::Always, None).await.expect_err("no credentials");
    assert!(matches!(error, RuntimeError::Pull(_)), "{error}");
    let wrong = RegistryAuth { username: "berth".into(), password: "wrong".into() };
    runtime.pull(&image, PullBehavior::Always, Some(&wrong)).await.expect_err("wrong password");
    let auth = RegistryAuth { username: "berth".into(), password: "s3cret-pass".into() };
    let digest = runtime.pull(&image, PullBehavior::Always, Some(&auth)).await.expect("with credentials");
    assert!(digest.is_some_and(|digest| digest.starts_with("sha256:")));
}

#[tokio::test]
async fn an_insecure_registry_the_daemon_does_not_know_is_explained() {
    berth_testkit::docker_or_fail();
    // A documentation address (TEST-NET-1): the check refuses before anything is contacted.
    let registry = "192.0.2.10:5000";
    let settings = DockerSettings { insecure_registries: vec![registry.into()], ..DockerSettings::default() };
    let runtime = DockerRuntime::connect(settings).await.expect("connect");
    let error = runtime
        .pull(&format!("{registry}/app:1"), PullBehavior::Always, None)
        .await
        .expect_err("the daemon would use HTTPS");
    let message = error.to_string();
    assert!(message.contains("/etc/docker/daemon.json"), "{message}");
    assert!(message.contains(&format!("\"insecure-registries\": [\"{registry}\"]")), "{message}");
}

#[tokio::test]
async fn connecting_where_no_engine_listens_fails_with_one_line_naming_the_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = format!("unix://{}/docker.sock", dir.path().display());
    let settings = DockerSettings { docker_host: Some(host.clone()), ..DockerSettings::default() };
    let error = DockerRuntime::connect(settings).await.expect_err("nothing listens there");
    let message = error.to_string();
    assert!(message.starts_with(&format!("cannot reach the Docker Engine at {host}: ")), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn describe_reports_the_engine_version_and_its_capabilities() {
    let runtime = runtime().await;
    let info = runtime.describe().await;
    let docker = berth_testkit::docker().await;
    let version = docker.version().await.expect("version");
    assert_eq!(info.version, version.version);
    let names: Vec<&str> = info.capabilities.iter().map(|(name, _)| name.as_str()).collect();
    let newest =
        format!("com.amazonaws.ecs.capability.docker-remote-api.{}", version.api_version.expect("api"));
    for expected in [
        "com.amazonaws.ecs.capability.docker-remote-api.1.17",
        newest.as_str(),
        "com.amazonaws.ecs.capability.logging-driver.json-file",
        "ecs.capability.container-health-check",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
}
