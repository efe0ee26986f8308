//! `orch serve`: the long-running process of the closed loop. It drives runs with the same
//! [`Engine`] as `orch run` (each run in its own tokio task; leases keep CLI commands on the same
//! `ORCH_HOME` out of its way), resumes at start-up the runs whose driver is gone, takes events
//! from its triggers (`service/webhook.rs`, `service/syslog.rs`, `service/schedule.rs`,
//! `service/run_events.rs`), stores each before any rule sees it (`service/intake.rs`), lets the
//! rules (`crate::rules`) decide, starts what they fire, and serves HTTP (`service/http.rs`:
//! one [`axum::Router`] assembled in one place, the shared state an `Arc<Core>`).
//!
//! # At most once, nothing lost
//!
//! - An event is committed (with what it consumes: a schedule slot, a run ending) before any rule
//!   sees it; a webhook is answered only then. Events stored but not decided when the server
//!   stopped are decided at the next start.
//! - A rule's decision about an event is recorded once (primary key: event, rule) with the
//!   throttle window it moves and, for a firing, the id of the run it starts and that run's
//!   workflow and input. The run is started under that id afterwards; a start cut short by a crash
//!   is made at the next start with the same id, and an id that exists is never started again.
//!   So an event fires a rule at most once, and a firing is not lost.
//! - Stopping (Ctrl-C, SIGTERM): no new HTTP request or event is taken, queued events are stored,
//!   running actions get `--grace` to finish, runs are left paused; the next start resumes them.

mod http;
mod intake;
mod metrics;
mod run_events;
mod schedule;
mod syslog;
pub mod tls;
pub mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use serde_json::{Map, Value};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use crate::capabilities::{Broker, BrokerSettings};
use crate::engine::{self, Engine, Note, Observer, Prepared};
use crate::home::Home;
use crate::packs::Packs;
use crate::rules::{self, Rule, RulesRefused, Trigger};
use crate::runtime::{EngineSettings, Runtime};
use crate::store::{Store, now_ms};
use crate::vault::{self, Kind, MasterKey};
pub use http::HttpError;
pub use intake::Incoming;

/// The webhook body limit when `--max-body` is not given.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// The event queue's capacity when `--queue` is not given.
pub const DEFAULT_QUEUE: usize = 10_000;

/// How `orch serve` runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP address.
    pub listen: SocketAddr,
    /// Serve plain HTTP on a non-loopback address.
    pub insecure_http: bool,
    /// TLS certificate chain and private key (PEM files): HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The rules directory.
    pub rules_dir: PathBuf,
    /// Syslog over UDP.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog over TCP.
    pub syslog_tcp: Option<SocketAddr>,
    /// Capacity of the event queue (a syslog flood beyond it is dropped and counted).
    pub queue: usize,
    /// Largest webhook body, in bytes.
    pub max_body: usize,
    /// The engine's settings (grace, workflow directory, limits).
    pub engine: engine::Settings,
    /// The broker's settings (host-key policy).
    pub broker: BrokerSettings,
    /// The runtime's settings (instances at once, `--max-instances`).
    pub runtime: EngineSettings,
    /// The store in PostgreSQL at this URL instead of the home's SQLite file.
    pub database_url: Option<String>,
    /// Also take queued runs as a worker would (`orch worker`), with these settings.
    pub worker: Option<crate::worker::WorkerConfig>,
}

