//! Helpers shared by Berth's tests that drive real infrastructure: the local Docker Engine, a
//! busybox image built offline from the host's static busybox, a throwaway plain-HTTP registry
//! on a loopback port, and free ports. Tests never skip: a missing engine or package makes the
//! helper panic with one line saying what to start or install.
//!
//! This crate is for tests only (`publish = false`); nothing in a shipped binary depends on it.

mod busybox;
mod docker;
pub mod hosts;
mod net;
mod registry;

pub use busybox::{BUSYBOX_IMAGE, busybox_image};
pub use docker::{docker, docker_or_fail};
pub use net::free_port;
pub use registry::Registry;
