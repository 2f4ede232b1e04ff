//! One container's runtime settings: health check, ulimits, Linux parameters (capabilities,
//! devices, tmpfs, swap), system controls, restart policy and start/stop timeouts.

use super::{blank, choices, client, label, network_mode, one_of};
use crate::EcsError;
use crate::model::{ContainerDefinition, LinuxParameters, RegisterTaskDefinitionRequest, enums};

/// The Linux capabilities ECS accepts in `linuxParameters.capabilities` (`ALL` included).
pub(crate) const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "SYSLOG",
    "WAKE_ALARM",
];

const TMPFS_OPTIONS: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "bind",
    "rbind",
    "unbindable",
    "runbindable",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The capability name without the optional `CAP_` prefix Docker also accepts.
pub(crate) fn capability_name(value: &str) -> &str {
    value.strip_prefix("CAP_").unwrap_or(value)
}

/// Checks one container's runtime settings.
pub(crate) fn check_container(
    request: &RegisterTaskDefinitionRequest,
    index: usize,
    container: &ContainerDefinition,
) -> Result<(), EcsError> {
    let who = label(index, container);
    check_health(&who, container)?;
    check_ulimits(&who, container)?;
    if let Some(linux) = &container.linux_parameters {
        check_linux(&who, linux)?;
    }
    check_system_controls(request, &who, container)?;
    if let Some(policy) = &container.restart_policy {
        if policy.enabled.is_none() {
            return Err(client(format!("Invalid setting for {who}: restartPolicy.enabled is required.")));
        }
        if policy.ignored_exit_codes.as_deref().unwrap_or_default().len() > 50 {
            return Err(client(format!(
                "Invalid setting for {who}: restartPolicy.ignoredExitCodes can list at most 50 exit codes."
            )));
        }
        if let Some(period) = policy.restart_attempt_period
            && !(60..=1800).contains(&period)
        {
            return Err(client(format!(
                "Invalid setting for {who}: restartPolicy.restartAttemptPeriod {period} must be between 60 and 1800 seconds."
            )));
        }
    }
    for (member, value) in
        [("startTimeout", container.start_timeout), ("stopTimeout", container.stop_timeout)]
    {
        if let Some(seconds) = value
            && seconds < 0
        {
            return Err(client(format!("Invalid setting for {who}: {member} {seconds} cannot be negative.")));
        }
    }
    Ok(())
}

fn in_range(who: &str, member: &str, value: Option<i32>, low: i32, high: i32) -> Result<(), EcsError> {
    match value {
        Some(value) if !(low..=high).contains(&value) => Err(client(format!(
            "Invalid setting for {who}: healthCheck.{member} {value} must be between {low} and {high}."
        ))),
        _ => Ok(()),
    }
}

fn check_health(who: &str, container: &ContainerDefinition) -> Result<(), EcsError> {
    let Some(health) = &container.health_check else {
        return Ok(());
    };
    let command = health.command.as_deref().unwrap_or_default();
    match command.first().map(String::as_str) {
        None => {
            return Err(client(format!(
                "Invalid setting for {who}: healthCheck.command is required and cannot be empty."
            )));
        }
        Some("CMD" | "CMD-SHELL") => {}
        Some(first) => {
            return Err(client(format!(
                "Invalid setting for {who}: healthCheck.command must start with CMD or CMD-SHELL, not '{first}'."
            )));
        }
    }
    if command.len() < 2 {
        return Err(client(format!(
            "Invalid setting for {who}: healthCheck.command needs the command to run after {}.",
            command.join(" ")
        )));
    }
    in_range(who, "interval", health.interval, 5, 300)?;
    in_range(who, "timeout", health.timeout, 2, 60)?;
    in_range(who, "retries", health.retries, 1, 10)?;
    in_range(who, "startPeriod", health.start_period, 0, 300)
}

fn check_ulimits(who: &str, container: &ContainerDefinition) -> Result<(), EcsError> {
    for (index, ulimit) in container.ulimits.as_deref().unwrap_or_default().iter().enumerate() {
        let name = ulimit.name.as_deref().unwrap_or("");
        if !one_of(name, enums::ULIMIT_NAME) {
            return Err(client(format!(
                "Invalid setting for {who}: ulimits[{index}].name '{name}' must be {}.",
                choices(enums::ULIMIT_NAME)
            )));
        }
        let (Some(soft), Some(hard)) = (ulimit.soft_limit, ulimit.hard_limit) else {
            return Err(client(format!(
                "Invalid setting for {who}: ulimit '{name}' needs both softLimit and hardLimit."
            )));
        };
        if soft > hard {
            return Err(client(format!(
                "Invalid setting for {who}: ulimit '{name}' has softLimit {soft} above hardLimit {hard}."
            )));
        }
    }
    Ok(())
}