/// Why `orch serve` will not start; the user can fix each.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Plain HTTP beyond loopback without `--insecure-http`.
    #[error(
        "refusing to serve plain HTTP on {0}, which is not a loopback address: webhook bodies and \
         tokens would cross the network in clear. Serve HTTPS with --tls-cert FILE --tls-key FILE, \
         listen on 127.0.0.1 or ::1 (behind a TLS-terminating proxy), or accept plain HTTP with \
         --insecure-http"
    )]
    NotLoopback(SocketAddr),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Bad rule files.
    #[error(transparent)]
    Rules(#[from] RulesRefused),
    /// Another server holds the home.
    #[error(
        "another orch serve already serves ORCH_HOME {0} (it holds {0}/serve.lock); stop it first"
    )]
    Locked(String),
    /// A webhook's secret is missing or of the wrong kind.
    #[error(
        "rule {rule}: webhook {hook} needs the vault credential {secret} of kind webhook-hmac or \
         webhook-token, {problem}; add it with: orch secret set {secret} --kind webhook-hmac \
         --from-stdin"
    )]
    HookSecret {
        /// Rule.
        rule: String,
        /// Hook.
        hook: String,
        /// Credential name.
        secret: String,
        /// What is wrong.
        problem: String,
    },
    /// An address to listen on is taken or not ours.
    #[error("cannot listen on {what} {addr}: {error}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// Address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// Where the server listens, once it does.
#[derive(Debug, Clone)]
pub struct Listening {
    /// HTTP.
    pub http: SocketAddr,
    /// Whether `http` speaks HTTPS.
    pub https: bool,
    /// Syslog over UDP.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog over TCP.
    pub syslog_tcp: Option<SocketAddr>,
    /// Rules loaded.
    pub rules: usize,
    /// Webhooks served (`/hooks/NAME`).
    pub hooks: Vec<String>,
    /// Runs resumed at start-up.
    pub resumed: Vec<String>,
}

/// How a server ended.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// Runs left paused (resumed at the next start).
    pub paused: usize,
}

/// Named counters (events, refusals, drops, decisions): read by `/healthz`, and by `/metrics`
/// where `metrics.rs` names each as a Prometheus family.
#[derive(Debug, Default)]
pub struct Counters {
    values: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// Adds `n` to `name`.
    pub fn add(&self, name: &str, n: u64) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        *values.entry(name.to_owned()).or_default() += n;
    }

    /// Adds one to `name`.
    pub fn count(&self, name: &str) {
        self.add(name, 1);
    }

    /// Every counter.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What every part of the server shares.
pub struct Core {
    home: Home,
    store: Store,
    runtime: Arc<Runtime>,
    broker: Arc<Broker>,
    settings: engine::Settings,
    rules: Vec<Rule>,
    /// Hook name → vault credential.
    hooks: HashMap<String, String>,
    master_key: Option<Arc<MasterKey>>,
    observer: ServiceObserver,
    stop_runs: watch::Receiver<bool>,
    counters: Counters,
    queue: mpsc::Sender<Incoming>,
    accepting: AtomicBool,
    ready: AtomicBool,
    max_body: usize,
    runs: Mutex<JoinSet<()>>,
    https: bool,
}

impl Core {
    /// Whether the server speaks HTTPS (console cookies are then `Secure`).
    pub fn https(&self) -> bool {
        self.https
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The text of `/metrics`: the figures counted so far and those read now.
    pub(crate) fn metrics_text(&self) -> anyhow::Result<String> {
        let runs_by_status = blocking(|| self.store.runs_by_status())?;
        let snapshot = metrics::Snapshot {
            runs_by_status,
            queue_depth: self.queue.max_capacity() - self.queue.capacity(),
            queue_capacity: self.queue.max_capacity(),
            active_runs: self.active_runs(),
            counters: self.counters.snapshot(),
        };
        Ok(self.observer.metrics.render(&snapshot))
    }

    /// An engine for one run (cheap: it borrows the server's store, packs and runtime).
    pub fn engine(&self) -> Engine<'_> {
        Engine::new(
            &self.store,
            Packs::new(&self.home, &self.store, &self.runtime),
            Arc::clone(&self.runtime),
            Arc::clone(&self.broker),
            &self.observer,
            self.settings.clone(),
            self.stop_runs.clone(),
        )
    }

