//! The simulated runtime through the `Runtime` trait, as the task engine drives it: container
//! lifecycle, host ports, events, exit timers, volumes, and what it costs to host many.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_agent::runtime::simulated::{EPHEMERAL_PORTS, SimulatedRuntime, SimulatedSettings};
use berth_agent::runtime::{ContainerEvent, ContainerRequest, PullBehavior, Runtime, RuntimeError, labels};
use berth_api::model::{ContainerDefinition, HealthCheck, PortMapping, TaskDefinition};
use futures::StreamExt;
use futures::stream::BoxStream;

const TASK_ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task/demo/0123456789abcdef0123456789abcdef";

fn request(name: &str, network_mode: &str, ports: &[(i32, Option<i32>)]) -> ContainerRequest {
    let mappings = ports
        .iter()
        .map(|&(container, host)| PortMapping {
            container_port: Some(container),
            host_port: host,
            ..PortMapping::default()
        })
        .collect();
    ContainerRequest {
        task_arn: TASK_ARN.to_string(),
        cluster: "demo".to_string(),
        task_definition: TaskDefinition {
            family: Some("web".to_string()),
            revision: Some(3),
            network_mode: Some(network_mode.to_string()),
            ..TaskDefinition::default()
        },
        container: ContainerDefinition {
            name: Some(name.to_string()),
            image: Some("nginx:1.27".to_string()),
            port_mappings: Some(mappings),
            docker_labels: Some(BTreeMap::from([("team".to_string(), "platform".to_string())])),
            ..ContainerDefinition::default()
        },
        extra_environment: BTreeMap::new(),
        siblings: BTreeMap::new(),
        runtime_name: format!("ecs-web-3-{name}"),
    }
}

fn with_health_check(mut request: ContainerRequest, command: &[&str]) -> ContainerRequest {
    request.container.health_check = Some(HealthCheck {
        command: Some(command.iter().map(|s| s.to_string()).collect()),
        ..HealthCheck::default()
    });
    request
}

async fn next_event(events: &mut BoxStream<'static, ContainerEvent>) -> ContainerEvent {
    tokio::time::timeout(Duration::from_secs(60), events.next())
        .await
        .expect("an event within 60 s")
        .expect("the event stream is open")
}

async fn no_event(events: &mut BoxStream<'static, ContainerEvent>) {
    if let Ok(event) = tokio::time::timeout(Duration::from_secs(120), events.next()).await {
        panic!("expected no event, got {event:?}");
    }
}

fn host_port(runtime_state: &berth_agent::runtime::ContainerState, container_port: i32) -> i32 {
    runtime_state
        .network_bindings
        .iter()
        .find(|b| b.container_port == Some(container_port))
        .and_then(|b| b.host_port)
        .unwrap_or_else(|| panic!("no binding for {container_port}: {:?}", runtime_state.network_bindings))
}

#[tokio::test]
async fn pull_succeeds_at_once_without_a_digest() {
    let runtime = SimulatedRuntime::default();
    let digest = runtime.pull("nginx:1.27", PullBehavior::Always, None).await.expect("pull");
    assert_eq!(digest, None);
    let err = runtime.pull("", PullBehavior::Default, None).await.expect_err("empty image refused");
    assert!(err.to_string().starts_with("CannotPullContainerError: "), "{err}");
}

#[tokio::test]
async fn create_is_idempotent_and_labels_name_the_task() {
    let runtime = SimulatedRuntime::default();
    let web = request("web", "bridge", &[(80, None)]);
    let id = runtime.create(&web).await.expect("create");
    assert_eq!(id.len(), 64);
    assert_eq!(runtime.create(&web).await.expect("create again"), id, "same runtime name, same container");

    let state = runtime.inspect(&id).await.expect("inspect");
    assert!(!state.running);
    assert_eq!((state.exit_code, state.started_at, state.health), (None, None, None));
    assert!(state.network_bindings.is_empty(), "no ports before start");

    let managed = runtime.list_managed().await.expect("list");
    assert_eq!(managed.len(), 1);
    assert_eq!(managed[0].id, id);
    let expected = [
        (labels::TASK_ARN, TASK_ARN),
        (labels::CLUSTER, "demo"),
        (labels::CONTAINER_NAME, "web"),
        (labels::FAMILY, "web"),
        (labels::VERSION, "3"),
        ("team", "platform"),
    ];
    for (key, value) in expected {
        assert_eq!(managed[0].labels.get(key).map(String::as_str), Some(value), "label {key}");
    }
}