fn check_linux(who: &str, linux: &LinuxParameters) -> Result<(), EcsError> {
    if let Some(capabilities) = &linux.capabilities {
        let lists = [("add", &capabilities.add), ("drop", &capabilities.drop)];
        for (member, list) in lists {
            for value in list.as_deref().unwrap_or_default() {
                if !one_of(capability_name(value), CAPABILITIES) {
                    return Err(client(format!(
                        "Invalid setting for {who}: linuxParameters.capabilities.{member} has unknown capability '{value}'."
                    )));
                }
            }
        }
    }
    for (index, device) in linux.devices.as_deref().unwrap_or_default().iter().enumerate() {
        if blank(device.host_path.as_deref()) {
            return Err(client(format!(
                "Invalid setting for {who}: linuxParameters.devices[{index}].hostPath is required."
            )));
        }
        for permission in device.permissions.as_deref().unwrap_or_default() {
            if !one_of(permission, enums::DEVICE_CGROUP_PERMISSION) {
                return Err(client(format!(
                    "Invalid setting for {who}: linuxParameters.devices[{index}] permission '{permission}' must be 'read', 'write' or 'mknod'."
                )));
            }
        }
    }
    for (index, tmpfs) in linux.tmpfs.as_deref().unwrap_or_default().iter().enumerate() {
        if !tmpfs.container_path.as_deref().is_some_and(|path| path.starts_with('/')) {
            return Err(client(format!(
                "Invalid setting for {who}: linuxParameters.tmpfs[{index}].containerPath must be an absolute path."
            )));
        }
        if tmpfs.size.is_none_or(|size| size <= 0) {
            return Err(client(format!(
                "Invalid setting for {who}: linuxParameters.tmpfs[{index}].size (MiB) is required and must be positive."
            )));
        }
        for option in tmpfs.mount_options.as_deref().unwrap_or_default() {
            let key = option.split_once('=').map_or(option.as_str(), |(key, _)| key);
            if !one_of(key, TMPFS_OPTIONS) {
                return Err(client(format!(
                    "Invalid setting for {who}: linuxParameters.tmpfs[{index}] mount option '{option}' is not supported."
                )));
            }
        }
    }
    let checks = [
        ("sharedMemorySize", linux.shared_memory_size, 0, i32::MAX),
        ("maxSwap", linux.max_swap, 0, i32::MAX),
        ("swappiness", linux.swappiness, 0, 100),
    ];
    for (member, value, low, high) in checks {
        if let Some(value) = value
            && !(low..=high).contains(&value)
        {
            return Err(client(format!(
                "Invalid setting for {who}: linuxParameters.{member} {value} must be between {low} and {high}."
            )));
        }
    }
    Ok(())
}

/// Whether a sysctl lives in the IPC namespace.
pub(crate) fn is_ipc_sysctl(namespace: &str) -> bool {
    one_of(namespace, IPC_SYSCTLS) || namespace.starts_with("fs.mqueue.")
}

fn check_system_controls(
    request: &RegisterTaskDefinitionRequest,
    who: &str,
    container: &ContainerDefinition,
) -> Result<(), EcsError> {
    for (index, control) in container.system_controls.as_deref().unwrap_or_default().iter().enumerate() {
        let Some(namespace) = control.namespace.as_deref().filter(|n| !n.is_empty()) else {
            return Err(client(format!(
                "Invalid setting for {who}: systemControls[{index}].namespace is required."
            )));
        };
        if network_mode(request) == "host" && namespace.starts_with("net.") {
            return Err(client(format!(
                "Invalid setting for {who}: systemControls '{namespace}' is a network namespace parameter, which is not supported when networkMode is host."
            )));
        }
        if request.ipc_mode.as_deref() == Some("host") && is_ipc_sysctl(namespace) {
            return Err(client(format!(
                "Invalid setting for {who}: systemControls '{namespace}' is an IPC namespace parameter, which is not supported when ipcMode is host."
            )));
        }
    }
    Ok(())
}