    /// The installed packs.
    pub fn packs(&self) -> Packs<'_> {
        Packs::new(&self.home, &self.store, &self.runtime)
    }

    /// Whether the server takes requests and events (false while starting and stopping).
    pub fn accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Runs still driven by this server.
    pub fn active_runs(&self) -> usize {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        while runs.try_join_next().is_some() {}
        runs.len()
    }

    fn spawn_run(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        while runs.try_join_next().is_some() {}
        runs.spawn(task);
    }

    /// Starts run `id` of `prepared`, fired by `rule` for `event`, in its own task; a start
    /// that fails before the run exists turns the decision into an error.
    fn start_fired(self: &Arc<Self>, prepared: Prepared, id: String, event: i64, rule: String) {
        let core = Arc::clone(self);
        self.counters.count("runs.started");
        self.spawn_run(async move {
            let engine = core.engine();
            match engine.start_prepared(prepared, &id).await {
                Ok(outcome) => {
                    tracing::info!(run = %id, event, rule = %rule, status = %outcome.status, "run stopped being driven");
                }
                Err(err) => {
                    let exists = blocking(|| core.store.run(&id)).ok().flatten().is_some();
                    tracing::warn!(run = %id, event, rule = %rule, "run failed to start or drive: {err:#}");
                    if !exists {
                        let detail = format!("the run could not start: {err:#}");
                        if let Err(e) = blocking(|| core.store.fail_decision(event, &rule, &detail)) {
                            tracing::error!("recording the failed start of run {id}: {e:#}");
                        }
                    }
                }
            }
        });
    }

    /// Records run `id` of `prepared` (asked for through the API or the console), so the id
    /// handed back can be read at once, then drives it in its own task.
    pub(crate) fn start_run(
        self: &Arc<Self>,
        prepared: Prepared,
        id: String,
    ) -> anyhow::Result<()> {
        let run = blocking(|| self.engine().record_prepared(prepared, &id))?;
        let core = Arc::clone(self);
        self.counters.count("runs.started");
        self.spawn_run(async move {
            match core.engine().drive_recorded(run).await {
                Ok(outcome) => {
                    tracing::info!(run = %id, status = %outcome.status, "run stopped being driven");
                }
                Err(err) => tracing::warn!(run = %id, "run failed to drive: {err:#}"),
            }
        });
        Ok(())
    }

    /// Drives `run`, whose lease this process holds (an answer or a rerun was just recorded),
    /// in its own task.
    pub(crate) fn drive_held(self: &Arc<Self>, run: crate::store::RunRow) {
        let core = Arc::clone(self);
        self.spawn_run(async move {
            let id = run.id.clone();
            match core.engine().drive_held(run).await {
                Ok(outcome) => {
                    tracing::info!(run = %id, status = %outcome.status, "run stopped being driven");
                }
                Err(err) => tracing::warn!(run = %id, "cannot drive run: {err:#}"),
            }
        });
    }

    /// Cancels run `id`, which no process drives, in its own task.
    pub(crate) fn cancel_run(self: &Arc<Self>, id: String) {
        let core = Arc::clone(self);
        self.spawn_run(async move {
            match core.engine().cancel(&id).await {
                Ok(_) => tracing::info!(run = %id, "run canceled"),
                Err(err) => tracing::warn!(run = %id, "cannot cancel run: {err:#}"),
            }
        });
    }

    /// Continues run `id` (orphaned, or paused by this server's last stop) in its own task.
    pub(crate) fn resume(self: &Arc<Self>, id: String) {
        let core = Arc::clone(self);
        self.spawn_run(async move {
            if let Err(err) = blocking(|| core.store.adopt_run(&id)) {
                tracing::error!(run = %id, "recording the run as the server's: {err:#}");
            }
            match core.engine().resume(&id).await {
                Ok(outcome) => {
                    tracing::info!(run = %id, status = %outcome.status, "resumed run stopped being driven");
                }
                Err(err) => tracing::warn!(run = %id, "cannot resume run: {err:#}"),
            }
        });
    }

    /// The opened secret of hook `name` and its kind.
    fn hook_secret(&self, name: &str) -> Result<(Kind, zeroize::Zeroizing<Vec<u8>>), HttpError> {
        let Some(credential) = self.hooks.get(name) else {
            return Err(HttpError::unknown_hook(name));
        };
        let missing = || {
            HttpError::internal(&format!(
                "webhook {name} has no usable secret; the operator sets it with: orch secret set {credential} --kind webhook-hmac"
            ))
        };
        let key = self.master_key.as_ref().ok_or_else(missing)?;
        let row = blocking(|| self.store.credential(credential))
            .ok()
            .flatten()
            .ok_or_else(missing)?;
        let kind: Kind = row.kind.parse().map_err(|_| missing())?;
        if !kind.is_server_only() {
            return Err(missing());
        }
        let mut secrets = blocking(|| vault::Vault::new(&self.store).secrets(key, credential))
            .map_err(|_| missing())?;
        let secret = secrets.remove(kind.secret_field()).ok_or_else(missing)?;
        Ok((kind, secret))
    }
}

