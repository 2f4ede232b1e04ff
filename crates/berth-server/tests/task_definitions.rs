//! Task definitions end to end: the realistic definitions in `tests/fixtures/task-definitions/`
//! register over the wire exactly as `aws ecs register-task-definition --cli-input-json` sends
//! them and describe back unchanged (apart from an explicit list of members the server fills),
//! both over plain HTTP and through the AWS SDK, whose typed parse must accept every member; the
//! fixtures together must use every member of the request shapes of the botocore model; and the
//! family and revision operations (describe, list, list families, deregister, delete) behave as
//! ECS documents them, including pagination, filters and concurrent registration.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_sdk_ecs::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecs::error::BoxError;
use aws_sdk_ecs::types::{
    ContainerCondition, ContainerDefinition, SortOrder, Tag, TaskDefinition, TaskDefinitionFamilyStatus,
    TaskDefinitionField, TaskDefinitionStatus,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ACCOUNT_ARN_PREFIX: &str = "arn:aws:ecs:us-east-1:000000000000:task-definition/";

// ---------------------------------------------------------------------------------------------
// The wire: one AWS JSON 1.1 request over a plain HTTP/1.1 connection.
// ---------------------------------------------------------------------------------------------

/// Sends `body` as the ECS operation `operation` with the headers the SDK sends, and returns the
/// HTTP status and the JSON body of the answer.
async fn wire(endpoint: &str, operation: &str, body: &Value) -> (u16, Value) {
    let authority = endpoint.strip_prefix("http://").expect("the test endpoint is plain http");
    let payload = serde_json::to_vec(body).expect("a JSON value serializes");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.{operation}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let mut stream = TcpStream::connect(authority).await.expect("connect to the server");
    stream.write_all(head.as_bytes()).await.expect("send the request head");
    stream.write_all(&payload).await.expect("send the request body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read the response");
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("the response has a head");
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let mut body = response[end + 4..].to_vec();
    if head.lines().any(|line| line.starts_with("transfer-encoding:") && line.contains("chunked")) {
        body = dechunk(&body);
    }
    let json = serde_json::from_slice(&body).unwrap_or_else(|err| {
        panic!("{operation} answered a body that is not JSON ({err}): {}", String::from_utf8_lossy(&body))
    });
    (status, json)
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hex chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The body of a successful wire call; panics with the error otherwise.
async fn wire_ok(endpoint: &str, operation: &str, body: &Value) -> Value {
    let (status, answer) = wire(endpoint, operation, body).await;
    assert_eq!(status, 200, "{operation} failed: {answer}");
    answer
}

// ---------------------------------------------------------------------------------------------
// Fixtures and the model.
// ---------------------------------------------------------------------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture as (file name, JSON), in file name order.
fn fixtures() -> Vec<(String, Value)> {
    let dir = manifest_dir().join("tests/fixtures/task-definitions");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("fixture is readable");
            let json = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{name} is not JSON: {err}"));
            (name, json)
        })
        .collect()
}

fn model_shapes() -> Value {
    let path = manifest_dir().join("../berth-api/model/ecs-2014-11-13.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let model: Value = serde_json::from_str(&text).expect("the model is JSON");
    model["shapes"].clone()
}

/// The members of a structure shape of the model, in model order.
fn members(shapes: &Value, shape: &str) -> Vec<String> {
    shapes[shape]["members"]
        .as_object()
        .unwrap_or_else(|| panic!("{shape} is a structure"))
        .keys()
        .cloned()
        .collect()
}

/// The structure shapes reachable from `root` through members, lists and maps.
fn reachable_structures(shapes: &Value, root: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![root.to_string()];
    while let Some(name) = pending.pop() {
        let shape = &shapes[&name];
        match shape["type"].as_str() {
            Some("structure") if found.insert(name.clone()) => {
                for member in shape["members"].as_object().expect("members").values() {
                    pending.push(member["shape"].as_str().expect("member shape").to_string());
                }
            }
            Some("list") => pending.push(shape["member"]["shape"].as_str().expect("list member").to_string()),
            Some("map") => pending.push(shape["value"]["shape"].as_str().expect("map value").to_string()),
            _ => {}
        }
    }
    found
}

/// Walks `value` as an instance of `shape`, recording each (structure, member) it uses and
/// reporting members the model does not have and values of the wrong JSON type.
fn walk_shape(
    shapes: &Value,
    shape: &str,
    value: &Value,
    path: &str,
    used: &mut BTreeSet<(String, String)>,
    problems: &mut Vec<String>,
) {
    let definition = &shapes[shape];
    let kind = definition["type"].as_str().unwrap_or("?");
    let fits = match kind {
        "structure" | "map" => value.is_object(),
        "list" => value.is_array(),
        "string" => value.is_string(),
        "integer" | "long" => value.is_i64(),
        "boolean" => value.is_boolean(),
        "double" | "float" | "timestamp" => value.is_number(),
        _ => true,
    };
    if !fits {
        problems.push(format!("{path}: a {kind} ({shape}) in the model, but {value} in the fixture"));
        return;
    }
    if let Some(allowed) = definition["enum"].as_array()
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not a value of the enumeration {shape}"));
    }
    match kind {
        "structure" => {
            for (key, member_value) in value.as_object().into_iter().flatten() {
                match definition["members"][key]["shape"].as_str() {
                    Some(member_shape) => {
                        used.insert((shape.to_string(), key.clone()));
                        walk_shape(
                            shapes,
                            member_shape,
                            member_value,
                            &format!("{path}.{key}"),
                            used,
                            problems,
                        );
                    }
                    None => problems.push(format!("{path}.{key}: {shape} has no member '{key}'")),
                }
            }
        }
        "list" => {
            let element = definition["member"]["shape"].as_str().expect("list member shape");
            for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                walk_shape(shapes, element, item, &format!("{path}[{index}]"), used, problems);
            }
        }
        "map" => {
            let element = definition["value"]["shape"].as_str().expect("map value shape");
            for (key, item) in value.as_object().into_iter().flatten() {
                walk_shape(shapes, element, item, &format!("{path}.{key}"), used, problems);
            }
        }
        _ => {}
    }
}

