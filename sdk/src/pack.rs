//! [`Pack`] and [`PackDef`]: what a pack says about itself (name, version, vendor, destinations)
//! and its actions, and the dispatch of a call to the action it names.

use std::borrow::Cow;

use crate::{Action, ActionError, Context, rules};

/// A pack: implement this on a public unit struct and export it with
/// [`export_pack!`](crate::export_pack).
///
/// `define` runs at every call (each call runs in a fresh instance), so keep it to building the
/// definition: no I/O, no heavy computation. It must not depend on its environment: the host also
/// calls it at `orch pack add`, in a sandbox with no grants.
pub trait Pack {
    /// The pack's definition: metadata, destinations and actions.
    fn define() -> PackDef;
}

/// The definition of a pack, built with chained calls.
///
/// ```
/// use orch_sdk::{DestinationKind, PackDef};
///
/// let def = PackDef::new("servicenow", "1.4.0")
///     .vendor("Acme Networks")
///     .description("Opens and updates ServiceNow change tickets.")
///     .destination(DestinationKind::Http, "*.service-now.com:443", "the ServiceNow API");
/// assert_eq!(def.name(), "servicenow");
/// ```
#[derive(Debug)]
pub struct PackDef {
    pub(crate) name: Cow<'static, str>,
    pub(crate) version: Cow<'static, str>,
    pub(crate) vendor: Cow<'static, str>,
    pub(crate) description: Cow<'static, str>,
    pub(crate) actions: Vec<Action>,
    pub(crate) destinations: Vec<Destination>,
}

/// A network destination a pack asks to reach. Asking grants nothing: the operator grants it (or
/// not) at install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub(crate) kind: DestinationKind,
    pub(crate) pattern: Cow<'static, str>,
    pub(crate) reason: Cow<'static, str>,
}

/// Which capability a [`Destination`] is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DestinationKind {
    /// Outgoing HTTP(S) requests.
    Http,
    /// SSH sessions to devices.
    Ssh,
    /// The data catalog: `inventory` (reading devices) or a record collection (`configs`).
    Catalog,
}

impl DestinationKind {
    /// The name the contract uses: `http`, `ssh` or `catalog`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Ssh => "ssh",
            Self::Catalog => "catalog",
        }
    }
}