/// Notes from the engine: logged with run ids; a run's end wakes the run-events watcher.
struct ServiceObserver {
    ended: Arc<Notify>,
    metrics: metrics::Metrics,
}

impl Observer for ServiceObserver {
    fn note(&self, note: Note<'_>) {
        self.metrics.note(&note);
        match note {
            Note::RunStarted {
                run,
                workflow,
                parent,
                resumed,
            } => tracing::info!(run, workflow, parent, resumed, "run started"),
            Note::Started {
                run,
                exec,
                item,
                attempt,
                action,
            } => tracing::info!(run, exec, item, attempt, action, "task started"),
            Note::Finished {
                run,
                exec,
                item,
                attempt,
                error,
                ..
            } => {
                if let Some(error) = error {
                    tracing::info!(run, exec, item, attempt, error = %error, "task failed");
                } else {
                    tracing::debug!(run, exec, item, attempt, "task succeeded");
                }
            }
            Note::Asking(q) => {
                tracing::info!(run = %q.run, task = %q.task, "run waits for an answer: orch runs respond {} {}", q.run, q.task);
            }
            Note::AnswerIgnored { run, task, reason } => {
                tracing::warn!(run, task, "answer ignored: {reason}");
            }
            Note::Stopping { run, running, .. } => {
                tracing::info!(
                    run,
                    running,
                    "stopping: running actions get the grace period"
                );
            }
            Note::RunEnded(outcome) => {
                tracing::info!(run = %outcome.run, status = %outcome.status, "run ended");
                if outcome.status.is_finished() {
                    self.ended.notify_one();
                }
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true (then in-flight requests finish).
fn spawn_http<L>(
    listener: L,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    SocketAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await
    })
}

pub(crate) use crate::engine::blocking;

/// Checks the rules of `dir` as `orch serve` would load them: the rules, or every problem.
pub fn load_rules(dir: &std::path::Path) -> anyhow::Result<Vec<Rule>> {
    let (rules, errors) = rules::load_dir(dir)?;
    if !errors.is_empty() {
        return Err(RulesRefused {
            dir: dir.display().to_string(),
            errors,
        }
        .into());
    }
    Ok(rules)
}

/// Serves `home` until `shutdown` completes; `on_ready` is told where it listens.
pub async fn serve(
    home_root: PathBuf,
    config: Config,
    on_ready: impl FnOnce(&Listening),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Stopped> {
    if !config.listen.ip().is_loopback() && !config.insecure_http && config.tls.is_none() {
        return Err(ServeError::NotLoopback(config.listen).into());
    }
    // A bad certificate is refused before anything else happens.
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls::load(cert, key).map_err(ServeError::from)?),
        None => None,
    };
    let home = Home::open(&home_root)
        .with_context(|| format!("opening ORCH_HOME {}", home_root.display()))?
        .with_database_url(config.database_url.clone());
    let lock = lock_home(&home)?;
    let store = home.open_store()?;
    let rules = load_rules(&config.rules_dir)?;
    let hooks = hooks_of(&rules);
    let master_key = if hooks.is_empty() {
        None
    } else {
        let key = MasterKey::for_home(&vault::key_file(home.root()))?;
        check_hook_secrets(&rules, &store, &key)?;
        Some(Arc::new(key))
    };
    let runtime = Arc::new(Runtime::with_settings(config.runtime)?);
    let broker = Broker::open(&home, config.broker)?;
    let (stop_runs_tx, stop_runs) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (queue, queue_rx) = mpsc::channel(config.queue.max(1));
    let ended = Arc::new(Notify::new());
    let core = Arc::new(Core {
        home,
        store,
        runtime,
        broker,
        settings: config.engine.clone(),
        rules,
        hooks,
        master_key,
        observer: ServiceObserver {
            ended: Arc::clone(&ended),
            metrics: metrics::Metrics::default(),
        },
        stop_runs,
        counters: Counters::default(),
        queue,
        accepting: AtomicBool::new(false),
        ready: AtomicBool::new(false),
        max_body: config.max_body,
        runs: Mutex::new(JoinSet::new()),
        https: tls.is_some(),
    });

    // Listen first: a taken port is refused before anything is resumed.
    let http_listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| ServeError::Bind {
            what: "HTTP",
            addr: config.listen,
            error,
        })?;
    let http_addr = http_listener.local_addr()?;
    let udp = match config.syslog_udp {
        Some(addr) => Some(syslog::bind_udp(addr).await?),
        None => None,
    };
    let tcp = match config.syslog_tcp {
        Some(addr) => Some(syslog::bind_tcp(addr).await?),
        None => None,
    };

