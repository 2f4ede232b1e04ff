//! The resources an instance registers with: checked, and put in the one form placement reads.
//!
//! ECS's agent reports CPU units and memory (MiB) as INTEGERs, the host ports it reserves for
//! itself and the system as the STRINGSETs PORTS and PORTS_UDP, and its GPUs as the STRINGSET GPU.
//! Those five are what Berth accounts; any other resource is kept as reported, for describing.
//! PORTS and PORTS_UDP are always present, possibly empty, because remaining resources list the
//! ports taken, and a task's ports are added to them.

use std::collections::{BTreeSet, HashSet};

use berth_api::EcsError;
use berth_api::model::{PlatformDevice, Resource, enums};

use crate::state::container_instances::{integer, port_set, resource};

const RESOURCE_TYPES: [&str; 4] = ["INTEGER", "LONG", "DOUBLE", "STRINGSET"];

/// The registered resources of an instance that reports `total` and `devices`.
pub fn registered(total: &[Resource], devices: &[PlatformDevice]) -> Result<Vec<Resource>, EcsError> {
    check_names(total)?;
    let find = |name: &str| total.iter().find(|r| r.name.as_deref() == Some(name));
    let mut registered = Vec::with_capacity(total.len() + 2);
    for name in [resource::CPU, resource::MEMORY] {
        let found = find(name).ok_or_else(|| {
            EcsError::invalid_parameter(format!("totalResources must include {name}, an INTEGER."))
        })?;
        registered.push(integer(name, amount(found)?));
    }
    for name in [resource::PORTS, resource::PORTS_UDP] {
        let ports = match find(name) {
            Some(found) => ports(found)?,
            None => BTreeSet::new(),
        };
        registered.push(port_set(name, &ports));
    }
    check_devices(devices)?;
    match find(resource::GPU) {
        Some(found) => registered.push(gpus(found, Vec::new())?),
        None => {
            let ids: Vec<String> = devices
                .iter()
                .filter(|d| d.r#type.as_deref() == Some("GPU"))
                .filter_map(|d| d.id.clone())
                .collect();
            if !ids.is_empty() {
                registered.push(gpus(&Resource::default(), ids)?);
            }
        }
    }
    for other in total.iter().filter(|r| !accounted(r.name.as_deref().unwrap_or_default())) {
        check_type(other)?;
        registered.push(other.clone());
    }
    Ok(registered)
}

fn accounted(name: &str) -> bool {
    [resource::CPU, resource::MEMORY, resource::PORTS, resource::PORTS_UDP, resource::GPU].contains(&name)
}

fn check_names(total: &[Resource]) -> Result<(), EcsError> {
    let mut seen = HashSet::new();
    for entry in total {
        let name =
            entry.name.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| {
                EcsError::invalid_parameter("Each resource in totalResources needs a name.")
            })?;
        if !seen.insert(name) {
            return Err(EcsError::invalid_parameter(format!(
                "Resource {name} appears more than once in totalResources."
            )));
        }
    }
    Ok(())
}

fn check_type(entry: &Resource) -> Result<(), EcsError> {
    let name = entry.name.as_deref().unwrap_or_default();
    match entry.r#type.as_deref() {
        Some(kind) if RESOURCE_TYPES.contains(&kind) => Ok(()),
        Some(kind) => Err(EcsError::invalid_parameter(format!(
            "Resource {name} has unknown type '{kind}': use INTEGER, LONG, DOUBLE or STRINGSET."
        ))),
        None => Err(EcsError::invalid_parameter(format!("Resource {name} needs a type."))),
    }
}

fn expect_type(entry: &Resource, expected: &str) -> Result<(), EcsError> {
    let name = entry.name.as_deref().unwrap_or_default();
    match entry.r#type.as_deref() {
        None => Ok(()),
        Some(kind) if kind == expected => Ok(()),
        Some(kind) => Err(EcsError::invalid_parameter(format!(
            "Resource {name} must be of type {expected}; it is {kind}."
        ))),
    }
}

/// An INTEGER amount: CPU units or MiB, from 0 up.
fn amount(entry: &Resource) -> Result<i64, EcsError> {
    expect_type(entry, "INTEGER")?;
    let name = entry.name.as_deref().unwrap_or_default();
    // The SDKs send every numeric member, zero when unused: the integer value is the one that
    // counts, unless only the long one is set.
    let value = match (entry.integer_value, entry.long_value) {
        (Some(value), _) if value != 0 => i64::from(value),
        (_, Some(value)) => value,
        (Some(value), None) => i64::from(value),
        (None, None) => {
            return Err(EcsError::invalid_parameter(format!("Resource {name} needs an integerValue.")));
        }
    };
    if !(0..=i64::from(i32::MAX)).contains(&value) {
        return Err(EcsError::invalid_parameter(format!(
            "Resource {name} must be between 0 and {}; got {value}.",
            i32::MAX
        )));
    }
    Ok(value)
}

