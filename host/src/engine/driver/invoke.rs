//! Pack invocations: loading a pack once per run (with its grants and lazily compiled input
//! schemas), checking an attempt's input, preparing the sandbox call, and turning what the
//! sandbox returned into the attempt's outcome.

use super::*;

/// A pack invocation to spawn once its start is committed.
pub(super) struct Invoke {
    pub(super) key: Key,
    pub(super) pack: PreparedPack,
    pub(super) action: String,
    pub(super) input: String,
    pub(super) context: CallContext,
    pub(super) limits: Limits,
    pub(super) capabilities: CapabilityContext,
    /// The pack's entry, to hold the output to the action's declared output schema.
    pub(super) entry: Arc<PackEntry>,
}

/// One action of a loaded pack with its schemas, each compiled on first use (a pack may have
/// thousands of actions; a run uses a few).
pub(super) struct ActionEntry {
    pub(super) spec: ActionSpec,
    input: OnceLock<Result<Schema, String>>,
    output: OnceLock<Result<Schema, String>>,
}

pub(super) struct PackEntry {
    pub(super) prepared: PreparedPack,
    /// What the pack's invocations are lent; its grants are read once per run.
    pub(super) capabilities: CapabilityContext,
    pub(super) actions: HashMap<String, ActionEntry>,
    pub(super) names: String,
}

impl Driver<'_, '_> {
    pub(super) fn pack(&mut self, name: &str) -> Result<Arc<PackEntry>, Value> {
        if let Some(entry) = self.packs.get(name) {
            return entry.clone();
        }
        let loaded = self.engine.packs.load(name).and_then(|loaded| {
            let capabilities = self.engine.broker.context_for(name)?;
            Ok((loaded, capabilities))
        });
        let entry = match loaded {
            Ok((loaded, capabilities)) => {
                let actions = loaded
                    .installed
                    .manifest
                    .actions
                    .iter()
                    .map(|a| {
                        let entry = ActionEntry {
                            spec: a.clone(),
                            input: OnceLock::new(),
                            output: OnceLock::new(),
                        };
                        (a.name.clone(), entry)
                    })
                    .collect();
                Ok(Arc::new(PackEntry {
                    names: loaded.installed.manifest.action_names(),
                    prepared: loaded.prepared,
                    capabilities,
                    actions,
                }))
            }
            Err(err) => Err(builtins::error("unknown_pack", format!("{err:#}"))),
        };
        self.packs.insert(name.to_owned(), entry.clone());
        entry
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the fields of one StartAction command"
    )]
    pub(super) fn pack_start(
        &mut self,
        key: Key,
        pack: &str,
        name: &str,
        input: &Value,
        timeout_secs: Option<f64>,
        task: &str,
        idempotency_key: &str,
    ) {
        let entry = match self.pack(pack) {
            Ok(e) => e,
            Err(e) => {
                self.ready.push_back(Done::new(key, Err(e)));
                return;
            }
        };
        let Some(action) = entry.actions.get(name) else {
            let msg = format!(
                "pack {pack:?} has no action {name:?}; its actions are: {}",
                entry.names
            );
            self.ready
                .push_back(Done::new(key, Err(builtins::error("unknown_action", msg))));
            return;
        };
        let schema = match action
            .input
            .get_or_init(|| Schema::compile(&action.spec.input_schema))
        {
            Ok(schema) => schema,
            Err(reason) => {
                // Never invoke unchecked: a schema the host can no longer use (a stricter host
                // than the one that added the pack) stops the action.
                let msg = format!(
                    "the input schema of {pack}.{name} is unusable ({reason}); the pack must be \
                     fixed and added again"
                );
                self.ready
                    .push_back(Done::new(key, Err(builtins::error("invalid_schema", msg))));
                return;
            }
        };
        if let Err(rejected) = schema.check(&format!("{pack}.{name}"), input) {
            let violations: Vec<Value> = rejected
                .violations
                .iter()
                .map(|v| json!({"path": v.path, "message": v.message}))
                .collect();
            let error = ActionFailure::new("invalid_input", rejected.to_string())
                .with_details(Value::Array(violations))
                .into_value();
            self.ready.push_back(Done::new(key, Err(error)));
            return;
        }
        let base = self.engine.settings.limits;
        let limits = Limits {
            deadline: timeout_secs.map_or(base.deadline, Duration::from_secs_f64),
            ..base
        };
        self.to_spawn.push(Invoke {
            context: CallContext {
                run_id: self.run.id.clone(),
                task: task.to_owned(),
                attempt: key.attempt,
                idempotency_key: idempotency_key.to_owned(),
            },
            key,
            pack: entry.prepared.clone(),
            action: name.to_owned(),
            input: input.to_string(),
            limits,
            capabilities: entry.capabilities.clone(),
            entry: Arc::clone(&entry),
        });
    }
}