    let mut tasks = JoinSet::new();
    let intake = tokio::spawn(intake::run(Arc::clone(&core), queue_rx, stop_rx.clone()));
    let resumed = intake::recover(&core).await?;
    let listening = Listening {
        http: http_addr,
        https: tls.is_some(),
        syslog_udp: udp.as_ref().and_then(|s| s.local_addr().ok()),
        syslog_tcp: tcp.as_ref().and_then(|s| s.local_addr().ok()),
        rules: core.rules.len(),
        hooks: {
            let mut h: Vec<String> = core.hooks.keys().cloned().collect();
            h.sort();
            h
        },
        resumed,
    };
    if let Some(socket) = udp {
        tasks.spawn(syslog::serve_udp(
            Arc::clone(&core),
            socket,
            stop_rx.clone(),
        ));
    }
    if let Some(listener) = tcp {
        tasks.spawn(syslog::serve_tcp(
            Arc::clone(&core),
            listener,
            stop_rx.clone(),
        ));
    }
    for rule in &core.rules {
        if let Trigger::Schedule(s) = &rule.trigger
            && rule.enabled
        {
            tasks.spawn(schedule::run(
                Arc::clone(&core),
                rule.name.clone(),
                (**s).clone(),
                stop_rx.clone(),
            ));
        }
    }
    tasks.spawn(run_events::run(Arc::clone(&core), ended, stop_rx.clone()));
    let app = http::router(Arc::clone(&core));
    let http = match tls {
        Some(config) => {
            // TCP_NODELAY: small API answers and SSE events go out at once.
            let listener = tls::TlsListener::new(http_listener, config)?.tap_io(|tls| {
                let _ = tls.get_ref().0.set_nodelay(true);
            });
            spawn_http(listener, app, stop_rx.clone())
        }
        None => {
            let listener = http_listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            spawn_http(listener, app, stop_rx.clone())
        }
    };
    let worker = match config.worker.clone() {
        Some(settings) => {
            // Its own connection: the worker's tasks hold it for as long as they run.
            let store = core.home.open_store()?;
            let wake = store.listen(crate::store::QUEUED_CHANNEL)?;
            let worker = Arc::new(crate::worker::Worker::new(
                core.home.clone(),
                store,
                Arc::clone(&core.runtime),
                Arc::clone(&core.broker),
                settings,
                core.stop_runs.clone(),
            ));
            tracing::info!(worker = worker.id(), "also taking queued runs");
            Some(tokio::spawn(worker.work(stop_rx.clone(), wake)))
        }
        None => None,
    };
    core.accepting.store(true, Ordering::SeqCst);
    core.ready.store(true, Ordering::SeqCst);
    tracing::info!(%http_addr, rules = core.rules.len(), "serving");
    on_ready(&listening);

