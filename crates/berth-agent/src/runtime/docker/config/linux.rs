//! `linuxParameters` on Docker's host config.

use berth_api::model::LinuxParameters;
use bollard::models::{DeviceMapping, HostConfig};

use super::MIB;
use crate::runtime::RuntimeError;

/// `linuxParameters`: capabilities, init, shared memory, tmpfs mounts, devices and swap.
pub(super) fn apply(
    host: &mut HostConfig,
    linux: &LinuxParameters,
    memory: Option<i32>,
) -> Result<(), RuntimeError> {
    if let Some(capabilities) = &linux.capabilities {
        host.cap_add = capabilities.add.clone();
        host.cap_drop = capabilities.drop.clone();
    }
    host.init = linux.init_process_enabled;
    host.shm_size = linux.shared_memory_size.map(|mib| i64::from(mib) * MIB);
    if let Some(tmpfs) = &linux.tmpfs {
        let mounts = tmpfs.iter().filter_map(|mount| {
            let path = mount.container_path.clone()?;
            let size = mount.size.map(|mib| format!("size={mib}m"));
            let options: Vec<String> =
                size.into_iter().chain(mount.mount_options.iter().flatten().cloned()).collect();
            Some((path, options.join(",")))
        });
        host.tmpfs = Some(mounts.collect());
    }
    if let Some(devices) = &linux.devices {
        host.devices = Some(devices.iter().map(device).collect());
    }
    if let Some(max_swap) = linux.max_swap {
        // Docker's MemorySwap is memory plus swap, so it needs the container's memory limit.
        let memory = memory.ok_or_else(|| {
            RuntimeError::Create("linuxParameters.maxSwap needs the container's memory to be set".into())
        })?;
        host.memory_swap = Some((i64::from(memory) + i64::from(max_swap)) * MIB);
    }
    host.memory_swappiness = linux.swappiness.map(i64::from);
    Ok(())
}

/// A device: the container path defaults to the host path, permissions to `rwm`.
fn device(device: &berth_api::model::Device) -> DeviceMapping {
    let permissions = match &device.permissions {
        Some(permissions) if !permissions.is_empty() => permissions
            .iter()
            .filter_map(|permission| match permission.as_str() {
                "read" => Some('r'),
                "write" => Some('w'),
                "mknod" => Some('m'),
                _ => None,
            })
            .collect(),
        _ => "rwm".to_string(),
    };
    DeviceMapping {
        path_on_host: device.host_path.clone(),
        path_in_container: device.container_path.clone().or_else(|| device.host_path.clone()),
        cgroup_permissions: Some(permissions),
    }
}
