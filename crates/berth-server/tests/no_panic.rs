//! No input makes the control plane panic.
//!
//! For every operation of the ECS model, random JSON bodies are dispatched: objects whose keys are
//! the operation's real input members (so handlers get past parsing and into validation) with
//! random values of random types, and arbitrary bytes. Every answer must be a success or an ECS
//! error with a code and a message; a refused request must leave the store unchanged.

use std::sync::{Arc, OnceLock};

use berth_api::arn::Scope;
use berth_server::{Ctx, ops};
use berth_store::{MemoryStore, Store};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// The input member names of each operation, from the botocore model.
fn members() -> &'static Vec<(String, Vec<String>)> {
    static MEMBERS: OnceLock<Vec<(String, Vec<String>)>> = OnceLock::new();
    MEMBERS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../berth-api/model/ecs-2014-11-13.json");
        let model: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("model")).expect("json");
        let shapes = &model["shapes"];
        model["operations"]
            .as_object()
            .expect("operations")
            .iter()
            .map(|(name, op)| {
                let input = op["input"]["shape"].as_str().unwrap_or_default();
                let names = shapes[input]["members"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                (name.clone(), names)
            })
            .collect()
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            ".*",
            "[a-zA-Z0-9:/_-]{0,20}",
            Just("arn:aws:ecs:us-east-1:000000000000:cluster/default".to_string())
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn request() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let count = members().len();
    (0..count).prop_flat_map(|index| {
        let names = members()[index].1.clone();
        let body = if names.is_empty() {
            Just(Value::Object(Map::new())).boxed()
        } else {
            prop::collection::btree_map(prop::sample::select(names), json_value(), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed()
        };
        let bytes = prop_oneof![
            4 => body.prop_map(|v| serde_json::to_vec(&v).expect("serializes")),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ];
        (Just(index), bytes)
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn every_operation_answers_every_body((index, body) in request()) {
        let operation = members()[index].0.clone();
        runtime().block_on(async {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            // A cluster and a task definition exist, so references can resolve.
            let ctx = Ctx::new(store.clone(), Scope::new("us-east-1", "000000000000"));
            ops::dispatch(ctx.clone(), "CreateCluster", br#"{"clusterName":"default"}"#).await.expect("setup");
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
