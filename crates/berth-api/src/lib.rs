//! The ECS API as data: Berth's wire shapes, error codes, ARNs and validation, with no IO.
//!
//! [`model`] holds every structure of the ECS service model (generated from botocore's
//! `service-2.json` by `tools/codegen/ecs_model.py`), so every member of every request is accepted
//! and every member of every response can be returned. Around it sit the pieces every front end
//! needs and none should rewrite: [`EcsError`] with the ECS error codes and their HTTP statuses,
//! [`arn`] building and parsing resource ARNs, [`pagination`] tokens, [`sigv4`] credential-scope
//! parsing (which region a request is for), and [`validate`], the rules ECS applies to input.
//! The server, agent and command line all depend on this crate; it depends on nothing with IO.

pub mod agent_protocol;
pub mod arn;
mod error;
pub mod model;
pub mod names;
pub mod pagination;
pub mod sigv4;
pub mod tags;
pub mod validate;

pub use error::{EcsError, ErrorCode};

/// The `X-Amz-Target` prefix of every ECS operation.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

/// The content type of requests and responses in the AWS JSON 1.1 protocol.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
