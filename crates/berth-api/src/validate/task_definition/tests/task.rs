//! Task-level rules.

use super::{accepts, client_error, ec2, fargate, first, rejects, sidecar};
use crate::ErrorCode;
use crate::model::{
    EphemeralStorage, InferenceAccelerator, KeyValuePair, ProxyConfiguration, ResourceRequirement,
    RuntimePlatform, Tag, TaskDefinitionPlacementConstraint, TrustedExecutionConfiguration,
};

#[test]
fn family_is_required() {
    let mut request = ec2();
    request.family = None;
    client_error(&request, &["Family is required"]);
}

#[test]
fn family_must_match_the_pattern() {
    let mut request = ec2();
    request.family = Some("web app".into());
    client_error(&request, &["Family", "web app"]);
    request.family = Some("a".repeat(256));
    client_error(&request, &["Family"]);
}

#[test]
fn at_least_one_container() {
    let mut request = ec2();
    request.container_definitions = Some(vec![]);
    client_error(&request, &["containerDefinitions"]);
    request.container_definitions = None;
    client_error(&request, &["containerDefinitions"]);
}

#[test]
fn at_most_ten_containers() {
    let mut request = ec2();
    let list = request.container_definitions.as_mut().expect("has containers");
    list.extend((1..=10).map(|i| sidecar(&format!("side{i}"))));
    client_error(&request, &["Too many containers", "11"]);
    request.container_definitions.as_mut().expect("has containers").pop();
    accepts(&request);
}

#[test]
fn request_is_limited_to_64_kib() {
    let mut request = ec2();
    first(&mut request).environment =
        Some(vec![KeyValuePair { name: Some("BIG".into()), value: Some("x".repeat(70_000)) }]);
    client_error(&request, &["64 KiB"]);
}

#[test]
fn network_mode_is_an_enumeration() {
    let mut request = ec2();
    request.network_mode = Some("nat".into());
    client_error(&request, &["networkMode", "'nat'"]);
}

#[test]
fn requires_compatibilities_values() {
    let mut request = ec2();
    request.requires_compatibilities = Some(vec!["EC2".into(), "LAMBDA".into()]);
    client_error(&request, &["requiresCompatibilities", "LAMBDA"]);
}

#[test]
fn pid_and_ipc_modes() {
    let mut request = ec2();
    request.pid_mode = Some("none".into());
    client_error(&request, &["pidMode", "'none'"]);
    request.pid_mode = Some("host".into());
    request.ipc_mode = Some("private".into());
    client_error(&request, &["ipcMode", "'private'"]);
    request.ipc_mode = Some("none".into());
    accepts(&request);
}

#[test]
fn task_cpu_must_parse_and_be_in_range() {
    let mut request = ec2();
    request.cpu = Some("lots".into());
    client_error(&request, &["Invalid 'cpu' setting", "lots"]);
    request.cpu = Some("64".into());
    client_error(&request, &["Invalid 'cpu' setting", "64", "128"]);
    request.cpu = Some("193 vCPU".into());
    client_error(&request, &["Invalid 'cpu' setting"]);
}

#[test]
fn task_memory_must_parse_and_be_positive() {
    let mut request = ec2();
    request.memory = Some("2 TB".into());
    client_error(&request, &["Invalid 'memory' setting", "2 TB"]);
    request.memory = Some("0".into());
    client_error(&request, &["Invalid 'memory' setting"]);
}

#[test]
fn placement_constraints_are_member_of_and_at_most_ten() {
    let mut request = ec2();
    let member_of = TaskDefinitionPlacementConstraint {
        r#type: Some("memberOf".into()),
        expression: Some("attribute:ecs.instance-type =~ t3.*".into()),
    };
    request.placement_constraints = Some(vec![member_of.clone(); 10]);
    accepts(&request);
    request.placement_constraints = Some(vec![member_of.clone(); 11]);
    client_error(&request, &["placementConstraints", "11"]);
    let mut distinct = member_of.clone();
    distinct.r#type = Some("distinctInstance".into());
    request.placement_constraints = Some(vec![distinct]);
    client_error(&request, &["placementConstraints[0]", "distinctInstance", "memberOf"]);
    let mut bare = member_of;
    bare.expression = None;
    request.placement_constraints = Some(vec![bare]);
    client_error(&request, &["placementConstraints[0]", "expression"]);
}

#[test]
fn proxy_configuration_names_a_container() {
    let mut request = ec2();
    request.proxy_configuration = Some(ProxyConfiguration {
        r#type: Some("APPMESH".into()),
        container_name: Some("envoy".into()),
        properties: None,
    });
    client_error(&request, &["proxyConfiguration.containerName", "envoy"]);
    if let Some(proxy) = request.proxy_configuration.as_mut() {
        proxy.container_name = Some("web".into());
        proxy.r#type = Some("ISTIO".into());
    }
    client_error(&request, &["proxyConfiguration.type", "ISTIO"]);
}

#[test]
fn tags_use_the_shared_rules() {
    let mut request = ec2();
    request.tags = Some(vec![Tag { key: Some("aws:owner".into()), value: Some("me".into()) }]);
    rejects(&request, ErrorCode::InvalidParameterException, &["aws:owner"]);
}

#[test]
fn ephemeral_storage_is_21_to_200_gib() {
    let mut request = fargate();
    request.ephemeral_storage = Some(EphemeralStorage { size_in_gi_b: Some(20) });
    client_error(&request, &["ephemeralStorage.sizeInGiB", "20"]);
    request.ephemeral_storage = Some(EphemeralStorage { size_in_gi_b: Some(200) });
    accepts(&request);
}

#[test]
fn runtime_platform_enumerations() {
    let mut request = ec2();
    request.runtime_platform = Some(RuntimePlatform {
        cpu_architecture: Some("RISCV".into()),
        operating_system_family: Some("LINUX".into()),
    });
    client_error(&request, &["cpuArchitecture", "RISCV"]);
}

#[test]
fn inference_accelerators_are_named_and_referenced() {
    let mut request = ec2();
    request.inference_accelerators = Some(vec![InferenceAccelerator {
        device_name: Some("device1".into()),
        device_type: Some("eia2.medium".into()),
    }]);
    client_error(&request, &["device1", "not referenced"]);
    first(&mut request).resource_requirements = Some(vec![ResourceRequirement {
        r#type: Some("InferenceAccelerator".into()),
        value: Some("device2".into()),
        sharing_strategy: None,
    }]);
    client_error(&request, &["container 'web'", "device2"]);
    if let Some(list) = first(&mut request).resource_requirements.as_mut() {
        list[0].value = Some("device1".into());
    }
    accepts(&request);
}

#[test]
fn trusted_execution_needs_a_policy_when_confidential() {
    let mut request = ec2();
    request.trusted_execution_configuration = Some(TrustedExecutionConfiguration {
        isolation_mode: Some("CONFIDENTIAL_SANDBOX".into()),
        attestation_policy: None,
    });
    client_error(&request, &["attestationPolicy", "CONFIDENTIAL_SANDBOX"]);
}
