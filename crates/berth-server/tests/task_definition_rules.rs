//! RegisterTaskDefinition validation through the AWS SDK: one refused request for every rule the
//! validator in `berth-api/src/validate/task_definition/` implements, grouped by its modules
//! (task, containers, Linux settings, references, resources, volumes, capacities, size). Each
//! case is a valid request with exactly one defect, built with the SDK's typed builders (or, for
//! the few inputs the SDK cannot express, sent over the wire as the SDK would); it must be refused
//! with the exact ECS error code, with a message naming the offending member, and without writing
//! anything to the store. The bases the cases start from are proved valid, and a few tests pin
//! definitions ECS accepts that the validator must not refuse.

// Elastic Inference is deprecated in the SDK, but the API still takes `inferenceAccelerators` and
// the validator still checks them.
#![allow(deprecated)]

mod common;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder as Register;
use aws_sdk_ecs::types::builders::ContainerDefinitionBuilder;
use aws_sdk_ecs::types::{
    ApplicationProtocol, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency,
    ContainerRestartPolicy, CpuArchitecture, Device, DeviceCgroupPermission, DockerVolumeConfiguration,
    EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption, EfsVolumeConfiguration,
    EnvironmentFile, EnvironmentFileType, EphemeralStorage, FSxWindowsFileServerAuthorizationConfig,
    FSxWindowsFileServerVolumeConfiguration, FirelensConfiguration, FirelensConfigurationType, HealthCheck,
    HostEntry, HostVolumeProperties, InferenceAccelerator, IpcMode, KernelCapabilities, KeyValuePair,
    LinuxParameters, LogConfiguration, LogDriver, MountPoint, NetworkMode, NvidiaMpsAllocation, OsFamily,
    PidMode, PortMapping, ProxyConfiguration, ProxyConfigurationType, RepositoryCredentials,
    ResourceRequirement, ResourceType, RuntimePlatform, S3FilesVolumeConfiguration, Scope, Secret,
    SharingStrategy, SystemControl, Tag, TaskDefinitionPlacementConstraint,
    TaskDefinitionPlacementConstraintType, Tmpfs, TransportProtocol, Ulimit, UlimitName, VersionConsistency,
    Volume, VolumeFrom,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IMAGE: &str = "public.ecr.aws/docker/library/nginx:1.27";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole";
const CLIENT: &str = "ClientException";
const PARAMETER: &str = "InvalidParameterException";

// ---------------------------------------------------------------------------------------------
// Building requests.
// ---------------------------------------------------------------------------------------------

/// Unwraps an SDK shape builder whose required members were all given.
fn ok<T, E: std::fmt::Debug>(built: Result<T, E>) -> T {
    built.expect("every required member of the shape is given")
}

/// A valid container: a name, an image and a memory limit.
fn c(name: &str) -> ContainerDefinitionBuilder {
    ContainerDefinition::builder().name(name).image(IMAGE).memory(128)
}

fn awslogs(options: &[(&str, &str)]) -> LogConfiguration {
    let mut log = LogConfiguration::builder().log_driver(LogDriver::Awslogs);
    for (key, value) in options {
        log = log.options(*key, *value);
    }
    ok(log.build())
}

/// The three awslogs options Fargate wants.
fn fargate_logs() -> LogConfiguration {
    awslogs(&[
        ("awslogs-group", "/ecs/rules"),
        ("awslogs-region", "us-east-1"),
        ("awslogs-stream-prefix", "app"),
    ])
}

fn health(command: &[&str]) -> aws_sdk_ecs::types::builders::HealthCheckBuilder {
    HealthCheck::builder().set_command(Some(command.iter().map(|s| s.to_string()).collect()))
}

fn port(container_port: i32) -> aws_sdk_ecs::types::builders::PortMappingBuilder {
    PortMapping::builder().container_port(container_port)
}

fn depends(target: &str, condition: ContainerCondition) -> ContainerDependency {
    ok(ContainerDependency::builder().container_name(target).condition(condition).build())
}

fn linux(parameters: aws_sdk_ecs::types::builders::LinuxParametersBuilder) -> LinuxParameters {
    parameters.build()
}

fn requirement(kind: ResourceType, value: &str) -> ResourceRequirement {
    ok(ResourceRequirement::builder().r#type(kind).value(value).build())
}

fn mps(memory: i32) -> SharingStrategy {
    SharingStrategy::NvidiaMps(ok(NvidiaMpsAllocation::builder().memory(memory).build()))
}

fn mount(volume: &str, path: &str) -> MountPoint {
    MountPoint::builder().source_volume(volume).container_path(path).build()
}

fn efs(id: &str) -> aws_sdk_ecs::types::builders::EfsVolumeConfigurationBuilder {
    EfsVolumeConfiguration::builder().file_system_id(id)
}

fn fsx(id: &str, root: &str, credentials: &str, domain: &str) -> Volume {
    let auth = ok(FSxWindowsFileServerAuthorizationConfig::builder()
        .credentials_parameter(credentials)
        .domain(domain)
        .build());
    let config = ok(FSxWindowsFileServerVolumeConfiguration::builder()
        .file_system_id(id)
        .root_directory(root)
        .authorization_config(auth)
        .build());
    Volume::builder().name("share").fsx_windows_file_server_volume_configuration(config).build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Request builders around one client.
struct Make<'a>(&'a aws_sdk_ecs::Client);

impl Make<'_> {
    /// A family and nothing else.
    fn bare(&self) -> Register {
        self.0.register_task_definition().family("rules")
    }

    /// A valid EC2 (bridge) definition with `container` as its only container.
    fn one(&self, container: ContainerDefinitionBuilder) -> Register {
        self.bare().container_definitions(container.build())
    }

    /// The same in `mode`.
    fn mode(&self, mode: NetworkMode, container: ContainerDefinitionBuilder) -> Register {
        self.one(container).network_mode(mode)
    }

    /// A valid Fargate definition: awsvpc, 256 CPU units and 512 MiB, an execution role.
    fn fargate(&self, container: ContainerDefinitionBuilder) -> Register {
        self.one(container)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .execution_role_arn(EXECUTION_ROLE)
    }

    /// A valid definition for external instances (ECS Anywhere).
    fn external(&self, container: ContainerDefinitionBuilder) -> Register {
        self.one(container).requires_compatibilities(Compatibility::External)
    }

    /// A valid definition for Managed Instances.
    fn managed(&self, container: ContainerDefinitionBuilder) -> Register {
        self.mode(NetworkMode::Awsvpc, container)
            .requires_compatibilities(Compatibility::from("MANAGED_INSTANCES"))
    }
}

/// The wire form of the EC2 base, for the inputs the SDK cannot express.
fn wire_base() -> Value {
    json!({ "family": "rules", "containerDefinitions": [{ "name": "app", "image": IMAGE, "memory": 128 }] })
}

/// The wire base with `patch` merged into its top level, and `container` into its container.
fn wire_with(patch: Value, container: Value) -> Value {
    let mut body = wire_base();
    for (key, value) in patch.as_object().into_iter().flatten() {
        body[key] = value.clone();
    }
    for (key, value) in container.as_object().into_iter().flatten() {
        body["containerDefinitions"][0][key] = value.clone();
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Running cases.
// ---------------------------------------------------------------------------------------------

enum Request {
    Sdk(Box<Register>),
    Wire(Value),
}

/// One defect: the request, the error code ECS answers and a word the message must contain (the
/// member at fault), so that a case cannot pass by tripping over some other rule.
struct Case {
    name: String,
    code: &'static str,
    hint: &'static str,
    request: Request,
}

fn refuse(name: impl Into<String>, hint: &'static str, call: Register) -> Case {
    Case { name: name.into(), code: CLIENT, hint, request: Request::Sdk(Box::new(call)) }
}

fn refuse_tag(name: impl Into<String>, hint: &'static str, call: Register) -> Case {
    Case { name: name.into(), code: PARAMETER, hint, request: Request::Sdk(Box::new(call)) }
}

fn refuse_wire(name: impl Into<String>, hint: &'static str, body: Value) -> Case {
    Case { name: name.into(), code: CLIENT, hint, request: Request::Wire(body) }
}

/// Sends `body` as RegisterTaskDefinition over plain HTTP, returning the error code and message
/// of a refusal (None when it was accepted).
async fn wire_register(endpoint: &str, body: &Value) -> Option<(String, String)> {
    let authority = endpoint.strip_prefix("http://").expect("plain http endpoint");
    let payload = serde_json::to_vec(body).expect("JSON serializes");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let mut stream = TcpStream::connect(authority).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.write_all(&payload).await.expect("send body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read response");
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
    if response.starts_with(b"HTTP/1.1 200") {
        return None;
    }
    // Error bodies are small and sent with a Content-Length.
    let answer: Value = serde_json::from_slice(&response[end + 4..]).expect("error body is JSON");
    let code =
        answer["__type"].as_str().unwrap_or("<no __type>").rsplit('#').next().unwrap_or_default().to_string();
    Some((code, answer["message"].as_str().unwrap_or_default().to_string()))
}

/// Sends every case and checks, like `assert_refused!`, the code and that the store revision did
/// not move, plus the message hint; collects every mismatch before failing, so one run shows
/// them all.
async fn check_all(server: &common::TestServer, cases: Vec<Case>) {
    assert!(!cases.is_empty());
    let mut wrong = Vec::new();
    for case in cases {
        let before = server.revision().await;
        let refusal = match case.request {
            Request::Sdk(call) => match call.send().await {
                Ok(_) => None,
                Err(err) => Some((
                    err.code().unwrap_or("<no code>").to_string(),
                    err.message().unwrap_or_default().to_string(),
                )),
            },
            Request::Wire(body) => wire_register(&server.endpoint, &body).await,
        };
        let after = server.revision().await;
        match refusal {
            None => wrong.push(format!("{}: accepted", case.name)),
            Some((code, message)) => {
                if code != case.code {
                    wrong.push(format!("{}: {code} instead of {} ({message})", case.name, case.code));
                } else if !message.to_lowercase().contains(&case.hint.to_lowercase()) {
                    wrong.push(format!(
                        "{}: the message does not mention '{}': {message}",
                        case.name, case.hint
                    ));
                }
            }
        }
        if after != before {
            wrong.push(format!("{}: the store changed ({before} -> {after})", case.name));
        }
    }
    assert!(wrong.is_empty(), "{} cases went wrong:\n{}", wrong.len(), wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The bases are valid, so each case has exactly one defect.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_bases_of_the_cases_are_valid() {
    let server = common::start().await;
    let make = Make(&server.client);
    let bases = [
        ("EC2", make.one(c("app"))),
        ("Fargate", make.fargate(c("app").log_configuration(fargate_logs()))),
        ("external", make.external(c("app"))),
        (
            "Managed Instances",
            make.managed(
                c("app")
                    .log_configuration(awslogs(&[("awslogs-group", "g"), ("awslogs-region", "us-east-1")])),
            ),
        ),
    ];
    for (name, call) in bases {
        if let Err(err) = call.send().await {
            panic!("the {name} base is refused: {:?} {:?}", err.code(), err.message());
        }
    }
    assert!(wire_register(&server.endpoint, &wire_base()).await.is_none(), "the wire base is refused");
}

// ---------------------------------------------------------------------------------------------
// task.rs: the task as a whole.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn task_level_rules_refuse_bad_definitions() {
    let server = common::start().await;
    let ecs = &server.client;
    let make = Make(ecs);
    let eleven = (0..11).fold(make.bare(), |call, i| call.container_definitions(c(&format!("c{i}")).build()));
    let eleven_constraints = (0..11).fold(make.one(c("app")), |call, i| {
        call.placement_constraints(
            TaskDefinitionPlacementConstraint::builder()
                .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                .expression(format!("attribute:rack == r{i}"))
                .build(),
        )
    });
    let accelerator = |name: &str, kind: &str| {
        ok(InferenceAccelerator::builder().device_name(name).device_type(kind).build())
    };
    let uses_accelerator =
        c("app").resource_requirements(requirement(ResourceType::InferenceAccelerator, "device_1"));
    let proxy = |name: &str| {
        ProxyConfiguration::builder().r#type(ProxyConfigurationType::Appmesh).container_name(name)
    };
    let fifty_one = (0..51).fold(make.one(c("app")), |call, i| call.tags(tag(&format!("k{i}"), "v")));
    let cases = vec![
        refuse(
            "family missing",
            "family",
            ecs.register_task_definition().container_definitions(c("app").build()),
        ),
        refuse("family empty", "family", make.one(c("app")).family("")),
        refuse("family with a space", "family", make.one(c("app")).family("web app")),
        refuse("family with a dot", "family", make.one(c("app")).family("web.app")),
        refuse("family of 256 characters", "family", make.one(c("app")).family("f".repeat(256))),
        refuse("no containers", "container", make.bare()),
        refuse("eleven containers", "container", eleven),
        refuse("networkMode nat", "networkMode", make.mode(NetworkMode::from("nat"), c("app"))),
        refuse("networkMode in capitals", "networkMode", make.mode(NetworkMode::from("BRIDGE"), c("app"))),
        refuse(
            "requiresCompatibilities LAMBDA",
            "requiresCompatibilities",
            make.one(c("app")).requires_compatibilities(Compatibility::from("LAMBDA")),
        ),
        refuse("pidMode container", "pidMode", make.one(c("app")).pid_mode(PidMode::from("container"))),
        refuse("ipcMode shareable", "ipcMode", make.one(c("app")).ipc_mode(IpcMode::from("shareable"))),
        refuse(
            "cpuArchitecture RISCV64",
            "cpuArchitecture",
            make.one(c("app")).runtime_platform(
                RuntimePlatform::builder().cpu_architecture(CpuArchitecture::from("RISCV64")).build(),
            ),
        ),
        refuse(
            "operatingSystemFamily MACOS",
            "operatingSystemFamily",
            make.one(c("app")).runtime_platform(
                RuntimePlatform::builder().operating_system_family(OsFamily::from("MACOS")).build(),
            ),
        ),
        refuse("task cpu in words", "cpu", make.one(c("app")).cpu("one vCPU")),
        refuse("task cpu not whole units", "cpu", make.one(c("app")).cpu("0.1 vCPU")),
        refuse("task cpu below 128 units", "cpu", make.one(c("app")).cpu("64")),
        refuse("task cpu above 192 vCPU", "cpu", make.one(c("app")).cpu("200000")),
        refuse("task memory in words", "memory", make.one(c("app")).memory("lots")),
        refuse("task memory not whole MiB", "memory", make.one(c("app")).memory("0.0001 GB")),
        refuse("task memory 0", "memory", make.one(c("app")).memory("0")),
        refuse("eleven placement constraints", "placementConstraints", eleven_constraints),
        refuse(
            "placement constraint distinctInstance",
            "memberOf",
            make.one(c("app")).placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::from("distinctInstance"))
                    .expression("attribute:a == b")
                    .build(),
            ),
        ),
        refuse(
            "memberOf without expression",
            "expression",
            make.one(c("app")).placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .build(),
            ),
        ),
        refuse(
            "accelerator without deviceName",
            "deviceName",
            make.one(c("app")).inference_accelerators(accelerator("", "eia2.medium")),
        ),
        refuse(
            "accelerator without deviceType",
            "deviceType",
            make.one(uses_accelerator.clone()).inference_accelerators(accelerator("device_1", "")),
        ),
        refuse(
            "accelerator named twice",
            "more than once",
            make.one(uses_accelerator)
                .inference_accelerators(accelerator("device_1", "eia2.medium"))
                .inference_accelerators(accelerator("device_1", "eia2.large")),
        ),
        refuse(
            "ephemeral storage 20 GiB",
            "ephemeralStorage",
            make.one(c("app")).ephemeral_storage(EphemeralStorage::builder().size_in_gib(20).build()),
        ),
        refuse(
            "ephemeral storage 201 GiB",
            "ephemeralStorage",
            make.one(c("app")).ephemeral_storage(EphemeralStorage::builder().size_in_gib(201).build()),
        ),
        refuse(
            "proxy type ISTIO",
            "proxyConfiguration.type",
            make.one(c("app"))
                .proxy_configuration(ok(proxy("app").r#type(ProxyConfigurationType::from("ISTIO")).build())),
        ),
        refuse(
            "proxy without containerName",
            "containerName",
            make.one(c("app")).proxy_configuration(ok(proxy("").build())),
        ),
        refuse(
            "proxy naming a missing container",
            "envoy",
            make.one(c("app")).proxy_configuration(ok(proxy("envoy").build())),
        ),
        refuse(
            "proxy property without name",
            "properties",
            make.one(c("app")).proxy_configuration(ok(proxy("app")
                .properties(KeyValuePair::builder().value("1337").build())
                .build())),
        ),
        refuse_tag("tag key with aws: prefix", "aws:", make.one(c("app")).tags(tag("aws:team", "web"))),
        refuse_tag("tag key with AWS: prefix", "aws:", make.one(c("app")).tags(tag("AWS:team", "web"))),
        refuse_tag("tag value with aws: prefix", "aws:", make.one(c("app")).tags(tag("team", "aws:web"))),
        refuse_tag("51 tags", "50", fifty_one),
        refuse_tag(
            "tag key twice",
            "more than once",
            make.one(c("app")).tags(tag("team", "a")).tags(tag("team", "b")),
        ),
        refuse_tag("tag key of 129 characters", "key", make.one(c("app")).tags(tag(&"k".repeat(129), "v"))),
        refuse_tag("empty tag key", "key", make.one(c("app")).tags(tag("", "v"))),
        refuse_tag(
            "tag value of 257 characters",
            "value",
            make.one(c("app")).tags(tag("k", &"v".repeat(257))),
        ),
        refuse_tag("tag key with a forbidden character", "key", make.one(c("app")).tags(tag("team!", "v"))),
        // The SDK sends sizeInGiB 0 for a storage without a size, and has no trusted execution.
        refuse_wire(
            "ephemeralStorage without sizeInGiB",
            "sizeInGiB",
            wire_with(json!({ "ephemeralStorage": {} }), json!({})),
        ),
        refuse_wire(
            "isolationMode PRIVATE",
            "isolationMode",
            wire_with(json!({ "trustedExecutionConfiguration": { "isolationMode": "PRIVATE" } }), json!({})),
        ),
        refuse_wire(
            "trusted execution without isolationMode",
            "isolationMode",
            wire_with(json!({ "trustedExecutionConfiguration": {} }), json!({})),
        ),
        refuse_wire(
            "confidential sandbox without attestationPolicy",
            "attestationPolicy",
            wire_with(
                json!({ "trustedExecutionConfiguration": { "isolationMode": "CONFIDENTIAL_SANDBOX" } }),
                json!({}),
            ),
        ),
    ];
    check_all(&server, cases).await;
}

// ---------------------------------------------------------------------------------------------
// containers.rs: one container's own members.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn container_rules_refuse_bad_containers() {
    let server = common::start().await;
    let make = Make(&server.client);
    let bridge = |container: ContainerDefinitionBuilder| make.one(container);
    let awsvpc = |container: ContainerDefinitionBuilder| make.mode(NetworkMode::Awsvpc, container);
    let host = |container: ContainerDefinitionBuilder| make.mode(NetworkMode::Host, container);
    let mapped =
        |mapping: aws_sdk_ecs::types::builders::PortMappingBuilder| c("app").port_mappings(mapping.build());
    let range = |text: &str| PortMapping::builder().container_port_range(text);
    let env_file = |kind: EnvironmentFileType, value: &str| {
        ok(EnvironmentFile::builder().r#type(kind).value(value).build())
    };
    let s3_file = |value: &str| env_file(EnvironmentFileType::S3, value);
    let secret = |name: &str, from: &str| ok(Secret::builder().name(name).value_from(from).build());
    let many_ranges = (0..101).fold(c("app"), |container, i| {
        container.port_mappings(range(&format!("{}-{}", 10_000 + 2 * i, 10_001 + 2 * i)).build())
    });
    let eleven_files = (0..11).fold(c("app"), |container, i| {
        container.environment_files(s3_file(&format!("arn:aws:s3:::cfg/{i}.env")))
    });
    let cases = vec![
        refuse(
            "container without a name",
            "name",
            make.bare()
                .container_definitions(ContainerDefinition::builder().image(IMAGE).memory(128).build()),
        ),
        refuse("container name with a space", "name", bridge(c("web app"))),
        refuse("container name with a dot", "name", bridge(c("web.app"))),
        refuse("container name of 256 characters", "name", bridge(c(&"n".repeat(256)))),
        refuse(
            "no image",
            "image",
            make.bare().container_definitions(ContainerDefinition::builder().name("app").memory(128).build()),
        ),
        refuse("blank image", "image", bridge(c("app").image("   "))),
        refuse("image with a space", "image", bridge(c("app").image("nginx latest"))),
        refuse("image with a dollar sign", "image", bridge(c("app").image("nginx$1"))),
        refuse("image of 256 characters", "image", bridge(c("app").image("i".repeat(256)))),
        refuse("image digest too short", "digest", bridge(c("app").image("nginx@sha256:abc123"))),
        refuse(
            "image digest not sha256",
            "digest",
            bridge(c("app").image(format!("nginx@md5:{}", "a".repeat(64)))),
        ),
        refuse(
            "links in awsvpc",
            "links",
            make.one(c("db"))
                .container_definitions(c("app").links("db").build())
                .network_mode(NetworkMode::Awsvpc),
        ),
        refuse(
            "link with a bad alias",
            "link",
            make.one(c("db")).container_definitions(c("app").links("db:my alias").build()),
        ),
        refuse("hostname in awsvpc", "hostname", awsvpc(c("app").hostname("web"))),
        refuse(
            "extraHosts in awsvpc",
            "extraHosts",
            awsvpc(
                c("app").extra_hosts(ok(HostEntry::builder().hostname("db").ip_address("10.0.0.5").build())),
            ),
        ),
        refuse(
            "extraHosts without ipAddress",
            "extraHosts",
            bridge(c("app").extra_hosts(ok(HostEntry::builder().hostname("db").ip_address("").build()))),
        ),
        refuse(
            "portMappings with networkMode none",
            "portMappings",
            make.mode(NetworkMode::None, mapped(port(80))),
        ),
        refuse(
            "protocol sctp",
            "protocol",
            bridge(mapped(port(80).protocol(TransportProtocol::from("sctp")))),
        ),
        refuse(
            "appProtocol websocket",
            "appProtocol",
            bridge(mapped(port(80).app_protocol(ApplicationProtocol::from("websocket")))),
        ),
        refuse("port name in capitals", "name", bridge(mapped(port(80).name("Web")))),
        refuse("port name starting with a hyphen", "name", bridge(mapped(port(80).name("-web")))),
        refuse("port name of 65 characters", "name", bridge(mapped(port(80).name("p".repeat(65))))),
        refuse(
            "containerPortRange in host mode",
            "containerPortRange",
            host(c("app").port_mappings(range("8000-8010").build())),
        ),
        refuse(
            "containerPortRange with containerPort",
            "containerPortRange",
            bridge(mapped(range("8000-8010").container_port(8000))),
        ),
        refuse(
            "containerPortRange with hostPort",
            "containerPortRange",
            bridge(mapped(range("8000-8010").host_port(8000))),
        ),
        refuse("containerPortRange backwards", "containerPortRange", bridge(mapped(range("9000-8000")))),
        refuse("containerPortRange from 0", "containerPortRange", bridge(mapped(range("0-100")))),
        refuse("containerPortRange not numbers", "containerPortRange", bridge(mapped(range("http-https")))),
        refuse("101 containerPortRange mappings", "containerPortRange", bridge(many_ranges)),
        refuse("containerPort 0", "containerPort", bridge(mapped(port(0)))),
        refuse("containerPort 65536", "containerPort", bridge(mapped(port(65536)))),
        refuse(
            "port mapping without containerPort",
            "containerPort",
            bridge(mapped(PortMapping::builder().host_port(8080))),
        ),
        refuse("hostPort 65536", "hostPort", bridge(mapped(port(80).host_port(65536)))),
        refuse("hostPort negative", "hostPort", bridge(mapped(port(80).host_port(-1)))),
        refuse(
            "hostPort differs from containerPort in awsvpc",
            "hostPort",
            awsvpc(mapped(port(80).host_port(8080))),
        ),
        refuse(
            "hostPort differs from containerPort in host mode",
            "hostPort",
            host(mapped(port(80).host_port(8080))),
        ),
        refuse(
            "containerPort mapped twice over tcp",
            "containerPort",
            bridge(
                c("app")
                    .port_mappings(port(80).host_port(8080).build())
                    .port_mappings(port(80).host_port(8081).build()),
            ),
        ),
        refuse(
            "environment variable without a name",
            "environment",
            bridge(c("app").environment(KeyValuePair::builder().value("x").build())),
        ),
        refuse(
            "environment variable with an empty name",
            "environment",
            bridge(c("app").environment(KeyValuePair::builder().name("").value("x").build())),
        ),
        refuse("eleven environment files", "environmentFiles", bridge(eleven_files)),
        refuse(
            "environment file of type ssm",
            "environmentFiles",
            bridge(
                c("app")
                    .environment_files(env_file(EnvironmentFileType::from("ssm"), "arn:aws:s3:::b/a.env")),
            ),
        ),
        refuse(
            "environment file not .env",
            "environmentFiles",
            bridge(c("app").environment_files(s3_file("arn:aws:s3:::b/app.properties"))),
        ),
        refuse(
            "environment file without value",
            "environmentFiles",
            bridge(c("app").environment_files(s3_file(""))),
        ),
        refuse("secret without valueFrom", "secrets", bridge(c("app").secrets(secret("DB_PASSWORD", "")))),
        refuse(
            "secret without name",
            "secrets",
            bridge(c("app").secrets(secret("", "arn:aws:ssm:us-east-1:123456789012:parameter/p"))),
        ),
        refuse(
            "firelens type vector",
            "firelensConfiguration",
            bridge(c("app").firelens_configuration(ok(
                FirelensConfiguration::builder().r#type(FirelensConfigurationType::from("vector")).build(),
            ))),
        ),
        refuse(
            "log driver loki",
            "logDriver",
            bridge(c("app").log_configuration(ok(
                LogConfiguration::builder().log_driver(LogDriver::from("loki")).build(),
            ))),
        ),
        refuse(
            "awslogs without group",
            "awslogs-group",
            bridge(c("app").log_configuration(awslogs(&[("awslogs-region", "us-east-1")]))),
        ),
        refuse(
            "awslogs without region",
            "awslogs-region",
            bridge(c("app").log_configuration(awslogs(&[("awslogs-group", "/ecs/app")]))),
        ),
        refuse(
            "log secretOption without valueFrom",
            "secretOptions",
            bridge(
                c("app").log_configuration(ok(LogConfiguration::builder()
                    .log_driver(LogDriver::Splunk)
                    .secret_options(secret("splunk-token", ""))
                    .build())),
            ),
        ),
        refuse(
            "repositoryCredentials without credentialsParameter",
            "repositoryCredentials",
            bridge(c("app").repository_credentials(ok(
                RepositoryCredentials::builder().credentials_parameter("").build(),
            ))),
        ),
        refuse(
            "two credentialSpecs",
            "credentialSpecs",
            bridge(
                c("app")
                    .credential_specs("credentialspec:arn:aws:s3:::a/1.json")
                    .credential_specs("credentialspec:arn:aws:s3:::a/2.json"),
            ),
        ),
        refuse(
            "versionConsistency sometimes",
            "versionConsistency",
            bridge(c("app").version_consistency(VersionConsistency::from("sometimes"))),
        ),
    ];
    check_all(&server, cases).await;
}

// ---------------------------------------------------------------------------------------------
// linux.rs: health checks, ulimits, Linux parameters, sysctls, restart policy, timeouts.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn runtime_setting_rules_refuse_bad_containers() {
    let server = common::start().await;
    let make = Make(&server.client);
    let with = |container: ContainerDefinitionBuilder| make.one(container);
    let curl = ["CMD-SHELL", "curl -f http://localhost/ || exit 1"];
    let checked = |h: aws_sdk_ecs::types::builders::HealthCheckBuilder| c("app").health_check(ok(h.build()));
    let ulimit = |name: UlimitName, soft: i32, hard: i32| {
        ok(Ulimit::builder().name(name).soft_limit(soft).hard_limit(hard).build())
    };
    let device = |host: &str, permission: DeviceCgroupPermission| {
        ok(Device::builder().host_path(host).permissions(permission).build())
    };
    let tmpfs = |path: &str, size: i32, option: &str| {
        ok(Tmpfs::builder().container_path(path).size(size).mount_options(option).build())
    };
    let sysctl = |namespace: &str| SystemControl::builder().namespace(namespace).value("1").build();
    let restart = |b: aws_sdk_ecs::types::builders::ContainerRestartPolicyBuilder| {
        c("app").restart_policy(ok(b.enabled(true).build()))
    };
    let cases = vec![
        refuse("healthCheck with an empty command", "healthCheck", with(checked(health(&[])))),
        refuse("healthCheck without CMD", "CMD", with(checked(health(&["curl", "-f", "http://localhost/"])))),
        refuse("healthCheck NONE", "CMD", with(checked(health(&["NONE"])))),
        refuse("healthCheck with CMD alone", "healthCheck", with(checked(health(&["CMD-SHELL"])))),
        refuse("healthCheck interval 4", "interval", with(checked(health(&curl).interval(4)))),
        refuse("healthCheck interval 301", "interval", with(checked(health(&curl).interval(301)))),
        refuse("healthCheck timeout 1", "timeout", with(checked(health(&curl).timeout(1)))),
        refuse("healthCheck timeout 61", "timeout", with(checked(health(&curl).timeout(61)))),
        refuse("healthCheck retries 0", "retries", with(checked(health(&curl).retries(0)))),
        refuse("healthCheck retries 11", "retries", with(checked(health(&curl).retries(11)))),
        refuse("healthCheck startPeriod -1", "startPeriod", with(checked(health(&curl).start_period(-1)))),
        refuse("healthCheck startPeriod 301", "startPeriod", with(checked(health(&curl).start_period(301)))),
        refuse("ulimit files", "ulimits", with(c("app").ulimits(ulimit(UlimitName::from("files"), 1, 1)))),
        refuse(
            "ulimit soft above hard",
            "softLimit",
            with(c("app").ulimits(ulimit(UlimitName::Nofile, 4096, 1024))),
        ),
        refuse_wire(
            "ulimit without hardLimit",
            "hardLimit",
            wire_with(json!({}), json!({ "ulimits": [{ "name": "nofile", "softLimit": 1024 }] })),
        ),
        refuse(
            "capability add SYS_EVERYTHING",
            "SYS_EVERYTHING",
            with(
                c("app").linux_parameters(linux(
                    LinuxParameters::builder()
                        .capabilities(KernelCapabilities::builder().add("SYS_EVERYTHING").build()),
                )),
            ),
        ),
        refuse(
            "capability drop lowercase",
            "net_raw",
            with(
                c("app").linux_parameters(linux(
                    LinuxParameters::builder()
                        .capabilities(KernelCapabilities::builder().drop("net_raw").build()),
                )),
            ),
        ),
        refuse(
            "device without hostPath",
            "hostPath",
            with(c("app").linux_parameters(linux(
                LinuxParameters::builder().devices(device("", DeviceCgroupPermission::Read)),
            ))),
        ),
        refuse(
            "device permission execute",
            "permission",
            with(
                c("app").linux_parameters(linux(
                    LinuxParameters::builder()
                        .devices(device("/dev/fuse", DeviceCgroupPermission::from("execute"))),
                )),
            ),
        ),
        refuse(
            "tmpfs with a relative path",
            "containerPath",
            with(
                c("app")
                    .linux_parameters(linux(LinuxParameters::builder().tmpfs(tmpfs("scratch", 64, "rw")))),
            ),
        ),
        refuse(
            "tmpfs of size 0",
            "size",
            with(
                c("app")
                    .linux_parameters(linux(LinuxParameters::builder().tmpfs(tmpfs("/scratch", 0, "rw")))),
            ),
        ),
        refuse(
            "tmpfs mount option hugepages",
            "hugepages",
            with(c("app").linux_parameters(linux(LinuxParameters::builder().tmpfs(tmpfs(
                "/scratch",
                64,
                "hugepages",
            ))))),
        ),
        refuse(
            "sharedMemorySize -1",
            "sharedMemorySize",
            with(c("app").linux_parameters(linux(LinuxParameters::builder().shared_memory_size(-1)))),
        ),
        refuse(
            "maxSwap -1",
            "maxSwap",
            with(c("app").linux_parameters(linux(LinuxParameters::builder().max_swap(-1)))),
        ),
        refuse(
            "swappiness 101",
            "swappiness",
            with(c("app").linux_parameters(linux(LinuxParameters::builder().swappiness(101)))),
        ),
        refuse(
            "swappiness -1",
            "swappiness",
            with(c("app").linux_parameters(linux(LinuxParameters::builder().swappiness(-1)))),
        ),
        refuse(
            "sysctl without namespace",
            "namespace",
            with(c("app").system_controls(SystemControl::builder().value("1").build())),
        ),
        refuse(
            "network sysctl in host mode",
            "net.core.somaxconn",
            make.mode(NetworkMode::Host, c("app").system_controls(sysctl("net.core.somaxconn"))),
        ),
        refuse(
            "IPC sysctl with ipcMode host",
            "kernel.shmmax",
            with(c("app").system_controls(sysctl("kernel.shmmax"))).ipc_mode(IpcMode::Host),
        ),
        refuse(
            "mqueue sysctl with ipcMode host",
            "fs.mqueue.msg_max",
            with(c("app").system_controls(sysctl("fs.mqueue.msg_max"))).ipc_mode(IpcMode::Host),
        ),
        refuse_wire(
            "restartPolicy without enabled",
            "enabled",
            wire_with(json!({}), json!({ "restartPolicy": { "restartAttemptPeriod": 120 } })),
        ),
        refuse(
            "restartPolicy ignoring 51 exit codes",
            "ignoredExitCodes",
            with(restart(ContainerRestartPolicy::builder().set_ignored_exit_codes(Some((0..51).collect())))),
        ),
        refuse(
            "restartAttemptPeriod 59",
            "restartAttemptPeriod",
            with(restart(ContainerRestartPolicy::builder().restart_attempt_period(59))),
        ),
        refuse(
            "restartAttemptPeriod 1801",
            "restartAttemptPeriod",
            with(restart(ContainerRestartPolicy::builder().restart_attempt_period(1801))),
        ),
        refuse("startTimeout -1", "startTimeout", with(c("app").start_timeout(-1))),
        refuse("stopTimeout -1", "stopTimeout", with(c("app").stop_timeout(-1))),
    ];
    check_all(&server, cases).await;
}

// ---------------------------------------------------------------------------------------------
// references.rs: rules between containers.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reference_rules_refuse_bad_links_between_containers() {
    let server = common::start().await;
    let make = Make(&server.client);
    let two = |first: ContainerDefinitionBuilder, second: ContainerDefinitionBuilder| {
        make.bare().container_definitions(first.build()).container_definitions(second.build())
    };
    let from =
        |source: Option<&str>| VolumeFrom::builder().set_source_container(source.map(String::from)).build();
    let side = || c("init").essential(false);
    let router = c("router").firelens_configuration(ok(FirelensConfiguration::builder()
        .r#type(FirelensConfigurationType::Fluentbit)
        .build()));
    let firelens_app = c("app")
        .log_configuration(ok(LogConfiguration::builder().log_driver(LogDriver::Awsfirelens).build()));
    let accelerator =
        ok(InferenceAccelerator::builder().device_name("device_1").device_type("eia2.medium").build());
    let cases = vec![
        refuse("two containers named app", "'app'", two(c("app"), c("app"))),
        refuse("link to a missing container", "link", make.one(c("app").links("db"))),
        refuse("link to itself", "link", make.one(c("app").links("app:self"))),
        refuse(
            "volumesFrom a missing container",
            "volumesFrom",
            make.one(c("app").volumes_from(from(Some("data")))),
        ),
        refuse("volumesFrom itself", "volumesFrom", make.one(c("app").volumes_from(from(Some("app"))))),
        refuse(
            "volumesFrom without sourceContainer",
            "volumesFrom",
            make.one(c("app").volumes_from(from(None))),
        ),
        refuse(
            "dependsOn without containerName",
            "containerName",
            two(c("app").depends_on(depends("", ContainerCondition::Start)), side()),
        ),
        refuse(
            "dependsOn itself",
            "itself",
            make.one(c("app").depends_on(depends("app", ContainerCondition::Start))),
        ),
        refuse(
            "dependsOn a missing container",
            "dependsOn",
            make.one(c("app").depends_on(depends("db", ContainerCondition::Start))),
        ),
        refuse(
            "dependsOn condition READY",
            "READY",
            two(c("app").depends_on(depends("init", ContainerCondition::from("READY"))), side()),
        ),
        refuse(
            "dependsOn COMPLETE on an essential container",
            "essential",
            two(c("app").depends_on(depends("db", ContainerCondition::Complete)), c("db")),
        ),
        refuse(
            "dependsOn SUCCESS on an essential container",
            "essential",
            two(c("app").depends_on(depends("db", ContainerCondition::Success)), c("db")),
        ),
        refuse(
            "dependsOn HEALTHY without healthCheck",
            "healthCheck",
            two(c("app").depends_on(depends("db", ContainerCondition::Healthy)), c("db")),
        ),
        refuse("no essential container", "essential", two(c("app").essential(false), side())),
        refuse(
            "dependsOn cycle of two",
            "cycle",
            two(
                c("a").depends_on(depends("b", ContainerCondition::Start)),
                c("b").depends_on(depends("a", ContainerCondition::Start)),
            ),
        ),
        refuse(
            "dependsOn cycle of three",
            "cycle",
            two(
                c("a").depends_on(depends("b", ContainerCondition::Start)),
                c("b").depends_on(depends("c", ContainerCondition::Start)),
            )
            .container_definitions(c("c").depends_on(depends("a", ContainerCondition::Start)).build()),
        ),
        refuse("awsfirelens without a log router", "awsfirelens", make.one(firelens_app.clone())),
        refuse(
            "InferenceAccelerator requirement without the accelerator",
            "InferenceAccelerator",
            make.one(
                c("app").resource_requirements(requirement(ResourceType::InferenceAccelerator, "device_1")),
            ),
        ),
        refuse(
            "InferenceAccelerator requirement naming another device",
            "device_2",
            make.one(
                c("app").resource_requirements(requirement(ResourceType::InferenceAccelerator, "device_2")),
            )
            .inference_accelerators(accelerator.clone()),
        ),
        refuse(
            "accelerator no container uses",
            "device_1",
            make.one(c("app")).inference_accelerators(accelerator),
        ),
    ];
    check_all(&server, cases).await;
    // The firelens rule is about the router's absence, not the driver: with a router it registers.
    two(router, firelens_app).send().await.expect("awsfirelens with a log router");
}

// ---------------------------------------------------------------------------------------------
// resources.rs: memory, CPU and resource requirements.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resource_rules_refuse_bad_memory_cpu_and_requirements() {
    let server = common::start().await;
    let make = Make(&server.client);
    let no_memory = || ContainerDefinition::builder().name("app").image(IMAGE);
    let needs = |r: ResourceRequirement| make.one(c("app").resource_requirements(r));
    let gpu = |value: &str| requirement(ResourceType::Gpu, value);
    let shared_gpu = |value: &str| {
        ok(ResourceRequirement::builder()
            .r#type(ResourceType::Gpu)
            .value(value)
            .sharing_strategy(mps(1024))
            .build())
    };
    let neuron = || requirement(ResourceType::from("NeuronDevice"), "ALL");
    let cases = vec![
        refuse("no memory anywhere", "memory", make.bare().container_definitions(no_memory().build())),
        refuse("container memory 5 MiB", "memory", make.one(c("app").memory(5))),
        refuse(
            "container memoryReservation 5 MiB",
            "memoryReservation",
            make.one(no_memory().memory_reservation(5)),
        ),
        refuse(
            "memory below memoryReservation",
            "memoryReservation",
            make.one(c("app").memory(256).memory_reservation(512)),
        ),
        refuse(
            "container memory above task memory",
            "task memory",
            make.one(c("app").memory(1024)).memory("512"),
        ),
        refuse(
            "reservations above task memory",
            "task memory",
            make.bare()
                .memory("512")
                .container_definitions(no_memory().memory_reservation(300).build())
                .container_definitions(
                    ContainerDefinition::builder().name("side").image(IMAGE).memory_reservation(300).build(),
                ),
        ),
        refuse("container cpu -1", "cpu", make.one(c("app").cpu(-1))),
        refuse(
            "container cpu above task cpu",
            "cpu",
            make.bare()
                .cpu("256")
                .container_definitions(c("app").cpu(200).build())
                .container_definitions(c("side").cpu(200).build()),
        ),
        refuse(
            "resource type FPGA",
            "resourceRequirements",
            needs(requirement(ResourceType::from("FPGA"), "1")),
        ),
        refuse(
            "GPU requirement twice",
            "GPU",
            make.one(c("app").resource_requirements(gpu("1")).resource_requirements(gpu("2"))),
        ),
        refuse(
            "sharingStrategy on NeuronDevice",
            "sharingStrategy",
            needs(ok(ResourceRequirement::builder()
                .r#type(ResourceType::from("NeuronDevice"))
                .value("ALL")
                .sharing_strategy(mps(1024))
                .build())),
        ),
        refuse("GPU value and sharingStrategy", "sharingStrategy", needs(shared_gpu("1"))),
        refuse("GPU value 0", "GPU", needs(gpu("0"))),
        refuse("GPU value two", "GPU", needs(gpu("two"))),
        refuse("GPU value empty", "GPU", needs(gpu(""))),
        refuse_wire(
            "GPU with neither value nor sharingStrategy",
            "sharingStrategy",
            wire_with(json!({}), json!({ "resourceRequirements": [{ "type": "GPU" }] })),
        ),
        refuse(
            "NeuronDevice value 1",
            "NeuronDevice",
            needs(requirement(ResourceType::from("NeuronDevice"), "1")),
        ),
        refuse(
            "NeuronDevice in two containers",
            "NeuronDevice",
            make.one(c("app").resource_requirements(neuron()))
                .container_definitions(c("side").resource_requirements(neuron()).build()),
        ),
    ];
    check_all(&server, cases).await;
}

