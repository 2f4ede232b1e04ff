//! A Docker inspection read as a [`ContainerState`]: running or exited with its code, why it
//! died, its health as ECS names it, its published ports as ECS network bindings, and its times
//! as epoch seconds.

use berth_api::model::NetworkBinding;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, PortMap};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::runtime::ContainerState;

/// ECS's reason for a container the kernel killed for memory.
const OOM_REASON: &str = "OutOfMemoryError: Container killed due to memory usage";

/// The state an inspection shows (the image digest is the caller's, from the image).
pub(super) fn container_state(inspected: &ContainerInspectResponse) -> ContainerState {
    let docker_state = inspected.state.clone().unwrap_or_default();
    let exited = matches!(
        docker_state.status,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
    );
    let error = if docker_state.oom_killed == Some(true) {
        Some(OOM_REASON.to_string())
    } else {
        docker_state.error.filter(|error| !error.is_empty())
    };
    let health = docker_state.health.and_then(|health| health.status).and_then(|status| match status {
        HealthStatusEnum::HEALTHY => Some("HEALTHY".to_string()),
        HealthStatusEnum::UNHEALTHY => Some("UNHEALTHY".to_string()),
        HealthStatusEnum::STARTING => Some("UNKNOWN".to_string()),
        HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => None,
    });
    let ports = inspected.network_settings.as_ref().and_then(|settings| settings.ports.as_ref());
    ContainerState {
        running: docker_state.running == Some(true),
        exit_code: if exited {
            docker_state.exit_code.and_then(|code| i32::try_from(code).ok())
        } else {
            None
        },
        error,
        health,
        network_bindings: ports.map(network_bindings).unwrap_or_default(),
        image_digest: None,
        started_at: docker_state.started_at.as_deref().and_then(epoch_seconds),
        finished_at: docker_state.finished_at.as_deref().and_then(epoch_seconds),
    }
}

/// Every host binding of every published port (`"8080/tcp" → [0.0.0.0:49153, [::]:49153]`),
/// sorted by container port, protocol and address so reports are stable.
pub(super) fn network_bindings(ports: &PortMap) -> Vec<NetworkBinding> {
    let mut bindings: Vec<NetworkBinding> = ports
        .iter()
        .filter_map(|(key, bindings)| Some((key.split_once('/')?, bindings.as_ref()?)))
        .flat_map(|((port, protocol), bindings)| {
            let container_port = port.parse::<i32>().ok();
            bindings.iter().filter_map(move |binding| {
                Some(NetworkBinding {
                    bind_ip: binding.host_ip.clone(),
                    container_port: Some(container_port?),
                    host_port: Some(binding.host_port.as_deref()?.parse().ok()?),
                    protocol: Some(protocol.to_string()),
                    ..NetworkBinding::default()
                })
            })
        })
        .collect();
    bindings.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.bind_ip).cmp(&(b.container_port, &b.protocol, &b.bind_ip))
    });
    bindings
}

/// Docker's RFC 3339 time as epoch seconds; its zero time (`0001-01-01T00:00:00Z`, never
/// started or never finished) is `None`.
pub(super) fn epoch_seconds(text: &str) -> Option<f64> {
    let time = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let seconds = time.unix_timestamp_nanos() as f64 / 1e9;
    (seconds > 0.0).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerState as DockerState, Health, NetworkSettings, PortBinding};

    use super::*;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding { host_ip: Some(ip.into()), host_port: Some(port.into()) }
    }

    #[test]
    fn ports_become_bindings_for_each_address() {
        let ports: PortMap = HashMap::from([
            ("80/tcp".to_string(), Some(vec![binding("0.0.0.0", "49153"), binding("::", "49153")])),
            ("53/udp".to_string(), Some(vec![binding("0.0.0.0", "5353")])),
            ("9000/tcp".to_string(), None),
        ]);
        let bindings = network_bindings(&ports);
        let seen: Vec<(i32, i32, &str, &str)> = bindings
            .iter()
            .map(|b| {
                (
                    b.container_port.unwrap_or_default(),
                    b.host_port.unwrap_or_default(),
                    b.protocol.as_deref().unwrap_or_default(),
                    b.bind_ip.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [(53, 5353, "udp", "0.0.0.0"), (80, 49153, "tcp", "0.0.0.0"), (80, 49153, "tcp", "::")]
        );
    }

    #[test]
    fn times_are_epoch_seconds_and_the_zero_time_is_none() {
        assert_eq!(epoch_seconds("1970-01-01T00:01:40.5Z"), Some(100.5));
        assert_eq!(epoch_seconds("2024-05-01T10:00:00.123456789Z").map(f64::floor), Some(1_714_557_600.0));
        assert_eq!(epoch_seconds("0001-01-01T00:00:00Z"), None);
        assert_eq!(epoch_seconds("yesterday"), None);
    }

    #[test]
    fn exit_codes_show_once_exited_and_oom_is_the_reason() {
        let inspected = |status, oom, health: Option<HealthStatusEnum>| ContainerInspectResponse {
            state: Some(DockerState {
                status: Some(status),
                running: Some(status == ContainerStateStatusEnum::RUNNING),
                exit_code: Some(137),
                oom_killed: Some(oom),
                health: health.map(|status| Health { status: Some(status), ..Health::default() }),
                ..DockerState::default()
            }),
            network_settings: Some(NetworkSettings::default()),
            ..ContainerInspectResponse::default()
        };
        let created = container_state(&inspected(ContainerStateStatusEnum::CREATED, false, None));
        assert_eq!((created.running, created.exit_code), (false, None));
        let killed = container_state(&inspected(ContainerStateStatusEnum::EXITED, true, None));
        assert_eq!(killed.exit_code, Some(137));
        assert_eq!(killed.error.as_deref(), Some(OOM_REASON));
        let starting = container_state(&inspected(
            ContainerStateStatusEnum::RUNNING,
            false,
            Some(HealthStatusEnum::STARTING),
        ));
        assert_eq!((starting.running, starting.health.as_deref()), (true, Some("UNKNOWN")));
        let unhealthy = container_state(&inspected(
            ContainerStateStatusEnum::RUNNING,
            false,
            Some(HealthStatusEnum::UNHEALTHY),
        ));
        assert_eq!(unhealthy.health.as_deref(), Some("UNHEALTHY"));
    }
}
