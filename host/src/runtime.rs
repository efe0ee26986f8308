//! The sandbox: one wasmtime `Engine` per process, a linker built once, an `InstancePre` per
//! pack and a fresh `Store` and instance for every invocation, under [`Limits`].
//!
//! Everything a pack does wrong (trap, endless loop, memory bomb, stack overflow, panic,
//! oversized output) ends as a [`SandboxError`] naming the pack, the action and the limit; the
//! process and other invocations go on.

pub mod engine;
pub mod inspect;
pub mod limits;
pub mod sandbox;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::capabilities::{self, Broker, CapabilityContext, log::LogLine};
use crate::contract::{ActionError, CallContext, PackInfo, PackPre};
use crate::policy::masking::Masker;
pub use engine::{DEFAULT_MAX_INSTANCES, EngineSettings, MAX_INSTANCES_LIMIT, SlotReset};
pub use inspect::{ComponentError, Shape};
pub use limits::Limits;
use sandbox::Sandbox;

/// The process's WebAssembly runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    engine_key: String,
    pooled: bool,
    max_memory_bytes: usize,
    slots: Arc<Semaphore>,
    /// Lends nothing: for `describe`, which runs before anything is granted.
    detached: Arc<Broker>,
    _ticker: engine::EpochTicker,
}

/// A pack compiled and linked, ready to instantiate any number of times.
#[derive(Clone)]
pub struct PreparedPack {
    name: String,
    pre: PackPre<Sandbox>,
    shape: Shape,
}

impl PreparedPack {
    /// The name the pack is known by (for `describe` at add time: the file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the component imports and exports.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
}

/// What one invocation produced.
#[derive(Debug)]
pub struct Invocation {
    /// The action's JSON output, or the error the action reported.
    pub result: Result<String, ActionError>,
    /// Lines the pack logged.
    pub logs: Vec<LogLine>,
    /// Lines dropped past the log cap.
    pub logs_dropped: usize,
    /// Wall time of the call, instantiation included.
    pub elapsed: Duration,
}

impl Invocation {
    /// Holds a successful output to the output schema its action declared (`action` is
    /// `pack.action`): one that does not match becomes the action's `invalid_output` error, with
    /// each violation's path in its details, and the lines the pack logged are kept. Called after
    /// masking, so a violation that quotes the output quotes it masked.
    pub fn check_output(&mut self, schema: &crate::schema::Schema, action: &str) {
        let Ok(output) = &self.result else {
            return;
        };
        // The sandbox already refused an output that is not JSON.
        let Ok(value) = serde_json::from_str::<serde_json::Value>(output) else {
            return;
        };
        if let Err(mismatch) = schema.check_output(action, &value) {
            let details: Vec<serde_json::Value> = mismatch
                .violations
                .iter()
                .map(|v| serde_json::json!({ "path": v.path, "message": v.message }))
                .collect();
            self.result = Err(ActionError {
                code: "invalid_output".to_owned(),
                message: mismatch.to_string(),
                retryable: false,
                details: Some(serde_json::Value::Array(details).to_string()),
            });
        }
    }
}