// ---------------------------------------------------------------------------------------------
// volumes.rs: volumes and mount points.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn volume_rules_refuse_bad_volumes_and_mount_points() {
    let server = common::start().await;
    let make = Make(&server.client);
    let with = |volume: Volume| make.one(c("app")).volumes(volume);
    let named = |name: &str| Volume::builder().name(name);
    let docker = |scope: Scope, autoprovision: bool| {
        named("data")
            .docker_volume_configuration(
                DockerVolumeConfiguration::builder().scope(scope).autoprovision(autoprovision).build(),
            )
            .build()
    };
    let with_efs = |config: aws_sdk_ecs::types::builders::EfsVolumeConfigurationBuilder| {
        with(named("data").efs_volume_configuration(ok(config.build())).build())
    };
    let auth = |access_point: Option<&str>, iam: EfsAuthorizationConfigIam| {
        EfsAuthorizationConfig::builder().set_access_point_id(access_point.map(String::from)).iam(iam).build()
    };
    let s3files = |arn: &str| S3FilesVolumeConfiguration::builder().file_system_arn(arn);
    let at_launch = |name: &str| named(name).configured_at_launch(true).build();
    let host = HostVolumeProperties::builder().source_path("/srv/data").build();
    let mounted =
        |mount_point: MountPoint| make.one(c("app").mount_points(mount_point)).volumes(named("data").build());
    let fs = "fs-0123456789abcdef0";
    let credentials = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fsx-AbCdEf";
    let cases = vec![
        refuse("volume without a name", "name", with(Volume::builder().host(host.clone()).build())),
        refuse("volume name with a space", "volume name", with(named("my data").build())),
        refuse("volume name twice", "'data'", with(named("data").build()).volumes(named("data").build())),
        refuse(
            "volume with host and EFS",
            "only one",
            with(named("data").host(host).efs_volume_configuration(ok(efs(fs).build())).build()),
        ),
        refuse("two volumes configured at launch", "launch", with(at_launch("a")).volumes(at_launch("b"))),
        refuse("docker volume scope global", "scope", with(docker(Scope::from("global"), false))),
        refuse("autoprovision with task scope", "autoprovision", with(docker(Scope::Task, true))),
        refuse("EFS without fileSystemId", "fileSystemId", with_efs(efs(""))),
        refuse(
            "EFS transitEncryption REQUIRED",
            "transitEncryption",
            with_efs(efs(fs).transit_encryption(EfsTransitEncryption::from("REQUIRED"))),
        ),
        refuse(
            "EFS transitEncryptionPort 0",
            "transitEncryptionPort",
            with_efs(efs(fs).transit_encryption_port(0)),
        ),
        refuse(
            "EFS transitEncryptionPort 65536",
            "transitEncryptionPort",
            with_efs(efs(fs).transit_encryption_port(65536)),
        ),
        refuse(
            "EFS iam MAYBE",
            "iam",
            with_efs(
                efs(fs)
                    .transit_encryption(EfsTransitEncryption::Enabled)
                    .authorization_config(auth(None, EfsAuthorizationConfigIam::from("MAYBE"))),
            ),
        ),
        refuse(
            "EFS IAM without transit encryption",
            "transitEncryption",
            with_efs(efs(fs).authorization_config(auth(None, EfsAuthorizationConfigIam::Enabled))),
        ),
        refuse(
            "EFS access point without transit encryption",
            "transitEncryption",
            with_efs(efs(fs).authorization_config(auth(
                Some("fsap-0123456789abcdef0"),
                EfsAuthorizationConfigIam::Disabled,
            ))),
        ),
        refuse(
            "EFS access point with a rootDirectory",
            "rootDirectory",
            with_efs(
                efs(fs)
                    .root_directory("/data")
                    .transit_encryption(EfsTransitEncryption::Enabled)
                    .authorization_config(auth(
                        Some("fsap-0123456789abcdef0"),
                        EfsAuthorizationConfigIam::Enabled,
                    )),
            ),
        ),
        refuse(
            "S3 Files without fileSystemArn",
            "fileSystemArn",
            with(named("data").s3files_volume_configuration(ok(s3files("").build())).build()),
        ),
        refuse(
            "S3 Files access point with a rootDirectory",
            "rootDirectory",
            with(
                named("data")
                    .s3files_volume_configuration(ok(s3files(
                        "arn:aws:s3files:us-east-1:123456789012:file-system/fs-1",
                    )
                    .access_point_arn("arn:aws:s3files:us-east-1:123456789012:access-point/fsap-1")
                    .root_directory("/exports")
                    .build()))
                    .build(),
            ),
        ),
        refuse(
            "FSx without fileSystemId",
            "fileSystemId",
            with(fsx("", "share", credentials, "corp.example.com")),
        ),
        refuse(
            "FSx without rootDirectory",
            "rootDirectory",
            with(fsx(fs, "", credentials, "corp.example.com")),
        ),
        refuse(
            "FSx without credentialsParameter",
            "credentialsParameter",
            with(fsx(fs, "share", "", "corp.example.com")),
        ),
        refuse("FSx without domain", "domain", with(fsx(fs, "share", credentials, ""))),
        refuse(
            "mount point without sourceVolume",
            "sourceVolume",
            mounted(MountPoint::builder().container_path("/data").build()),
        ),
        refuse("mount point naming an undeclared volume", "'logs'", mounted(mount("logs", "/logs"))),
        refuse(
            "mount point without containerPath",
            "containerPath",
            mounted(MountPoint::builder().source_volume("data").build()),
        ),
    ];
    check_all(&server, cases).await;
}

