//! Which volumes a container mounts: its `mountPoints` resolved against the task definition's
//! `volumes`. A bind mount of a host path, a Docker volume private to the task (an empty `host`,
//! or `dockerVolumeConfiguration` with scope `task`), or a Docker volume shared by name across
//! tasks (scope `shared`). Pure: the runtime creates the volumes the plan lists.

use std::collections::BTreeMap;

use berth_api::model::{DockerVolumeConfiguration, Volume};

use crate::runtime::{ContainerRequest, RuntimeError, labels};

/// A Docker volume a container needs before it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVolume {
    /// The volume's name in Docker.
    pub name: String,
    /// Its driver (`None`: `local`).
    pub driver: Option<String>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// Labels; task-scoped volumes carry the task ARN label, so they can be found and removed.
    pub labels: BTreeMap<String, String>,
    /// A shared volume that is not autoprovisioned: it must exist already.
    pub must_exist: bool,
}

/// What to mount: the Docker volumes to create or check, and the `Binds` of the create call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumePlan {
    /// Docker volumes, each once.
    pub volumes: Vec<PlannedVolume>,
    /// `source:containerPath[:ro]`, one per mount point.
    pub binds: Vec<String>,
}

/// The Docker name of task volume `volume` of task `task_arn`: `berth-<task id>-<volume>`. The
/// task engine removes it with `remove_volume` when the task is gone.
pub fn task_volume_name(task_arn: &str, volume: &str) -> String {
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    // Docker volume names allow [A-Za-z0-9_.-]; ECS task ids and volume names stay inside it,
    // and anything else is replaced rather than refused by the engine later.
    let clean = |text: &str| {
        text.chars()
            .map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' })
            .collect::<String>()
    };
    format!("berth-{}-{}", clean(task_id), clean(volume))
}

/// The volume plan of the request's container.
pub fn plan(request: &ContainerRequest) -> Result<VolumePlan, RuntimeError> {
    let mut plan = VolumePlan::default();
    let task_volumes = request.task_definition.volumes.as_deref().unwrap_or_default();
    for mount in request.container.mount_points.iter().flatten() {
        let source = mount.source_volume.as_deref().unwrap_or_default();
        let container_path =
            mount.container_path.as_deref().filter(|path| !path.is_empty()).ok_or_else(|| {
                RuntimeError::Create(format!("the mount point of volume {source:?} has no containerPath"))
            })?;
        let volume =
            task_volumes.iter().find(|volume| volume.name.as_deref() == Some(source)).ok_or_else(|| {
                RuntimeError::Create(format!(
                    "mount point source volume {source:?} is not a volume of the task definition"
                ))
            })?;
        let origin = match host_path(volume) {
            Some(path) => path.to_string(),
            None => {
                let planned = docker_volume(request, volume)?;
                let name = planned.name.clone();
                if !plan.volumes.iter().any(|known| known.name == name) {
                    plan.volumes.push(planned);
                }
                name
            }
        };
        let read_only = if mount.read_only == Some(true) { ":ro" } else { "" };
        plan.binds.push(format!("{origin}:{container_path}{read_only}"));
    }
    Ok(plan)
}

/// The host path of a bind-mount volume (`host.sourcePath` set and not empty).
fn host_path(volume: &Volume) -> Option<&str> {
    volume.host.as_ref()?.source_path.as_deref().filter(|path| !path.is_empty())
}

