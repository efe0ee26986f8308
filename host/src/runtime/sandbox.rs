//! The state of one invocation's `Store`: an empty WASI context, the resource table, the memory
//! limiter and the capabilities lent to the pack.
//!
//! A `Sandbox` lives exactly as long as one invocation; nothing in it outlives the call, which
//! is what guarantees that no state leaks between invocations or runs.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::CallContext;
use super::limits::MemoryLimiter;
use crate::capabilities::CapabilityContext;
use crate::capabilities::catalog::CatalogCapability;
use crate::capabilities::http::HttpCapability;
use crate::capabilities::log::LogCapability;
use crate::capabilities::ssh::SshCapability;
use crate::capabilities::wasi_http::WasiHttpBroker;

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
    pub(crate) log: LogCapability,
    pub(crate) http: HttpCapability,
    pub(crate) ssh: SshCapability,
    pub(crate) catalog: CatalogCapability,
    wasi_http: WasiHttpCtx,
    wasi_http_broker: WasiHttpBroker,
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
            log: LogCapability::default(),
            http: HttpCapability::new(capabilities.clone(), deadline),
            wasi_http: WasiHttpCtx::new(),
            wasi_http_broker: WasiHttpBroker::new(capabilities.clone(), deadline),
            catalog: CatalogCapability::new(capabilities.clone(), call),
            ssh: SshCapability::new(capabilities, deadline),
            stdout,
            stderr,
        }
    }

    /// The pack's log lines and the count dropped past the cap, with a `warn` line for each
    /// wasi:http request the host refused (many clients drop the reason; the operator sees it).
    pub fn take_logs(&mut self) -> (Vec<crate::capabilities::log::LogLine>, usize) {
        for refusal in self.wasi_http_broker.take_refusals() {
            self.log.record(
                "warn",
                &format!("orch refused a wasi:http request: {refusal}"),
                None,
            );
        }
        self.log.take()
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
        WasiHttpCtxView {
            ctx: &mut self.wasi_http,
            table: &mut self.table,
            hooks: &mut self.wasi_http_broker,
        }
    }
}
