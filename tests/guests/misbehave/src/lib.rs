//! Test guest `misbehave`: an SDK pack whose actions misbehave on purpose (spin, exhaust memory,
//! overflow the stack, return huge output, panic, fail) so the host's tests can check each limit
//! and each failure path. `noop` is also the body of the host's fresh-instance benchmark.

use std::hint::black_box;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use orch_sdk::{Action, ActionError, Context, Pack, PackDef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `{}` in and out.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
struct Empty {}

/// Input and output of `echo`; unknown fields are refused so the host's validation can be tested
/// against the pack's own.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({ "message": "hello", "count": 2 }))]
struct Echo {
    message: String,
    count: u32,
}

/// Input of `huge_output`.
#[derive(Debug, Deserialize, JsonSchema)]
struct HugeOutput {
    /// Size of the returned JSON string in MiB.
    #[serde(default = "default_mb")]
    mb: u32,
}

/// Input of `slow` and `transfer`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Slow {
    /// How long to take, in milliseconds.
    ms: u64,
    /// Logged and returned, so tests can tell invocations apart.
    #[serde(default)]
    tag: String,
}

/// Output of `slow` and `transfer`.
#[derive(Debug, Serialize, JsonSchema)]
struct Tagged {
    tag: String,
}

fn default_mb() -> u32 {
    100
}

const MIB: usize = 1 << 20;

/// Input of `remember`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Remember {
    /// Left in the instance's memory for whoever comes next.
    mark: u64,
}

/// Output of `remember`: what this instance found before writing.
#[derive(Debug, Serialize, JsonSchema)]
struct Remembered {
    /// The mark found in the static (0 in a fresh instance).
    found: u64,
    /// Pages of the scratch area found already written (0 in a fresh instance).
    dirty_pages: u32,
}

/// A mark and a 1 MiB scratch area in the module's data, written by `remember`: a later
/// instance must find them as the image has them, whether the host unmapped the slot or kept
/// its written pages and copied the image back over them.
static MARK: AtomicU64 = AtomicU64::new(0);
static SCRATCH: [AtomicU8; MIB] = [const { AtomicU8::new(0) }; MIB];

// Kept minimal: the host measures a fresh instance running this.
fn noop(_: Empty, _: &Context) -> Result<Empty, ActionError> {
    Ok(Empty {})
}

/// Input of `lie`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(example = serde_json::json!({ "truthful": false }))]
struct LieInput {
    /// Whether to return what the output schema promises.
    truthful: bool,
}

/// Output of `lie`: the schema says `name` is a string; an untruthful call returns `null`.
#[derive(Debug, Serialize, JsonSchema)]
struct Lie {
    #[schemars(with = "String")]
    name: Option<String>,
}

fn lie(input: LieInput, _ctx: &Context) -> Result<Lie, ActionError> {
    Ok(Lie {
        name: input.truthful.then(|| "r1".to_owned()),
    })
}

fn echo(input: Echo, ctx: &Context) -> Result<Echo, ActionError> {
    ctx.info(&format!("echo: {}", input.message));
    Ok(input)
}

// Spins on the clock rather than sleeping: a guest has no sleep that yields to the host, and
// spinning also exercises epoch interruption. Logs once per invocation so tests can count runs.
fn slow(input: Slow, ctx: &Context) -> Result<Tagged, ActionError> {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_millis(input.ms) {
        black_box(());
    }
    ctx.info(&format!("slow: {}", input.tag));
    Ok(Tagged { tag: input.tag })
}

fn transfer(input: Slow, ctx: &Context) -> Result<Tagged, ActionError> {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_millis(input.ms) {
        black_box(());
    }
    ctx.info(&format!("transfer: {}", input.tag));
    Ok(Tagged { tag: input.tag })
}