#[tokio::test]
async fn start_binds_ephemeral_and_static_host_ports() {
    let runtime = SimulatedRuntime::default();
    let a = runtime.create(&request("a", "bridge", &[(80, None), (443, Some(8443))])).await.unwrap();
    let b = runtime.create(&request("bb", "bridge", &[(80, Some(0))])).await.unwrap();
    runtime.start(&a).await.expect("start a");
    runtime.start(&b).await.expect("start b");

    let (a_state, b_state) = (runtime.inspect(&a).await.unwrap(), runtime.inspect(&b).await.unwrap());
    assert!(a_state.running && a_state.started_at.is_some());
    let (a80, b80) = (host_port(&a_state, 80), host_port(&b_state, 80));
    for port in [a80, b80] {
        assert!(EPHEMERAL_PORTS.contains(&(port as u16)), "{port} is ephemeral");
    }
    assert_ne!(a80, b80, "two containers never share a host port");
    assert_eq!(host_port(&a_state, 443), 8443, "a static host port is kept");
    let binding = &a_state.network_bindings[0];
    assert_eq!(binding.protocol.as_deref(), Some("tcp"));
    assert_eq!(binding.bind_ip.as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn a_static_host_port_in_use_fails_the_start_until_released() {
    let runtime = SimulatedRuntime::default();
    let first = runtime.create(&request("first", "bridge", &[(80, Some(8080))])).await.unwrap();
    let second = runtime.create(&request("second", "bridge", &[(81, None), (80, Some(8080))])).await.unwrap();
    runtime.start(&first).await.expect("first start");

    let err = runtime.start(&second).await.expect_err("port 8080 is taken");
    assert!(matches!(err, RuntimeError::Start(_)), "{err:?}");
    assert!(err.to_string().contains("port is already allocated"), "{err}");
    let state = runtime.inspect(&second).await.unwrap();
    assert!(!state.running && state.network_bindings.is_empty(), "a failed start changes nothing");

    runtime.stop(&first, Duration::from_secs(30)).await.expect("stop");
    runtime.start(&second).await.expect("8080 is free again");
    assert_eq!(host_port(&runtime.inspect(&second).await.unwrap(), 80), 8080);
}

#[tokio::test]
async fn host_mode_binds_container_ports_and_awsvpc_none() {
    let runtime = SimulatedRuntime::default();
    let host = runtime.create(&request("h", "host", &[(9000, None)])).await.unwrap();
    let vpc = runtime.create(&request("v", "awsvpc", &[(9000, None)])).await.unwrap();
    runtime.start(&host).await.unwrap();
    runtime.start(&vpc).await.unwrap();
    assert_eq!(host_port(&runtime.inspect(&host).await.unwrap(), 9000), 9000);
    assert!(runtime.inspect(&vpc).await.unwrap().network_bindings.is_empty());
}

#[tokio::test]
async fn stop_exits_cleanly_releases_ports_and_reports_died() {
    let runtime = SimulatedRuntime::default();
    let mut events = runtime.events();
    let id = runtime.create(&request("web", "bridge", &[(80, Some(8080))])).await.unwrap();
    runtime.start(&id).await.unwrap();
    runtime.stop(&id, Duration::from_secs(30)).await.expect("stop");

    assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id: id.clone() });
    let state = runtime.inspect(&id).await.unwrap();
    assert!(!state.running);
    assert_eq!(state.exit_code, Some(0), "simulated containers honour SIGTERM");
    assert!(state.finished_at.is_some() && state.network_bindings.is_empty());

    // Stopping again, or stopping a container that never ran, is a no-op.
    runtime.stop(&id, Duration::from_secs(30)).await.expect("stop again");
    let idle = runtime.create(&request("idle", "bridge", &[])).await.unwrap();
    runtime.stop(&idle, Duration::from_secs(30)).await.expect("stop a created container");
    assert_eq!(runtime.inspect(&idle).await.unwrap().exit_code, None);
}

#[tokio::test]
async fn health_checked_containers_are_healthy_while_running() {
    let runtime = SimulatedRuntime::default();
    let mut events = runtime.events();
    let checked = with_health_check(request("app", "bridge", &[]), &["CMD-SHELL", "curl -f localhost"]);
    let disabled = with_health_check(request("off", "bridge", &[]), &["NONE"]);
    let checked = runtime.create(&checked).await.unwrap();
    let disabled = runtime.create(&disabled).await.unwrap();
    assert_eq!(runtime.inspect(&checked).await.unwrap().health.as_deref(), Some("UNKNOWN"));

    runtime.start(&checked).await.unwrap();
    runtime.start(&disabled).await.unwrap();
    let status = "HEALTHY".to_string();
    assert_eq!(next_event(&mut events).await, ContainerEvent::Health { id: checked.clone(), status });
    assert_eq!(runtime.inspect(&checked).await.unwrap().health.as_deref(), Some("HEALTHY"));
    assert_eq!(runtime.inspect(&disabled).await.unwrap().health, None, "NONE disables the check");
}

