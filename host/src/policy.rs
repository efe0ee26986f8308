//! The host's pure rules, leaves that any layer may use: what a grant allows ([`grants`]), which
//! addresses may be reached ([`network`]), which destinations a credential is bound to
//! ([`destination`]), what the catalog may hold ([`catalog`]), and how secrets are hidden in
//! everything the host returns, stores or prints ([`masking`]).
//!
//! None of them does I/O or knows the store, the sandbox or a capability; they depend only on
//! each other. That is what lets the store apply the catalog's budgets inside its transactions,
//! the vault check a credential's binding and every capability check a grant without a cycle
//! between those layers. Each is tested as tables of cases.

pub mod catalog;
pub mod destination;
pub mod grants;
pub mod masking;
pub mod network;
