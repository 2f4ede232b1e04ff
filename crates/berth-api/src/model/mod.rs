//! The ECS wire shapes.
//!
//! `generated.rs` is written by `tools/codegen/ecs_model.py` from the botocore model kept in
//! `crates/berth-api/model/`; regenerate it rather than editing it.

mod generated;

pub use generated::*;

/// Looks up an operation of the ECS model by name.
pub fn operation(name: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.binary_search_by(|op| op.name.cmp(name)).ok().map(|index| &OPERATIONS[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_sorted_so_lookup_finds_each() {
        for op in OPERATIONS {
            assert_eq!(operation(op.name), Some(op));
        }
        assert_eq!(operation("NoSuchThing"), None);
    }

    #[test]
    fn unknown_members_are_ignored_and_nulls_read_as_absent() {
        let cluster: Cluster = serde_json::from_str(r#"{"clusterName":"a","futureMember":1,"status":null}"#)
            .expect("valid cluster json");
        assert_eq!(cluster.cluster_name.as_deref(), Some("a"));
        assert_eq!(cluster.status, None);
    }

    #[test]
    fn absent_members_are_not_serialized() {
        let json =
            serde_json::to_string(&Tag { key: Some("k".into()), value: None }).expect("tags serialize");
        assert_eq!(json, r#"{"key":"k"}"#);
    }
}