/// An invocation that the sandbox stopped or could not run.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The wall-clock deadline passed.
    #[error(
        "pack {pack:?} action {action:?} exceeded its deadline of {}; raise it with --timeout if \
         the action is just slow",
        humantime::format_duration(*limit)
    )]
    Deadline {
        /// Pack name.
        pack: String,
        /// Action name (`describe` for the description call).
        action: String,
        /// The deadline.
        limit: Duration,
    },
    /// A linear memory wanted to grow past the cap.
    #[error(
        "pack {pack:?} action {action:?} exceeded the memory limit of {} MiB (it asked for {} \
         MiB); raise it with --memory-limit if the action really needs more",
        limit >> 20, asked.div_ceil(1 << 20)
    )]
    Memory {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// The cap in bytes.
        limit: usize,
        /// The size refused, in bytes.
        asked: usize,
    },
    /// The guest's stack overflowed: the engine's wasm stack, or the stack the guest keeps in
    /// its own linear memory.
    #[error("pack {pack:?} action {action:?} overflowed its stack ({which}): unbounded recursion?")]
    StackOverflow {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// Which stack, with its size where the host sets it.
        which: String,
    },
    /// The output was larger than the cap.
    #[error(
        "pack {pack:?} action {action:?} returned {} bytes of output, more than the limit of {} \
         bytes; raise it with --output-limit or make the action return less",
        size,
        limit
    )]
    OutputTooLarge {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// Bytes returned.
        size: usize,
        /// The cap in bytes.
        limit: usize,
    },
    /// The output was not a JSON document.
    #[error("pack {pack:?} action {action:?} returned output that is not valid JSON: {reason}")]
    InvalidOutput {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The guest panicked (a Rust panic aborts with a trap after printing its message).
    #[error("pack {pack:?} action {action:?} panicked: {message}")]
    Panic {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// The panic message the guest printed.
        message: String,
    },
    /// Any other trap.
    #[error(
        "pack {pack:?} action {action:?} trapped: {trap}{}",
        stderr_suffix(stderr)
    )]
    Trap {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// The trap and its wasm backtrace.
        trap: String,
        /// The tail of what the guest wrote to stderr.
        stderr: String,
    },
    /// One call passed more data across the sandbox boundary than the host copies.
    #[error(
        "pack {pack:?} action {action:?} passed more than {} MiB to the host in one call, the most \
         the host copies out of a sandbox per call; the pack must send its data in smaller pieces",
        limit >> 20
    )]
    Boundary {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// `describe` returned more than the host reads.
    #[error(
        "pack {pack:?} describes itself in {size} bytes (names, descriptions, schemas), more than \
         the {} MiB the host reads; the pack's description must be smaller",
        limit >> 20
    )]
    DescriptionTooLarge {
        /// Pack name (the file name at `pack add`).
        pack: String,
        /// Bytes of text described.
        size: usize,
        /// The cap in bytes.
        limit: usize,
    },
    /// The instance could not be created.
    #[error("pack {pack:?}: could not create an instance: {source:#}")]
    Instantiate {
        /// Pack name.
        pack: String,
        /// The cause.
        source: anyhow::Error,
    },
}

impl SandboxError {
    /// The error code a run records for this failure (snake_case, as action errors have).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Deadline { .. } => "timeout",
            Self::Memory { .. } => "memory_limit",
            Self::StackOverflow { .. } => "stack_overflow",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::InvalidOutput { .. } => "invalid_output",
            Self::Panic { .. } => "panic",
            Self::Trap { .. } => "trap",
            Self::Boundary { .. } => "call_too_large",
            Self::DescriptionTooLarge { .. } => "description_too_large",
            Self::Instantiate { .. } => "instantiate",
        }
    }
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        return String::new();
    }
    // componentize-js's bindings name files in the directory they were built in, which means
    // nothing where the pack runs.
    static BUILD_DIR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"/tmp/[0-9a-f]+/sources/").expect("a valid pattern")
    });
    let stderr = BUILD_DIR.replace_all(stderr.trim_end(), "");
    let mut text = format!("\nthe pack wrote to stderr:\n{stderr}");
    if is_js_error_lowering(&stderr) {
        text.push_str(
            "\n(a JavaScript pack threw something out of `invoke` that is not an action-error \
             record: componentize-js lowers a thrown value as the action's error, so a plain \
             Error traps and its message is lost. The pack's author catches errors in `invoke` \
             and returns {tag: \"err\", val: {code, message, retryable}}, or uses orch-sdk for \
             JavaScript, which reports them as unhandled_exception with the stack.)",
        );
    }
    text
}

/// Whether `stderr` is componentize-js failing to lower what `invoke` threw as its
/// `action-error` (a field of the wrong type: most often a plain `Error`, which has no `code`).
fn is_js_error_lowering(stderr: &str) -> bool {
    stderr.contains("expected a string, received") && stderr.contains("export_handler_0_1_0$invoke")
}

/// Raised from the epoch callback when the deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

/// Extra time past the deadline granted to a host call before the whole call is dropped:
/// epochs interrupt guest code only, so a host call stuck in I/O is bounded by this timer.
const HOST_CALL_GRACE: Duration = Duration::from_secs(1);
/// Limits for `describe`: it must be quick and small.
const DESCRIBE_LIMITS: Limits = Limits {
    memory_bytes: 64 << 20,
    deadline: Duration::from_secs(10),
    output_bytes: 4 << 20,
};
const WASM_STACK_BYTES: usize = 512 << 10;
/// Most bytes one call from a pack to the host may carry (wasmtime's hostcall fuel, set here so
/// the limit is ours and can be named in errors).
pub const MAX_CALL_BYTES: usize = 128 << 20;
/// What wasmtime says when a call passes the hostcall fuel (its error type is private).
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

