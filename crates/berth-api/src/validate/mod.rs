//! The rules ECS applies to request input, one module per resource.
//!
//! Each check returns the ECS error code and message a client would get from ECS; none of them
//! touch state, so a rejected request changes nothing.

pub mod task_definition;