// ---------------------------------------------------------------------------------------------
// platforms.rs: what Fargate, external instances and Managed Instances require.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fargate_rules_refuse_what_fargate_cannot_run() {
    let server = common::start().await;
    let make = Make(&server.client);
    let fargate = |container: ContainerDefinitionBuilder| make.fargate(container);
    let plain = || make.fargate(c("app"));
    let params = |l: aws_sdk_ecs::types::builders::LinuxParametersBuilder| {
        fargate(c("app").linux_parameters(linux(l)))
    };
    let sized = |cpu: &str, memory: &str| plain().cpu(cpu).memory(memory);
    let windows = RuntimePlatform::builder().operating_system_family(OsFamily::WindowsServer2022Core).build();
    let accelerated =
        fargate(c("app").resource_requirements(requirement(ResourceType::InferenceAccelerator, "device_1")))
            .inference_accelerators(ok(InferenceAccelerator::builder()
                .device_name("device_1")
                .device_type("eia2.medium")
                .build()));
    let cases = vec![
        refuse("FARGATE in bridge mode", "awsvpc", plain().network_mode(NetworkMode::Bridge)),
        refuse(
            "FARGATE without networkMode",
            "awsvpc",
            make.one(c("app")).requires_compatibilities(Compatibility::Fargate).cpu("256").memory("512"),
        ),
        refuse("FARGATE without task cpu", "cpu", plain().set_cpu(None)),
        refuse("FARGATE without task memory", "memory", plain().set_memory(None)),
        refuse("FARGATE 256 CPU with 4096 MiB", "No Fargate configuration", sized("256", "4096")),
        refuse("FARGATE 1024 CPU with 1024 MiB", "No Fargate configuration", sized("1024", "1024")),
        refuse("FARGATE 3072 CPU", "No Fargate configuration", sized("3072", "8192")),
        refuse("FARGATE 16 vCPU with odd memory", "No Fargate configuration", sized("16384", "40000")),
        refuse("Windows on Fargate below 1 vCPU", "Windows", sized("512", "1024").runtime_platform(windows)),
        refuse(
            "placementConstraints on Fargate",
            "placementConstraints",
            plain().placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.os-type == linux")
                    .build(),
            ),
        ),
        refuse("ipcMode on Fargate", "ipcMode", plain().ipc_mode(IpcMode::Task)),
        refuse("pidMode host on Fargate", "pidMode", plain().pid_mode(PidMode::Host)),
        refuse("inferenceAccelerators on Fargate", "inferenceAccelerators", accelerated),
        refuse(
            "docker volume on Fargate",
            "dockerVolumeConfiguration",
            plain().volumes(
                Volume::builder()
                    .name("data")
                    .docker_volume_configuration(
                        DockerVolumeConfiguration::builder().scope(Scope::Task).build(),
                    )
                    .build(),
            ),
        ),
        refuse(
            "host sourcePath on Fargate",
            "sourcePath",
            plain().volumes(
                Volume::builder()
                    .name("data")
                    .host(HostVolumeProperties::builder().source_path("/srv").build())
                    .build(),
            ),
        ),
        refuse("privileged on Fargate", "privileged", fargate(c("app").privileged(true))),
        refuse(
            "disableNetworking on Fargate",
            "disableNetworking",
            fargate(c("app").disable_networking(true)),
        ),
        refuse("dnsServers on Fargate", "dnsServers", fargate(c("app").dns_servers("10.0.0.2"))),
        refuse(
            "dnsSearchDomains on Fargate",
            "dnsSearchDomains",
            fargate(c("app").dns_search_domains("corp.internal")),
        ),
        refuse(
            "dockerSecurityOptions on Fargate",
            "dockerSecurityOptions",
            fargate(c("app").docker_security_options("no-new-privileges")),
        ),
        refuse(
            "extraHosts on Fargate",
            "extraHosts",
            fargate(
                c("app").extra_hosts(ok(HostEntry::builder().hostname("db").ip_address("10.0.0.5").build())),
            ),
        ),
        refuse(
            "links on Fargate",
            "links",
            fargate(c("app").links("side")).container_definitions(c("side").build()),
        ),
        refuse(
            "devices on Fargate",
            "devices",
            params(LinuxParameters::builder().devices(ok(Device::builder().host_path("/dev/fuse").build()))),
        ),
        refuse(
            "sharedMemorySize on Fargate",
            "sharedMemorySize",
            params(LinuxParameters::builder().shared_memory_size(64)),
        ),
        refuse(
            "tmpfs on Fargate",
            "tmpfs",
            params(
                LinuxParameters::builder()
                    .tmpfs(ok(Tmpfs::builder().container_path("/scratch").size(64).build())),
            ),
        ),
        refuse("maxSwap on Fargate", "maxSwap", params(LinuxParameters::builder().max_swap(0))),
        refuse("swappiness on Fargate", "swappiness", params(LinuxParameters::builder().swappiness(10))),
        refuse(
            "capability NET_ADMIN on Fargate",
            "SYS_PTRACE",
            params(
                LinuxParameters::builder()
                    .capabilities(KernelCapabilities::builder().add("NET_ADMIN").build()),
            ),
        ),
        refuse(
            "GPU on Fargate",
            "GPU",
            fargate(c("app").resource_requirements(requirement(ResourceType::Gpu, "1"))),
        ),
        refuse("stopTimeout 121 on Fargate", "stopTimeout", fargate(c("app").stop_timeout(121))),
        refuse("startTimeout 1 on Fargate", "startTimeout", fargate(c("app").start_timeout(1))),
        refuse(
            "json-file logs on Fargate",
            "json-file",
            fargate(
                c("app").log_configuration(ok(LogConfiguration::builder()
                    .log_driver(LogDriver::JsonFile)
                    .build())),
            ),
        ),
        refuse(
            "awslogs on Fargate without an execution role",
            "execution role",
            fargate(c("app").log_configuration(fargate_logs())).set_execution_role_arn(None),
        ),
        refuse(
            "awslogs on Fargate without a stream prefix",
            "awslogs-stream-prefix",
            fargate(c("app").log_configuration(awslogs(&[
                ("awslogs-group", "/ecs/rules"),
                ("awslogs-region", "us-east-1"),
            ]))),
        ),
        refuse_wire(
            "trusted execution on Fargate",
            "trustedExecutionConfiguration",
            wire_with(
                json!({
                    "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
                    "trustedExecutionConfiguration": { "isolationMode": "ISOLATED_SANDBOX" }
                }),
                json!({}),
            ),
        ),
    ];
    check_all(&server, cases).await;
}

