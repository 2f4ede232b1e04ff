//! The rules of Fargate, external instances and Managed Instances.

use super::{accepts, client_error, ec2, fargate, first};
use crate::model::{
    DockerVolumeConfiguration, EFSVolumeConfiguration, HostVolumeProperties, KernelCapabilities,
    LinuxParameters, LogConfiguration, RuntimePlatform, TaskDefinitionPlacementConstraint, Volume,
};

#[test]
fn fargate_requires_awsvpc() {
    let mut request = fargate();
    request.network_mode = Some("bridge".into());
    first(&mut request).port_mappings = None;
    client_error(&request, &["FARGATE", "awsvpc", "bridge"]);
    request.network_mode = None;
    client_error(&request, &["FARGATE", "awsvpc"]);
}

#[test]
fn fargate_requires_task_cpu_and_memory() {
    let mut request = fargate();
    request.cpu = None;
    client_error(&request, &["FARGATE", "'cpu'"]);
    let mut request = fargate();
    request.memory = None;
    first(&mut request).memory = Some(512);
    client_error(&request, &["FARGATE", "'memory'"]);
}

#[test]
fn fargate_size_must_be_in_the_table() {
    let mut request = fargate();
    request.memory = Some("512".into());
    client_error(&request, &["FARGATE", "cpu 512", "memory 512 MiB"]);
    request.cpu = Some("0.25 vCPU".into());
    request.memory = Some("0.5GB".into());
    accepts(&request);
}

#[test]
fn fargate_rejects_container_features_it_lacks() {
    type Breaks = fn(&mut crate::model::ContainerDefinition);
    let cases: [(Breaks, &str); 6] = [
        (|c| c.privileged = Some(true), "privileged"),
        (|c| c.dns_servers = Some(vec!["10.0.0.2".into()]), "dnsServers"),
        (|c| c.docker_security_options = Some(vec!["no-new-privileges".into()]), "dockerSecurityOptions"),
        (
            |c| {
                c.linux_parameters =
                    Some(LinuxParameters { shared_memory_size: Some(64), ..Default::default() })
            },
            "sharedMemorySize",
        ),
        (
            |c| c.linux_parameters = Some(LinuxParameters { max_swap: Some(0), ..Default::default() }),
            "maxSwap",
        ),
        (|c| c.stop_timeout = Some(300), "stopTimeout"),
    ];
    for (breaks, member) in cases {
        let mut request = fargate();
        breaks(first(&mut request));
        client_error(&request, &["FARGATE", "container 'api'", member]);
    }
}

#[test]
fn fargate_adds_only_sys_ptrace() {
    let mut request = fargate();
    let add = |cap: &str| LinuxParameters {
        capabilities: Some(KernelCapabilities {
            add: Some(vec![cap.into()]),
            drop: Some(vec!["ALL".into()]),
        }),
        ..Default::default()
    };
    first(&mut request).linux_parameters = Some(add("SYS_PTRACE"));
    accepts(&request);
    first(&mut request).linux_parameters = Some(add("NET_ADMIN"));
    client_error(&request, &["FARGATE", "container 'api'", "NET_ADMIN", "SYS_PTRACE"]);
}

#[test]
fn fargate_rejects_task_features_it_lacks() {
    let mut request = fargate();
    request.placement_constraints = Some(vec![TaskDefinitionPlacementConstraint {
        r#type: Some("memberOf".into()),
        expression: Some("attribute:ecs.os-type == linux".into()),
    }]);
    client_error(&request, &["FARGATE", "placementConstraints"]);
    let mut request = fargate();
    request.ipc_mode = Some("task".into());
    client_error(&request, &["FARGATE", "ipcMode"]);
    request.ipc_mode = None;
    request.pid_mode = Some("host".into());
    client_error(&request, &["FARGATE", "pidMode"]);
    request.pid_mode = Some("task".into());
    accepts(&request);
}

#[test]
fn fargate_volumes() {
    let mut request = fargate();
    request.volumes = Some(vec![Volume {
        name: Some("cache".into()),
        docker_volume_configuration: Some(DockerVolumeConfiguration::default()),
        ..Default::default()
    }]);
    client_error(&request, &["FARGATE", "volume 'cache'", "dockerVolumeConfiguration"]);
    request.volumes = Some(vec![Volume {
        name: Some("scratch".into()),
        host: Some(HostVolumeProperties { source_path: Some("/tmp".into()) }),
        ..Default::default()
    }]);
    client_error(&request, &["FARGATE", "volume 'scratch'", "sourcePath"]);
    request.volumes = Some(vec![Volume {
        name: Some("scratch".into()),
        host: Some(HostVolumeProperties::default()),
        ..Default::default()
    }]);
    accepts(&request);
}

#[test]
fn fargate_logging() {
    let mut request = fargate();
    request.execution_role_arn = None;
    client_error(&request, &["FARGATE", "container 'api'", "execution role", "awslogs"]);
    let mut request = fargate();
    if let Some(options) = first(&mut request).log_configuration.as_mut().and_then(|l| l.options.as_mut()) {
        options.remove("awslogs-stream-prefix");
    }
    client_error(&request, &["FARGATE", "container 'api'", "awslogs-stream-prefix"]);
    let mut request = fargate();
    first(&mut request).log_configuration =
        Some(LogConfiguration { log_driver: Some("syslog".into()), ..Default::default() });
    client_error(&request, &["FARGATE", "container 'api'", "syslog"]);
}

#[test]
fn fargate_windows_needs_one_vcpu() {
    let mut request = fargate();
    request.runtime_platform = Some(RuntimePlatform {
        cpu_architecture: Some("X86_64".into()),
        operating_system_family: Some("WINDOWS_SERVER_2022_CORE".into()),
    });
    client_error(&request, &["FARGATE", "Windows", "512"]);
}

#[test]
fn external_rejects_awsvpc_and_efs() {
    let mut request = ec2();
    request.requires_compatibilities = Some(vec!["EXTERNAL".into()]);
    accepts(&request);
    request.volumes = Some(vec![Volume {
        name: Some("shared".into()),
        efs_volume_configuration: Some(EFSVolumeConfiguration {
            file_system_id: Some("fs-1".into()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    client_error(&request, &["EXTERNAL", "volume 'shared'", "efsVolumeConfiguration"]);
    request.volumes = None;
    request.network_mode = Some("awsvpc".into());
    first(&mut request).port_mappings = None;
    client_error(&request, &["EXTERNAL", "awsvpc"]);
}

#[test]
fn managed_instances_network_modes_and_log_drivers() {
    let mut request = ec2();
    request.requires_compatibilities = Some(vec!["MANAGED_INSTANCES".into()]);
    request.network_mode = Some("bridge".into());
    client_error(&request, &["MANAGED_INSTANCES", "bridge"]);
    request.network_mode = Some("host".into());
    first(&mut request).port_mappings = None;
    accepts(&request);
    first(&mut request).log_configuration =
        Some(LogConfiguration { log_driver: Some("gelf".into()), ..Default::default() });
    client_error(&request, &["MANAGED_INSTANCES", "container 'web'", "gelf"]);
}
