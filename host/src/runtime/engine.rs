//! The process-wide wasmtime `Engine`: its configuration, the epoch ticker that drives deadlines,
//! and the key that ties a compiled artifact to this configuration.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. Deadlines are checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances that may be live at once in this process unless told otherwise (the pool's size,
/// `--max-instances`/`ORCH_MAX_INSTANCES`). Workflow fan-outs are bounded by this; more
/// concurrent invocations wait for a slot.
pub const DEFAULT_MAX_INSTANCES: u32 = 128;
/// The most instances a process may be configured for. Each pool slot reserves address space
/// for its memories up front (a few GiB of virtual memory, nothing resident); 20,000 slots stay
/// well inside a 64-bit address space.
pub const MAX_INSTANCES_LIMIT: u32 = 20_000;

/// Bytes of a linear memory, and of a table, kept mapped when a pool slot is freed, where Linux
/// can say which pages the last instance wrote (the `PAGEMAP_SCAN` ioctl, Linux 6.7+): those
/// pages are copied back from the pack's initial image in place instead of being unmapped, so
/// the next instance of the pack (the pool gives it the same slot) starts without a page fault
/// on them. Past this many written bytes the rest is unmapped as before, which bounds what an
/// idle slot keeps (the pool keeps at most 100 idle slots warm). Without the ioctl the whole
/// prefix would be copied on every reset, written or not, so nothing is kept there.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;
const TABLE_KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// How a pool slot is made ready again when an instance ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotReset {
    /// The pages the instance wrote are copied back from the image in place and stay mapped
    /// (up to [`KEEP_RESIDENT_BYTES`]) where Linux supports `PAGEMAP_SCAN`; elsewhere as
    /// `Unmap`. The default.
    KeepWritten,
    /// Everything is unmapped and faulted in again by the next instance (wasmtime's default;
    /// the benchmarks' baseline).
    Unmap,
}

/// What the engine is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// The largest memory cap any invocation of this process may ask for.
    pub max_memory_bytes: usize,
    /// Instances that may be live at once: the pool's size.
    pub max_instances: u32,
    /// How freed pool slots are reset.
    pub slot_reset: SlotReset,
}

impl EngineSettings {
    /// The defaults for memory caps up to `max_memory_bytes`: [`DEFAULT_MAX_INSTANCES`], slots
    /// that keep written pages.
    pub fn for_memory(max_memory_bytes: usize) -> Self {
        Self {
            max_memory_bytes,
            max_instances: DEFAULT_MAX_INSTANCES,
            slot_reset: SlotReset::KeepWritten,
        }
    }

    /// These settings with `max_instances` brought into 1..=[`MAX_INSTANCES_LIMIT`].
    pub(crate) fn bounded(self) -> Self {
        Self {
            max_instances: self.max_instances.clamp(1, MAX_INSTANCES_LIMIT),
            ..self
        }
    }
}

/// Builds the engine: pooling allocator with `settings.max_instances` slots sized for
/// `settings.max_memory_bytes` per linear memory, epoch interruption on, slots reset as
/// `settings.slot_reset` says. The pool reserves virtual memory up front; where the host
/// refuses the reservation (a low `ulimit -v`, some containers) we fall back to on-demand
/// allocation, which is slower to instantiate but otherwise identical. `settings` are
/// [`EngineSettings::bounded`] already.
pub(crate) fn build_engine(settings: EngineSettings) -> anyhow::Result<(Engine, bool)> {
    match Engine::new(&config(Some(settings))) {
        Ok(engine) => Ok((engine, true)),
        Err(err) => {
            tracing::warn!(
                "pooling allocator unavailable ({err:#}); falling back to on-demand allocation"
            );
            let engine = Engine::new(&config(None))
                .map_err(anyhow::Error::from)
                .context("creating the wasmtime engine")?;
            Ok((engine, false))
        }
    }
}

fn config(pool: Option<EngineSettings>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // Stack use of the guest is bounded separately from the host's async stack so a runaway
    // recursion traps cleanly instead of overflowing the fiber.
    config.max_wasm_stack(512 << 10);
    config.async_stack_size(2 << 20);
    if let Some(settings) = pool {
        let instances = settings.max_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 8)
            .total_stacks(instances)
            .max_memories_per_component(4)
            .max_memory_size(settings.max_memory_bytes);
        if settings.slot_reset == SlotReset::KeepWritten
            && PoolingAllocationConfig::is_pagemap_scan_available()
        {
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// A key naming this engine's compilation settings and wasmtime version: compiled artifacts are
/// stored under it, so an artifact from another configuration or release is never loaded.
pub fn engine_key(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on its own OS thread. A tokio task would not
/// do: a guest spinning on a worker thread would starve it, and the deadline would never fire.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`. The thread holds only a weak reference and exits with the engine.
    pub fn start(engine: &Engine) -> anyhow::Result<Self> {
        let weak = engine.weak();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("orch-epoch".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .context("starting the epoch ticker thread")?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Epoch ticks that cover `deadline`, rounded up, at least one.
pub fn ticks_for(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    u64::try_from(deadline.as_nanos().div_ceil(tick))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_never_reach_zero() {
        assert_eq!(ticks_for(Duration::ZERO), 1);
        assert_eq!(ticks_for(Duration::from_millis(1)), 1);
        assert_eq!(ticks_for(Duration::from_millis(25)), 3);
        assert_eq!(ticks_for(Duration::from_secs(60)), 6000);
    }
}