#[tokio::test]
async fn external_and_managed_instance_rules_refuse_what_those_capacities_cannot_run() {
    let server = common::start().await;
    let make = Make(&server.client);
    let external = || make.external(c("app"));
    let managed = || make.managed(c("app"));
    let accelerated = |call: Register| {
        call.inference_accelerators(ok(InferenceAccelerator::builder()
            .device_name("device_1")
            .device_type("eia2.medium")
            .build()))
    };
    let uses_accelerator =
        c("app").resource_requirements(requirement(ResourceType::InferenceAccelerator, "device_1"));
    let efs_volume = Volume::builder()
        .name("data")
        .efs_volume_configuration(ok(efs("fs-0123456789abcdef0").build()))
        .build();
    let s3_volume = Volume::builder()
        .name("data")
        .s3files_volume_configuration(ok(S3FilesVolumeConfiguration::builder()
            .file_system_arn("arn:aws:s3files:us-east-1:123456789012:file-system/fs-1")
            .build()))
        .build();
    let cases = vec![
        refuse("EXTERNAL in awsvpc", "awsvpc", external().network_mode(NetworkMode::Awsvpc)),
        refuse("EXTERNAL with EFS", "efsVolumeConfiguration", external().volumes(efs_volume)),
        refuse(
            "EXTERNAL with FSx",
            "fsxWindowsFileServerVolumeConfiguration",
            external().volumes(fsx(
                "fs-0123456789abcdef0",
                "share",
                "arn:aws:secretsmanager:us-east-1:1:secret:x",
                "corp.example.com",
            )),
        ),
        refuse("EXTERNAL with S3 Files", "s3filesVolumeConfiguration", external().volumes(s3_volume)),
        refuse(
            "EXTERNAL with a volume configured at launch",
            "configuredAtLaunch",
            external().volumes(Volume::builder().name("data").configured_at_launch(true).build()),
        ),
        refuse(
            "EXTERNAL with inference accelerators",
            "inferenceAccelerators",
            accelerated(make.external(uses_accelerator.clone())),
        ),
        // The SDK sends `"value": ""` beside the sharing strategy; see the test below.
        refuse_wire(
            "EXTERNAL with GPU sharing",
            "GPU sharing",
            wire_with(
                json!({ "requiresCompatibilities": ["EXTERNAL"] }),
                json!({ "resourceRequirements": [{ "type": "GPU", "sharingStrategy": { "nvidiaMps": { "memory": 2048 } } }] }),
            ),
        ),
        refuse(
            "EXTERNAL with NeuronDevice",
            "NeuronDevice",
            make.external(
                c("app").resource_requirements(requirement(ResourceType::from("NeuronDevice"), "ALL")),
            ),
        ),
        refuse_wire(
            "EXTERNAL with trusted execution",
            "trustedExecutionConfiguration",
            wire_with(
                json!({ "requiresCompatibilities": ["EXTERNAL"], "trustedExecutionConfiguration": { "isolationMode": "SHARED" } }),
                json!({}),
            ),
        ),
        refuse(
            "MANAGED_INSTANCES in bridge mode",
            "network mode",
            managed().network_mode(NetworkMode::Bridge),
        ),
        refuse(
            "MANAGED_INSTANCES with Windows",
            "operatingSystemFamily",
            managed().runtime_platform(
                RuntimePlatform::builder().operating_system_family(OsFamily::WindowsServer2022Full).build(),
            ),
        ),
        refuse(
            "MANAGED_INSTANCES with inference accelerators",
            "inferenceAccelerators",
            accelerated(make.managed(uses_accelerator)),
        ),
        refuse(
            "MANAGED_INSTANCES with syslog",
            "syslog",
            make.managed(
                c("app")
                    .log_configuration(ok(LogConfiguration::builder().log_driver(LogDriver::Syslog).build())),
            ),
        ),
    ];
    check_all(&server, cases).await;
}

