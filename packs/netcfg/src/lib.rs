//! Network device configuration as data, pure (no I/O): what the `netdev` pack pushes and the
//! `golden` pack compares.
//!
//! - [`syntax`]: each platform's config syntax: comments, end markers, indentation or Junos set
//!   form, the negation word (`no`, `undo`, `delete`), and the remediation rules (commands whose
//!   last value wins, sections replaced whole, removals that must come last).
//! - [`tree`]: a config text parsed into a tree of lines (indented sections to any depth, IOS
//!   banners as one multi-line statement, Junos braces turned into set commands) and rendered
//!   back.
//! - [`compliance`]: per-feature compliance of a running config against an intended one, from
//!   rules that select top-level sections by prefix.
//! - [`remediation`]: the commands that turn running into intended (over everything, or over the
//!   features of some rules) and the commands that roll them back.

pub mod compliance;
pub mod remediation;
pub mod syntax;
pub mod tree;

pub use compliance::{FeatureResult, FeatureStatus, Rule, compliance};
pub use remediation::{Remediation, remediation};
pub use syntax::{PLATFORMS, Style, Syntax};
pub use tree::{Node, parse, render};
