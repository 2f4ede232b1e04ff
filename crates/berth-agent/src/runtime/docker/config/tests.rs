//! The mappings that are easy to get wrong: ports, units, defaults, labels, precedence.

use std::collections::BTreeMap;

use berth_api::model::{
    Device, KernelCapabilities, KeyValuePair, LinuxParameters, PortMapping, Tmpfs, VolumeFrom,
};

use super::*;

fn request(container: ContainerDefinition) -> ContainerRequest {
    ContainerRequest {
        task_arn: "arn:aws:ecs:us-east-1:000000000000:task/prod/abc".into(),
        cluster: "prod".into(),
        task_definition: TaskDefinition {
            family: Some("web".into()),
            revision: Some(7),
            ..TaskDefinition::default()
        },
        container: ContainerDefinition {
            name: Some("app".into()),
            image: Some("busybox".into()),
            ..container
        },
        extra_environment: BTreeMap::new(),
        siblings: BTreeMap::new(),
        runtime_name: "ecs-web-7-app".into(),
    }
}

fn body(request: &ContainerRequest) -> ContainerCreateBody {
    create_body(request, &DockerSettings::default(), &[], &[]).expect("maps")
}

fn host(body: &ContainerCreateBody) -> &HostConfig {
    body.host_config.as_ref().expect("host config")
}

fn mapping(container_port: i32, host_port: Option<i32>, protocol: Option<&str>) -> PortMapping {
    PortMapping {
        container_port: Some(container_port),
        host_port,
        protocol: protocol.map(str::to_string),
        ..PortMapping::default()
    }
}

fn host_ports(body: &ContainerCreateBody, key: &str) -> Vec<String> {
    let bindings = host(body).port_bindings.as_ref().expect("bindings");
    let list = bindings.get(key).and_then(Option::as_ref).expect("binding for the port");
    list.iter().map(|binding| binding.host_port.clone().unwrap_or_default()).collect()
}

#[test]
fn host_port_zero_or_absent_is_ephemeral_and_a_fixed_one_is_kept() {
    let container = ContainerDefinition {
        port_mappings: Some(vec![
            mapping(80, Some(0), None),
            mapping(81, None, Some("tcp")),
            mapping(53, Some(5353), Some("udp")),
            mapping(80, Some(8080), None),
        ]),
        ..ContainerDefinition::default()
    };
    let body = body(&request(container));
    assert_eq!(host_ports(&body, "80/tcp"), ["", "8080"], "one container port, two host bindings");
    assert_eq!(host_ports(&body, "81/tcp"), [""]);
    assert_eq!(host_ports(&body, "53/udp"), ["5353"]);
    let exposed = body.exposed_ports.as_ref().expect("exposed");
    assert_eq!(exposed.len(), 3);
    assert_eq!(host(&body).network_mode.as_deref(), Some("bridge"), "bridge is the default on Linux");
}

#[test]
fn a_container_port_range_gets_one_ephemeral_port_each() {
    let range = PortMapping { container_port_range: Some("9000-9002".into()), ..PortMapping::default() };
    let body = body(&request(ContainerDefinition {
        port_mappings: Some(vec![range]),
        ..ContainerDefinition::default()
    }));
    for port in 9000..=9002 {
        assert_eq!(host_ports(&body, &format!("{port}/tcp")), [""]);
    }
    let backwards = PortMapping { container_port_range: Some("9002-9000".into()), ..PortMapping::default() };
    let request = request(ContainerDefinition {
        port_mappings: Some(vec![backwards]),
        ..ContainerDefinition::default()
    });
    assert!(create_body(&request, &DockerSettings::default(), &[], &[]).is_err());
}

#[test]
fn host_mode_publishes_nothing_and_bad_protocols_are_refused() {
    let mut host_mode = request(ContainerDefinition {
        port_mappings: Some(vec![mapping(80, Some(80), None)]),
        ..ContainerDefinition::default()
    });
    host_mode.task_definition.network_mode = Some("host".into());
    let body = body(&host_mode);
    assert_eq!(host(&body).network_mode.as_deref(), Some("host"));
    assert!(host(&body).port_bindings.is_none());
    let sctp = request(ContainerDefinition {
        port_mappings: Some(vec![mapping(80, None, Some("sctp"))]),
        ..ContainerDefinition::default()
    });
    let error = create_body(&sctp, &DockerSettings::default(), &[], &[]).expect_err("sctp");
    assert!(error.to_string().contains("sctp"), "{error}");
}

