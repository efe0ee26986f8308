//! The state of one invocation's `Store`: an empty WASI context, the resource table, the memory
//! limiter and the capabilities lent to the pack.
//!
//! A `Sandbox` lives exactly as long as one invocation; nothing in it outlives the call, which
//! is what guarantees that no state leaks between invocations or runs.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use super::limits::MemoryLimiter;
use crate::capabilities::{Capabilities, CapabilityContext, Lending};
use crate::contract::CallContext;

/// Bytes of a guest's stdout and stderr kept per invocation (a panic message fits easily).
const STDIO_CAPTURE_BYTES: usize = 64 << 10;
/// Bytes one `getrandom` call may ask for.
const MAX_RANDOM_BYTES: u64 = 1 << 20;
/// Resources (streams, pollables) one invocation may hold at once.
const MAX_RESOURCES: usize = 10_000;

/// Per-invocation store data.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) capabilities: Capabilities,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Sandbox {
    /// A sandbox with no files, no environment, no arguments, no sockets and no stdin: WASI
    /// gives clocks and random only. stdout and stderr are captured (bounded) so a panic
    /// message can be reported with the error. `capabilities` is what the host lends this
    /// invocation (its pack's grants); `call` is where the invocation comes from (the catalog
    /// records it as the writer); host calls end by `deadline`.
    pub fn new(
        memory_cap: usize,
        capabilities: CapabilityContext,
        call: &CallContext,
        deadline: Instant,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .max_random_size(MAX_RANDOM_BYTES)
            // WASI's own sockets stay shut: network access is brokered by orch capabilities,
            // which check grants. (Addresses are denied by default too; this says it twice.)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .allow_blocking_current_thread(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self {
            wasi,
            table,
            limiter: MemoryLimiter::new(memory_cap),
            capabilities: Capabilities::lend(&Lending {
                context: &capabilities,
                call,
                deadline,
            }),
            stdout,
            stderr,
        }
    }

    /// What the guest wrote to stdout, lossily decoded.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    /// What the guest wrote to stderr (a Rust panic message lands here), lossily decoded.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.capabilities.wasi_http.view(&mut self.table)
    }
}