impl PackEntry {
    /// Holds a finished invocation's output to `action`'s declared output schema (see
    /// [`crate::runtime::Invocation::check_output`]). A schema this host can no longer compile
    /// fails the action as its input schema would.
    pub(super) fn check_output(
        &self,
        pack: &str,
        action: &str,
        result: &mut Result<crate::runtime::Invocation, SandboxError>,
    ) {
        let (Ok(invocation), Some(entry)) = (result, self.actions.get(action)) else {
            return;
        };
        match entry
            .output
            .get_or_init(|| Schema::compile(&entry.spec.output_schema))
        {
            Ok(schema) => invocation.check_output(schema, &format!("{pack}.{action}")),
            Err(reason) => {
                if invocation.result.is_ok() {
                    invocation.result = Err(crate::contract::ActionError {
                        code: "invalid_schema".to_owned(),
                        message: format!(
                            "the output schema of {pack}.{action} is unusable ({reason}); the \
                             pack must be fixed and added again"
                        ),
                        retryable: false,
                        details: None,
                    });
                }
            }
        }
    }
}

pub(super) fn invocation_done(
    key: Key,
    result: Result<crate::runtime::Invocation, SandboxError>,
    elapsed: Duration,
) -> Done {
    match result {
        Ok(inv) => {
            let logs = inv
                .logs
                .into_iter()
                .map(|l| NewLog {
                    level: l.level.to_owned(),
                    message: l.message,
                    fields: l.fields.map(|f| f.to_string()),
                })
                .collect();
            let outcome = match inv.result {
                Ok(output) => Ok(serde_json::from_str(&output).unwrap_or(Value::String(output))),
                Err(e) => {
                    let mut failure = ActionFailure::new(e.code, e.message).retryable(e.retryable);
                    failure.details = e
                        .details
                        .as_deref()
                        .and_then(|d| serde_json::from_str::<Value>(d).ok());
                    Err(failure.into_value())
                }
            };
            Done {
                event: key.event(outcome, false),
                key,
                logs,
                elapsed: Some(elapsed),
                recorded: false,
            }
        }
        Err(err) => {
            let timed_out = matches!(err, SandboxError::Deadline { .. });
            let code = err.code();
            // A trap or a broken limit is most likely to happen again: only timeouts (and
            // action errors marked retryable) are retried without a `retry.when`.
            let message = match &err {
                SandboxError::Deadline {
                    pack,
                    action,
                    limit,
                } => format!(
                    "pack {pack:?} action {action:?} ran past its deadline of {}; raise the task's \
                     `timeout` if the action is just slow",
                    humantime::format_duration(*limit)
                ),
                other => other.to_string(),
            };
            let error = ActionFailure::new(code, message)
                .retryable(timed_out)
                .into_value();
            Done {
                event: key.event(Err(error), timed_out),
                key,
                logs: Vec::new(),
                elapsed: Some(elapsed),
                recorded: false,
            }
        }
    }
}