impl PackDef {
    /// A pack named `name` (lowercase letters, digits, `_` and `-`, starting with a letter) at
    /// semantic version `version`; workflows call its actions as `<name>.<action>`.
    pub fn new(name: impl Into<Cow<'static, str>>, version: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            vendor: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
            actions: Vec::new(),
            destinations: Vec::new(),
        }
    }

    /// Who ships the pack (`Acme Networks`).
    #[must_use]
    pub fn vendor(mut self, vendor: impl Into<Cow<'static, str>>) -> Self {
        self.vendor = vendor.into();
        self
    }

    /// One paragraph saying what the pack automates.
    #[must_use]
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// Asks to reach `pattern` (a host with optional port, `*.` wildcards, or `inventory` for any
    /// device of the inventory over ssh); `reason` is shown to the operator.
    #[must_use]
    pub fn destination(
        mut self,
        kind: DestinationKind,
        pattern: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.destinations.push(Destination {
            kind,
            pattern: pattern.into(),
            reason: reason.into(),
        });
        self
    }

    /// Adds an action; actions are listed in the order they are added.
    #[must_use]
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// The pack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pack's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The actions, in the order they were added.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The destinations asked for.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// Checks the definition against the rules `orch pack add` applies (see [`rules`]): the
    /// pack's name and version, at least one action, action names and their uniqueness,
    /// destination patterns, and the length and count caps. Returns every problem found, each
    /// naming what it is about and the fix. Call it in a pack's tests:
    ///
    /// ```
    /// use orch_sdk::{DestinationKind, PackDef};
    ///
    /// let def = PackDef::new("Ticketing", "1.0")
    ///     .destination(DestinationKind::Http, "https://api.example.com/v1", "the API");
    /// let problems: Vec<String> = def.validate().unwrap_err().iter().map(|p| p.to_string()).collect();
    /// assert_eq!(problems.len(), 4, "{problems:#?}");
    /// assert!(problems[0].starts_with("pack name \"Ticketing\""));
    /// assert!(problems[3].contains("a destination names a host, not a path"));
    /// ```
    pub fn validate(&self) -> Result<(), Vec<DefinitionError>> {
        let mut problems = Vec::new();
        let mut problem = |subject: String, message: String| {
            problems.push(DefinitionError { subject, message });
        };
        if !rules::is_pack_name(&self.name) {
            problem(
                format!("pack name {:?}", self.name),
                "a pack name is 1-64 lowercase letters, digits, `_` or `-`, starting with a \
                 letter (such as `netdev`)"
                    .to_owned(),
            );
        }
        if let Err(reason) = rules::check_version(&self.version) {
            problem(
                format!("version {:?}", self.version),
                format!(
                    "not a semantic version ({reason}); use MAJOR.MINOR.PATCH such as 1.0.0, or env!(\"CARGO_PKG_VERSION\")"
                ),
            );
        }
        for (what, text, max) in [
            ("version", &self.version, rules::MAX_SHORT_TEXT),
            ("vendor", &self.vendor, rules::MAX_SHORT_TEXT),
            ("description", &self.description, rules::MAX_DESCRIPTION),
        ] {
            if text.len() > max {
                problem(what.to_owned(), too_long(text.len(), max));
            }
        }
        if self.actions.is_empty() {
            problem(
                "actions".to_owned(),
                "the pack has no actions; add one with PackDef::action".to_owned(),
            );
        }
        for (what, count, max) in [
            ("actions", self.actions.len(), rules::MAX_ACTIONS),
            (
                "destinations",
                self.destinations.len(),
                rules::MAX_DESTINATIONS,
            ),
        ] {
            if count > max {
                problem(
                    what.to_owned(),
                    format!("the pack declares {count}; the host accepts at most {max}"),
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for action in &self.actions {
            let subject = format!("action {:?}", action.name);
            if !rules::is_action_name(&action.name) {
                problem(
                    subject.clone(),
                    "an action name is 1-64 lowercase letters, digits or `_`, starting with a \
                     letter (such as `get_config`)"
                        .to_owned(),
                );
            }
            if !seen.insert(action.name.as_ref()) {
                problem(
                    subject.clone(),
                    "declared twice; give each action its own name".to_owned(),
                );
            }
            if action.description.len() > rules::MAX_DESCRIPTION {
                problem(
                    format!("description of {subject}"),
                    too_long(action.description.len(), rules::MAX_DESCRIPTION),
                );
            }
            // Measured as `describe` sends them.
            for (which, schema) in [
                ("input", action.input_schema()),
                ("output", action.output_schema()),
            ] {
                let len = schema.as_value().to_string().len();
                if len > rules::MAX_SCHEMA_BYTES {
                    problem(
                        format!("{which} schema of {subject}"),
                        too_long(len, rules::MAX_SCHEMA_BYTES),
                    );
                }
            }
        }
        for destination in &self.destinations {
            let subject = format!(
                "destination {} {:?}",
                destination.kind.as_str(),
                destination.pattern
            );
            if let Err(reason) =
                rules::check_destination(destination.kind.as_str(), &destination.pattern)
            {
                problem(subject.clone(), reason);
            }
            if destination.reason.len() > rules::MAX_SHORT_TEXT {
                problem(
                    format!("reason of {subject}"),
                    too_long(destination.reason.len(), rules::MAX_SHORT_TEXT),
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Runs the action named `action` on a JSON `input`, as the host's `invoke` does; use it to
    /// test a pack natively with [`Context::for_tests`].
    ///
    /// An action the pack does not have is refused with an
    /// [`unknown_action`](ActionError::UNKNOWN_ACTION) error listing the pack's actions.
    pub fn call(&self, action: &str, input: &str, ctx: &Context) -> Result<String, ActionError> {
        match self.actions.iter().find(|a| a.name == action) {
            Some(found) => found.call(input, ctx),
            None => Err(self.unknown_action(action)),
        }
    }

    fn unknown_action(&self, action: &str) -> ActionError {
        let names: Vec<&str> = self.actions.iter().map(Action::name).collect();
        ActionError::new(
            ActionError::UNKNOWN_ACTION,
            format!(
                "pack \"{}\" has no action \"{action}\"; its actions are: {}",
                self.name,
                names.join(", ")
            ),
        )
        .with_details(serde_json::json!({ "action": action, "actions": names }))
    }
}

fn too_long(len: usize, max: usize) -> String {
    format!("{len} bytes; the host accepts at most {max}")
}

/// One problem [`PackDef::validate`] found: what it is about (`action "Get"`, `destination http
/// "api.example.com/v1"`) and what is wrong, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    subject: String,
    message: String,
}

impl DefinitionError {
    /// What the problem is about: `pack name "X"`, `version "1"`, `action "x"`,
    /// `destination http "…"`, ….
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// What is wrong, and the fix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

impl std::error::Error for DefinitionError {}

impl Destination {
    /// Which capability.
    pub fn kind(&self) -> DestinationKind {
        self.kind
    }

    /// The host pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Why the pack needs it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct AddInput {
        a: i64,
        b: i64,
    }

    #[derive(Serialize, JsonSchema)]
    struct AddOutput {
        sum: i64,
    }

    fn add(input: AddInput, ctx: &Context) -> Result<AddOutput, ActionError> {
        ctx.debug("adding");
        Ok(AddOutput {
            sum: input.a + input.b,
        })
    }

    fn refuse(_: AddInput, _: &Context) -> Result<AddOutput, ActionError> {
        Err(ActionError::new("refused", "never adds").retryable())
    }

    fn calculator() -> PackDef {
        PackDef::new("calc", "1.0.0")
            .vendor("orch")
            .action(Action::new("add", "Add two numbers.", add))
            .action(Action::new("refuse", "Refuse to add.", refuse).non_idempotent())
    }

    #[test]
    fn dispatches_to_the_named_action() {
        let ctx = Context::for_tests();
        let out = calculator().call("add", r#"{"a":2,"b":3}"#, &ctx);
        assert_eq!(out, Ok(r#"{"sum":5}"#.to_owned()));
        assert_eq!(ctx.logs().len(), 1);
        assert_eq!(ctx.logs()[0].message, "adding");
    }

    #[test]
    fn handler_error_is_returned_unchanged() {
        let err = calculator()
            .call("refuse", r#"{"a":2,"b":3}"#, &Context::for_tests())
            .expect_err("refuse always fails");
        assert_eq!(err, ActionError::new("refused", "never adds").retryable());
    }

    #[test]
    fn input_that_does_not_deserialise_is_invalid_input_with_serde_message() {
        let err = calculator()
            .call("add", r#"{"a":2,"c":3}"#, &Context::for_tests())
            .expect_err("field c is unknown");
        assert_eq!(err.code(), ActionError::INVALID_INPUT);
        assert!(
            err.message().contains("unknown field `c`"),
            "{}",
            err.message()
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn input_that_is_not_json_is_invalid_input() {
        let err = calculator()
            .call("add", "not json", &Context::for_tests())
            .expect_err("not json");
        assert_eq!(err.code(), ActionError::INVALID_INPUT);
    }

    #[test]
    fn unknown_action_lists_the_packs_actions() {
        let err = calculator()
            .call("divide", "{}", &Context::for_tests())
            .expect_err("calc has no divide");
        assert_eq!(err.code(), ActionError::UNKNOWN_ACTION);
        assert_eq!(
            err.message(),
            "pack \"calc\" has no action \"divide\"; its actions are: add, refuse"
        );
        assert_eq!(
            err.details(),
            Some(&serde_json::json!({ "action": "divide", "actions": ["add", "refuse"] }))
        );
    }

    #[test]
    fn actions_are_idempotent_unless_marked() {
        let def = calculator();
        let flags: Vec<bool> = def.actions().iter().map(Action::is_idempotent).collect();
        assert_eq!(flags, [true, false]);
    }

    #[test]
    fn schemas_are_draft_2020_12_from_the_handler_types() {
        let def = calculator();
        let input = def.actions()[0].input_schema().to_value();
        assert_eq!(
            input["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(input["required"], serde_json::json!(["a", "b"]));
        assert_eq!(input["additionalProperties"], false);
        let output = def.actions()[0].output_schema().to_value();
        assert_eq!(output["properties"]["sum"]["type"], "integer");
    }

    #[test]
    fn a_well_formed_pack_validates() {
        let def = calculator()
            .destination(DestinationKind::Ssh, "inventory", "devices")
            .destination(
                DestinationKind::Http,
                "https://*.service-now.com:443",
                "tickets",
            )
            .destination(DestinationKind::Catalog, "configs", "backups");
        assert_eq!(def.validate(), Ok(()));
    }

    #[test]
    fn validate_reports_every_problem_naming_its_subject() {
        let def = PackDef::new("Calc", "1.0")
            .vendor("v".repeat(257))
            .action(Action::new("Add", "Add.", add))
            .action(Action::new("add2", "x".repeat(4097), add))
            .action(Action::new("add2", "Again.", add))
            .destination(DestinationKind::Http, "api.example.com/v1", "api")
            .destination(DestinationKind::Ssh, "ssh://r1", "r1")
            .destination(DestinationKind::Catalog, "Configs", "configs")
            .destination(DestinationKind::Http, "api.example.com", "r".repeat(257));
        let problems = def.validate().expect_err("many problems");
        let subjects: Vec<&str> = problems.iter().map(DefinitionError::subject).collect();
        assert_eq!(
            subjects,
            [
                "pack name \"Calc\"",
                "version \"1.0\"",
                "vendor",
                "action \"Add\"",
                "description of action \"add2\"",
                "action \"add2\"",
                "destination http \"api.example.com/v1\"",
                "destination ssh \"ssh://r1\"",
                "destination catalog \"Configs\"",
                "reason of destination http \"api.example.com\"",
            ]
        );
        assert!(problems[5].message().contains("declared twice"));
        assert!(problems[6].to_string().contains("not a path"));
    }

    #[test]
    fn a_pack_without_actions_does_not_validate() {
        let problems = PackDef::new("empty", "1.0.0")
            .validate()
            .expect_err("no actions");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message().contains("no actions"));
    }

    #[test]
    fn destinations_keep_their_order_and_kind() {
        let def = PackDef::new("p", "1.0.0")
            .destination(DestinationKind::Ssh, "inventory", "to read configs")
            .destination(DestinationKind::Http, "api.example.com", "to file tickets");
        let kinds: Vec<&str> = def
            .destinations()
            .iter()
            .map(|d| d.kind().as_str())
            .collect();
        assert_eq!(kinds, ["ssh", "http"]);
        assert_eq!(def.destinations()[0].pattern(), "inventory");
    }
}
