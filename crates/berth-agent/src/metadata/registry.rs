//! What the endpoint serves: the tasks' metadata, and the tokens that let a container reach its
//! own task's documents and no other.
//!
//! A container's endpoint URI ends in a token of 128 bits from a cryptographically secure
//! generator (rand's thread generator, seeded by the operating system), written as hex. The token is the only credential: a container learns its own from its
//! environment and cannot guess another's, so it can read only its own task's metadata, as with
//! ECS (whose agent uses a random id in the same place).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::shapes::TaskMetadata;

/// The tasks the endpoint serves, by container token. Cheap to clone: clones share one table,
/// so the task engine keeps one and the server another.
#[derive(Debug, Clone)]
pub struct MetadataRegistry {
    base_url: Arc<str>,
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: HashMap<String, Arc<TaskMetadata>>,
    /// Token → (task ARN, container name).
    endpoints: HashMap<String, (String, String)>,
}

/// What a token resolves to: the task, and which of its containers holds the token.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub task: Arc<TaskMetadata>,
    pub container: usize,
}

// === impl MetadataRegistry ===

impl MetadataRegistry {
    /// An empty registry whose container URIs start with `base_url` (`http://HOST:PORT`, no
    /// trailing slash). [`super::MetadataServer::registry`] gives the one a server serves.
    pub fn new(base_url: impl Into<String>) -> MetadataRegistry {
        let base_url: String = base_url.into();
        MetadataRegistry {
            base_url: base_url.trim_end_matches('/').into(),
            inner: Arc::new(RwLock::new(Inner::default())),
        }
    }

    /// A new unguessable endpoint token: 128 random bits as 32 lower-case hex digits.
    pub fn new_token() -> String {
        format!("{:032x}", rand::random::<u128>())
    }

    /// The value of `ECS_CONTAINER_METADATA_URI_V4` for the container holding `token`:
    /// `{base}/v4/{token}`.
    pub fn container_uri(&self, token: &str) -> String {
        format!("{}/v4/{token}", self.base_url)
    }

    /// The base URL, `http://HOST:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Adds a task or replaces what is known of it (matched by `task_arn`). Each container's
    /// `endpoint_token` becomes its way in; tokens the task's previous version had and this one
    /// does not are revoked.
    pub fn upsert_task(&self, task: TaskMetadata) {
        let arn = task.task_arn.clone();
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.revoke_tokens_of(&arn);
        for container in task.containers.iter().filter(|c| !c.endpoint_token.is_empty()) {
            let endpoint = (arn.clone(), container.name.clone());
            if let Some((previous, _)) = inner.endpoints.insert(container.endpoint_token.clone(), endpoint)
                && previous != arn
            {
                // Tokens are 128 random bits, so this is an engine bug, not bad luck.
                tracing::warn!(task = %arn, %previous, "metadata endpoint token moved to another task");
            }
        }
        inner.tasks.insert(arn, Arc::new(task));
    }

    /// Forgets a task: its containers' tokens stop resolving (their requests get 404).
    pub fn remove_task(&self, task_arn: &str) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.revoke_tokens_of(task_arn);
        inner.tasks.remove(task_arn);
    }

    /// How many tasks are registered.
    pub fn task_count(&self) -> usize {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).tasks.len()
    }

    /// The task and container a token belongs to.
    pub(crate) fn resolve(&self, token: &str) -> Option<Resolved> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let (arn, name) = inner.endpoints.get(token)?;
        let task = inner.tasks.get(arn)?.clone();
        let container = task.containers.iter().position(|c| &c.name == name)?;
        Some(Resolved { task, container })
    }
}

impl Inner {
    fn revoke_tokens_of(&mut self, task_arn: &str) {
        let Some(task) = self.tasks.get(task_arn) else { return };
        for container in &task.containers {
            if self.endpoints.get(&container.endpoint_token).is_some_and(|(arn, _)| arn == task_arn) {
                self.endpoints.remove(&container.endpoint_token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::shapes::ContainerMetadata;

    fn task(arn: &str, containers: &[(&str, &str)]) -> TaskMetadata {
        TaskMetadata {
            task_arn: arn.to_string(),
            containers: containers
                .iter()
                .map(|(name, token)| ContainerMetadata {
                    name: name.to_string(),
                    endpoint_token: token.to_string(),
                    ..ContainerMetadata::default()
                })
                .collect(),
            ..TaskMetadata::default()
        }
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (MetadataRegistry::new_token(), MetadataRegistry::new_token());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn container_uri_joins_base_and_token() {
        let registry = MetadataRegistry::new("http://172.17.0.1:51678/");
        assert_eq!(registry.container_uri("abc"), "http://172.17.0.1:51678/v4/abc");
    }

    #[test]
    fn a_token_resolves_to_its_own_container() {
        let registry = MetadataRegistry::new("http://x");
        registry.upsert_task(task("t1", &[("web", "a"), ("sidecar", "b")]));
        let resolved = registry.resolve("b").expect("token b resolves");
        assert_eq!(resolved.task.task_arn, "t1");
        assert_eq!(resolved.task.containers[resolved.container].name, "sidecar");
        assert!(registry.resolve("c").is_none());
    }

    #[test]
    fn upsert_revokes_dropped_tokens_and_remove_revokes_all() {
        let registry = MetadataRegistry::new("http://x");
        registry.upsert_task(task("t1", &[("web", "a"), ("sidecar", "b")]));
        registry.upsert_task(task("t1", &[("web", "a")]));
        assert!(registry.resolve("b").is_none());
        assert!(registry.resolve("a").is_some());
        registry.remove_task("t1");
        assert!(registry.resolve("a").is_none());
        assert_eq!(registry.task_count(), 0);
    }

    #[test]
    fn clones_share_one_table() {
        let registry = MetadataRegistry::new("http://x");
        registry.clone().upsert_task(task("t1", &[("web", "a")]));
        assert!(registry.resolve("a").is_some());
    }
}
