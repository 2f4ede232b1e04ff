//! One container's runtime settings.

use super::{accepts, client_error, ec2, first};
use crate::model::{
    ContainerRestartPolicy, Device, HealthCheck, KernelCapabilities, LinuxParameters, SystemControl, Tmpfs,
    Ulimit,
};

fn health(command: &[&str]) -> HealthCheck {
    HealthCheck { command: Some(command.iter().map(|s| (*s).to_owned()).collect()), ..Default::default() }
}

#[test]
fn health_check_command_is_required() {
    let mut request = ec2();
    first(&mut request).health_check = Some(health(&[]));
    client_error(&request, &["container 'web'", "healthCheck.command"]);
    first(&mut request).health_check = Some(health(&["curl -f http://localhost/"]));
    client_error(&request, &["container 'web'", "CMD or CMD-SHELL"]);
    first(&mut request).health_check = Some(health(&["CMD-SHELL"]));
    client_error(&request, &["container 'web'", "healthCheck.command"]);
}

#[test]
fn health_check_ranges() {
    type Breaks = fn(&mut HealthCheck);
    let cases: [(Breaks, &str); 4] = [
        (|h| h.interval = Some(4), "interval"),
        (|h| h.timeout = Some(61), "timeout"),
        (|h| h.retries = Some(11), "retries"),
        (|h| h.start_period = Some(301), "startPeriod"),
    ];
    for (breaks, member) in cases {
        let mut request = ec2();
        let mut check = health(&["CMD", "true"]);
        breaks(&mut check);
        first(&mut request).health_check = Some(check);
        client_error(&request, &["container 'web'", &format!("healthCheck.{member}")]);
    }
    let mut request = ec2();
    first(&mut request).health_check = Some(HealthCheck {
        interval: Some(300),
        timeout: Some(60),
        retries: Some(10),
        start_period: Some(0),
        ..health(&["CMD", "true"])
    });
    accepts(&request);
}

#[test]
fn ulimit_names_and_limits() {
    let mut request = ec2();
    let ulimit = |name: &str, soft, hard| Ulimit {
        name: Some(name.into()),
        soft_limit: Some(soft),
        hard_limit: Some(hard),
    };
    first(&mut request).ulimits = Some(vec![ulimit("openfiles", 1, 2)]);
    client_error(&request, &["container 'web'", "ulimits[0]", "openfiles"]);
    first(&mut request).ulimits = Some(vec![ulimit("nofile", 10, 5)]);
    client_error(&request, &["container 'web'", "nofile", "softLimit"]);
}

#[test]
fn capabilities_must_be_known() {
    let mut request = ec2();
    let caps = |add: &[&str]| LinuxParameters {
        capabilities: Some(KernelCapabilities {
            add: Some(add.iter().map(|s| (*s).to_owned()).collect()),
            drop: None,
        }),
        ..Default::default()
    };
    first(&mut request).linux_parameters = Some(caps(&["NET_ADMIN", "CAP_SYS_TIME"]));
    accepts(&request);
    first(&mut request).linux_parameters = Some(caps(&["SUPERPOWER"]));
    client_error(&request, &["container 'web'", "capabilities.add", "SUPERPOWER"]);
}

#[test]
fn devices_tmpfs_and_swap() {
    let mut request = ec2();
    first(&mut request).linux_parameters = Some(LinuxParameters {
        devices: Some(vec![Device {
            host_path: Some("/dev/fuse".into()),
            container_path: None,
            permissions: Some(vec!["exec".into()]),
        }]),
        ..Default::default()
    });
    client_error(&request, &["container 'web'", "devices[0]", "exec"]);
    first(&mut request).linux_parameters = Some(LinuxParameters {
        tmpfs: Some(vec![Tmpfs {
            container_path: Some("scratch".into()),
            size: Some(64),
            mount_options: None,
        }]),
        ..Default::default()
    });
    client_error(&request, &["container 'web'", "tmpfs[0]", "absolute"]);
    first(&mut request).linux_parameters =
        Some(LinuxParameters { swappiness: Some(101), ..Default::default() });
    client_error(&request, &["container 'web'", "swappiness", "101"]);
}

#[test]
fn system_controls_conflict_with_host_namespaces() {
    let mut request = ec2();
    let control = |name: &str| SystemControl { namespace: Some(name.into()), value: Some("1".into()) };
    request.network_mode = Some("host".into());
    first(&mut request).port_mappings = None;
    first(&mut request).system_controls = Some(vec![control("net.ipv4.tcp_keepalive_time")]);
    client_error(&request, &["container 'web'", "net.ipv4.tcp_keepalive_time", "host"]);
    request.network_mode = None;
    request.ipc_mode = Some("host".into());
    first(&mut request).system_controls = Some(vec![control("kernel.shmmax")]);
    client_error(&request, &["container 'web'", "kernel.shmmax", "ipcMode"]);
}

#[test]
fn restart_policy_period() {
    let mut request = ec2();
    first(&mut request).restart_policy = Some(ContainerRestartPolicy {
        enabled: Some(true),
        ignored_exit_codes: None,
        restart_attempt_period: Some(30),
    });
    client_error(&request, &["container 'web'", "restartAttemptPeriod", "30"]);
}
