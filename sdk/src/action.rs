//! [`Action`]: one named entry point of a pack, its handler erased to "JSON in, JSON out", and its
//! input and output schemas derived from the handler's types.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{ActionError, Context};

/// The handler with its types erased: input JSON in, output JSON out.
type Run = dyn Fn(&str, &Context) -> Result<String, ActionError>;

/// One action of a pack: a name, a one-sentence description and a handler.
///
/// The handler is a plain function `fn(I, &Context) -> Result<O, ActionError>`. Its input type
/// `I` is deserialised from the call's JSON input and its output type `O` serialised to the
/// call's JSON output; the JSON Schemas the host validates inputs against are derived from both
/// with [`schemars`].
///
/// ```
/// use orch_sdk::{Action, ActionError, Context};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Ping { host: String }
///
/// #[derive(Serialize, JsonSchema)]
/// struct Pong { reply: String }
///
/// fn ping(input: Ping, _ctx: &Context) -> Result<Pong, ActionError> {
///     Ok(Pong { reply: format!("pong from {}", input.host) })
/// }
///
/// let action = Action::new("ping", "Answer a ping.", ping);
/// assert!(action.is_idempotent());
/// ```
pub struct Action {
    pub(crate) name: Cow<'static, str>,
    pub(crate) description: Cow<'static, str>,
    idempotent: bool,
    // Schemas are generated only when the pack is described: `invoke` must not pay for them.
    input_schema: fn() -> Schema,
    output_schema: fn() -> Schema,
    examples: Vec<serde_json::Value>,
    run: Box<Run>,
}

impl Action {
    /// An idempotent action named `name` (lowercase letters, digits and `_`) that runs `handler`.
    ///
    /// Input that does not deserialise into `I` is refused with an
    /// [`invalid_input`](ActionError::INVALID_INPUT) error carrying serde's message, before the
    /// handler runs.
    pub fn new<I, O, F>(
        name: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        handler: F,
    ) -> Self
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        F: Fn(I, &Context) -> Result<O, ActionError> + 'static,
    {
        let name = name.into();
        // A function item is zero-sized, so boxing this closure does not allocate: building the
        // pack definition on every call stays cheap.
        let run = move |input: &str, ctx: &Context| -> Result<String, ActionError> {
            let input: I = serde_json::from_str(input)
                .map_err(|err| ActionError::invalid_input(format!("invalid input: {err}")))?;
            let output = handler(input, ctx)?;
            serde_json::to_string(&output).map_err(|err| {
                ActionError::new(
                    ActionError::INVALID_OUTPUT,
                    format!("output could not be serialised to json: {err}"),
                )
            })
        };
        Self {
            name,
            description: description.into(),
            idempotent: true,
            input_schema: schema_of::<I>,
            output_schema: schema_of::<O>,
            examples: Vec::new(),
            run: Box::new(run),
        }
    }

    /// Marks the action as not safe to repeat with the same input and idempotency key (it opens
    /// a ticket, pushes a change). When a run is interrupted mid-attempt, the host asks a person
    /// before running it again instead of retrying on its own.
    #[must_use]
    pub fn non_idempotent(mut self) -> Self {
        self.idempotent = false;
        self
    }

    /// Adds an example input, listed under the input schema's standard `examples` (after any
    /// from `#[schemars(example = ...)]`). `orch pack check` runs every example in a sandbox with
    /// no grants and holds its output to the output schema; the console shows them. An example
    /// that uses http, ssh or the catalog is refused there (nothing is granted), so give
    /// examples to actions that compute, and test the others with [`crate::testing`].
    ///
    /// ```
    /// use orch_sdk::{Action, ActionError, Context};
    ///
    /// fn double(n: u32, _ctx: &Context) -> Result<u32, ActionError> { Ok(n * 2) }
    ///
    /// let action = Action::new("double", "Double a number.", double).example(21);
    /// assert_eq!(action.input_schema().to_value()["examples"], serde_json::json!([21]));
    /// ```
    #[must_use]
    pub fn example(mut self, input: impl Serialize) -> Self {
        // A value that cannot be JSON is a bug in the pack's own definition: keep it visible.
        let value = serde_json::to_value(input).unwrap_or_else(|err| {
            serde_json::Value::String(format!("unserialisable example: {err}"))
        });
        self.examples.push(value);
        self
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action's description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether running the action twice with the same input and idempotency key is harmless.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// JSON Schema (draft 2020-12) of the input, generated on each call, with the
    /// [`example`](Self::example)s under `examples`.
    pub fn input_schema(&self) -> Schema {
        let mut schema = (self.input_schema)();
        if !self.examples.is_empty() {
            let mut examples = match schema.get("examples") {
                Some(serde_json::Value::Array(declared)) => declared.clone(),
                _ => Vec::new(),
            };
            examples.extend(self.examples.iter().cloned());
            schema.insert("examples".to_owned(), serde_json::Value::Array(examples));
        }
        schema
    }

    /// JSON Schema (draft 2020-12) of the output, generated on each call.
    pub fn output_schema(&self) -> Schema {
        (self.output_schema)()
    }

    /// Runs the handler on a JSON `input` and returns its JSON output.
    pub fn call(&self, input: &str, ctx: &Context) -> Result<String, ActionError> {
        (self.run)(input, ctx)
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Action")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

/// The contract promises draft 2020-12: ask for it by name rather than rely on schemars' default.
fn schema_of<T: JsonSchema>() -> Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
}
