//! Tests of task-definition validation: a valid request per scenario, then one broken thing per
//! rule, asserting the ECS error code and that the message names what is wrong.

mod containers;
mod linux;
mod platforms;
mod references;
mod resources;
mod task;
mod volumes;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{check_register, compatibilities};
use crate::ErrorCode;
use crate::model::{ContainerDefinition, RegisterTaskDefinitionRequest};

/// A request from its JSON wire form.
pub(super) fn from_json(value: Value) -> RegisterTaskDefinitionRequest {
    serde_json::from_value(value).expect("test request is valid JSON for the shape")
}

/// A plain EC2 bridge-mode web application with one container and no extras.
pub(super) fn ec2() -> RegisterTaskDefinitionRequest {
    from_json(json!({
        "family": "web",
        "containerDefinitions": [
            {"name": "web", "image": "nginx:1.27", "memory": 512, "cpu": 256,
             "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}]}
        ]
    }))
}

/// A valid Fargate definition.
pub(super) fn fargate() -> RegisterTaskDefinitionRequest {
    from_json(json!({
        "family": "api",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1 GB",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {"name": "api", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v3",
             "portMappings": [{"containerPort": 8080}],
             "logConfiguration": {"logDriver": "awslogs", "options": {
                 "awslogs-group": "/ecs/api", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "api"}}}
        ]
    }))
}

/// The first container of a request, for editing.
pub(super) fn first(request: &mut RegisterTaskDefinitionRequest) -> &mut ContainerDefinition {
    request
        .container_definitions
        .as_mut()
        .and_then(|list| list.first_mut())
        .expect("test request has a container")
}

/// A second, minimal container named `name`.
pub(super) fn sidecar(name: &str) -> ContainerDefinition {
    ContainerDefinition {
        name: Some(name.to_owned()),
        image: Some("busybox".to_owned()),
        memory: Some(64),
        essential: Some(false),
        ..Default::default()
    }
}

/// Asserts the request is rejected with `code` and a message containing every needle.
pub(super) fn rejects(request: &RegisterTaskDefinitionRequest, code: ErrorCode, needles: &[&str]) {
    let error = check_register(request).expect_err("the request should be rejected");
    assert_eq!(error.code, code, "unexpected code for: {}", error.message);
    for needle in needles {
        assert!(error.message.contains(needle), "message {:?} should mention {needle:?}", error.message);
    }
}

/// Asserts a `ClientException` naming every needle.
pub(super) fn client_error(request: &RegisterTaskDefinitionRequest, needles: &[&str]) {
    rejects(request, ErrorCode::ClientException, needles);
}

/// Asserts the request passes.
pub(super) fn accepts(request: &RegisterTaskDefinitionRequest) {
    if let Err(error) = check_register(request) {
        panic!("valid request rejected: {error}");
    }
}

#[test]
fn ec2_bridge_web_app_passes() {
    let request = from_json(json!({
        "family": "shop-web",
        "taskRoleArn": "arn:aws:iam::123456789012:role/shop",
        "volumes": [{"name": "static", "host": {"sourcePath": "/srv/static"}}],
        "containerDefinitions": [
            {"name": "nginx", "image": "public.ecr.aws/nginx/nginx:1.27", "memory": 256, "memoryReservation": 128,
             "cpu": 128, "links": ["app:backend"],
             "portMappings": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 443, "hostPort": 443}],
             "mountPoints": [{"sourceVolume": "static", "containerPath": "/usr/share/nginx/html", "readOnly": true}],
             "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}}},
            {"name": "app", "image": "registry.example.com:5000/shop/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
             "memoryReservation": 512, "essential": true,
             "environment": [{"name": "RAILS_ENV", "value": "production"}],
             "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
             "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 8192}]}
        ]
    }));
    accepts(&request);
    assert_eq!(compatibilities(&request), ["EXTERNAL", "EC2"]);
}

#[test]
fn fargate_awsvpc_definition_passes() {
    let request = fargate();
    accepts(&request);
    assert_eq!(compatibilities(&request), ["EC2", "MANAGED_INSTANCES", "FARGATE"]);
}

#[test]
fn multi_container_with_healthy_dependency_passes() {
    let request = from_json(json!({
        "family": "app-with-proxy",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["EC2", "FARGATE"],
        "cpu": "1 vCPU",
        "memory": "2048",
        "containerDefinitions": [
            {"name": "migrate", "image": "app:v2", "essential": false, "command": ["rake", "db:migrate"],
             "memory": 256},
            {"name": "envoy", "image": "envoyproxy/envoy:v1.30", "memory": 256, "essential": true,
             "healthCheck": {"command": ["CMD-SHELL", "curl -s http://localhost:9901/ready"],
                             "interval": 5, "timeout": 2, "retries": 3, "startPeriod": 10}},
            {"name": "app", "image": "app:v2", "memory": 1024, "cpu": 512,
             "portMappings": [{"containerPort": 3000, "hostPort": 3000, "name": "http", "appProtocol": "http"}],
             "dependsOn": [{"containerName": "envoy", "condition": "HEALTHY"},
                           {"containerName": "migrate", "condition": "SUCCESS"}]}
        ],
        "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy",
                               "properties": [{"name": "AppPorts", "value": "3000"}]}
    }));
    accepts(&request);
    assert_eq!(compatibilities(&request), ["EC2", "MANAGED_INSTANCES", "FARGATE"]);
}

