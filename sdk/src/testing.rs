//! [`TestHost`]: a stand-in for the orch host in native tests, so actions that use
//! [`http`](crate::http), [`ssh`](crate::ssh), [`catalog`](crate::catalog) and the free
//! [`log`](crate::log) functions run under plain `cargo test` with scripted replies, and a test
//! asserts on what the action sent.
//!
//! Only native builds have this module: in a component every capability call goes to the real
//! host. Natively, every capability call goes to the `TestHost` installed on the calling thread
//! (the newest one created there and still alive), never to the generated import stubs, which
//! would abort the test binary. Without one, a call fails with
//! [`ErrorCode::Invalid`] and a message naming this module; a call the
//! installed host has no script for fails the same way, naming the request, command or line.
//! Each test runs on its own thread, so parallel tests never see each other's scripts.
//!
//! ```
//! use orch_sdk::http::Request;
//! use orch_sdk::testing::TestHost;
//! use orch_sdk::{ActionError, Context, ErrorCode};
//! use serde_json::json;
//!
//! // The action under test: reads a device's status from an API.
//! fn status(device: &str, _ctx: &Context) -> Result<String, ActionError> {
//!     let url = format!("https://api.example.com/v1/devices/{device}");
//!     let response = Request::get(url).credential("api").send()?.error_for_status()?;
//!     let body: serde_json::Value = response.json()?;
//!     Ok(body["status"].as_str().unwrap_or("unknown").to_owned())
//! }
//!
//! let host = TestHost::new();
//! host.http()
//!     .on("GET", "https://api.example.com/v1/devices/r1")
//!     .reply(200, json!({ "status": "up" }));
//! host.http()
//!     .on("GET", "https://api.example.com/v1/devices/r2")
//!     .fail(ErrorCode::Timeout, "no answer within 30s");
//!
//! let ctx = host.context();
//! assert_eq!(status("r1", &ctx).unwrap(), "up");
//! let err = status("r2", &ctx).unwrap_err();
//! assert_eq!((err.code(), err.is_retryable()), ("timeout", true));
//!
//! let sent = host.http().requests();
//! assert_eq!(sent.len(), 2);
//! assert_eq!(sent[0].method(), "GET");
//! assert_eq!(sent[0].credential(), Some("api"));
//! ```

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::log::Level;
use crate::{Context, ErrorCode, HostError, LogRecord};

pub(crate) mod backend;
mod catalog;
mod http;
mod ssh;

pub use catalog::TestCatalog;
pub use http::{HttpRule, SentRequest, TestHttp};
pub use ssh::{ConnectRule, ElevateRule, ExecRule, LineRule, SentSecret, SshConnection, TestSsh};

thread_local! {
    /// The thread's test host. Weak: the test's `TestHost` owns it, so a host never outlives its
    /// test, even when one thread runs several tests in turn.
    static CURRENT: RefCell<Weak<State>> = const { RefCell::new(Weak::new()) };
}

/// What one test host holds: the scripts, the state the action changed, and what it sent.
#[derive(Debug, Default)]
struct State {
    http: RefCell<http::HttpState>,
    ssh: RefCell<ssh::SshState>,
    catalog: RefCell<catalog::CatalogState>,
    logs: RefCell<Vec<LogRecord>>,
}

/// A scripted stand-in for the orch host, installed on the current thread while it lives.
///
/// Create it at the top of a test and keep it in a variable (`let host = TestHost::new();`):
/// dropping it uninstalls it. Script replies through [`http`](Self::http), [`ssh`](Self::ssh)
/// and [`catalog`](Self::catalog), run the action with [`context`](Self::context), then read
/// back what the action sent from the same accessors. Clones share one host.
#[derive(Debug, Clone)]
pub struct TestHost {
    state: Rc<State>,
}

impl TestHost {
    /// An empty host, installed as the current thread's host (replacing any other).
    #[must_use = "the host answers only while this value lives: keep it in a variable"]
    pub fn new() -> Self {
        let state = Rc::new(State::default());
        CURRENT.with(|current| *current.borrow_mut() = Rc::downgrade(&state));
        Self { state }
    }

    /// A context to pass to handlers (the same as [`Context::for_tests`]: run `test-run`, task
    /// `test-task`, attempt 1, key `test-key`; its log lines are kept in the context).
    pub fn context(&self) -> Context {
        Context::for_tests()
    }

