//! The `broker` test guest installed in a throwaway ORCH_HOME and invoked through the library
//! as `orch action run` would: what the capability benches measure on the host's side.

use std::sync::Arc;

use orch::capabilities::{Broker, BrokerSettings, CapabilityContext};
use orch::contract::CallContext;
use orch::home::Home;
use orch::packs::Packs;
use orch::runtime::{Limits, PreparedPack, Runtime};
use orch::store::Store;
use orch::vault::MasterKey;

/// A home with the `broker` pack installed.
pub struct Hosted {
    _dir: tempfile::TempDir,
    pub home: Home,
    /// For the bench to add grants, host keys and credentials before [`Hosted::invoker`].
    pub store: Store,
    runtime: Arc<Runtime>,
}

impl Hosted {
    /// Creates the home and installs the `broker` guest.
    pub fn with_broker(tokio: &tokio::runtime::Runtime) -> Self {
        let runtime = Runtime::new(Limits::DEFAULT.memory_bytes).expect("runtime");
        Self::with_broker_on(tokio, runtime)
    }

    /// As [`Hosted::with_broker`], invoking through `runtime` (a bench's own settings).
    #[allow(
        dead_code,
        reason = "only some of the benches sharing this file use it"
    )]
    pub fn with_broker_on(tokio: &tokio::runtime::Runtime, runtime: Runtime) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = Home::open(dir.path().join("home")).expect("home");
        let store = Store::open(&home.database()).expect("store");
        let runtime = Arc::new(runtime);
        tokio
            .block_on(
                Packs::new(&home, &store, &runtime).add(&super::guests::guest("broker"), &|_| {}),
            )
            .expect("adding broker");
        Self {
            _dir: dir,
            home,
            store,
            runtime,
        }
    }

    /// Loads the pack with its grants as stored now, under a broker whose vault key is `key`.
    pub fn invoker(&self, key: MasterKey) -> Invoker {
        let pack = Packs::new(&self.home, &self.store, &self.runtime)
            .load("broker")
            .expect("load broker")
            .prepared;
        let broker = Broker::with_store(
            Store::open(&self.home.database()).expect("broker store"),
            key,
            BrokerSettings::default(),
        )
        .expect("broker");
        let lent = broker.context_for("broker").expect("grants");
        Invoker {
            runtime: Arc::clone(&self.runtime),
            pack,
            lent,
        }
    }
}

/// Invokes actions of the installed `broker` pack.
pub struct Invoker {
    runtime: Arc<Runtime>,
    pack: PreparedPack,
    lent: CapabilityContext,
}

impl Invoker {
    /// Runs `action` with `input` in a fresh sandbox; its output (panics on any failure).
    pub async fn call(&self, action: &str, input: &str) -> String {
        let context = CallContext {
            run_id: "bench".into(),
            task: action.into(),
            attempt: 1,
            idempotency_key: "bench".into(),
        };
        let invocation = self
            .runtime
            .invoke(
                &self.pack,
                action,
                input,
                &context,
                &Limits::DEFAULT,
                &self.lent,
            )
            .await
            .expect("invoke");
        invocation
            .result
            .unwrap_or_else(|err| panic!("{action} failed: {err:?}"))
    }
}

/// Serves `app` on 127.0.0.1 (a free port, returned) on `tokio`, as the local API the broker's
/// requests go to.
#[allow(
    dead_code,
    reason = "only some of the benches sharing this file use it"
)]
pub fn serve_locally(tokio: &tokio::runtime::Runtime, app: axum::Router) -> u16 {
    let listener = tokio
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio.spawn(async move { axum::serve(listener, app).await });
    port
}