impl Runtime {
    /// Creates the engine, the epoch ticker and the linker. `max_memory_bytes` is the largest
    /// memory cap any invocation of this process may ask for.
    pub fn new(max_memory_bytes: usize) -> anyhow::Result<Self> {
        Self::with_settings(EngineSettings::for_memory(max_memory_bytes))
    }

    /// As [`Runtime::new`], with the pool's size and slot reset given too (`orch
    /// --max-instances`; the benchmarks compare slot resets).
    pub fn with_settings(settings: EngineSettings) -> anyhow::Result<Self> {
        let settings = settings.bounded();
        let max_memory_bytes = settings.max_memory_bytes;
        let (engine, pooled) = engine::build_engine(settings)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        capabilities::add_to_linker(&mut linker).context("linking orch capabilities")?;
        let ticker = engine::EpochTicker::start(&engine)?;
        let engine_key = engine::engine_key(&engine);
        // The setting holds with on-demand allocation too: it bounds what the process runs at
        // once, not only what the pool can hold.
        let permits = settings.max_instances as usize;
        Ok(Self {
            engine,
            linker,
            engine_key,
            pooled,
            max_memory_bytes,
            slots: Arc::new(Semaphore::new(permits)),
            detached: Broker::detached(),
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Names this engine's configuration; compiled artifacts are keyed by it.
    pub fn engine_key(&self) -> &str {
        &self.engine_key
    }

    /// Whether the pooling allocator is in use (false after a fallback).
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }

    /// Compiles a component from its bytes, checking the header first for a clear error.
    pub fn compile(&self, wasm: &[u8]) -> Result<Component, ComponentError> {
        inspect::check_header(wasm)?;
        Component::new(&self.engine, wasm).map_err(|err| ComponentError::Invalid(err.into()))
    }

    /// Checks the component against the contract and links it.
    pub fn prepare(
        &self,
        name: &str,
        component: &Component,
    ) -> Result<PreparedPack, ComponentError> {
        let shape = inspect::shape(&self.engine, component);
        inspect::check_contract(&shape)?;
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|err| ComponentError::Invalid(err.into()))?;
        let pre = PackPre::new(instance_pre).map_err(|err| ComponentError::Invalid(err.into()))?;
        Ok(PreparedPack {
            name: name.to_owned(),
            pre,
            shape,
        })
    }

    /// Calls `describe` in a sandbox with tight limits and no grants.
    pub async fn describe(&self, pack: &PreparedPack) -> Result<PackInfo, SandboxError> {
        let nothing = CapabilityContext::nothing(&pack.name, &self.detached);
        let origin = CallContext {
            run_id: String::new(),
            task: "describe".to_owned(),
            attempt: 1,
            idempotency_key: String::new(),
        };
        let mut store = self.new_store(&DESCRIBE_LIMITS, nothing, &origin);
        let call = async {
            let instance = pack.pre.instantiate_async(&mut store).await?;
            instance.orch_pack_handler().call_describe(&mut store).await
        };
        let outcome = self.run_bounded(&DESCRIBE_LIMITS, call).await;
        match outcome {
            Ok(info) => {
                let size = described_bytes(&info);
                if size > DESCRIBE_LIMITS.output_bytes {
                    return Err(SandboxError::DescriptionTooLarge {
                        pack: pack.name.clone(),
                        size,
                        limit: DESCRIBE_LIMITS.output_bytes,
                    });
                }
                Ok(info)
            }
            Err(err) => Err(classify(
                err,
                &store,
                &pack.name,
                "describe",
                &DESCRIBE_LIMITS,
            )),
        }
    }

    /// Runs `action` with `input` (a JSON document already validated against the action's
    /// schema) in a fresh instance under `limits`, lending it `capabilities`. Every secret the
    /// broker knows is masked in what comes back (output, error, logs).
    pub async fn invoke(
        &self,
        pack: &PreparedPack,
        action: &str,
        input: &str,
        context: &CallContext,
        limits: &Limits,
        capabilities: &CapabilityContext,
    ) -> Result<Invocation, SandboxError> {
        let masker = Arc::clone(capabilities.broker.masker());
        let mut outcome = self
            .invoke_unmasked(pack, action, input, context, limits, capabilities)
            .await;
        if !masker.is_empty() {
            match &mut outcome {
                Ok(invocation) => mask_invocation(&masker, invocation),
                Err(error) => mask_sandbox_error(&masker, error),
            }
        }
        outcome
    }

    async fn invoke_unmasked(
        &self,
        pack: &PreparedPack,
        action: &str,
        input: &str,
        context: &CallContext,
        limits: &Limits,
        capabilities: &CapabilityContext,
    ) -> Result<Invocation, SandboxError> {
        let limits = Limits {
            memory_bytes: limits.memory_bytes.min(self.max_memory_bytes),
            ..*limits
        };
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|err| SandboxError::Instantiate {
                pack: pack.name.clone(),
                source: err.into(),
            })?;
        let started = Instant::now();
        let mut store = self.new_store(&limits, capabilities.clone(), context);
        let call = async {
            let instance = pack.pre.instantiate_async(&mut store).await?;
            instance
                .orch_pack_handler()
                .call_invoke(&mut store, action, input, context)
                .await
        };
        let outcome = self.run_bounded(&limits, call).await;
        let elapsed = started.elapsed();
        let result = match outcome {
            Ok(result) => result,
            Err(err) => return Err(classify(err, &store, &pack.name, action, &limits)),
        };
        let result = match result {
            Ok(output) => {
                check_output(&output, &pack.name, action, &limits)?;
                Ok(output)
            }
            Err(error) => Err(bounded_action_error(error)),
        };
        let (logs, logs_dropped) = store.data_mut().capabilities.take_logs();
        Ok(Invocation {
            result,
            logs,
            logs_dropped,
            elapsed,
        })
    }

