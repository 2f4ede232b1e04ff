//! What a task reserves on its container instance, computed as ECS counts it.
//!
//! CPU and memory come from the task-level size when the definition (or an override) sets one,
//! else from the sum over the containers: a container's CPU units, and its hard memory limit or,
//! without one, its soft reservation. Host ports are reserved only when they are static: in
//! `bridge` mode a mapping with a non-zero `hostPort` (zero or absent means Docker picks one),
//! in `host` mode the host port, which is the container port. GPUs are the containers' GPU
//! requirements. The containers given here already carry their overrides.

use std::collections::BTreeSet;

use berth_api::model::ContainerDefinition;

use crate::state::tasks::Reservation;

/// The task-level size in effect (override or definition), parsed to CPU units and MiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskSize {
    /// CPU units, when the task has a task-level CPU size.
    pub cpu: Option<i64>,
    /// MiB, when the task has a task-level memory size.
    pub memory: Option<i64>,
}

/// The resources one task of these containers holds on its instance.
pub fn reservation(network_mode: &str, size: TaskSize, containers: &[ContainerDefinition]) -> Reservation {
    let cpu =
        size.cpu.unwrap_or_else(|| containers.iter().map(|c| i64::from(c.cpu.unwrap_or(0).max(0))).sum());
    let memory = size.memory.unwrap_or_else(|| containers.iter().map(container_memory).sum());
    let (tcp_ports, udp_ports) = static_ports(network_mode, containers);
    Reservation { cpu, memory, gpus: containers.iter().map(gpus).sum(), tcp_ports, udp_ports }
}

/// The memory a container counts for: its hard limit, else its soft reservation.
pub fn container_memory(container: &ContainerDefinition) -> i64 {
    i64::from(container.memory.or(container.memory_reservation).unwrap_or(0).max(0))
}

/// The GPUs a container reserves. `ALL` needs at least one GPU, and is counted as one: the
/// instance's GPU count is not known here. A shared GPU (`sharingStrategy`) reserves none.
fn gpus(container: &ContainerDefinition) -> i64 {
    container
        .resource_requirements
        .iter()
        .flatten()
        .filter(|r| r.r#type.as_deref() == Some("GPU"))
        .filter_map(|r| match r.value.as_deref() {
            Some("ALL") => Some(1),
            Some(text) => text.trim().parse::<i64>().ok().filter(|n| *n > 0),
            None => None,
        })
        .sum()
}

/// The static host ports of the containers, TCP and UDP, each sorted and without repeats.
fn static_ports(network_mode: &str, containers: &[ContainerDefinition]) -> (Vec<u16>, Vec<u16>) {
    let mut tcp = BTreeSet::new();
    let mut udp = BTreeSet::new();
    for mapping in containers.iter().flat_map(|c| c.port_mappings.iter().flatten()) {
        let port = match network_mode {
            "bridge" => mapping.host_port,
            "host" => mapping.host_port.filter(|p| *p > 0).or(mapping.container_port),
            _ => None,
        };
        let Some(port) = port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) else { continue };
        if mapping.protocol.as_deref() == Some("udp") {
            udp.insert(port);
        } else {
            tcp.insert(port);
        }
    }
    (tcp.into_iter().collect(), udp.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use berth_api::model::{PortMapping, ResourceRequirement};

    use super::*;

    fn container(cpu: i32, memory: Option<i32>, reservation: Option<i32>) -> ContainerDefinition {
        ContainerDefinition {
            cpu: Some(cpu),
            memory,
            memory_reservation: reservation,
            ..ContainerDefinition::default()
        }
    }

    fn mapping(container: i32, host: Option<i32>, protocol: &str) -> PortMapping {
        PortMapping {
            container_port: Some(container),
            host_port: host,
            protocol: Some(protocol.into()),
            ..PortMapping::default()
        }
    }

    #[test]
    fn containers_sum_hard_limits_else_reservations() {
        let containers =
            [container(256, Some(512), Some(128)), container(128, None, Some(64)), container(0, None, None)];
        let reserved = reservation("bridge", TaskSize::default(), &containers);
        assert_eq!((reserved.cpu, reserved.memory), (384, 576));
    }

    #[test]
    fn a_task_level_size_wins_per_dimension() {
        let containers = [container(256, Some(512), None)];
        let reserved = reservation("bridge", TaskSize { cpu: None, memory: Some(2048) }, &containers);
        assert_eq!((reserved.cpu, reserved.memory), (256, 2048));
    }

    #[test]
    fn only_static_ports_are_reserved() {
        let mut web = container(0, Some(64), None);
        web.port_mappings = Some(vec![
            mapping(80, Some(8080), "tcp"),
            mapping(81, Some(0), "tcp"),
            mapping(82, None, "tcp"),
            mapping(53, Some(5353), "udp"),
        ]);
        let bridge = reservation("bridge", TaskSize::default(), std::slice::from_ref(&web));
        assert_eq!((bridge.tcp_ports, bridge.udp_ports), (vec![8080], vec![5353]));
        web.port_mappings = Some(vec![mapping(9000, None, "tcp")]);
        let host = reservation("host", TaskSize::default(), std::slice::from_ref(&web));
        assert_eq!(host.tcp_ports, vec![9000]);
        let none = reservation("none", TaskSize::default(), &[web]);
        assert!(none.tcp_ports.is_empty());
    }

    #[test]
    fn gpus_add_up_across_containers() {
        let gpu = |value: &str| ResourceRequirement {
            r#type: Some("GPU".into()),
            value: Some(value.into()),
            ..ResourceRequirement::default()
        };
        let mut a = container(0, Some(64), None);
        a.resource_requirements = Some(vec![gpu("2")]);
        let mut b = container(0, Some(64), None);
        b.resource_requirements = Some(vec![gpu("ALL")]);
        assert_eq!(reservation("bridge", TaskSize::default(), &[a, b]).gpus, 3);
    }
}
