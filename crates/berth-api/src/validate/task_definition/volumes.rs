//! Task volumes (bind mounts, Docker volumes, EFS, S3 Files, FSx for Windows File Server and
//! volumes configured at launch) and the containers' mount points that refer to them.

use std::collections::BTreeSet;

use super::{blank, client, containers, label, one_of};
use crate::EcsError;
use crate::model::{EFSVolumeConfiguration, RegisterTaskDefinitionRequest, Volume, enums};
use crate::names::is_simple_name;

const MAX_NAME: usize = 255;

/// The kinds of volume configuration a volume carries, by member name.
pub(crate) fn volume_kinds(volume: &Volume) -> Vec<&'static str> {
    let present = [
        ("host", volume.host.is_some()),
        ("dockerVolumeConfiguration", volume.docker_volume_configuration.is_some()),
        ("efsVolumeConfiguration", volume.efs_volume_configuration.is_some()),
        ("s3filesVolumeConfiguration", volume.s3files_volume_configuration.is_some()),
        (
            "fsxWindowsFileServerVolumeConfiguration",
            volume.fsx_windows_file_server_volume_configuration.is_some(),
        ),
        ("configuredAtLaunch", volume.configured_at_launch == Some(true)),
    ];
    present.into_iter().filter_map(|(name, on)| on.then_some(name)).collect()
}

/// How a message names a volume.
pub(crate) fn volume_label(index: usize, volume: &Volume) -> String {
    match volume.name.as_deref() {
        Some(name) if !name.is_empty() => format!("volume '{name}'"),
        _ => format!("volumes[{index}]"),
    }
}

/// Checks the task's volume definitions.
pub(crate) fn check_volumes(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let volumes = request.volumes.as_deref().unwrap_or_default();
    let mut names = BTreeSet::new();
    let mut at_launch = 0;
    for (index, volume) in volumes.iter().enumerate() {
        let who = volume_label(index, volume);
        let Some(name) = volume.name.as_deref().filter(|name| !name.is_empty()) else {
            return Err(client(format!("{who}: name is required; mount points refer to volumes by name.")));
        };
        if !is_simple_name(name, MAX_NAME) {
            return Err(client(format!(
                "Invalid volume name '{name}': up to {MAX_NAME} letters (uppercase and lowercase), numbers, hyphens and underscores are allowed."
            )));
        }
        if !names.insert(name) {
            return Err(client(format!(
                "Volume name '{name}' is used more than once; volume names must be unique."
            )));
        }
        let kinds = volume_kinds(volume);
        if kinds.len() > 1 {
            return Err(client(format!(
                "Invalid setting for {who}: a volume can have only one of host, dockerVolumeConfiguration, efsVolumeConfiguration, s3filesVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration or configuredAtLaunch, but it has {}.",
                kinds.join(" and ")
            )));
        }
        if volume.configured_at_launch == Some(true) {
            at_launch += 1;
            if at_launch > 1 {
                return Err(client(format!(
                    "Invalid setting for {who}: only one volume of a task definition can be configured at launch."
                )));
            }
        }
        check_configuration(&who, volume)?;
    }
    Ok(())
}

fn check_configuration(who: &str, volume: &Volume) -> Result<(), EcsError> {
    if let Some(docker) = &volume.docker_volume_configuration {
        let scope = docker.scope.as_deref().unwrap_or("task");
        if !one_of(scope, enums::SCOPE) {
            return Err(client(format!(
                "Invalid setting for {who}: dockerVolumeConfiguration.scope '{scope}' must be 'task' or 'shared'."
            )));
        }
        if docker.autoprovision == Some(true) && scope != "shared" {
            return Err(client(format!(
                "Invalid setting for {who}: dockerVolumeConfiguration.autoprovision can be true only when scope is 'shared', and the scope is '{scope}'."
            )));
        }
    }
    if let Some(efs) = &volume.efs_volume_configuration {
        check_efs(who, efs)?;
    }
    if let Some(s3) = &volume.s3files_volume_configuration {
        if blank(s3.file_system_arn.as_deref()) {
            return Err(client(format!(
                "Invalid setting for {who}: s3filesVolumeConfiguration.fileSystemArn is required."
            )));
        }
        if s3.access_point_arn.is_some() && !root_is_default(s3.root_directory.as_deref()) {
            return Err(client(format!(
                "Invalid setting for {who}: with an S3 Files access point, rootDirectory must be omitted or '/'."
            )));
        }
    }
    if let Some(fsx) = &volume.fsx_windows_file_server_volume_configuration {
        let auth = fsx.authorization_config.as_ref();
        let missing = [
            ("fileSystemId", blank(fsx.file_system_id.as_deref())),
            ("rootDirectory", blank(fsx.root_directory.as_deref())),
            (
                "authorizationConfig.credentialsParameter",
                auth.is_none_or(|a| blank(a.credentials_parameter.as_deref())),
            ),
            ("authorizationConfig.domain", auth.is_none_or(|a| blank(a.domain.as_deref()))),
        ];
        if let Some((member, _)) = missing.iter().find(|(_, absent)| *absent) {
            return Err(client(format!(
                "Invalid setting for {who}: fsxWindowsFileServerVolumeConfiguration.{member} is required."
            )));
        }
    }
    Ok(())
}

