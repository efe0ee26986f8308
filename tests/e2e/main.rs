//! End-to-end tests: the real `orch` binary, a fresh `ORCH_HOME` per test, and real pack
//! components built from `packs/` and `tests/guests/`.

mod fleet;
mod harness;
mod lab;
mod peers;
mod server;

mod action_run;
mod api;
mod catalog;
mod closed_loop;
mod compliance;
mod concurrency;
mod console;
mod crash;
mod discover;
mod drift;
mod grants;
mod hostile;
mod http_broker;
mod http_peer;
mod js_pack;
mod netdev;
mod pack_add;
mod pack_check;
mod pack_new;
mod peers_smoke;
mod python_pack;
mod sandbox_limits;
mod secret;
mod serve;
mod servicenow;
mod servicenow_peer;
mod signing;
mod ssh_broker;
mod store_migrate;
mod wasi_http;
mod workers;
mod workflow_run;
