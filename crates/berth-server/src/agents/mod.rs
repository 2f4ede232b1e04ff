//! The control plane's side of the agent sessions.
//!
//! Each agent holds one WebSocket ([`berth_api::agent_protocol::SESSION_PATH`]) with a server.
//! [`session`] runs one: it marks the instance connected, reconciles the whole task list when the
//! agent says hello, applies the agent's reports through [`crate::state::tasks::apply_report`], and
//! pushes every change of the instance's task index to the agent. The index is watched in the
//! store, so a task's change reaches its agent whichever handler or server wrote it.
//! [`connections`] remembers which session of an instance is the current one, so a session that
//! ends after its agent has already reconnected does not mark the instance disconnected.

pub mod connections;
pub mod session;

use berth_api::EcsError;
use berth_store::Store;

use crate::state::container_instances::ContainerInstanceRecord;
use crate::state::{keys, partitions, records};

/// Marks every instance disconnected. Run at start: sessions live in the process, so after a
/// restart no instance has one until its agent reconnects (which it does within its backoff),
/// and an agent that died with the old process must not be placed on meanwhile.
pub async fn reset_connections(store: &dyn Store) -> Result<usize, EcsError> {
    let mut reset = 0;
    let mut after = None;
    while let Some(scope) = partitions::next(store, after.clone()).await? {
        let page =
            records::list::<ContainerInstanceRecord>(store, &keys::all_container_instances(&scope), None, 0)
                .await?;
        for (key, record) in page.items {
            if record.instance.agent_connected != Some(true) {
                continue;
            }
            records::update::<ContainerInstanceRecord, _>(store, &key, |current| {
                let mut current =
                    current.ok_or_else(|| EcsError::client("the container instance is gone"))?;
                current.instance.agent_connected = Some(false);
                current.disconnected_at = Some(crate::context::now());
                current.instance.version = Some(current.instance.version.unwrap_or(0) + 1);
                Ok(current)
            })
            .await?;
            reset += 1;
        }
        after = Some(partitions::end_of(&scope));
    }
    Ok(reset)
}

#[cfg(test)]
mod tests {
    use berth_api::arn::Scope;
    use berth_api::model::ContainerInstance;
    use berth_store::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn every_partitions_connected_instances_are_marked_disconnected() {
        let store = MemoryStore::new();
        let scopes = [Scope::new("us-east-1", "000000000000"), Scope::new("eu-west-1", "111111111111")];
        for (index, scope) in scopes.iter().enumerate() {
            for (id, connected) in [("a", true), ("b", false)] {
                let record = ContainerInstanceRecord {
                    instance: ContainerInstance {
                        agent_connected: Some(connected),
                        ..ContainerInstance::default()
                    },
                    cluster: format!("c{index}"),
                    disconnected_at: None,
                };
                let key = keys::container_instance(scope, &format!("c{index}"), id);
                records::put(&store, &key, &record).await.expect("put");
            }
        }
        assert_eq!(reset_connections(&store).await.expect("reset"), 2);
        for (index, scope) in scopes.iter().enumerate() {
            let key = keys::container_instance(scope, &format!("c{index}"), "a");
            let record =
                records::get::<ContainerInstanceRecord>(&store, &key).await.expect("get").expect("there");
            assert_eq!(record.value.instance.agent_connected, Some(false));
            assert!(record.value.disconnected_at.is_some());
        }
        assert_eq!(reset_connections(&store).await.expect("reset"), 0, "nothing left to reset");
    }
}