    fn new_store(
        &self,
        limits: &Limits,
        capabilities: CapabilityContext,
        call: &CallContext,
    ) -> Store<Sandbox> {
        let deadline = Instant::now() + limits.deadline;
        let sandbox = Sandbox::new(limits.memory_bytes, capabilities, call, deadline);
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|sandbox| &mut sandbox.limiter);
        store.set_hostcall_fuel(MAX_CALL_BYTES);
        // Yield to the executor at every tick so one busy guest does not hold a worker thread,
        // and trap once the wall-clock deadline has passed.
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(DeadlineExceeded.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        store
    }

    async fn run_bounded<T>(
        &self,
        limits: &Limits,
        call: impl Future<Output = wasmtime::Result<T>>,
    ) -> wasmtime::Result<T> {
        match tokio::time::timeout(limits.deadline + HOST_CALL_GRACE, call).await {
            Ok(result) => result,
            Err(_) => Err(DeadlineExceeded.into()),
        }
    }
}

/// The bytes of text a description carries (what the describe output cap applies to).
fn described_bytes(info: &PackInfo) -> usize {
    let actions: usize = info
        .actions
        .iter()
        .map(|a| a.name.len() + a.description.len() + a.input_schema.len() + a.output_schema.len())
        .sum();
    let destinations: usize = info
        .destinations
        .iter()
        .map(|d| d.kind.len() + d.pattern.len() + d.reason.len())
        .sum();
    info.name.len()
        + info.version.len()
        + info.vendor.len()
        + info.description.len()
        + actions
        + destinations
}

/// Masks secrets in everything an invocation returns: it is about to be printed or stored.
fn mask_invocation(masker: &Masker, invocation: &mut Invocation) {
    match &mut invocation.result {
        Ok(output) => match masker.mask_or_refuse(std::mem::take(output).into_bytes()) {
            // Masking replaces text inside JSON strings with `***`: still JSON.
            Some(masked) => *output = String::from_utf8_lossy(&masked).into_owned(),
            None => {
                invocation.result = Err(ActionError {
                    code: "output_withheld".to_owned(),
                    message: "the action's output contained a stored credential in an encoded \
                              form the host cannot mask, so it was withheld; the pack, or a \
                              destination it talked to, echoes credentials back"
                        .to_owned(),
                    retryable: false,
                    details: None,
                });
            }
        },
        Err(error) => {
            masker.mask_in_place(&mut error.message);
            masker.mask_in_place(&mut error.code);
            if let Some(details) = &mut error.details {
                masker.mask_in_place(details);
            }
        }
    }
    for line in &mut invocation.logs {
        masker.mask_in_place(&mut line.message);
        if let Some(fields) = &mut line.fields {
            let text = fields.to_string();
            let masked = masker.mask(&text);
            if masked != text {
                *fields =
                    serde_json::from_str(&masked).unwrap_or(serde_json::Value::String(masked));
            }
        }
    }
}