#[tokio::test(start_paused = true)]
async fn exit_after_ends_every_started_container_with_code_0() {
    let settings = SimulatedSettings { exit_after: Some(Duration::from_secs(30)) };
    let runtime = SimulatedRuntime::new(settings);
    let mut events = runtime.events();
    let job = runtime.create(&request("job", "bridge", &[(80, None)])).await.unwrap();
    runtime.start(&job).await.unwrap();

    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(runtime.inspect(&job).await.unwrap().running, "still running before exit_after");
    assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id: job.clone() });
    let state = runtime.inspect(&job).await.unwrap();
    assert_eq!((state.running, state.exit_code), (false, Some(0)));
    assert!(state.network_bindings.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_stopped_container_does_not_die_twice_when_its_timer_was_due() {
    let settings = SimulatedSettings { exit_after: Some(Duration::from_secs(30)) };
    let runtime = SimulatedRuntime::new(settings);
    let mut events = runtime.events();
    let id = runtime.create(&request("job", "bridge", &[])).await.unwrap();
    runtime.start(&id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    runtime.stop(&id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id: id.clone() });
    no_event(&mut events).await;

    // Restarted, it gets a fresh 30 s, not what was left of the first run's.
    runtime.start(&id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(runtime.inspect(&id).await.unwrap().running);
    assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id });
}

#[tokio::test]
async fn remove_kills_a_running_container_and_forgets_it() {
    let runtime = SimulatedRuntime::default();
    let mut events = runtime.events();
    let web = request("web", "bridge", &[(80, Some(8080))]);
    let id = runtime.create(&web).await.unwrap();
    runtime.start(&id).await.unwrap();
    runtime.remove(&id).await.expect("remove");

    assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id: id.clone() });
    assert!(matches!(runtime.inspect(&id).await, Err(RuntimeError::NotFound(_))));
    assert!(runtime.list_managed().await.unwrap().is_empty());
    let again = runtime.create(&web).await.expect("the name is free again");
    assert_ne!(again, id);
    runtime.start(&again).await.expect("and so is port 8080");
}

#[tokio::test]
async fn unknown_containers_are_not_found() {
    let runtime = SimulatedRuntime::default();
    let timeout = Duration::from_secs(1);
    assert!(matches!(runtime.start("nope").await, Err(RuntimeError::NotFound(_))));
    assert!(matches!(runtime.stop("nope", timeout).await, Err(RuntimeError::NotFound(_))));
    assert!(matches!(runtime.inspect("nope").await, Err(RuntimeError::NotFound(_))));
    assert!(matches!(runtime.remove("nope").await, Err(RuntimeError::NotFound(_))));
}

#[tokio::test]
async fn containers_are_found_by_runtime_name_too() {
    let runtime = SimulatedRuntime::default();
    let web = request("web", "bridge", &[]);
    let id = runtime.create(&web).await.unwrap();
    runtime.start(&web.runtime_name).await.expect("start by name");
    assert!(runtime.inspect(&id).await.unwrap().running);
}

#[tokio::test]
async fn volumes_are_recorded_reused_and_removed() {
    let runtime = SimulatedRuntime::default();
    let options = BTreeMap::from([("type".to_string(), "tmpfs".to_string())]);
    let labels = BTreeMap::from([("scope".to_string(), "shared".to_string())]);
    runtime.ensure_volume("data", Some("local"), &options, &labels).await.expect("create");
    runtime.ensure_volume("data", Some("other"), &BTreeMap::new(), &BTreeMap::new()).await.expect("reuse");

    let volume = runtime.volume("data").expect("recorded");
    assert_eq!((volume.driver.as_str(), &volume.options, &volume.labels), ("local", &options, &labels));
    runtime.remove_volume("data").await.expect("remove");
    assert!(runtime.volume("data").is_none());
    assert!(matches!(runtime.remove_volume("data").await, Err(RuntimeError::NotFound(_))));
}

#[tokio::test]
async fn clones_share_containers_and_events() {
    let runtime = SimulatedRuntime::default();
    let clone = runtime.clone();
    let mut events = clone.events();
    let id = runtime.create(&request("web", "bridge", &[])).await.unwrap();
    runtime.start(&id).await.unwrap();
    clone.stop(&id, Duration::from_secs(1)).await.unwrap();
    assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id });
}

/// Many simulated instances in one process, each its own runtime with a timed container: every
/// timer fires on its own runtime, and each runtime's subscribers hear only of their own.
#[tokio::test(start_paused = true)]
async fn a_thousand_runtimes_each_time_their_own_containers() {
    let settings = SimulatedSettings { exit_after: Some(Duration::from_secs(60)) };
    let mut hosts = Vec::new();
    for _ in 0..1000 {
        let runtime = SimulatedRuntime::new(settings);
        let events = runtime.events();
        let id = runtime.create(&request("web", "bridge", &[(80, None)])).await.unwrap();
        runtime.start(&id).await.unwrap();
        hosts.push((runtime, events, id));
    }
    tokio::time::sleep(Duration::from_secs(61)).await;
    for (runtime, mut events, id) in hosts {
        assert_eq!(next_event(&mut events).await, ContainerEvent::Died { id: id.clone() });
        assert_eq!(runtime.inspect(&id).await.unwrap().exit_code, Some(0));
    }
}