// Every second page of the scratch area is written, so the written pages form more runs than the
// host's reset keeps resident (wasmtime scans at most 32): both of its paths are exercised.
fn remember(input: Remember, _: &Context) -> Result<Remembered, ActionError> {
    let found = MARK.swap(input.mark, Ordering::SeqCst);
    let mut dirty_pages = 0;
    for page in SCRATCH.chunks(4096) {
        if page.iter().any(|byte| byte.load(Ordering::Relaxed) != 0) {
            dirty_pages += 1;
        }
    }
    for page in SCRATCH.chunks(4096).step_by(2) {
        for byte in page.iter().step_by(512) {
            byte.store(0xA5, Ordering::Relaxed);
        }
    }
    Ok(Remembered { found, dirty_pages })
}

fn fail(_: Empty, _: &Context) -> Result<Empty, ActionError> {
    Err(ActionError::new("boom", "misbehave failed on purpose")
        .retryable()
        .with_details(serde_json::json!({ "reason": "asked to fail", "attempts_left": 3 })))
}

// `black_box` keeps the optimiser from proving the loop has no effect and removing it.
fn loop_forever(_: Empty, _: &Context) -> Result<Empty, ActionError> {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

// Each chunk is written page by page so the memory is really used, and kept so none is freed:
// the guest grows its memory until the host's limit refuses, and the allocator aborts.
fn alloc(_: Empty, _: &Context) -> Result<Empty, ActionError> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; MIB];
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        chunks.push(black_box(chunk));
    }
}

fn recurse(_: Empty, _: &Context) -> Result<Empty, ActionError> {
    black_box(depth(0));
    Ok(Empty {})
}

// Not a tail call (the result is used after the call) and the frame holds a black-boxed buffer,
// so every level takes stack until the host's stack limit traps. The exit on `u64::MAX` is never
// taken; it only keeps rustc's unconditional-recursion lint quiet.
#[inline(never)]
fn depth(n: u64) -> u64 {
    let frame = black_box([n; 32]);
    if black_box(n) == u64::MAX {
        return 0;
    }
    black_box(depth(black_box(n + 1))).wrapping_add(frame[31])
}

fn huge_output(input: HugeOutput, _: &Context) -> Result<String, ActionError> {
    let len = usize::try_from(input.mb)
        .unwrap_or(usize::MAX)
        .saturating_mul(MIB);
    Ok("x".repeat(len))
}

fn panic(_: Empty, _: &Context) -> Result<Empty, ActionError> {
    panic!("misbehave panicked on purpose")
}

/// The `misbehave` pack (`pub` so a native build, which exports nothing, keeps it live).
pub struct Misbehave;

impl Pack for Misbehave {
    fn define() -> PackDef {
        PackDef::new("misbehave", env!("CARGO_PKG_VERSION"))
            .vendor("orch")
            .description("Misbehaves on purpose, one way per action, for the host's tests.")
            .action(Action::new("noop", "Do nothing.", noop))
            .action(
                Action::new(
                    "remember",
                    "Report what the last instance left in memory, then leave `mark` and dirty pages.",
                    remember,
                )
                .non_idempotent(),
            )
            .action(Action::new(
                "echo",
                "Return the input and log its message.",
                echo,
            ))
            .action(Action::new(
                "fail",
                "Fail with a retryable error with details.",
                fail,
            ))
            .action(Action::new("loop_forever", "Spin forever.", loop_forever))
            .action(Action::new(
                "alloc",
                "Allocate memory until it runs out.",
                alloc,
            ))
            .action(Action::new(
                "recurse",
                "Recurse until the stack overflows.",
                recurse,
            ))
            .action(Action::new(
                "huge_output",
                "Return a JSON string of `mb` MiB.",
                huge_output,
            ))
            .action(Action::new("panic", "Panic.", panic))
            .action(Action::new(
                "lie",
                "Return `null` where the output schema promises a string, unless `truthful`.",
                lie,
            ))
            .action(Action::new(
                "slow",
                "Take `ms` milliseconds, log `tag` and return it.",
                slow,
            ))
            .action(
                Action::new(
                    "transfer",
                    "Like `slow`, but not idempotent: a blind re-run would repeat its effect.",
                    transfer,
                )
                .non_idempotent(),
            )
    }
}

orch_sdk::export_pack!(Misbehave);