fn root_is_default(root: Option<&str>) -> bool {
    matches!(root, None | Some("" | "/"))
}

fn check_efs(who: &str, efs: &EFSVolumeConfiguration) -> Result<(), EcsError> {
    if blank(efs.file_system_id.as_deref()) {
        return Err(client(format!(
            "Invalid setting for {who}: efsVolumeConfiguration.fileSystemId is required."
        )));
    }
    let encryption = efs.transit_encryption.as_deref().unwrap_or("DISABLED");
    if !one_of(encryption, enums::EFS_TRANSIT_ENCRYPTION) {
        return Err(client(format!(
            "Invalid setting for {who}: efsVolumeConfiguration.transitEncryption '{encryption}' must be 'ENABLED' or 'DISABLED'."
        )));
    }
    if let Some(port) = efs.transit_encryption_port
        && !(1..=65535).contains(&port)
    {
        return Err(client(format!(
            "Invalid setting for {who}: efsVolumeConfiguration.transitEncryptionPort {port} is not a port number from 1 to 65535."
        )));
    }
    let Some(auth) = &efs.authorization_config else {
        return Ok(());
    };
    let iam = auth.iam.as_deref().unwrap_or("DISABLED");
    if !one_of(iam, enums::EFS_AUTHORIZATION_CONFIG_IAM) {
        return Err(client(format!(
            "Invalid setting for {who}: efsVolumeConfiguration.authorizationConfig.iam '{iam}' must be 'ENABLED' or 'DISABLED'."
        )));
    }
    let access_point = !blank(auth.access_point_id.as_deref());
    if (iam == "ENABLED" || access_point) && encryption != "ENABLED" {
        return Err(client(format!(
            "Invalid setting for {who}: transitEncryption must be ENABLED when EFS IAM authorization or an access point is used."
        )));
    }
    if access_point && !root_is_default(efs.root_directory.as_deref()) {
        return Err(client(format!(
            "Invalid setting for {who}: with an EFS access point, rootDirectory must be omitted or '/'."
        )));
    }
    Ok(())
}

/// Checks every container's mount points against the task's volumes.
pub(crate) fn check_mount_points(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let volumes = request.volumes.as_deref().unwrap_or_default();
    let declared: BTreeSet<&str> = volumes.iter().filter_map(|v| v.name.as_deref()).collect();
    for (index, container) in containers(request).iter().enumerate() {
        let who = label(index, container);
        for (at, mount) in container.mount_points.as_deref().unwrap_or_default().iter().enumerate() {
            let source = mount.source_volume.as_deref().unwrap_or("");
            if source.is_empty() {
                return Err(client(format!(
                    "Invalid setting for {who}: mountPoints[{at}].sourceVolume is required."
                )));
            }
            if !declared.contains(source) {
                return Err(client(format!(
                    "Invalid setting for {who}: mountPoints[{at}] refers to unknown volume '{source}'; declare it in the task definition's volumes."
                )));
            }
            if blank(mount.container_path.as_deref()) {
                return Err(client(format!(
                    "Invalid setting for {who}: mountPoints[{at}] (volume '{source}') needs a containerPath."
                )));
            }
        }
    }
    Ok(())
}