#[test]
fn awsvpc_is_refused_with_a_clear_message() {
    let mut awsvpc = request(ContainerDefinition::default());
    awsvpc.task_definition.network_mode = Some("awsvpc".into());
    let error = create_body(&awsvpc, &DockerSettings::default(), &[], &[]).expect_err("awsvpc");
    assert_eq!(
        error.to_string(),
        "CannotCreateContainerError: awsvpc network mode is not supported by this runtime"
    );
}

#[test]
fn memory_is_mib_in_bytes_and_cpu_shares_have_a_floor_of_two() {
    let container = ContainerDefinition {
        memory: Some(512),
        memory_reservation: Some(128),
        cpu: Some(0),
        ..ContainerDefinition::default()
    };
    let body = body(&request(container));
    assert_eq!(host(&body).memory, Some(512 * 1024 * 1024));
    assert_eq!(host(&body).memory_reservation, Some(128 * 1024 * 1024));
    assert_eq!(host(&body).cpu_shares, Some(2));

    let shares = |cpu: Option<i32>, task_cpu: Option<&str>| {
        let mut request = request(ContainerDefinition { cpu, ..ContainerDefinition::default() });
        request.task_definition.cpu = task_cpu.map(str::to_string);
        host(&super::tests::body(&request)).cpu_shares
    };
    assert_eq!(shares(Some(256), None), Some(256));
    assert_eq!(shares(Some(1), None), Some(2));
    assert_eq!(shares(None, None), Some(2));
    assert_eq!(shares(None, Some("1024")), None, "task-level cpu governs a container without its own");
}

#[test]
fn health_check_seconds_become_nanoseconds_with_ecs_defaults() {
    let check = HealthCheck {
        command: Some(vec!["CMD-SHELL".into(), "true".into()]),
        interval: Some(10),
        ..HealthCheck::default()
    };
    let body =
        body(&request(ContainerDefinition { health_check: Some(check), ..ContainerDefinition::default() }));
    let health = body.healthcheck.expect("health");
    assert_eq!(health.test, Some(vec!["CMD-SHELL".to_string(), "true".to_string()]));
    assert_eq!(health.interval, Some(10_000_000_000));
    assert_eq!(health.timeout, Some(5_000_000_000));
    assert_eq!(health.retries, Some(3));
    assert_eq!(health.start_period, Some(0));
}

#[test]
fn the_five_ecs_labels_are_set_and_win_over_docker_labels() {
    let docker_labels = BTreeMap::from([
        ("team".to_string(), "web".to_string()),
        (labels::CLUSTER.to_string(), "forged".to_string()),
    ]);
    let body = body(&request(ContainerDefinition {
        docker_labels: Some(docker_labels),
        ..ContainerDefinition::default()
    }));
    let labels = body.labels.expect("labels");
    assert_eq!(labels.get("team").map(String::as_str), Some("web"));
    assert_eq!(
        labels.get(labels::TASK_ARN).map(String::as_str),
        Some("arn:aws:ecs:us-east-1:000000000000:task/prod/abc")
    );
    assert_eq!(labels.get(labels::CLUSTER).map(String::as_str), Some("prod"));
    assert_eq!(labels.get(labels::CONTAINER_NAME).map(String::as_str), Some("app"));
    assert_eq!(labels.get(labels::FAMILY).map(String::as_str), Some("web"));
    assert_eq!(labels.get(labels::VERSION).map(String::as_str), Some("7"));
}

#[test]
fn environment_files_yield_to_environment_which_yields_to_the_agent() {
    let pair = |name: &str, value: &str| KeyValuePair { name: Some(name.into()), value: Some(value.into()) };
    let mut request = request(ContainerDefinition {
        environment: Some(vec![pair("B", "definition"), pair("C", "definition")]),
        ..ContainerDefinition::default()
    });
    request.extra_environment.insert("C".into(), "agent".into());
    let files = [("A".to_string(), "file".to_string()), ("B".to_string(), "file".to_string())];
    let body = create_body(&request, &DockerSettings::default(), &files, &[]).expect("maps");
    let mut env = body.env.expect("env");
    env.sort();
    assert_eq!(env, ["A=file", "B=definition", "C=agent"]);
}

