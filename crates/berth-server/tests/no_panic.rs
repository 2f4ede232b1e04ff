//! No input makes the control plane panic, and no refused request writes anything.
//!
//! For every operation Berth serves, bodies are generated from the botocore model itself: values
//! of the right type for each member, recursively (enum values, edge-case integers, names and
//! ARNs, nested structures), so that requests get past parsing and deep into validation; then
//! members of the wrong type, and arbitrary bytes. Every answer must be a success with a JSON body
//! or an ECS client error with a message, and a refused request must leave the store unchanged.

use std::sync::{Arc, OnceLock};

use berth_api::arn::Scope;
use berth_server::{Ctx, ops};
use berth_store::{MemoryStore, Store};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{Map, Value};

fn model() -> &'static Value {
    static MODEL: OnceLock<Value> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../berth-api/model/ecs-2014-11-13.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("model")).expect("json")
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

/// A context over a fresh store holding a cluster and a task definition to refer to.
async fn context() -> (Ctx, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let ctx = Ctx::new(store.clone(), Scope::new("us-east-1", "000000000000"));
    ops::dispatch(ctx.clone(), "CreateCluster", br#"{"clusterName":"default"}"#).await.expect("cluster");
    let definition =
        br#"{"family":"web","containerDefinitions":[{"name":"app","image":"busybox","memory":64}]}"#;
    ops::dispatch(ctx.clone(), "RegisterTaskDefinition", definition).await.expect("task definition");
    // Services to act on: `web` (rolling deployments) and `ext` (EXTERNAL, with a task set).
    let web = br#"{"serviceName":"web","taskDefinition":"web","desiredCount":1}"#;
    ops::dispatch(ctx.clone(), "CreateService", web).await.expect("service");
    let ext = br#"{"serviceName":"ext","desiredCount":2,"deploymentController":{"type":"EXTERNAL"}}"#;
    ops::dispatch(ctx.clone(), "CreateService", ext).await.expect("external service");
    ops::dispatch(ctx.clone(), "CreateTaskSet", br#"{"service":"ext","taskDefinition":"web"}"#)
        .await
        .expect("task set");
    (ctx, store)
}

/// The operations Berth serves, with their input shape names.
fn served() -> &'static Vec<(String, String)> {
    static SERVED: OnceLock<Vec<(String, String)>> = OnceLock::new();
    SERVED.get_or_init(|| {
        runtime().block_on(async {
            let (ctx, _) = context().await;
            let mut served = Vec::new();
            for (name, op) in model()["operations"].as_object().expect("operations") {
                let result = ops::dispatch(ctx.clone(), name, b"{}").await;
                let unsupported =
                    matches!(&result, Err(e) if e.code == berth_api::ErrorCode::UnsupportedFeatureException);
                if !unsupported {
                    served
                        .push((name.clone(), op["input"]["shape"].as_str().unwrap_or_default().to_string()));
                }
            }
            served
        })
    })
}

fn interesting_string() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9_-]{1,12}",
        ".{0,40}",
        Just("default".to_string()),
        Just("web".to_string()),
        Just("web:1".to_string()),
        Just("FARGATE".to_string()),
        Just("arn:aws:ecs:us-east-1:000000000000:cluster/default".to_string()),
        Just("arn:aws:ecs:us-east-1:000000000000:task-definition/web:1".to_string()),
        Just("ext".to_string()),
        Just("arn:aws:ecs:us-east-1:000000000000:service/default/web".to_string()),
        Just("arn:aws:ecs:us-east-1:000000000000:service-deployment/default/web/x".to_string()),
        Just("ecs-svc/1234567890123456789".to_string()),
        Just("arn:aws:ecs:eu-west-1:000000000000:cluster/default".to_string()),
        Just("arn:aws:iam::000000000000:root".to_string()),
        Just("1 vCPU".to_string()),
        Just("aws:reserved".to_string()),
        Just("x".repeat(300)),
    ]
    .prop_map(Value::String)
    .boxed()
}