/// Masks secrets in what a sandbox error carries from the guest (its stderr, a panic message).
fn mask_sandbox_error(masker: &Masker, error: &mut SandboxError) {
    match error {
        SandboxError::Panic { message, .. } => masker.mask_in_place(message),
        SandboxError::Trap { trap, stderr, .. } => {
            masker.mask_in_place(trap);
            masker.mask_in_place(stderr);
        }
        SandboxError::InvalidOutput { reason, .. } => masker.mask_in_place(reason),
        _ => {}
    }
}

fn check_output(
    output: &str,
    pack: &str,
    action: &str,
    limits: &Limits,
) -> Result<(), SandboxError> {
    if output.len() > limits.output_bytes {
        return Err(SandboxError::OutputTooLarge {
            pack: pack.to_owned(),
            action: action.to_owned(),
            size: output.len(),
            limit: limits.output_bytes,
        });
    }
    if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(output) {
        return Err(SandboxError::InvalidOutput {
            pack: pack.to_owned(),
            action: action.to_owned(),
            reason: err.to_string(),
        });
    }
    Ok(())
}

/// Bounds what a pack can put in an error: it ends up in terminals and in the run history.
fn bounded_action_error(mut error: ActionError) -> ActionError {
    const MAX_CODE: usize = 64;
    const MAX_MESSAGE: usize = 8 << 10;
    const MAX_DETAILS: usize = 64 << 10;
    error
        .code
        .truncate(floor_char_boundary(&error.code, MAX_CODE));
    error
        .message
        .truncate(floor_char_boundary(&error.message, MAX_MESSAGE));
    let unusable = |details: &String| {
        details.len() > MAX_DETAILS
            || serde_json::from_str::<serde::de::IgnoredAny>(details).is_err()
    };
    if error.details.as_ref().is_some_and(unusable) {
        error.details = None;
    }
    error
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Turns a failed call into the error that names what happened.
fn classify(
    err: wasmtime::Error,
    store: &Store<Sandbox>,
    pack: &str,
    action: &str,
    limits: &Limits,
) -> SandboxError {
    let (pack, action) = (pack.to_owned(), action.to_owned());
    let sandbox = store.data();
    if err.downcast_ref::<DeadlineExceeded>().is_some() {
        return SandboxError::Deadline {
            pack,
            action,
            limit: limits.deadline,
        };
    }
    if let Some(asked) = sandbox.limiter.refused_growth_to() {
        return SandboxError::Memory {
            pack,
            action,
            limit: limits.memory_bytes,
            asked,
        };
    }
    if format!("{err:#}").contains(HOSTCALL_FUEL_EXHAUSTED) {
        return SandboxError::Boundary {
            pack,
            action,
            limit: MAX_CALL_BYTES,
        };
    }
    let stderr = sandbox.stderr_text();
    match err.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => {
            return SandboxError::StackOverflow {
                pack,
                action,
                which: format!("the {} KiB wasm stack", WASM_STACK_BYTES >> 10),
            };
        }
        Some(Trap::MemoryOutOfBounds) if shadow_stack_wrapped(&err) => {
            return SandboxError::StackOverflow {
                pack,
                action,
                which: "the stack in the pack's linear memory".to_owned(),
            };
        }
        Some(Trap::UnreachableCodeReached) => {
            if let Some(message) = panic_message(&stderr) {
                return SandboxError::Panic {
                    pack,
                    action,
                    message,
                };
            }
        }
        Some(_) => {}
        None => {
            if err.downcast_ref::<wasmtime::WasmBacktrace>().is_none()
                && !format!("{err:#}").contains("wasm trap")
            {
                return SandboxError::Instantiate {
                    pack,
                    source: err.into(),
                };
            }
        }
    }
    SandboxError::Trap {
        pack,
        action,
        trap: format!("{err:?}"),
        stderr: tail(&stderr, 2048),
    }
}

