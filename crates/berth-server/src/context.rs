//! What a handler gets besides its input: the store, the region and account it acts in, and the
//! URL agents reach the control plane at.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_api::arn::Scope;
use berth_store::Store;

/// The context of one request. Cheap to clone: handlers take it by value.
#[derive(Clone)]
pub struct Ctx {
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The region and account the request acts in.
    pub scope: Scope,
    /// The control plane's own URL, which DiscoverPollEndpoint hands to agents.
    pub endpoint: String,
}

impl Ctx {
    /// A context for `scope` over `store`, with the endpoint of a server on the default listen
    /// address (see [`Ctx::with_endpoint`]).
    pub fn new(store: Arc<dyn Store>, scope: Scope) -> Self {
        Self { store, scope, endpoint: format!("http://{}", crate::config::DEFAULT_LISTEN) }
    }

    /// The same context, telling agents that the control plane is at `endpoint`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The IAM principal of the caller. Until the security layer authenticates callers, every
    /// request acts as the account's root user.
    pub fn caller_principal(&self) -> String {
        format!("arn:aws:iam::{}:root", self.scope.account)
    }
}

/// Now, as the epoch seconds (with milliseconds) the JSON 1.1 protocol sends timestamps in.
pub fn now() -> f64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (since.as_millis() as f64) / 1000.0
}