#[test]
fn compatibilities_reflect_what_the_definition_uses() {
    let mut request = fargate();
    request.cpu = Some("300".into());
    assert_eq!(compatibilities(&request), ["EC2", "MANAGED_INSTANCES"]);
    request.network_mode = Some("host".into());
    first(&mut request).port_mappings = None;
    assert_eq!(compatibilities(&request), ["EXTERNAL", "EC2", "MANAGED_INSTANCES"]);
    assert_eq!(compatibilities(&RegisterTaskDefinitionRequest::default()), ["EXTERNAL", "EC2"]);
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["awsvpc", "FARGATE", "HEALTHY", "web", "app", "0.5 vCPU", "1 GB", "CMD"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "family",
    "networkMode",
    "cpu",
    "memory",
    "requiresCompatibilities",
    "volumes",
    "pidMode",
    "ipcMode",
    "placementConstraints",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "executionRoleArn",
];
const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "cpu",
    "memory",
    "memoryReservation",
    "links",
    "portMappings",
    "essential",
    "dependsOn",
    "mountPoints",
    "volumesFrom",
    "healthCheck",
    "ulimits",
    "linuxParameters",
    "logConfiguration",
    "resourceRequirements",
    "environment",
    "secrets",
    "environmentFiles",
    "systemControls",
    "restartPolicy",
    "hostname",
    "startTimeout",
    "stopTimeout",
];

proptest! {
    #[test]
    fn check_register_never_panics(
        top in prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6),
        inner in prop::collection::vec(
            prop::collection::vec((prop::sample::select(CONTAINER_FIELDS), json_value()), 0..6), 0..4),
    ) {
        let mut object = serde_json::Map::new();
        for (key, value) in top {
            object.insert(key.to_owned(), value);
        }
        let containers: Vec<Value> = inner
            .into_iter()
            .map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .collect();
        object.insert("containerDefinitions".to_owned(), Value::Array(containers));
        // Values of the wrong JSON type fail to deserialize, as they would at the wire; the rest
        // must be checked without panicking.
        if let Ok(request) = serde_json::from_value::<RegisterTaskDefinitionRequest>(Value::Object(object)) {
            let _ = check_register(&request);
            let _ = compatibilities(&request);
        }
    }

    #[test]
    fn task_size_parsing_never_panics(text in "\\PC{0,24}") {
        let _ = super::parse_task_cpu(&text);
        let _ = super::parse_task_memory(&text);
    }

    #[test]
    fn task_size_forms_agree(units in 1u32..=192) {
        prop_assert_eq!(super::parse_task_cpu(&format!("{units} vCPU")).ok(), Some(units * 1024));
        prop_assert_eq!(super::parse_task_cpu(&(units * 1024).to_string()).ok(), Some(units * 1024));
        prop_assert_eq!(super::parse_task_memory(&format!("{units}GB")).ok(), Some(units * 1024));
    }
}

/// Replaces some leaves of `value` with other values of the same JSON type, drawn from the pools.
fn mutate(value: &mut Value, picks: &[u8], strings: &[String], ints: &[i32], at: &mut usize) {
    let mut pick = || {
        *at += 1;
        picks.get(*at % picks.len().max(1)).copied().unwrap_or(0)
    };
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| mutate(item, picks, strings, ints, at)),
        Value::Object(map) => map.values_mut().for_each(|item| mutate(item, picks, strings, ints, at)),
        Value::String(text) => {
            let choice = pick();
            if choice % 3 == 0 && !strings.is_empty() {
                *text = strings[usize::from(choice) % strings.len()].clone();
            }
        }
        Value::Number(number) => {
            let choice = pick();
            if choice % 3 == 0 && !ints.is_empty() {
                *number = ints[usize::from(choice) % ints.len()].into();
            }
        }
        Value::Bool(flag) => *flag ^= pick() % 2 == 0,
        Value::Null => {}
    }
}

proptest! {
    #[test]
    fn mutated_realistic_definitions_never_panic(
        which in 0usize..3,
        picks in prop::collection::vec(any::<u8>(), 1..64),
        strings in prop::collection::vec(prop_oneof![
            "\\PC{0,10}",
            Just("awsvpc".to_owned()), Just("host".to_owned()), Just("none".to_owned()),
            Just("app".to_owned()), Just("envoy".to_owned()), Just("migrate".to_owned()),
            Just("HEALTHY".to_owned()), Just("COMPLETE".to_owned()), Just("0.25 vCPU".to_owned()),
            Just("4 GB".to_owned()), Just("CMD".to_owned()), Just("ALL".to_owned()),
        ], 1..8),
        ints in prop::collection::vec(prop_oneof![any::<i32>(), -2i32..70000], 1..8),
    ) {
        let base = [ec2(), fargate(), multi_container()][which].clone();
        let mut value = serde_json::to_value(&base).expect("requests serialize");
        mutate(&mut value, &picks, &strings, &ints, &mut 0);
        let request: RegisterTaskDefinitionRequest =
            serde_json::from_value(value).expect("type-preserving mutation still deserializes");
        let _ = check_register(&request);
        let _ = compatibilities(&request);
    }
}

fn multi_container() -> RegisterTaskDefinitionRequest {
    let mut request = fargate();
    request.memory = Some("4096".into());
    let mut envoy = sidecar("envoy");
    envoy.essential = Some(true);
    envoy.health_check = Some(crate::model::HealthCheck {
        command: Some(vec!["CMD".into(), "true".into()]),
        ..Default::default()
    });
    let mut app = sidecar("app");
    app.depends_on = Some(vec![crate::model::ContainerDependency {
        container_name: Some("envoy".into()),
        condition: Some("HEALTHY".into()),
    }]);
    app.volumes_from = Some(vec![crate::model::VolumeFrom {
        source_container: Some("envoy".into()),
        read_only: Some(true),
    }]);
    if let Some(list) = request.container_definitions.as_mut() {
        list.extend([envoy, app]);
    }
    request
}

#[test]
fn the_multi_container_fixture_is_valid() {
    accepts(&multi_container());
}