// ---------------------------------------------------------------------------------------------
// The size limit.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_definition_over_64_kib_is_refused() {
    let server = common::start().await;
    let make = Make(&server.client);
    let big = (0..70).fold(c("app"), |container, i| {
        container
            .environment(KeyValuePair::builder().name(format!("BLOB_{i}")).value("x".repeat(1000)).build())
    });
    check_all(&server, vec![refuse("70 KB of environment", "64 KiB", make.one(big))]).await;
    let under = (0..60).fold(c("app"), |container, i| {
        container
            .environment(KeyValuePair::builder().name(format!("BLOB_{i}")).value("x".repeat(1000)).build())
    });
    make.one(under).send().await.expect("60 KB of environment is under the limit");
}

// ---------------------------------------------------------------------------------------------
// Definitions ECS accepts.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_container_port_may_be_mapped_for_tcp_and_udp() {
    // DNS servers listen on 53 over both protocols; ECS has accepted such mappings since 2020.
    let server = common::start().await;
    let dns = c("dns")
        .port_mappings(port(53).protocol(TransportProtocol::Udp).build())
        .port_mappings(port(53).protocol(TransportProtocol::Tcp).build());
    let registered = Make(&server.client).mode(NetworkMode::Awsvpc, dns).send().await;
    let td = registered
        .map_err(|err| format!("{:?}: {:?}", err.code(), err.message()))
        .expect("tcp and udp on 53 register");
    let protocols: Vec<&str> = td.task_definition().expect("definition").container_definitions()[0]
        .port_mappings()
        .iter()
        .filter_map(|m| m.protocol())
        .map(|p| p.as_str())
        .collect();
    assert_eq!(protocols, ["udp", "tcp"]);
}