#[test]
fn there_are_at_least_twenty_fixtures_with_distinct_families() {
    let all = fixtures();
    assert!(all.len() >= 20, "only {} fixtures", all.len());
    let families: BTreeSet<&str> = all.iter().map(|(_, f)| f["family"].as_str().expect("family")).collect();
    assert_eq!(families.len(), all.len(), "each fixture registers its own family");
}

#[test]
fn the_fixtures_together_use_every_member_of_the_request_shapes() {
    let shapes = model_shapes();
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for (name, fixture) in fixtures() {
        walk_shape(&shapes, "RegisterTaskDefinitionRequest", &fixture, &name, &mut used, &mut problems);
    }
    assert!(problems.is_empty(), "fixtures that do not match the model:\n{}", problems.join("\n"));

    // The two shapes the coverage is about, named explicitly so that the check cannot go vacuous.
    for shape in ["RegisterTaskDefinitionRequest", "ContainerDefinition"] {
        let all = members(&shapes, shape);
        assert!(all.len() > 15, "{shape} has {} members in the model", all.len());
        let missing: Vec<&String> =
            all.iter().filter(|m| !used.contains(&(shape.to_string(), (*m).clone()))).collect();
        assert!(missing.is_empty(), "no fixture uses {shape} members {missing:?}");
    }
    // And every nested structure a register request can hold.
    let structures = reachable_structures(&shapes, "RegisterTaskDefinitionRequest");
    assert!(structures.contains("EFSAuthorizationConfig") && structures.contains("NvidiaMpsAllocation"));
    let missing: Vec<String> = structures
        .iter()
        .flat_map(|shape| members(&shapes, shape).into_iter().map(move |m| (shape.clone(), m)))
        .filter(|pair| !used.contains(pair))
        .map(|(shape, member)| format!("{shape}.{member}"))
        .collect();
    assert!(missing.is_empty(), "no fixture uses {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// The round trip.
// ---------------------------------------------------------------------------------------------

/// Where in a task definition a JSON object sits, which decides what the server may add to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    Task,
    Container,
    PortMapping,
    Other,
}

fn child_level(level: Level, key: &str) -> Level {
    match (level, key) {
        (Level::Task, "containerDefinitions") => Level::Container,
        (Level::Container, "portMappings") => Level::PortMapping,
        _ => Level::Other,
    }
}

/// What the described revision must be, beyond the fixture's own members.
struct Expect<'a> {
    family: &'a str,
    revision: i64,
    network_mode: &'a str,
    status: &'a str,
}

/// Checks a member the description has and the fixture does not: the server fills these, and
/// nothing else.
fn server_filled(
    level: Level,
    key: &str,
    found: &Value,
    fixture: &serde_json::Map<String, Value>,
    expect: &Expect,
) -> Result<(), String> {
    let ok = match (level, key) {
        (Level::Task, "taskDefinitionArn") => {
            *found == json!(format!("{ACCOUNT_ARN_PREFIX}{}:{}", expect.family, expect.revision))
        }
        (Level::Task, "revision") => found.as_i64() == Some(expect.revision),
        (Level::Task, "status") => *found == json!(expect.status),
        (Level::Task, "compatibilities") => {
            let listed: Vec<&str> =
                found.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let required: Vec<&str> = fixture
                .get("requiresCompatibilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            listed.contains(&"EC2") && required.iter().all(|r| listed.contains(r))
        }
        (Level::Task, "requiresAttributes") => found.is_array(),
        // Epoch seconds, as the JSON 1.1 protocol sends timestamps (not milliseconds).
        (Level::Task, "registeredAt" | "deregisteredAt") => {
            found.as_f64().is_some_and(|t| t > 1.6e9 && t < 1e11)
        }
        (Level::Task, "registeredBy") => found.as_str().is_some_and(|s| s.starts_with("arn:aws:iam::")),
        (Level::Task, "volumes" | "placementConstraints") => *found == json!([]),
        (Level::Container, "cpu") => *found == json!(0),
        (Level::Container, "essential") => *found == json!(true),
        (
            Level::Container,
            "portMappings" | "environment" | "mountPoints" | "volumesFrom" | "systemControls",
        ) => *found == json!([]),
        (Level::PortMapping, "protocol") => *found == json!("tcp"),
        (Level::PortMapping, "hostPort") => {
            matches!(expect.network_mode, "host" | "awsvpc")
                && !fixture.contains_key("containerPortRange")
                && fixture.get("containerPort") == Some(found)
        }
        _ => return Err(format!("{found} is neither in the fixture nor a member the server fills")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the server filled in {found}, which is not the documented default"))
    }
}

/// Compares a described value with the fixture value it came from: every fixture member must be
/// there and equal (numbers as numbers), and extra members must be ones the server fills.
fn compare(path: &str, level: Level, want: &Value, got: &Value, expect: &Expect, problems: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                if level == Level::Task && key == "tags" {
                    continue; // Tags come back beside the task definition, not in it.
                }
                let child = format!("{path}.{key}");
                match got.get(key) {
                    Some(found) => compare(&child, child_level(level, key), value, found, expect, problems),
                    None => problems
                        .push(format!("{child}: {value} was registered but is missing from the description")),
                }
            }
            for (key, found) in got.iter().filter(|(key, _)| !want.contains_key(*key)) {
                if let Err(why) = server_filled(level, key, found, want, expect) {
                    problems.push(format!("{path}.{key}: {why}"));
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                problems.push(format!("{path}: {} items registered, {} described", want.len(), got.len()));
                return;
            }
            for (index, (w, g)) in want.iter().zip(got).enumerate() {
                compare(&format!("{path}[{index}]"), level, w, g, expect, problems);
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            let same = match (w.as_i64(), g.as_i64()) {
                (Some(a), Some(b)) => a == b,
                _ => w.as_f64() == g.as_f64(),
            };
            if !same {
                problems.push(format!("{path}: registered {w}, described {g}"));
            }
        }
        _ if want == got => {}
        _ => problems.push(format!("{path}: registered {want}, described {got}")),
    }
}

/// Compares a whole DescribeTaskDefinition (or RegisterTaskDefinition) answer with its fixture.
fn compare_answer(label: &str, fixture: &Value, answer: &Value, expect: &Expect, problems: &mut Vec<String>) {
    let before = problems.len();
    match answer.as_object() {
        Some(members) => {
            let extra: Vec<&String> =
                members.keys().filter(|k| *k != "taskDefinition" && *k != "tags").collect();
            if !extra.is_empty() {
                problems.push(format!("{label}: unexpected members {extra:?} in the answer"));
            }
        }
        None => problems.push(format!("{label}: the answer is not an object")),
    }
    compare(label, Level::Task, fixture, &answer["taskDefinition"], expect, problems);
    let tags = fixture.get("tags").cloned().unwrap_or_else(|| json!([]));
    if answer["tags"] != tags {
        problems.push(format!("{label}.tags: registered {tags}, answered {}", answer["tags"]));
    }
    if problems.len() > before {
        problems.insert(before, format!("--- {label}"));
    }
}

/// An interceptor that keeps the raw body of the response the SDK just deserialized.
#[derive(Debug, Clone, Default)]
struct KeepBody(Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "KeepBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let bytes = context.response().body().bytes().map(<[u8]>::to_vec);
        *self.0.lock().expect("lock") = bytes;
        Ok(())
    }
}

