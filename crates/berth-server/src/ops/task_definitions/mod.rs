//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
//! ListTaskDefinitionFamilies, DeregisterTaskDefinition, DeleteTaskDefinitions.
//!
//! The family and revision bookkeeping lives in [`crate::state::task_definitions`]; these handlers
//! validate input with `berth-api` and shape the answers.

pub mod delete;
pub mod deregister;
pub mod describe;
pub mod list;
pub mod list_families;
pub mod register;
