//! The harness of the integration tests: a real server on an ephemeral loopback port over a real
//! redb store in a temporary directory, driven by the official AWS SDK for Rust.
#![allow(dead_code)] // Each test file uses a different part of the harness.

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_sdk_ecs::config::{BehaviorVersion, Region};
use berth_server::{Running, ServerConfig};
use berth_store::{RedbStore, Store};

/// A running server and a client pointed at it.
pub struct TestServer {
    /// An SDK client for the server's default region.
    pub client: aws_sdk_ecs::Client,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The store the server runs on, for checking what was (not) written.
    pub store: Arc<dyn Store>,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

/// Starts a server with the default settings (region us-east-1, account 000000000000).
pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store: Arc<dyn Store> =
        Arc::new(RedbStore::open(dir.path().join("berth.redb")).expect("store opens"));
    let config = ServerConfig { listen: "127.0.0.1:0".parse().expect("address"), ..ServerConfig::default() };
    let running = berth_server::start_with_store(config, store.clone()).await.expect("server starts");
    let endpoint = format!("http://{}", running.addr);
    TestServer { client: client(&endpoint, "us-east-1"), endpoint, store, running: Some(running), _dir: dir }
}

/// An SDK client for `endpoint` that signs its requests for `region`.
pub fn client(endpoint: &str, region: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

impl TestServer {
    /// The store's current revision: unchanged across a refused request, as nothing was written.
    pub async fn revision(&self) -> u64 {
        self.store.revision().await.expect("store revision")
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("clean shutdown");
        }
    }
}

/// The ECS error code of a failed SDK call.
pub fn code<E, R>(result: Result<impl std::fmt::Debug, aws_sdk_ecs::error::SdkError<E, R>>) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => {
            use aws_sdk_ecs::error::ProvideErrorMetadata;
            err.code().map(String::from).unwrap_or_else(|| format!("<no code: {err:?}>"))
        }
    }
}

/// Asserts that `call` fails with `expected` and leaves the store unchanged.
#[macro_export]
macro_rules! assert_refused {
    ($server:expr, $expected:expr, $call:expr) => {{
        let before = $server.revision().await;
        let result = $call.await;
        assert_eq!($crate::common::code(result), $expected);
        assert_eq!($server.revision().await, before, "a refused request must write nothing");
    }};
}
