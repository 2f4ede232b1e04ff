//! Volumes and mount points.

use super::{accepts, client_error, ec2, first};
use crate::model::{
    DockerVolumeConfiguration, EFSAuthorizationConfig, EFSVolumeConfiguration, HostVolumeProperties,
    MountPoint, Volume,
};

fn host(name: &str) -> Volume {
    Volume {
        name: Some(name.into()),
        host: Some(HostVolumeProperties { source_path: Some("/data".into()) }),
        ..Default::default()
    }
}

fn mount(volume: &str, path: Option<&str>) -> MountPoint {
    MountPoint { source_volume: Some(volume.into()), container_path: path.map(Into::into), read_only: None }
}

#[test]
fn mount_points_refer_to_declared_volumes() {
    let mut request = ec2();
    first(&mut request).mount_points = Some(vec![mount("data", Some("/data"))]);
    client_error(&request, &["container 'web'", "unknown volume 'data'"]);
    request.volumes = Some(vec![host("data")]);
    accepts(&request);
}

#[test]
fn mount_points_need_a_container_path() {
    let mut request = ec2();
    request.volumes = Some(vec![host("data")]);
    first(&mut request).mount_points = Some(vec![mount("data", None)]);
    client_error(&request, &["container 'web'", "mountPoints[0]", "containerPath"]);
}

#[test]
fn volume_names_are_required_valid_and_unique() {
    let mut request = ec2();
    request.volumes = Some(vec![Volume::default()]);
    client_error(&request, &["volumes[0]", "name is required"]);
    request.volumes = Some(vec![host("my data")]);
    client_error(&request, &["volume name", "my data"]);
    request.volumes = Some(vec![host("data"), host("data")]);
    client_error(&request, &["'data'", "more than once"]);
}

#[test]
fn a_volume_has_one_kind() {
    let mut request = ec2();
    let mut both = host("data");
    both.docker_volume_configuration = Some(DockerVolumeConfiguration::default());
    request.volumes = Some(vec![both]);
    client_error(&request, &["volume 'data'", "host and dockerVolumeConfiguration"]);
}

#[test]
fn docker_volume_scope_and_autoprovision() {
    let mut request = ec2();
    let docker = |scope: Option<&str>, auto: Option<bool>| Volume {
        name: Some("cache".into()),
        docker_volume_configuration: Some(DockerVolumeConfiguration {
            scope: scope.map(Into::into),
            autoprovision: auto,
            driver: Some("local".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    request.volumes = Some(vec![docker(Some("global"), None)]);
    client_error(&request, &["volume 'cache'", "scope", "global"]);
    request.volumes = Some(vec![docker(Some("task"), Some(true))]);
    client_error(&request, &["volume 'cache'", "autoprovision", "shared"]);
    request.volumes = Some(vec![docker(None, Some(true))]);
    client_error(&request, &["volume 'cache'", "autoprovision"]);
    request.volumes = Some(vec![docker(Some("shared"), Some(true))]);
    accepts(&request);
}

#[test]
fn efs_volumes() {
    let mut request = ec2();
    let efs = |config: EFSVolumeConfiguration| Volume {
        name: Some("shared".into()),
        efs_volume_configuration: Some(config),
        ..Default::default()
    };
    request.volumes = Some(vec![efs(EFSVolumeConfiguration::default())]);
    client_error(&request, &["volume 'shared'", "fileSystemId"]);
    let with_access_point = EFSVolumeConfiguration {
        file_system_id: Some("fs-1234".into()),
        authorization_config: Some(EFSAuthorizationConfig {
            access_point_id: Some("fsap-1".into()),
            iam: Some("ENABLED".into()),
        }),
        ..Default::default()
    };
    request.volumes = Some(vec![efs(with_access_point.clone())]);
    client_error(&request, &["volume 'shared'", "transitEncryption"]);
    let encrypted =
        EFSVolumeConfiguration { transit_encryption: Some("ENABLED".into()), ..with_access_point };
    request.volumes = Some(vec![efs(encrypted.clone())]);
    accepts(&request);
    request.volumes =
        Some(vec![efs(EFSVolumeConfiguration { root_directory: Some("/app".into()), ..encrypted })]);
    client_error(&request, &["volume 'shared'", "rootDirectory"]);
}

#[test]
fn one_volume_configured_at_launch() {
    let mut request = ec2();
    let ebs = |name: &str| Volume {
        name: Some(name.into()),
        configured_at_launch: Some(true),
        ..Default::default()
    };
    request.volumes = Some(vec![ebs("a"), ebs("b")]);
    client_error(&request, &["volume 'b'", "configured at launch"]);
}