#[test]
fn links_and_volumes_from_name_siblings_by_runtime_id() {
    let mut request = request(ContainerDefinition {
        links: Some(vec!["db".into(), "cache:redis".into()]),
        volumes_from: Some(vec![VolumeFrom { source_container: Some("db".into()), read_only: Some(true) }]),
        ..ContainerDefinition::default()
    });
    request.siblings.insert("db".into(), "id-db".into());
    request.siblings.insert("cache".into(), "id-cache".into());
    let body = body(&request);
    assert_eq!(host(&body).links, Some(vec!["id-db:db".to_string(), "id-cache:redis".to_string()]));
    assert_eq!(host(&body).volumes_from, Some(vec!["id-db:ro".to_string()]));

    request.siblings.remove("cache");
    let error = create_body(&request, &DockerSettings::default(), &[], &[]).expect_err("missing sibling");
    assert!(error.to_string().contains("\"cache\""), "{error}");
    request.siblings.insert("cache".into(), "id-cache".into());
    request.task_definition.network_mode = Some("host".into());
    let error = create_body(&request, &DockerSettings::default(), &[], &[]).expect_err("links in host mode");
    assert!(error.to_string().contains("bridge"), "{error}");
}

#[test]
fn linux_parameters_map_with_mib_sizes() {
    let linux = LinuxParameters {
        capabilities: Some(KernelCapabilities {
            add: Some(vec!["NET_ADMIN".into()]),
            drop: Some(vec!["MKNOD".into()]),
        }),
        init_process_enabled: Some(true),
        shared_memory_size: Some(64),
        tmpfs: Some(vec![Tmpfs {
            container_path: Some("/run".into()),
            size: Some(16),
            mount_options: Some(vec!["noexec".into()]),
        }]),
        devices: Some(vec![Device {
            host_path: Some("/dev/null".into()),
            container_path: None,
            permissions: Some(vec!["read".into(), "write".into()]),
        }]),
        max_swap: Some(256),
        swappiness: Some(10),
    };
    let body = body(&request(ContainerDefinition {
        memory: Some(512),
        linux_parameters: Some(linux.clone()),
        ..ContainerDefinition::default()
    }));
    let host = host(&body);
    assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_string()]));
    assert_eq!(host.cap_drop, Some(vec!["MKNOD".to_string()]));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.shm_size, Some(64 * 1024 * 1024));
    assert_eq!(host.tmpfs.as_ref().and_then(|t| t.get("/run")).map(String::as_str), Some("size=16m,noexec"));
    let device = &host.devices.as_ref().expect("devices")[0];
    assert_eq!(device.path_in_container.as_deref(), Some("/dev/null"));
    assert_eq!(device.cgroup_permissions.as_deref(), Some("rw"));
    assert_eq!(host.memory_swap, Some((512 + 256) * 1024 * 1024));
    assert_eq!(host.memory_swappiness, Some(10));

    let without_memory =
        request(ContainerDefinition { linux_parameters: Some(linux), ..ContainerDefinition::default() });
    assert!(create_body(&without_memory, &DockerSettings::default(), &[], &[]).is_err());
}

#[test]
fn logs_rotate_per_the_settings_and_binds_pass_through() {
    let settings =
        DockerSettings { log_max_size: "1m".into(), log_max_files: 5, ..DockerSettings::default() };
    let binds = ["/srv:/data:ro".to_string()];
    let body = create_body(&request(ContainerDefinition::default()), &settings, &[], &binds).expect("maps");
    let log = host(&body).log_config.as_ref().expect("log config");
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    let options = log.config.as_ref().expect("options");
    assert_eq!(options.get("max-size").map(String::as_str), Some("1m"));
    assert_eq!(options.get("max-file").map(String::as_str), Some("5"));
    assert_eq!(host(&body).binds, Some(binds.to_vec()));
}

#[test]
fn a_definition_without_image_is_refused() {
    let mut request = request(ContainerDefinition::default());
    request.container.image = None;
    let error = create_body(&request, &DockerSettings::default(), &[], &[]).expect_err("no image");
    assert!(error.to_string().contains("no image"), "{error}");
}
