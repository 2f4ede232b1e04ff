//! Rules between containers.

use super::{accepts, client_error, ec2, first, sidecar};
use crate::model::{
    ContainerDefinition, ContainerDependency, FirelensConfiguration, HealthCheck, LogConfiguration,
    RegisterTaskDefinitionRequest, VolumeFrom,
};

fn depends(target: &str, condition: &str) -> Option<Vec<ContainerDependency>> {
    Some(vec![ContainerDependency { container_name: Some(target.into()), condition: Some(condition.into()) }])
}

fn with(extra: ContainerDefinition) -> RegisterTaskDefinitionRequest {
    let mut request = ec2();
    request.container_definitions.as_mut().expect("containers").push(extra);
    request
}

#[test]
fn container_names_are_unique() {
    let request = with(sidecar("web"));
    client_error(&request, &["'web'", "more than once"]);
}

#[test]
fn links_name_another_container() {
    let mut request = ec2();
    first(&mut request).links = Some(vec!["db:database".into()]);
    client_error(&request, &["container 'web'", "db:database"]);
}

#[test]
fn volumes_from_names_another_container() {
    let mut request = with(sidecar("data"));
    first(&mut request).volumes_from =
        Some(vec![VolumeFrom { source_container: Some("data".into()), read_only: None }]);
    accepts(&request);
    first(&mut request).volumes_from =
        Some(vec![VolumeFrom { source_container: Some("web".into()), read_only: None }]);
    client_error(&request, &["container 'web'", "volumesFrom[0]", "'web'"]);
    first(&mut request).volumes_from =
        Some(vec![VolumeFrom { source_container: Some("ghost".into()), read_only: None }]);
    client_error(&request, &["container 'web'", "ghost"]);
}

#[test]
fn depends_on_names_another_container() {
    let mut request = ec2();
    first(&mut request).depends_on = depends("db", "START");
    client_error(&request, &["container 'web'", "'db'"]);
    first(&mut request).depends_on = depends("web", "START");
    client_error(&request, &["container 'web'", "itself"]);
}

#[test]
fn depends_on_condition_is_an_enumeration() {
    let mut request = with(sidecar("init"));
    first(&mut request).depends_on = depends("init", "READY");
    client_error(&request, &["container 'web'", "READY", "init"]);
}

#[test]
fn healthy_needs_a_health_check() {
    let mut request = with(sidecar("proxy"));
    first(&mut request).depends_on = depends("proxy", "HEALTHY");
    client_error(&request, &["container 'web'", "'proxy'", "healthCheck"]);
    if let Some(list) = request.container_definitions.as_mut() {
        list[1].health_check =
            Some(HealthCheck { command: Some(vec!["CMD".into(), "true".into()]), ..Default::default() });
    }
    accepts(&request);
}

#[test]
fn complete_and_success_targets_are_not_essential() {
    let mut init = sidecar("init");
    init.essential = None;
    let mut request = with(init);
    for condition in ["COMPLETE", "SUCCESS"] {
        first(&mut request).depends_on = depends("init", condition);
        client_error(&request, &["container 'web'", "'init'", "essential"]);
    }
    if let Some(list) = request.container_definitions.as_mut() {
        list[1].essential = Some(false);
    }
    accepts(&request);
}

#[test]
fn dependency_cycles_are_rejected() {
    let mut a = sidecar("a");
    a.depends_on = depends("b", "START");
    let mut b = sidecar("b");
    b.depends_on = depends("a", "START");
    let mut request = with(a);
    request.container_definitions.as_mut().expect("containers").push(b);
    client_error(&request, &["cycle", "a -> b -> a"]);
}

#[test]
fn at_least_one_essential_container() {
    let mut request = ec2();
    first(&mut request).essential = Some(false);
    client_error(&request, &["essential"]);
}

#[test]
fn awsfirelens_needs_a_log_router() {
    let mut request = with(sidecar("router"));
    first(&mut request).log_configuration =
        Some(LogConfiguration { log_driver: Some("awsfirelens".into()), ..Default::default() });
    client_error(&request, &["container 'web'", "awsfirelens", "firelensConfiguration"]);
    if let Some(list) = request.container_definitions.as_mut() {
        list[1].firelens_configuration =
            Some(FirelensConfiguration { r#type: Some("fluentbit".into()), options: None });
    }
    accepts(&request);
}