    /// Scripts and records of HTTP.
    pub fn http(&self) -> TestHttp<'_> {
        TestHttp::new(&self.state.http)
    }

    /// Scripts and records of SSH.
    pub fn ssh(&self) -> TestSsh<'_> {
        TestSsh::new(&self.state.ssh)
    }

    /// The in-memory catalog: inventory devices and versioned records.
    pub fn catalog(&self) -> TestCatalog<'_> {
        TestCatalog::new(&self.state.catalog)
    }

    /// Lines written with the free functions of [`log`](crate::log) (a [`Context`]'s lines stay
    /// in the context: read them with [`Context::logs`]).
    pub fn logs(&self) -> Vec<LogRecord> {
        self.state.logs.borrow().clone()
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

/// The current thread's host, or the error every capability call returns without one.
fn current(call: &str) -> Result<Rc<State>, HostError> {
    CURRENT
        .with(|current| current.borrow().upgrade())
        .ok_or_else(|| {
            HostError::new(
                ErrorCode::Invalid,
                format!(
                    "no orch host to answer {call}: a native build has no host, and no \
                     orch_sdk::testing::TestHost is installed on this thread; create one in the \
                     test (`let host = orch_sdk::testing::TestHost::new();`) and script the reply"
                ),
            )
        })
}

/// The error of a call the installed host has no script for.
fn unscripted(call: &str, fix: &str) -> HostError {
    HostError::new(
        ErrorCode::Invalid,
        format!("the test host has no reply for {call}; script one with {fix}"),
    )
}

/// A log line from the free `log` functions: kept by the host, or printed to stderr (captured by
/// the test harness) when there is none, since logging cannot fail.
fn log(level: Level, message: &str, fields: Option<&str>) {
    let fields_value = fields.and_then(|json| serde_json::from_str(json).ok());
    match current("log") {
        Ok(state) => state.logs.borrow_mut().push(LogRecord {
            level,
            message: message.to_owned(),
            fields: fields_value,
        }),
        Err(_) => eprintln!("orch log {level:?}: {message} {}", fields.unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_host_a_call_fails_naming_the_testing_module() {
        let err = crate::catalog::device("R1").expect_err("no host on this thread");
        assert_eq!(err.code(), ErrorCode::Invalid);
        assert!(err.message().contains("no orch host"), "{err}");
        assert!(
            err.message().contains("orch_sdk::testing::TestHost"),
            "{err}"
        );
    }

    #[test]
    fn a_dropped_host_answers_no_more() {
        let host = TestHost::new();
        host.catalog()
            .add_device(crate::catalog::Device::new("R1", "10.0.0.1", "cisco_ios"));
        assert!(crate::catalog::device("R1").is_ok());
        drop(host);
        let err = crate::catalog::device("R1").expect_err("host dropped");
        assert!(err.message().contains("no orch host"), "{err}");
    }

    #[test]
    fn the_newest_host_of_the_thread_answers() {
        let first = TestHost::new();
        first
            .catalog()
            .add_device(crate::catalog::Device::new("R1", "10.0.0.1", "cisco_ios"));
        let _second = TestHost::new();
        let err = crate::catalog::device("R1").expect_err("the second host has no R1");
        assert_eq!(err.code(), ErrorCode::NotFound);
    }

    #[test]
    fn a_host_on_another_thread_is_not_seen() {
        let host = TestHost::new();
        host.catalog()
            .add_device(crate::catalog::Device::new("R1", "10.0.0.1", "cisco_ios"));
        let other = std::thread::spawn(|| crate::catalog::device("R1").map(|d| d.name))
            .join()
            .expect("thread ran");
        assert!(other.is_err_and(|err| err.message().contains("no orch host")));
    }

    #[test]
    fn free_log_functions_reach_the_host_and_never_abort_without_one() {
        crate::log::info("before any host");
        let host = TestHost::new();
        crate::log::warn("slow device");
        crate::log::write(Level::Info, "done", &serde_json::json!({ "devices": 3 }));
        let logs = host.logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(
            (logs[0].level, logs[0].message.as_str()),
            (Level::Warn, "slow device")
        );
        assert_eq!(logs[1].fields, Some(serde_json::json!({ "devices": 3 })));
    }

    #[test]
    fn a_host_context_logs_into_the_context() {
        let host = TestHost::new();
        let ctx = host.context();
        ctx.info("from the context");
        assert_eq!(ctx.logs().len(), 1);
        assert!(host.logs().is_empty());
    }
}