fn interesting_integer() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(10),
        Just(101),
        Just(65535),
        Just(65536),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        any::<i32>().prop_map(i64::from),
    ]
    .prop_map(Value::from)
    .boxed()
}

/// A value of the model's shape `name`, `depth` levels of nesting at most.
fn value_of(name: &str, depth: u32) -> BoxedStrategy<Value> {
    let shape = &model()["shapes"][name];
    match shape["type"].as_str().unwrap_or_default() {
        "string" => match shape["enum"].as_array() {
            Some(values) => {
                let values: Vec<Value> = values.clone();
                prop_oneof![4 => prop::sample::select(values), 1 => interesting_string()].boxed()
            }
            None => interesting_string(),
        },
        "integer" | "long" => interesting_integer(),
        "double" | "float" | "timestamp" => any::<f64>().prop_map(Value::from).boxed(),
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        "list" if depth > 0 => {
            let member = shape["member"]["shape"].as_str().unwrap_or_default().to_string();
            prop::collection::vec(value_of(&member, depth - 1), 0..4).prop_map(Value::Array).boxed()
        }
        "map" if depth > 0 => {
            let value = shape["value"]["shape"].as_str().unwrap_or_default().to_string();
            prop::collection::btree_map("[a-zA-Z0-9-]{1,8}", value_of(&value, depth - 1), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed()
        }
        "structure" if depth > 0 => structure_of(name, depth),
        _ => Just(Value::Null).boxed(),
    }
}

/// An object with a random subset of the structure's members, each of its own shape.
fn structure_of(name: &str, depth: u32) -> BoxedStrategy<Value> {
    let members: Vec<(String, String)> = model()["shapes"][name]["members"]
        .as_object()
        .map(|m| {
            m.iter().map(|(k, v)| (k.clone(), v["shape"].as_str().unwrap_or_default().to_string())).collect()
        })
        .unwrap_or_default();
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = members
        .into_iter()
        .map(|(member, shape)| {
            prop::option::weighted(0.5, value_of(&shape, depth - 1).prop_map(move |v| (member.clone(), v)))
                .boxed()
        })
        .collect();
    fields.prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect::<Map<_, _>>())).boxed()
}

/// Any JSON at all, for members of the wrong type.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| prop::collection::vec(inner, 0..3).prop_map(Value::Array))
}

fn request() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (0..served().len()).prop_flat_map(|index| {
        let input = served()[index].1.clone();
        let names: Vec<String> = model()["shapes"][&input]["members"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let wrong_types = if names.is_empty() {
            Just(Value::Object(Map::new())).boxed()
        } else {
            prop::collection::btree_map(prop::sample::select(names), any_json(), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed()
        };
        let body = prop_oneof![
            8 => structure_of(&input, 4).prop_map(|v| serde_json::to_vec(&v).expect("serializes")),
            2 => wrong_types.prop_map(|v| serde_json::to_vec(&v).expect("serializes")),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ];
        (Just(index), body)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_served_operation_answers_every_body((index, body) in request()) {
        let operation = served()[index].0.clone();
        runtime().block_on(async {
            let (ctx, store) = context().await;
            let before = store.revision().await.expect("revision");
            match ops::dispatch(ctx, &operation, &body).await {
                Ok(output) => {
                    serde_json::from_slice::<Value>(&output).expect("a success is JSON");
                }
                Err(err) => {
                    assert!(!err.message.is_empty(), "{operation}: an error without a message");
                    assert_ne!(err.http_status(), 500, "{operation}: server fault on {}: {err}", String::from_utf8_lossy(&body));
                    assert_eq!(store.revision().await.expect("revision"), before, "{operation}: refused but wrote");
                }
            }
        });
    }
}

#[test]
fn the_served_operations_are_the_ones_berth_implements() {
    // Guards the generator above: if this list shrank, the property test would quietly cover less.
    assert!(served().len() >= 24, "only {} operations are served", served().len());
}