    shutdown.await;
    tracing::info!("stopping: no new requests or events; running actions get the grace period");
    core.accepting.store(false, Ordering::SeqCst);
    core.ready.store(false, Ordering::SeqCst);
    let _ = stop_runs_tx.send(true);
    let _ = stop_tx.send(true);
    let grace = config.engine.grace;
    // A client that never finishes its request does not hold the server past the grace.
    if tokio::time::timeout(grace + Duration::from_secs(1), http)
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after the grace period: closed");
    }
    while tasks.join_next().await.is_some() {}
    match intake.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!("storing the last events: {err:#}"),
        Err(err) => tracing::error!("the event intake ended abnormally: {err}"),
    }
    let mut runs = std::mem::take(&mut *core.runs.lock().unwrap_or_else(|p| p.into_inner()));
    while runs.join_next().await.is_some() {}
    if let Some(worker) = worker {
        match worker.await {
            Ok(Ok(stopped)) => tracing::info!(
                driven = stopped.driven,
                handed_back = stopped.handed_back,
                "the worker stopped"
            ),
            Ok(Err(err)) => tracing::error!("the worker: {err:#}"),
            Err(err) => tracing::error!("the worker ended abnormally: {err}"),
        }
    }
    let paused = blocking(|| core.store.runs_to_resume())
        .map(|r| r.len())
        .unwrap_or(0);
    drop(lock);
    Ok(Stopped { paused })
}

/// Hook name → credential, from the rules.
fn hooks_of(rules: &[Rule]) -> HashMap<String, String> {
    rules
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| match &r.trigger {
            Trigger::Webhook { name, secret } => Some((name.clone(), secret.clone())),
            _ => None,
        })
        .collect()
}

/// Every enabled webhook's secret exists, is of a webhook kind and opens with `key`.
fn check_hook_secrets(rules: &[Rule], store: &Store, key: &MasterKey) -> anyhow::Result<()> {
    for rule in rules.iter().filter(|r| r.enabled) {
        let Trigger::Webhook { name, secret } = &rule.trigger else {
            continue;
        };
        let err = |problem: String| ServeError::HookSecret {
            rule: rule.name.clone(),
            hook: name.clone(),
            secret: secret.clone(),
            problem,
        };
        let Some(row) = store.credential(secret)? else {
            return Err(err("and there is none".into()).into());
        };
        let kind: Kind = row
            .kind
            .parse()
            .map_err(|_| err(format!("not {}", row.kind)))?;
        if !kind.is_server_only() {
            return Err(err(format!("not {}", row.kind)).into());
        }
        vault::Vault::new(store)
            .secrets(key, secret)
            .map_err(|e| err(format!("which does not open ({e})")))?;
    }
    Ok(())
}

/// One server per home: `serve.lock`, held while the process lives.
fn lock_home(home: &Home) -> anyhow::Result<std::fs::File> {
    let path = home.root().join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(ServeError::Locked(home.root().display().to_string()).into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("locking {}", path.display())))
        }
    }
}

/// JSON object from a stored payload (an empty one if unreadable).
fn object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Now, for events.
fn now() -> i64 {
    now_ms()
}
