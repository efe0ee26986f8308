//! orch's workflow engine core: Orquesta-shaped YAML workflows, their expressions, offline
//! validation, task graphs, and the run state machine.
//!
//! Everything here is pure: no I/O, no clock, no randomness, no async. The host's driver feeds
//! [`machine::Event`]s into a [`machine::Machine`], carries out the [`machine::Command`]s it gets
//! back, and journals the events; replaying the journal into a fresh machine re-derives the same
//! state. See `machine.rs` for the contract a driver must follow. [`rehearsal`] runs a workflow on
//! the machine with mocked actions against a test spec (`orch workflow test`).

pub mod expr;
pub mod graph;
pub mod machine;
pub mod model;
pub mod parse;
pub mod rehearsal;
pub mod validate;
pub(crate) mod yaql;

pub use expr::{ExprError, Mapping};
pub use machine::{Command, Event, ExecId, Machine, MachineError, RunError, RunStatus, TimerId};
pub use model::{Loc, Workflow};
pub use parse::{ParseError, parse_workflow};
pub use validate::{ActionKnown, ActionLookup, Problem, validate};
