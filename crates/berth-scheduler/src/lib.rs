//! Placement: given a consistent snapshot of a cluster's container instances and a request for
//! tasks, decide which instance each task runs on, or say for each instance why it could not.
//!
//! Placement is a pure function. The crate does no IO, reads no clock and draws no randomness it
//! is not given as a seed, so the same snapshot and request always give the same answer, and
//! tests can state exactly what ECS's documented behaviour should produce. (The `memberOf`
//! answers a [`PreparedCluster`] keeps are a cache: they change how fast, never what.) The
//! server builds the snapshot (a slice of [`InstanceView`]) from its records and keeps it, with
//! a [`PreparedCluster`] told of each change, calls [`place_in`] (or [`place`] on a snapshot it
//! does not keep), and commits the placements together with the resources they reserve in one
//! compare-and-set transaction that compares every instance record it charges, retrying with a
//! fresh snapshot if one changed meanwhile. That is what makes overbooking impossible under
//! concurrency: this crate never returns a placement that does not fit the snapshot it was
//! given, and the store's compare-and-set guarantees the snapshot was still true when the
//! placement was written.
//!
//! The steps follow the ECS developer guide's "task placement" page: keep the instances that
//! have the CPU, memory, GPUs and ports the task needs (`fit`), then those that satisfy the
//! constraints (`distinctInstance`, `memberOf` with a [`query`] expression), then let the
//! strategies (`binpack`, `spread`, `random`) pick among them (`rank`), one task at a time, each
//! charged to the working snapshot before the next is placed (`place`).

mod columns;
mod fit;
mod interner;
mod place;
mod prepared;
pub mod query;
mod rank;
#[cfg(test)]
mod reference;
mod rng;
mod types;
mod validate;

pub use place::{place, place_avoiding, place_in, place_prepared};
pub use prepared::PreparedCluster;
pub use types::{
    BinpackField, Constraint, Demand, Failure, InstanceView, Placement, Prepared, Request, SpreadField,
    Strategy, TaskView, reason,
};
pub use validate::{
    MAX_CONSTRAINTS, MAX_EXPRESSION_LENGTH, MAX_STRATEGIES, default_strategies, validate_constraints,
    validate_strategies,
};
