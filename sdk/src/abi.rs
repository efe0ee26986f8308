//! The raw side of the contract: the one `wit_bindgen::generate!` for the `orch:pack` world and the
//! glue the [`export_pack!`](crate::export_pack) macro calls. Hidden from docs: pack authors use
//! the idiomatic types at the crate root, and nothing here is covered by semver.

// Generated code is documented by the WIT files, not by Rust doc comments.
#[expect(
    missing_docs,
    reason = "generated bindings; documented by the WIT files"
)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "pack",
        // A dependent crate (the pack) expands the export macro, so it must be `pub` and must
        // find the generated types through this crate rather than through its own `self`.
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "orch_sdk::__private",
        // The pack does not depend on wit-bindgen itself: reach the runtime through us.
        runtime_path: "orch_sdk::__private::wit_bindgen::rt",
    });
}

pub use bindings::*;
pub use wit_bindgen;

use crate::{ActionError, Context, Pack};
use exports::orch::pack::handler;
use orch::pack::types as wit;

/// Implements `handler.describe` for pack `P`.
pub fn describe<P: Pack>() -> handler::PackInfo {
    P::define().into_wit()
}

/// Implements `handler.invoke` for pack `P`.
pub fn invoke<P: Pack>(
    action: String,
    input: String,
    context: handler::CallContext,
) -> Result<String, handler::ActionError> {
    let ctx = Context::from_wit(context);
    P::define()
        .call(&action, &input, &ctx)
        .map_err(ActionError::into_wit)
}

impl crate::PackDef {
    fn into_wit(self) -> wit::PackInfo {
        let Self {
            name,
            version,
            vendor,
            description,
            actions,
            destinations,
        } = self;
        wit::PackInfo {
            name: name.into_owned(),
            version: version.into_owned(),
            vendor: vendor.into_owned(),
            description: description.into_owned(),
            actions: actions
                .into_iter()
                .map(|action| wit::ActionInfo {
                    input_schema: action.input_schema().as_value().to_string(),
                    output_schema: action.output_schema().as_value().to_string(),
                    idempotent: action.is_idempotent(),
                    name: action.name.into_owned(),
                    description: action.description.into_owned(),
                })
                .collect(),
            destinations: destinations
                .into_iter()
                .map(|d| wit::Destination {
                    kind: d.kind.as_str().to_owned(),
                    pattern: d.pattern.into_owned(),
                    reason: d.reason.into_owned(),
                })
                .collect(),
        }
    }
}

impl ActionError {
    fn into_wit(self) -> wit::ActionError {
        wit::ActionError {
            details: self.details.map(|d| d.to_string()),
            code: self.code.into_owned(),
            message: self.message,
            retryable: self.retryable,
        }
    }
}

impl Context {
    fn from_wit(context: wit::CallContext) -> Self {
        Self::new(
            context.run_id,
            context.task,
            context.attempt,
            context.idempotency_key,
        )
    }
}

/// Sends one log line to the host.
pub(crate) fn write_log(level: crate::log::Level, message: &str, fields: Option<&str>) {
    use crate::log::Level;
    use orch::pack::log::Level as WitLevel;
    let level = match level {
        Level::Trace => WitLevel::Trace,
        Level::Debug => WitLevel::Debug,
        Level::Info => WitLevel::Info,
        Level::Warn => WitLevel::Warn,
        Level::Error => WitLevel::Error,
    };
    crate::imports::log::write(level, message, fields);
}