/// The Docker volume behind a task volume that is not a host bind mount.
fn docker_volume(request: &ContainerRequest, volume: &Volume) -> Result<PlannedVolume, RuntimeError> {
    let name = volume.name.as_deref().unwrap_or_default();
    let unsupported = |kind: &str| {
        RuntimeError::Create(format!("volume {name:?} is {kind}, which this runtime does not support"))
    };
    if volume.efs_volume_configuration.is_some() {
        return Err(unsupported("an Amazon EFS volume"));
    }
    if volume.fsx_windows_file_server_volume_configuration.is_some() {
        return Err(unsupported("an FSx for Windows File Server volume"));
    }
    if volume.s3files_volume_configuration.is_some() {
        return Err(unsupported("an Amazon S3 Files volume"));
    }
    if volume.configured_at_launch == Some(true) {
        return Err(unsupported("configured at launch (Amazon EBS)"));
    }
    let task_label = || BTreeMap::from([(labels::TASK_ARN.to_string(), request.task_arn.clone())]);
    let Some(config) = &volume.docker_volume_configuration else {
        // An empty `host`: a volume Docker manages, private to the task.
        return Ok(PlannedVolume {
            name: task_volume_name(&request.task_arn, name),
            driver: None,
            options: BTreeMap::new(),
            labels: task_label(),
            must_exist: false,
        });
    };
    let DockerVolumeConfiguration { scope, autoprovision, driver, driver_opts, labels: config_labels } =
        config;
    let options = driver_opts.clone().unwrap_or_default();
    let mut labels = config_labels.clone().unwrap_or_default();
    match scope.as_deref().unwrap_or("task") {
        "task" => {
            labels.extend(task_label());
            let name = task_volume_name(&request.task_arn, name);
            Ok(PlannedVolume { name, driver: driver.clone(), options, labels, must_exist: false })
        }
        "shared" => Ok(PlannedVolume {
            name: name.to_string(),
            driver: driver.clone(),
            options,
            labels,
            must_exist: *autoprovision != Some(true),
        }),
        other => Err(RuntimeError::Create(format!(
            "volume {name:?} has scope {other:?}; dockerVolumeConfiguration.scope is task or shared"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use berth_api::model::{ContainerDefinition, HostVolumeProperties, MountPoint, TaskDefinition};

    use super::*;

    const TASK: &str = "arn:aws:ecs:us-east-1:000000000000:task/prod/0123abcd";

    fn request(volumes: Vec<Volume>, mounts: Vec<(&str, &str, bool)>) -> ContainerRequest {
        let mount_points = mounts
            .into_iter()
            .map(|(source, path, read_only)| MountPoint {
                source_volume: Some(source.into()),
                container_path: Some(path.into()),
                read_only: Some(read_only),
            })
            .collect();
        ContainerRequest {
            task_arn: TASK.into(),
            cluster: "prod".into(),
            task_definition: TaskDefinition { volumes: Some(volumes), ..TaskDefinition::default() },
            container: ContainerDefinition {
                mount_points: Some(mount_points),
                ..ContainerDefinition::default()
            },
            extra_environment: BTreeMap::new(),
            siblings: BTreeMap::new(),
            runtime_name: "c".into(),
        }
    }

    fn volume(name: &str) -> Volume {
        Volume { name: Some(name.into()), ..Volume::default() }
    }

    fn docker(name: &str, scope: &str, autoprovision: Option<bool>) -> Volume {
        let config = DockerVolumeConfiguration {
            scope: Some(scope.into()),
            autoprovision,
            driver: Some("local".into()),
            driver_opts: Some(BTreeMap::from([("type".into(), "tmpfs".into())])),
            labels: Some(BTreeMap::from([("team".into(), "web".into())])),
        };
        Volume { docker_volume_configuration: Some(config), ..volume(name) }
    }

    #[test]
    fn host_paths_bind_and_read_only_is_kept() {
        let host = Volume {
            host: Some(HostVolumeProperties { source_path: Some("/srv/data".into()) }),
            ..volume("data")
        };
        let plan = plan(&request(vec![host], vec![("data", "/data", true)])).expect("plan");
        assert_eq!(plan.binds, ["/srv/data:/data:ro"]);
        assert!(plan.volumes.is_empty());
    }

    #[test]
    fn an_empty_host_is_a_task_volume_named_after_the_task() {
        let empty = Volume { host: Some(HostVolumeProperties { source_path: None }), ..volume("scratch") };
        let plan = plan(&request(
            vec![empty, volume("bare")],
            vec![("scratch", "/s", false), ("bare", "/b", false)],
        ))
        .expect("plan");
        assert_eq!(plan.binds, ["berth-0123abcd-scratch:/s", "berth-0123abcd-bare:/b"]);
        assert_eq!(plan.volumes[0].labels.get(labels::TASK_ARN).map(String::as_str), Some(TASK));
    }

    #[test]
    fn task_scope_is_per_task_and_shared_scope_is_by_name() {
        let volumes = vec![docker("cache", "task", None), docker("common", "shared", Some(true))];
        let mounts =
            vec![("cache", "/cache", false), ("common", "/common", false), ("cache", "/again", true)];
        let plan = plan(&request(volumes, mounts)).expect("plan");
        assert_eq!(
            plan.binds,
            ["berth-0123abcd-cache:/cache", "common:/common", "berth-0123abcd-cache:/again:ro"]
        );
        assert_eq!(plan.volumes.len(), 2, "a volume mounted twice is created once");
        let task = &plan.volumes[0];
        assert_eq!(task.options.get("type").map(String::as_str), Some("tmpfs"));
        assert_eq!(task.labels.get("team").map(String::as_str), Some("web"));
        assert!(task.labels.contains_key(labels::TASK_ARN));
        let shared = &plan.volumes[1];
        assert!(!shared.labels.contains_key(labels::TASK_ARN), "a shared volume outlives the task");
        assert!(!shared.must_exist);
    }

    #[test]
    fn a_shared_volume_without_autoprovision_must_exist() {
        let plan = plan(&request(vec![docker("common", "shared", None)], vec![("common", "/c", false)]))
            .expect("plan");
        assert!(plan.volumes[0].must_exist);
    }

    #[test]
    fn unknown_sources_and_missing_paths_are_refused() {
        let error = plan(&request(vec![], vec![("nope", "/x", false)])).expect_err("unknown volume");
        assert!(error.to_string().contains("\"nope\" is not a volume"), "{error}");
        let error = plan(&request(vec![volume("v")], vec![("v", "", false)])).expect_err("no path");
        assert!(error.to_string().contains("containerPath"), "{error}");
    }

    #[test]
    fn volume_names_stay_within_what_docker_accepts() {
        assert_eq!(task_volume_name("arn:aws:ecs:r:1:task/c/abc", "data_1"), "berth-abc-data_1");
        assert_eq!(task_volume_name("odd id", "v"), "berth-odd-id-v");
    }
}