/// Describes through the SDK with `include: [TAGS]`, returning the typed answer and the raw JSON
/// the SDK parsed it from.
async fn sdk_describe(
    ecs: &aws_sdk_ecs::Client,
    reference: &str,
) -> (aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput, Value) {
    let keep = KeepBody::default();
    let typed = ecs
        .describe_task_definition()
        .task_definition(reference)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(keep.clone())
        .send()
        .await
        .unwrap_or_else(|err| panic!("the SDK describes {reference}: {err:?}"));
    let raw = keep.0.lock().expect("lock").take().expect("the interceptor saw the body");
    (typed, serde_json::from_slice(&raw).expect("the body is JSON"))
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The typed description the SDK parsed, checked against the fixture member by member for the
/// members every fixture has, then field by field for the ones particular fixtures exist for.
fn check_typed(fixture: &Value, td: &TaskDefinition, tags: &[Tag], problems: &mut Vec<String>) {
    let family = str_at(fixture, "family").unwrap_or_default();
    let mut check = |what: &str, ok: bool| {
        if !ok {
            problems.push(format!("{family}: the SDK's typed description has the wrong {what}"));
        }
    };
    check("family", td.family() == Some(family));
    check("revision", td.revision() == 1);
    check("status", td.status() == Some(&TaskDefinitionStatus::Active));
    check("networkMode", td.network_mode().map(|m| m.as_str()) == str_at(fixture, "networkMode"));
    check("cpu", td.cpu() == str_at(fixture, "cpu"));
    check("memory", td.memory() == str_at(fixture, "memory"));
    check("taskRoleArn", td.task_role_arn() == str_at(fixture, "taskRoleArn"));
    check("executionRoleArn", td.execution_role_arn() == str_at(fixture, "executionRoleArn"));
    let containers = fixture["containerDefinitions"].as_array().cloned().unwrap_or_default();
    let names: Vec<Option<&str>> = containers.iter().map(|c| str_at(c, "name")).collect();
    let images: Vec<Option<&str>> = containers.iter().map(|c| str_at(c, "image")).collect();
    check(
        "container names",
        td.container_definitions().iter().map(|c| c.name()).collect::<Vec<_>>() == names,
    );
    check(
        "container images",
        td.container_definitions().iter().map(|c| c.image()).collect::<Vec<_>>() == images,
    );
    let volumes: Vec<Option<&str>> =
        fixture["volumes"].as_array().into_iter().flatten().map(|v| str_at(v, "name")).collect();
    check("volume names", td.volumes().iter().map(|v| v.name()).collect::<Vec<_>>() == volumes);
    let required: Vec<&str> = fixture["requiresCompatibilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    check(
        "requiresCompatibilities",
        td.requires_compatibilities().iter().map(|c| c.as_str()).collect::<Vec<_>>() == required,
    );
    let wanted_tags: Vec<(Option<&str>, Option<&str>)> = fixture["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (str_at(t, "key"), str_at(t, "value")))
        .collect();
    check("tags", tags.iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>() == wanted_tags);
    let container = |name: &str| td.container_definitions().iter().find(|c| c.name() == Some(name));

    match family {
        "orders-api" => {
            let api = container("api");
            let health = api.and_then(|c| c.health_check());
            check("healthCheck.interval", health.and_then(|h| h.interval()) == Some(15));
            check("healthCheck.startPeriod", health.and_then(|h| h.start_period()) == Some(60));
            check("secrets", api.map(|c| c.secrets().len()) == Some(2));
            check(
                "portMappings.appProtocol",
                api.and_then(|c| c.port_mappings()[0].app_protocol()).map(|p| p.as_str()) == Some("http"),
            );
            check("portMappings.hostPort", api.and_then(|c| c.port_mappings()[0].host_port()) == Some(8080));
            check("ephemeralStorage", td.ephemeral_storage().map(|e| e.size_in_gib()) == Some(40));
            check("enableFaultInjection", td.enable_fault_injection() == Some(true));
            check("readonlyRootFilesystem", api.and_then(|c| c.readonly_root_filesystem()) == Some(true));
            check(
                "environmentFiles",
                api.map(|c| c.environment_files()[0].value())
                    == Some("arn:aws:s3:::acme-config-prod/orders-api/common.env"),
            );
            check("compatibilities", td.compatibilities().iter().any(|c| c.as_str() == "FARGATE"));
        }
        "llm-finetune" => {
            let trainer = container("trainer");
            let gpu = trainer.map(|c| &c.resource_requirements()[0]);
            check("GPU requirement", gpu.map(|r| (r.r#type().as_str(), r.value())) == Some(("GPU", "8")));
            check(
                "hostPort filled in host mode",
                trainer.and_then(|c| c.port_mappings()[0].host_port()) == Some(29500),
            );
            check("ulimit memlock", trainer.map(|c| c.ulimits()[0].soft_limit()) == Some(-1));
            check(
                "sharedMemorySize",
                trainer.and_then(|c| c.linux_parameters()).and_then(|l| l.shared_memory_size())
                    == Some(65536),
            );
        }
        "embeddings-inference" => {
            let mps = container("embedder")
                .and_then(|c| c.resource_requirements()[0].sharing_strategy())
                .and_then(|s| s.as_nvidia_mps().ok());
            check("nvidiaMps.memory", mps.map(|m| m.memory()) == Some(6144));
            check("nvidiaMps.maxComputePercent", mps.and_then(|m| m.max_compute_percent()) == Some(40));
        }
        "marketing-wordpress" => {
            let efs = td.volumes()[0].efs_volume_configuration();
            check("efs fileSystemId", efs.map(|e| e.file_system_id()) == Some("fs-0a1b2c3d4e5f67890"));
            check(
                "efs transitEncryption",
                efs.and_then(|e| e.transit_encryption()).map(|t| t.as_str()) == Some("ENABLED"),
            );
            check("efs transitEncryptionPort", efs.and_then(|e| e.transit_encryption_port()) == Some(2999));
            let auth = efs.and_then(|e| e.authorization_config());
            check(
                "efs accessPointId",
                auth.and_then(|a| a.access_point_id()) == Some("fsap-0123456789abcdef0"),
            );
            check("efs iam", auth.and_then(|a| a.iam()).map(|i| i.as_str()) == Some("ENABLED"));
        }
        "intranet-iis" => {
            let fsx = td.volumes()[0].fsx_windows_file_server_volume_configuration();
            check(
                "fsx domain",
                fsx.and_then(|f| f.authorization_config()).map(|a| a.domain()) == Some("corp.acme.example"),
            );
            check("credentialSpecs", container("iis").map(|c| c.credential_specs().len()) == Some(1));
            check(
                "runtimePlatform",
                td.runtime_platform().and_then(|p| p.operating_system_family()).map(|f| f.as_str())
                    == Some("WINDOWS_SERVER_2022_FULL"),
            );
        }
        "analytics-postgres" => {
            let docker = td.volumes()[0].docker_volume_configuration();
            check("docker scope", docker.and_then(|d| d.scope()).map(|s| s.as_str()) == Some("shared"));
            check("docker autoprovision", docker.and_then(|d| d.autoprovision()) == Some(true));
            check(
                "docker driverOpts",
                docker.and_then(|d| d.driver_opts()).and_then(|o| o.get("iops")).map(String::as_str)
                    == Some("6000"),
            );
            check("docker labels", docker.and_then(|d| d.labels()).map(|l| l.len()) == Some(2));
            check(
                "host sourcePath",
                td.volumes()[1].host().and_then(|h| h.source_path())
                    == Some("/mnt/backups/analytics-postgres"),
            );
        }
        "video-transcoder" => {
            let linux = container("transcoder").and_then(|c| c.linux_parameters());
            check("tmpfs size", linux.map(|l| l.tmpfs()[0].size()) == Some(4096));
            check("swappiness", linux.and_then(|l| l.swappiness()) == Some(10));
            check("maxSwap", linux.and_then(|l| l.max_swap()) == Some(4096));
            check("initProcessEnabled", linux.and_then(|l| l.init_process_enabled()) == Some(true));
            check(
                "capabilities",
                linux.and_then(|l| l.capabilities()).map(|k| k.add().to_vec())
                    == Some(vec!["SYS_NICE".to_string()]),
            );
            check("device permissions", linux.map(|l| l.devices()[0].permissions().len()) == Some(2));
        }
        "billing-service" => {
            let conditions: Vec<ContainerCondition> = container("app")
                .map(|c| c.depends_on().iter().map(|d| d.condition().clone()).collect())
                .unwrap_or_default();
            check(
                "dependsOn conditions",
                conditions
                    == [
                        ContainerCondition::Complete,
                        ContainerCondition::Success,
                        ContainerCondition::Healthy,
                        ContainerCondition::Start,
                    ],
            );
            check("essential false kept", container("migrate").and_then(|c| c.essential()) == Some(false));
            check("startTimeout", container("app").and_then(|c| c.start_timeout()) == Some(180));
        }
        "payments-mesh" => {
            let proxy = td.proxy_configuration();
            check("proxy type", proxy.and_then(|p| p.r#type()).map(|t| t.as_str()) == Some("APPMESH"));
            check("proxy containerName", proxy.map(|p| p.container_name()) == Some("envoy"));
            check("proxy properties", proxy.map(|p| p.properties().len()) == Some(5));
        }
        "webrtc-media-relay" => {
            let range = container("turn").map(|c| &c.port_mappings()[1]);
            check("containerPortRange", range.and_then(|m| m.container_port_range()) == Some("49152-49352"));
            check("no hostPort for a range", range.and_then(|m| m.host_port()).is_none());
        }
        "email-sender" => {
            let sender = container("sender");
            let policy = sender.and_then(|c| c.restart_policy());
            check("restartPolicy.enabled", policy.map(|p| p.enabled()) == Some(true));
            check(
                "restartPolicy.ignoredExitCodes",
                policy.map(|p| p.ignored_exit_codes().to_vec()) == Some(vec![0, 143]),
            );
            check(
                "restartPolicy.restartAttemptPeriod",
                policy.and_then(|p| p.restart_attempt_period()) == Some(120),
            );
            check(
                "versionConsistency",
                sender.and_then(|c| c.version_consistency()).map(|v| v.as_str()) == Some("enabled"),
            );
            check(
                "log secretOptions",
                sender.and_then(|c| c.log_configuration()).map(|l| l.secret_options().len()) == Some(1),
            );
        }
        "ledger-writer" => check("configuredAtLaunch", td.volumes()[0].configured_at_launch() == Some(true)),
        "datalake-indexer" => {
            let s3 = td.volumes()[0].s3files_volume_configuration();
            check(
                "s3files accessPointArn",
                s3.and_then(|s| s.access_point_arn()).is_some_and(|a| a.ends_with("fsap-0fedcba9876543210")),
            );
            check(
                "s3files transitEncryptionPort",
                s3.and_then(|s| s.transit_encryption_port()) == Some(20049),
            );
        }
        "checkout" => {
            let firelens = container("log_router").and_then(|c| c.firelens_configuration());
            check("firelens type", firelens.map(|f| f.r#type().as_str()) == Some("fluentbit"));
            check("firelens options", firelens.and_then(|f| f.options()).map(|o| o.len()) == Some(3));
        }
        "shop-web" => {
            let nginx = container("nginx");
            check("links", nginx.map(|c| c.links().to_vec()) == Some(vec!["php-fpm:upstream".to_string()]));
            check("extraHosts", nginx.map(|c| c.extra_hosts()[0].ip_address()) == Some("10.0.12.34"));
            check("dockerLabels", nginx.and_then(|c| c.docker_labels()).map(|l| l.len()) == Some(3));
            check("dynamic hostPort", nginx.and_then(|c| c.port_mappings()[0].host_port()) == Some(0));
            check("placementConstraints", td.placement_constraints().len() == 1);
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_fixture_registers_over_the_wire_and_describes_back_as_registered() {
    let server = common::start().await;
    let mut problems = Vec::new();
    let all = fixtures();
    for (name, fixture) in &all {
        let family = str_at(fixture, "family").expect("every fixture has a family");
        let (status, registered) = wire(&server.endpoint, "RegisterTaskDefinition", fixture).await;
        if status != 200 {
            problems.push(format!("--- {name}: RegisterTaskDefinition answered {status}: {registered}"));
            continue;
        }
        let expect = Expect {
            family,
            revision: 1,
            network_mode: str_at(fixture, "networkMode").unwrap_or("bridge"),
            status: "ACTIVE",
        };
        compare_answer(&format!("{name} (register answer)"), fixture, &registered, &expect, &mut problems);

        let request = json!({ "taskDefinition": family, "include": ["TAGS"] });
        let described = wire_ok(&server.endpoint, "DescribeTaskDefinition", &request).await;
        compare_answer(&format!("{name} (wire describe)"), fixture, &described, &expect, &mut problems);

        let arn = format!("{ACCOUNT_ARN_PREFIX}{family}:1");
        let (typed, raw) = sdk_describe(&server.client, &arn).await;
        compare_answer(&format!("{name} (SDK describe)"), fixture, &raw, &expect, &mut problems);
        match typed.task_definition() {
            Some(td) => check_typed(fixture, td, typed.tags(), &mut problems),
            None => problems.push(format!("{name}: the SDK parsed no task definition")),
        }
    }
    assert!(problems.is_empty(), "{} fixture round-trip problems:\n{}", problems.len(), problems.join("\n"));
    let listed = server.client.list_task_definition_families().send().await.expect("list families");
    assert_eq!(listed.families().len(), all.len(), "every fixture registered a family");
    server.stop().await;
}

#[tokio::test]
async fn task_size_in_vcpu_and_gb_is_described_in_units_and_mib() {
    // The model: "String values are converted to an integer indicating the CPU units when the task
    // definition is registered", and likewise memory in GB to MiB.
    let server = common::start().await;
    let answer = server
        .client
        .register_task_definition()
        .family("sized")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("0.5 vCPU")
        .memory("1 GB")
        .container_definitions(app("web"))
        .send()
        .await
        .expect("register");
    let td = answer.task_definition().expect("task definition");
    assert_eq!((td.cpu(), td.memory()), (Some("512"), Some("1024")));
    let described =
        server.client.describe_task_definition().task_definition("sized").send().await.expect("describe");
    let td = described.task_definition().expect("task definition");
    assert_eq!((td.cpu(), td.memory()), (Some("512"), Some("1024")));
}

// ---------------------------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------------------------

/// A small valid container.
fn app(name: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name(name)
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .memory(64)
        .build()
}

async fn register(ecs: &aws_sdk_ecs::Client, family: &str) -> TaskDefinition {
    ecs.register_task_definition()
        .family(family)
        .container_definitions(app("app"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("register {family}: {err:?}"))
        .task_definition()
        .cloned()
        .expect("the answer holds the task definition")
}

async fn deregister(ecs: &aws_sdk_ecs::Client, reference: &str) -> TaskDefinition {
    ecs.deregister_task_definition()
        .task_definition(reference)
        .send()
        .await
        .unwrap_or_else(|err| panic!("deregister {reference}: {err:?}"))
        .task_definition()
        .cloned()
        .expect("the answer holds the task definition")
}

async fn describe(ecs: &aws_sdk_ecs::Client, reference: &str) -> TaskDefinition {
    ecs.describe_task_definition()
        .task_definition(reference)
        .send()
        .await
        .unwrap_or_else(|err| panic!("describe {reference}: {err:?}"))
        .task_definition()
        .cloned()
        .expect("the answer holds the task definition")
}

fn arn(family: &str, revision: i32) -> String {
    format!("{ACCOUNT_ARN_PREFIX}{family}:{revision}")
}

#[tokio::test]
async fn revisions_count_up_per_family_and_are_never_reused() {
    let server = common::start().await;
    let ecs = &server.client;
    for expected in 1..=3 {
        let td = register(ecs, "web").await;
        assert_eq!(td.revision(), expected);
        assert_eq!(td.task_definition_arn(), Some(arn("web", expected).as_str()));
    }
    assert_eq!(register(ecs, "worker").await.revision(), 1, "each family counts on its own");

    deregister(ecs, "web:3").await;
    let deleted = ecs.delete_task_definitions().task_definitions("web:3").send().await.expect("delete");
    assert_eq!(deleted.task_definitions().len(), 1);
    assert_eq!(register(ecs, "web").await.revision(), 4, "a deleted revision's number is not reused");

    // Even when every revision of the family is gone.
    for revision in [1, 2, 4] {
        deregister(ecs, &format!("web:{revision}")).await;
    }
    let deleted = ecs
        .delete_task_definitions()
        .task_definitions("web:1")
        .task_definitions("web:2")
        .task_definitions(arn("web", 4))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.task_definitions().len(), 3, "failures: {:?}", deleted.failures());
    assert_eq!(register(ecs, "web").await.revision(), 5);

    // Each region keeps its own families.
    let ireland = common::client(&server.endpoint, "eu-west-1");
    let elsewhere = register(&ireland, "web").await;
    assert_eq!(elsewhere.revision(), 1);
    assert_eq!(
        elsewhere.task_definition_arn(),
        Some("arn:aws:ecs:eu-west-1:000000000000:task-definition/web:1")
    );
    assert_eq!(describe(ecs, "web").await.revision(), 5);
}

#[tokio::test]
async fn describe_accepts_family_family_revision_and_arn() {
    let server = common::start().await;
    let ecs = &server.client;
    for _ in 0..3 {
        register(ecs, "api").await;
    }
    assert_eq!(describe(ecs, "api").await.revision(), 3, "a family alone names its latest ACTIVE revision");
    assert_eq!(describe(ecs, "api:2").await.revision(), 2);
    let by_arn = describe(ecs, &arn("api", 1)).await;
    assert_eq!(by_arn.revision(), 1);
    assert_eq!(by_arn.family(), Some("api"));

    deregister(ecs, "api:3").await;
    assert_eq!(
        describe(ecs, "api").await.revision(),
        2,
        "after deregistering the latest, the previous ACTIVE one"
    );
    let inactive = describe(ecs, "api:3").await;
    assert_eq!(
        inactive.status(),
        Some(&TaskDefinitionStatus::Inactive),
        "an INACTIVE revision still describes by number"
    );
    deregister(ecs, "api:1").await;
    assert_eq!(describe(ecs, "api").await.revision(), 2);
    deregister(ecs, "api:2").await;
    assert_refused!(server, "ClientException", ecs.describe_task_definition().task_definition("api").send());

    let other_region = "arn:aws:ecs:eu-west-1:000000000000:task-definition/api:1";
    for missing in ["nothing", "api:9", "nothing:1", &arn("nothing", 1), other_region] {
        assert_refused!(
            server,
            "ClientException",
            ecs.describe_task_definition().task_definition(missing).send()
        );
    }
    for malformed in
        ["api:0", "api:-1", "api:x", "bad name", "arn:aws:ecs:us-east-1:000000000000:cluster/api"]
    {
        assert_refused!(
            server,
            "ClientException",
            ecs.describe_task_definition().task_definition(malformed).send()
        );
    }
    assert_refused!(server, "InvalidParameterException", ecs.describe_task_definition().send());
}

#[tokio::test]
async fn deregister_needs_a_revision_and_marks_it_inactive() {
    let server = common::start().await;
    let ecs = &server.client;
    register(ecs, "batch").await;
    assert_refused!(
        server,
        "ClientException",
        ecs.deregister_task_definition().task_definition("batch").send()
    );
    assert_refused!(
        server,
        "ClientException",
        ecs.deregister_task_definition().task_definition("batch:2").send()
    );
    assert_refused!(server, "InvalidParameterException", ecs.deregister_task_definition().send());

    let td = deregister(ecs, &arn("batch", 1)).await;
    assert_eq!(td.status(), Some(&TaskDefinitionStatus::Inactive));
    let deregistered_at = td.deregistered_at().expect("deregisteredAt is set");
    assert!(td.registered_at().is_some_and(|at| at.secs() <= deregistered_at.secs()));
    let described = describe(ecs, "batch:1").await;
    assert_eq!(described.status(), Some(&TaskDefinitionStatus::Inactive));
    assert_eq!(described.deregistered_at(), Some(deregistered_at));
}

#[tokio::test]
async fn only_inactive_revisions_can_be_deleted() {
    let server = common::start().await;
    let ecs = &server.client;
    register(ecs, "cron").await;
    register(ecs, "cron").await;

    let before = server.revision().await;
    let refused =
        ecs.delete_task_definitions().task_definitions("cron:1").send().await.expect("delete answers");
    assert!(refused.task_definitions().is_empty());
    assert_eq!(refused.failures().len(), 1);
    assert_eq!(refused.failures()[0].arn(), Some("cron:1"));
    assert!(refused.failures()[0].reason().is_some_and(|r| !r.is_empty()));
    assert_eq!(server.revision().await, before, "refusing an ACTIVE revision writes nothing");
    assert_eq!(describe(ecs, "cron:1").await.status(), Some(&TaskDefinitionStatus::Active));

    deregister(ecs, "cron:1").await;
    let deleted = ecs
        .delete_task_definitions()
        .task_definitions("cron:1")
        .task_definitions("cron:2")
        .task_definitions("cron:7")
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.task_definitions().len(), 1);
    let gone = &deleted.task_definitions()[0];
    assert_eq!(gone.status(), Some(&TaskDefinitionStatus::DeleteInProgress));
    assert_eq!(gone.task_definition_arn(), Some(arn("cron", 1).as_str()));
    assert!(gone.delete_requested_at().is_some());
    let failed: Vec<Option<&str>> = deleted.failures().iter().map(|f| f.arn()).collect();
    assert_eq!(failed, [Some("cron:2"), Some("cron:7")], "an ACTIVE and a missing revision fail");

    assert_refused!(
        server,
        "ClientException",
        ecs.describe_task_definition().task_definition("cron:1").send()
    );
    assert_eq!(describe(ecs, "cron").await.revision(), 2);
    assert_refused!(server, "InvalidParameterException", ecs.delete_task_definitions().send());
    let eleven =
        (1..=11).fold(ecs.delete_task_definitions(), |call, r| call.task_definitions(format!("cron:{r}")));
    assert_refused!(server, "InvalidParameterException", eleven.send());
}

/// Lists every page of ListTaskDefinitions with `page` results a page, returning "family:revision".
async fn list_all(
    ecs: &aws_sdk_ecs::Client,
    status: Option<TaskDefinitionStatus>,
    sort: Option<SortOrder>,
    prefix: Option<&str>,
    page: Option<i32>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let answer = ecs
            .list_task_definitions()
            .set_status(status.clone())
            .set_sort(sort.clone())
            .set_family_prefix(prefix.map(String::from))
            .set_max_results(page)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("list");
        if let Some(size) = page {
            assert!(answer.task_definition_arns().len() <= size as usize, "a page holds at most maxResults");
        }
        seen.extend(
            answer
                .task_definition_arns()
                .iter()
                .map(|a| a.trim_start_matches(ACCOUNT_ARN_PREFIX).to_string()),
        );
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        match answer.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn list_task_definitions_filters_sorts_and_paginates() {
    let server = common::start().await;
    let ecs = &server.client;
    for family in ["web", "web", "web", "web-api", "web-api", "worker", "worker", "Alpha"] {
        register(ecs, family).await;
    }
    deregister(ecs, "web:2").await;
    deregister(ecs, "worker:1").await;
    deregister(ecs, "worker:2").await;

    let active = ["Alpha:1", "web:1", "web:3", "web-api:1", "web-api:2"];
    assert_eq!(
        list_all(ecs, None, None, None, None).await,
        active,
        "ACTIVE by default, by family then revision"
    );
    assert_eq!(
        list_all(ecs, Some(TaskDefinitionStatus::Active), Some(SortOrder::Asc), None, None).await,
        active
    );
    let mut descending = active.to_vec();
    descending.reverse();
    assert_eq!(list_all(ecs, None, Some(SortOrder::Desc), None, None).await, descending);
    assert_eq!(
        list_all(ecs, Some(TaskDefinitionStatus::Inactive), None, None, None).await,
        ["web:2", "worker:1", "worker:2"]
    );

    assert_eq!(
        list_all(ecs, None, None, Some("web"), None).await,
        ["web:1", "web:3"],
        "familyPrefix names a whole family"
    );
    assert_eq!(
        list_all(ecs, None, Some(SortOrder::Desc), Some("web-api"), None).await,
        ["web-api:2", "web-api:1"]
    );
    assert!(list_all(ecs, None, None, Some("we"), None).await.is_empty());
    assert_eq!(
        list_all(ecs, Some(TaskDefinitionStatus::Inactive), None, Some("worker"), None).await,
        ["worker:1", "worker:2"]
    );

    for size in 1..=6 {
        assert_eq!(list_all(ecs, None, None, None, Some(size)).await, active, "ASC in pages of {size}");
        assert_eq!(
            list_all(ecs, None, Some(SortOrder::Desc), None, Some(size)).await,
            descending,
            "DESC in pages of {size}"
        );
    }
    assert_eq!(
        list_all(ecs, Some(TaskDefinitionStatus::Inactive), Some(SortOrder::Desc), None, Some(2)).await,
        ["worker:2", "worker:1", "web:2"]
    );

    let first = ecs.list_task_definitions().max_results(2).send().await.expect("list");
    let token = first.next_token().expect("more pages").to_string();
    let refused = ecs.list_task_definitions().sort(SortOrder::Desc).next_token(&token).send().await;
    assert_eq!(
        common::code(refused),
        "InvalidParameterException",
        "an ASC token does not continue a DESC listing"
    );
    for bogus in ["bogus", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &token[..token.len() - 1]] {
        let refused = ecs.list_task_definitions().next_token(bogus).send().await;
        assert_eq!(common::code(refused), "InvalidParameterException", "token {bogus}");
    }
    for size in [0, 101, -1] {
        let refused = ecs.list_task_definitions().max_results(size).send().await;
        assert_eq!(common::code(refused), "InvalidParameterException", "maxResults {size}");
    }
    let refused = ecs.list_task_definitions().status(TaskDefinitionStatus::from("GONE")).send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
    let refused = ecs.list_task_definitions().sort(SortOrder::from("SIDEWAYS")).send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
    let all_hundred = ecs.list_task_definitions().max_results(100).send().await.expect("100 is allowed");
    assert_eq!(all_hundred.task_definition_arns().len(), active.len());
}

/// Lists every page of ListTaskDefinitionFamilies.
async fn families(
    ecs: &aws_sdk_ecs::Client,
    status: Option<TaskDefinitionFamilyStatus>,
    prefix: Option<&str>,
    page: Option<i32>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = ecs
            .list_task_definition_families()
            .set_status(status.clone())
            .set_family_prefix(prefix.map(String::from))
            .set_max_results(page)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("list families");
        seen.extend(answer.families().iter().cloned());
        assert!(seen.len() < 100, "pagination does not end");
        match answer.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn list_task_definition_families_filters_by_prefix_and_status_and_paginates() {
    let server = common::start().await;
    let ecs = &server.client;
    for family in ["web", "web", "web-api", "worker", "batch"] {
        register(ecs, family).await;
    }
    deregister(ecs, "worker:1").await; // worker: only INACTIVE revisions
    deregister(ecs, "web:1").await; // web: still ACTIVE through web:2

    // The API reference: "By default, both ACTIVE and INACTIVE task definition families are listed."
    assert_eq!(
        families(ecs, None, None, None).await,
        ["batch", "web", "web-api", "worker"],
        "ALL by default"
    );
    assert_eq!(
        families(ecs, Some(TaskDefinitionFamilyStatus::Active), None, None).await,
        ["batch", "web", "web-api"]
    );
    assert_eq!(families(ecs, Some(TaskDefinitionFamilyStatus::Inactive), None, None).await, ["worker"]);
    let all = ["batch", "web", "web-api", "worker"];
    assert_eq!(families(ecs, Some(TaskDefinitionFamilyStatus::All), None, None).await, all);
    assert_eq!(
        families(ecs, Some(TaskDefinitionFamilyStatus::All), Some("w"), None).await,
        ["web", "web-api", "worker"],
        "familyPrefix is a prefix here"
    );
    assert_eq!(families(ecs, None, Some("web"), None).await, ["web", "web-api"]);
    assert!(families(ecs, None, Some("zzz"), None).await.is_empty());
    for size in 1..=5 {
        assert_eq!(
            families(ecs, Some(TaskDefinitionFamilyStatus::All), None, Some(size)).await,
            all,
            "pages of {size}"
        );
    }
    assert_eq!(
        families(ecs, Some(TaskDefinitionFamilyStatus::Active), None, Some(1)).await,
        ["batch", "web", "web-api"]
    );

    deregister(ecs, "web:2").await;
    assert_eq!(
        families(ecs, Some(TaskDefinitionFamilyStatus::Inactive), None, None).await,
        ["web", "worker"]
    );

    let refused = ecs.list_task_definition_families().next_token("bogus").send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
    let task_definitions_token = ecs.list_task_definitions().max_results(1).send().await.expect("list");
    let foreign = task_definitions_token.next_token().expect("a token").to_string();
    let refused = ecs.list_task_definition_families().next_token(foreign).send().await;
    assert_eq!(
        common::code(refused),
        "InvalidParameterException",
        "a ListTaskDefinitions token is not a families token"
    );
    for size in [0, 101] {
        let refused = ecs.list_task_definition_families().max_results(size).send().await;
        assert_eq!(common::code(refused), "InvalidParameterException", "maxResults {size}");
    }
    let refused =
        ecs.list_task_definition_families().status(TaskDefinitionFamilyStatus::from("SOME")).send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
}

#[tokio::test]
async fn a_family_whose_revisions_are_all_deleted_is_no_longer_listed() {
    // The DeleteTaskDefinitions reference: "When you delete all INACTIVE task definition revisions,
    // the task definition name is not displayed in the console and not returned in the API." The
    // name is still retained for numbering, which `revisions_count_up_per_family_and_are_never_reused`
    // checks.
    let server = common::start().await;
    let ecs = &server.client;
    register(ecs, "gone").await;
    register(ecs, "kept").await;
    deregister(ecs, "gone:1").await;
    deregister(ecs, "kept:1").await;
    let deleted = ecs.delete_task_definitions().task_definitions("gone:1").send().await.expect("delete");
    assert_eq!(deleted.task_definitions().len(), 1);
    for status in [TaskDefinitionFamilyStatus::All, TaskDefinitionFamilyStatus::Inactive] {
        assert_eq!(families(ecs, Some(status.clone()), None, None).await, ["kept"], "status {status:?}");
    }
    assert_eq!(families(ecs, None, None, None).await, ["kept"]);
}

#[tokio::test]
async fn tags_are_returned_only_when_included() {
    let server = common::start().await;
    let ecs = &server.client;
    let tags =
        [Tag::builder().key("team").value("payments").build(), Tag::builder().key("tier").value("1").build()];
    let registered = ecs
        .register_task_definition()
        .family("tagged")
        .container_definitions(app("app"))
        .set_tags(Some(tags.to_vec()))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.tags(), tags, "the register answer returns the tags");

    let plain =
        wire_ok(&server.endpoint, "DescribeTaskDefinition", &json!({ "taskDefinition": "tagged" })).await;
    assert!(plain.get("tags").is_none(), "no tags without include: {plain}");
    assert!(plain["taskDefinition"].get("tags").is_none());
    let with = ecs
        .describe_task_definition()
        .task_definition("tagged:1")
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .expect("describe");
    assert_eq!(with.tags(), tags);

    register(ecs, "untagged").await;
    let none = wire_ok(
        &server.endpoint,
        "DescribeTaskDefinition",
        &json!({ "taskDefinition": "untagged", "include": ["TAGS"] }),
    )
    .await;
    assert_eq!(none["tags"], json!([]));
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.describe_task_definition()
            .task_definition("tagged")
            .include(TaskDefinitionField::from("EVERYTHING"))
            .send()
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_family_get_every_revision_exactly_once() {
    let server = common::start().await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let ecs = server.client.clone();
        calls.spawn(async move { register(&ecs, "busy").await.revision() });
    }
    let mut revisions: Vec<i32> = calls.join_all().await;
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=16).collect::<Vec<_>>());
    let listed = list_all(&server.client, None, None, Some("busy"), None).await;
    assert_eq!(listed, (1..=16).map(|r| format!("busy:{r}")).collect::<Vec<_>>());
    assert_eq!(describe(&server.client, "busy").await.revision(), 16);
}

#[tokio::test]
async fn server_filled_defaults_are_what_ecs_shows() {
    let server = common::start().await;
    let answer = server
        .client
        .register_task_definition()
        .family("defaults")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .memory(128)
                .port_mappings(aws_sdk_ecs::types::PortMapping::builder().container_port(80).build())
                .build(),
        )
        .send()
        .await
        .expect("register");
    let td = answer.task_definition().expect("task definition");
    let container = &td.container_definitions()[0];
    assert_eq!(container.cpu(), 0);
    assert_eq!(container.essential(), Some(true));
    let mapping = &container.port_mappings()[0];
    assert_eq!((mapping.host_port(), mapping.protocol().map(|p| p.as_str())), (Some(80), Some("tcp")));
    assert_eq!(td.status(), Some(&TaskDefinitionStatus::Active));
    assert!(td.registered_by().is_some() && td.registered_at().is_some());
    let compatibilities: Vec<&str> = td.compatibilities().iter().map(|c| c.as_str()).collect();
    assert!(compatibilities.contains(&"EC2"), "{compatibilities:?}");
    assert!(!compatibilities.contains(&"FARGATE"), "no task size, so not Fargate: {compatibilities:?}");
    assert!(
        !compatibilities.contains(&"EXTERNAL"),
        "awsvpc is not for external instances: {compatibilities:?}"
    );
}
