//! The container agent: one per host. It registers the host as a container instance, holds one
//! long-lived session with the control plane, and makes the host's containers match the tasks the
//! control plane assigns it, reporting every change of their state back.
//!
//! [`runtime`] is the seam between what a task needs and what runs it: the Docker runtime drives
//! the local Docker Engine through bollard; the simulated runtime (for scale tests) runs nothing
//! and shares every other code path.

pub mod agent;
pub mod client;
pub mod config;
pub mod engine;
pub mod host;
pub mod identity;
pub mod metadata;
pub mod runtime;
pub mod session;

pub use agent::Agent;
pub use config::AgentConfig;
