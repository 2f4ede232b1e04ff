//! Berth's control plane: the ECS API over the AWS JSON 1.1 protocol, on top of the state store.
//!
//! A request goes through three layers, each in its own module. [`http`] is the protocol front:
//! it checks the method, content type, size and `X-Amz-Target`, works out the region from the
//! SigV4 credential scope, and turns every error into ECS's `{"__type", "message"}` body.
//! [`ops`] holds one file per ECS operation: each parses its input shape, validates it with
//! `berth-api`, and reads and writes records through [`state`], which maps ECS resources to keys of
//! the [`berth_store::Store`] with compare-and-set retries. Handlers never know which store backend
//! runs, and never hold state of their own, so several servers can later share one etcd.

pub mod agents;
pub mod config;
pub mod context;
pub mod controller;
pub mod http;
pub mod launch;
pub mod lost_agents;
pub mod ops;
pub mod retention;
pub mod state;

pub use config::{ServerConfig, StoreKind};
pub use context::Ctx;
pub use http::{AppState, router, serve};
pub use launch::{Running, StartError, start, start_with_store};