/// A STRINGSET of host ports, each 1 to 65535.
fn ports(entry: &Resource) -> Result<BTreeSet<u16>, EcsError> {
    expect_type(entry, "STRINGSET")?;
    let name = entry.name.as_deref().unwrap_or_default();
    let mut ports = BTreeSet::new();
    for text in entry.string_set_value.iter().flatten() {
        match text.trim().parse::<u16>() {
            Ok(port) if port > 0 => {
                ports.insert(port);
            }
            _ => {
                return Err(EcsError::invalid_parameter(format!(
                    "Resource {name} lists '{text}', which is not a port from 1 to 65535."
                )));
            }
        }
    }
    Ok(ports)
}

/// The GPU STRINGSET: the ids reported, or `ids` taken from the platform devices.
fn gpus(entry: &Resource, ids: Vec<String>) -> Result<Resource, EcsError> {
    expect_type(entry, "STRINGSET")?;
    let ids = if ids.is_empty() { entry.string_set_value.clone().unwrap_or_default() } else { ids };
    let mut seen = HashSet::new();
    for id in &ids {
        if id.is_empty() || !seen.insert(id.as_str()) {
            return Err(EcsError::invalid_parameter(format!(
                "GPU ids must be distinct and not empty; '{id}' is not."
            )));
        }
    }
    Ok(Resource {
        name: Some(resource::GPU.to_string()),
        r#type: Some("STRINGSET".to_string()),
        string_set_value: Some(ids),
        double_value: Some(0.0),
        long_value: Some(0),
        integer_value: Some(0),
    })
}

fn check_devices(devices: &[PlatformDevice]) -> Result<(), EcsError> {
    for device in devices {
        if device.id.as_deref().is_none_or(str::is_empty) {
            return Err(EcsError::invalid_parameter("Each platform device needs an id."));
        }
        let kind = device.r#type.as_deref().unwrap_or_default();
        if !enums::PLATFORM_DEVICE_TYPE.contains(&kind) {
            return Err(EcsError::invalid_parameter(format!(
                "Platform device type '{kind}' is unknown: use GPU or NEURON_DEVICE."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::container_instances::{integer_of, ports_of, set_len};

    fn strings(name: &str, values: &[&str]) -> Resource {
        Resource {
            name: Some(name.into()),
            r#type: Some("STRINGSET".into()),
            string_set_value: Some(values.iter().map(|v| v.to_string()).collect()),
            ..Resource::default()
        }
    }

    #[test]
    fn normalizes_what_the_agent_reports() {
        let total = [
            integer(resource::CPU, 2048),
            integer(resource::MEMORY, 3943),
            strings(resource::PORTS, &["22", "2375", "51678"]),
        ];
        let devices = [PlatformDevice { id: Some("GPU-1".into()), r#type: Some("GPU".into()) }];
        let registered = registered(&total, &devices).expect("valid");
        assert_eq!(integer_of(&registered, resource::CPU), 2048);
        assert_eq!(ports_of(&registered, resource::PORTS), BTreeSet::from([22, 2375, 51678]));
        assert_eq!(ports_of(&registered, resource::PORTS_UDP), BTreeSet::new());
        assert!(registered.iter().any(|r| r.name.as_deref() == Some(resource::PORTS_UDP)));
        assert_eq!(set_len(&registered, resource::GPU), 1);
    }

    #[test]
    fn refuses_what_cannot_be_accounted() {
        let cpu = integer(resource::CPU, 1024);
        let memory = integer(resource::MEMORY, 1024);
        let cases: Vec<Vec<Resource>> = vec![
            vec![cpu.clone()],
            vec![cpu.clone(), memory.clone(), cpu.clone()],
            vec![cpu.clone(), integer(resource::MEMORY, -1)],
            vec![cpu.clone(), memory.clone(), strings(resource::PORTS, &["http"])],
            vec![cpu.clone(), memory.clone(), strings(resource::PORTS, &["70000"])],
            vec![strings(resource::CPU, &["1"]), memory.clone()],
            vec![cpu.clone(), memory.clone(), Resource { name: Some("X".into()), ..Resource::default() }],
            vec![cpu, memory, strings(resource::GPU, &["a", "a"])],
        ];
        for total in cases {
            assert!(registered(&total, &[]).is_err(), "{total:?}");
        }
    }
}