/// True when an out-of-bounds access hit the top 64 KiB of the 32-bit address space. Compilers
/// for wasm32 (LLVM: Rust, C) keep the call stack in linear memory, growing down towards 0;
/// unbounded recursion moves the stack pointer below 0, which wraps to just under 4 GiB.
/// An honest out-of-bounds bug essentially never lands there.
fn shadow_stack_wrapped(err: &wasmtime::Error) -> bool {
    err.chain().any(|cause| {
        let text = cause.to_string();
        text.split("wasm address 0x")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .is_some_and(|address| (0xffff_0000..=0xffff_ffff).contains(&address))
    })
}

/// The message of a Rust panic as printed by std: `thread '…' panicked at src/lib.rs:1:2:\nmsg`.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at")?;
    let rest = &stderr[start + "panicked at".len()..];
    let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
    let message = message
        .lines()
        .take_while(|line| !line.starts_with("note:"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut text = format!(
        "{} (at {})",
        message.trim(),
        location.trim().trim_end_matches(':')
    );
    // What the guest printed before the panic line: a language runtime built on Rust
    // (componentize-py's CPython, a JavaScript engine) prints the language's own error and
    // traceback there, then panics with a generic message ("Python function threw an
    // unexpected exception"); without it the operator would not know what failed.
    let before = stderr[..start]
        .rsplit_once('\n')
        .map_or("", |(before, _thread_line)| before);
    let lines: Vec<&str> = before.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty() {
        let tail = lines[lines.len().saturating_sub(PANIC_CONTEXT_LINES)..].join("\n");
        text.push_str("\nthe pack wrote before it:\n");
        text.push_str(tail_bytes(&tail, PANIC_CONTEXT_BYTES));
    }
    Some(text)
}

/// Lines of what a guest wrote before panicking that a panic's message carries (a traceback's
/// last frames and its error line), and at most this many bytes of them.
const PANIC_CONTEXT_LINES: usize = 16;
const PANIC_CONTEXT_BYTES: usize = 4096;

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail_bytes(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_javascript_error_that_cannot_be_lowered_is_explained() {
        // What componentize-js 0.23 prints when invoke throws a plain Error.
        let stderr = "expected a string, received [undefined]\nStack:\n  \
                      _utf8AllocateAndEncode@/tmp/6e13f9ef4378/sources/initializer.js:94:11\n  \
                      export_handler_0_1_0$invoke@/tmp/6e13f9ef4378/sources/initializer.js:2563:45\n";
        let text = super::stderr_suffix(stderr);
        assert!(text.contains("a plain Error traps"), "{text}");
        assert!(text.contains("@initializer.js:94:11"), "{text}");
        assert!(!text.contains("/tmp/"), "{text}");
        let other = super::stderr_suffix("thread panicked at src/lib.rs:3:5:\nboom\n");
        assert!(!other.contains("JavaScript"), "{other}");
        assert_eq!(super::stderr_suffix("  \n"), "");
    }

    use super::*;

    #[test]
    fn extracts_the_message_of_a_rust_panic() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:42:5:\nmisbehave panicked on purpose\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "misbehave panicked on purpose (at src/lib.rs:42:5)"
        );
        assert_eq!(panic_message("plain text"), None);
    }

    #[test]
    fn a_panic_carries_the_traceback_the_guest_printed_before_it() {
        let stderr = "Traceback (most recent call last):\n  File \"/0/app.py\", line 35, in invoke\n  File \"/0/app.py\", line 11, in _parse\nValueError: invalid literal for int() with base 10: 'x'\nthread '<unnamed>' panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\n";
        let message = panic_message(stderr).unwrap();
        assert!(
            message.starts_with("Python function threw an unexpected exception (at runtime/src/lib.rs:1293:29)\nthe pack wrote before it:\nTraceback"),
            "{message}"
        );
        assert!(
            message.ends_with("ValueError: invalid literal for int() with base 10: 'x'"),
            "{message}"
        );
        let long = format!(
            "{}\nthread 'x' panicked at a.rs:1:1:\nboom\n",
            "é".repeat(5000)
        );
        assert!(panic_message(&long).unwrap().len() < 4200);
    }

    #[test]
    fn drops_details_that_are_not_json_and_cuts_long_messages() {
        let error = bounded_action_error(ActionError {
            code: "x".repeat(100),
            message: "m".repeat(10_000),
            retryable: false,
            details: Some("{oops".into()),
        });
        assert_eq!(error.code.len(), 64);
        assert_eq!(error.message.len(), 8 << 10);
        assert_eq!(error.details, None);
    }
}