#[tokio::test]
async fn a_gpu_sharing_requirement_sent_by_the_sdk_registers() {
    // This SDK models ResourceRequirement.value as required, so it sends `"value": ""` with a
    // sharing strategy; an empty value is no value, and ECS users of this SDK must be able to share.
    let server = common::start().await;
    let shared =
        ok(ResourceRequirement::builder().r#type(ResourceType::Gpu).sharing_strategy(mps(2048)).build());
    let registered = Make(&server.client).one(c("app").resource_requirements(shared)).send().await;
    let td = registered
        .map_err(|err| format!("{:?}: {:?}", err.code(), err.message()))
        .expect("GPU sharing registers");
    let requirement =
        &td.task_definition().expect("definition").container_definitions()[0].resource_requirements()[0];
    assert_eq!(
        requirement.sharing_strategy().and_then(|s| s.as_nvidia_mps().ok()).map(|m| m.memory()),
        Some(2048)
    );
}

#[tokio::test]
async fn boundary_values_ecs_documents_are_accepted() {
    let server = common::start().await;
    let make = Make(&server.client);
    let curl = ["CMD-SHELL", "curl -f http://localhost/ || exit 1"];
    let accepted =
        vec![
            (
                "health check at its lower bounds",
                make.one(c("app").health_check(ok(
                    health(&curl).interval(5).timeout(2).retries(1).start_period(0).build(),
                ))),
            ),
            (
                "health check at its upper bounds",
                make.one(c("app").health_check(ok(
                    health(&curl).interval(300).timeout(60).retries(10).start_period(300).build(),
                ))),
            ),
            (
                "ten containers",
                (0..10).fold(make.bare(), |call, i| call.container_definitions(c(&format!("c{i}")).build())),
            ),
            ("family of 255 characters", make.one(c("app")).family("f".repeat(255))),
            (
                "ephemeral storage 21 GiB",
                make.fargate(c("app")).ephemeral_storage(EphemeralStorage::builder().size_in_gib(21).build()),
            ),
            (
                "ephemeral storage 200 GiB",
                make.fargate(c("app"))
                    .ephemeral_storage(EphemeralStorage::builder().size_in_gib(200).build()),
            ),
            (
                "hostPort equal to containerPort in awsvpc",
                make.mode(NetworkMode::Awsvpc, c("app").port_mappings(port(80).host_port(80).build())),
            ),
            ("task cpu in vCPU", make.one(c("app")).cpu("0.25 vCPU").memory("0.5GB")),
            ("container memory of 6 MiB", make.one(c("app").memory(6))),
            (
                "SYS_PTRACE on Fargate",
                make.fargate(
                    c("app").linux_parameters(linux(
                        LinuxParameters::builder()
                            .capabilities(KernelCapabilities::builder().add("CAP_SYS_PTRACE").build()),
                    )),
                ),
            ),
            ("Fargate 16 vCPU 120 GiB", make.fargate(c("app")).cpu("16 vCPU").memory("120 GB")),
            (
                "restartAttemptPeriod 60",
                make.one(c("app").restart_policy(ok(
                    ContainerRestartPolicy::builder().enabled(true).restart_attempt_period(60).build(),
                ))),
            ),
            (
                "COMPLETE on a non-essential container",
                make.one(c("app").depends_on(depends("init", ContainerCondition::Complete)))
                    .container_definitions(c("init").essential(false).build()),
            ),
        ];
    let mut refused = Vec::new();
    for (name, call) in accepted {
        if let Err(err) = call.send().await {
            refused.push(format!("{name}: {:?} {:?}", err.code(), err.message()));
        }
    }
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}
