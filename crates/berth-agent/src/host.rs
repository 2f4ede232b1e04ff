//! What the agent registers: the host's resources and attributes.

use std::collections::{BTreeMap, BTreeSet};

use berth_api::model::{Attribute, Resource, VersionInfo};

use crate::config::AgentConfig;

/// The agent's version, reported in `versionInfo`.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// CPU units: 1024 per core, as ECS counts them.
pub fn cpu_units(config: &AgentConfig) -> i64 {
    config.cpu_units.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores as i64 * 1024
    })
}

/// Memory in MiB: the host's total (from /proc/meminfo) less the reservation.
pub fn memory_mib(config: &AgentConfig) -> i64 {
    let total = config.memory_mib.unwrap_or_else(|| {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
                let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib / 1024)
            })
            .unwrap_or(0)
    });
    (total - config.reserved_memory_mib).max(0)
}

fn integer(name: &str, value: i64) -> Resource {
    Resource {
        name: Some(name.to_string()),
        r#type: Some("INTEGER".to_string()),
        integer_value: Some(value.clamp(0, i32::MAX as i64) as i32),
        ..Resource::default()
    }
}

fn ports(name: &str, ports: &[u16]) -> Resource {
    let set: BTreeSet<u16> = ports.iter().copied().collect();
    Resource {
        name: Some(name.to_string()),
        r#type: Some("STRINGSET".to_string()),
        string_set_value: Some(set.iter().map(u16::to_string).collect()),
        ..Resource::default()
    }
}

/// The `totalResources` of RegisterContainerInstance.
pub fn resources(config: &AgentConfig) -> Vec<Resource> {
    vec![
        integer("CPU", cpu_units(config)),
        integer("MEMORY", memory_mib(config)),
        ports("PORTS", &config.reserved_ports),
        ports("PORTS_UDP", &config.reserved_udp_ports),
    ]
}

/// The CPU architecture as ECS names it.
pub fn cpu_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// The attributes of RegisterContainerInstance: ECS's own, the runtime's capabilities, then the
/// custom ones (which may override none of ECS's).
pub fn attributes(config: &AgentConfig, capabilities: &[(String, Option<String>)]) -> Vec<Attribute> {
    let mut all: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (name, value) in &config.attributes {
        all.insert(name.clone(), value.clone());
    }
    all.insert("ecs.os-type".into(), Some("linux".into()));
    all.insert("ecs.os-family".into(), Some("LINUX".into()));
    all.insert("ecs.cpu-architecture".into(), Some(cpu_architecture().into()));
    all.insert("ecs.instance-type".into(), Some(config.instance_type.clone()));
    if let Some(zone) = &config.availability_zone {
        all.insert("ecs.availability-zone".into(), Some(zone.clone()));
    }
    for (name, value) in capabilities {
        all.insert(name.clone(), value.clone());
    }
    all.into_iter()
        .map(|(name, value)| Attribute { name: Some(name), value, ..Attribute::default() })
        .collect()
}

/// The `versionInfo` of RegisterContainerInstance.
pub fn version_info(docker_version: Option<String>) -> VersionInfo {
    VersionInfo {
        agent_version: Some(AGENT_VERSION.to_string()),
        agent_hash: Some(format!("berth-{AGENT_VERSION}")),
        docker_version: docker_version.map(|v| format!("DockerVersion: {v}")),
    }
}
