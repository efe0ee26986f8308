//! `orch worker`: a process that takes runs from the shared store and drives them, so that
//! several processes (on one machine or many, sharing one PostgreSQL database) share the work
//! and a run outlives the process that was driving it.
//!
//! The loop: claim queued runs in one statement (`Store::claim_queued`: `FOR UPDATE SKIP
//! LOCKED`, a new fencing token per run), take over runs whose driver is gone (lease expired, or
//! a dead process on this host: `Engine::resume`, the exactly-once rules of `orch runs
//! resume`), drive each in its own task, up to `--concurrency` at once; then sleep until
//! PostgreSQL notifies that runs were queued, a run ends, or the poll interval passes. Every
//! driver renews its run's lease (the run's heartbeat); the worker's own heartbeat is its row in
//! `workers`, for `orch workers list`. On SIGTERM or Ctrl-C it stops taking work, its runs get
//! the grace period to finish, and those that paused are handed back for another worker.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::capabilities::Broker;
use crate::engine::{self, Engine, Quiet, RunState, Settings, blocking, lease};
use crate::home::Home;
use crate::packs::Packs;
use crate::runtime::Runtime;
use crate::store::{RunRow, Store, WorkerRow, now_ms};

/// How often a worker looks for work when nothing woke it.
pub const POLL: Duration = Duration::from_secs(1);
/// How often a worker writes its heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a run whose driving failed (the store refused a write, the connection broke) rests
/// before it is taken again: doubled at each failure in a row, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What a worker is.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Its tags (`site=lon`).
    pub tags: BTreeMap<String, String>,
    /// Runs it drives at once at most.
    pub concurrency: usize,
    /// How often it looks for work when not woken.
    pub poll: Duration,
    /// The engines' settings (limits, grace, workflow directory).
    pub engine: Settings,
}

/// What a worker shares with the tasks driving its runs.
pub struct Worker {
    home: Home,
    store: Store,
    runtime: Arc<Runtime>,
    broker: Arc<Broker>,
    config: WorkerConfig,
    owner: lease::Owner,
    id: String,
    stop_runs: watch::Receiver<bool>,
}

/// How a worker stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Runs it drove to an end or a pause, in all.
    pub driven: usize,
    /// Runs it handed back (paused at the stop) for another worker.
    pub handed_back: usize,
}

impl Worker {
    /// A worker over `home` (whose store is the shared one) with its own store connection,
    /// runtime and broker; `stop_runs` turning true asks its runs to pause.
    pub fn new(
        home: Home,
        store: Store,
        runtime: Arc<Runtime>,
        broker: Arc<Broker>,
        config: WorkerConfig,
        stop_runs: watch::Receiver<bool>,
    ) -> Self {
        let owner = lease::Owner::current();
        let id = format!("{}:{}:{}", owner.host, owner.pid, now_ms());
        Self {
            home,
            store,
            runtime,
            broker,
            config,
            owner,
            id,
            stop_runs,
        }
    }

    /// This worker's id (`HOST:PID:START`).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn engine(&self) -> Engine<'_> {
        Engine::new(
            &self.store,
            Packs::new(&self.home, &self.store, &self.runtime),
            Arc::clone(&self.runtime),
            Arc::clone(&self.broker),
            &Quiet,
            self.config.engine.clone(),
            self.stop_runs.clone(),
        )
    }

    /// Takes and drives runs until `stop` turns true, then drains: no new work, the runs it
    /// holds finish or pause within the grace period, paused ones are handed back.
    pub async fn work(
        self: Arc<Self>,
        mut stop: watch::Receiver<bool>,
        mut wake: Option<tokio::sync::mpsc::Receiver<()>>,
    ) -> anyhow::Result<Stopped> {
        let started = now_ms();
        let row = WorkerRow {
            id: self.id.clone(),
            host: self.owner.host.clone(),
            pid: self.owner.pid,
            tags: self.config.tags.clone(),
            concurrency: i64::try_from(self.config.concurrency).unwrap_or(i64::MAX),
            started_at: started,
            heartbeat_at: started,
            draining: false,
            runs_held: 0,
        };
        blocking(|| self.store.register_worker(&row))?;
        tracing::info!(worker = %self.id, "worker started");
        let mut tasks: JoinSet<(String, anyhow::Result<engine::Outcome>)> = JoinSet::new();
        let mut stopped = Stopped::default();
        let mut resting = Resting::default();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        while !*stop.borrow() {
            while let Some(done) = tasks.try_join_next() {
                self.ended(done, &mut stopped, &mut resting);
            }
            let free = self.config.concurrency.saturating_sub(tasks.len());
            // A store that fails now (restarting, unreachable) fails this round only: the worker
            // goes on looking, as its runs' drivers go on renewing.
            let taken = if free > 0 {
                blocking(|| self.take(free, &resting)).unwrap_or_else(|err| {
                    tracing::warn!(worker = %self.id, "looking for runs: {err:#}");
                    Vec::new()
                })
            } else {
                Vec::new()
            };
            for (run, resume) in taken {
                let worker = Arc::clone(&self);
                tasks.spawn(async move {
                    let engine = worker.engine();
                    let id = run.id.clone();
                    let outcome = if resume {
                        engine.resume(&id).await
                    } else {
                        engine.drive_recorded(run).await
                    };
                    (id, outcome)
                });
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll) => {}
                Some(()) = recv(&mut wake) => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    self.ended(done, &mut stopped, &mut resting);
                }
                _ = heartbeat.tick() => {
                    if let Err(err) = blocking(|| self.store.worker_heartbeat(&self.id, false, now_ms())) {
                        tracing::warn!(worker = %self.id, "writing the heartbeat: {err:#}");
                    }
                }
                _ = stop.changed() => {}
            }
        }
        tracing::info!(worker = %self.id, runs = tasks.len(), "worker draining");
        blocking(|| self.store.worker_heartbeat(&self.id, true, now_ms()))?;
        while let Some(done) = tasks.join_next().await {
            self.ended(done, &mut stopped, &mut resting);
        }
        blocking(|| self.store.remove_worker(&self.id))?;
        tracing::info!(worker = %self.id, driven = stopped.driven, handed_back = stopped.handed_back, "worker stopped");
        Ok(stopped)
    }

    /// Up to `free` runs to drive: runs whose driver is gone first (taken with their lease, to
    /// resume), then queued ones (claimed, to start).
    /// Runs whose driving failed here a moment ago wait out their rest.
    fn take(&self, free: usize, resting: &Resting) -> anyhow::Result<Vec<(RunRow, bool)>> {
        let now = now_ms();
        let mut taken = Vec::new();
        for run in self.store.running_shared(&self.config.tags)? {
            if taken.len() >= free {
                return Ok(taken);
            }
            if resting.is_resting(&run.id) {
                continue;
            }
            if matches!(lease::driver_of(&run, now), lease::Driver::Gone { .. }) {
                // `Engine::resume` takes the lease itself (or finds another worker was first).
                taken.push((run, true));
            }
        }
        let limit = i64::try_from(free - taken.len()).unwrap_or(i64::MAX);
        if limit > 0 {
            let claimed = self.store.claim_queued(
                &self.owner.host,
                self.owner.pid,
                &self.config.tags,
                limit,
                lease::expiry(),
            )?;
            taken.extend(claimed.into_iter().map(|run| (run, false)));
        }
        Ok(taken)
    }

    fn ended(
        &self,
        done: Result<(String, anyhow::Result<engine::Outcome>), tokio::task::JoinError>,
        stopped: &mut Stopped,
        resting: &mut Resting,
    ) {
        let (id, outcome) = match done {
            Ok(done) => done,
            Err(err) => {
                tracing::error!(worker = %self.id, "a run's task ended abnormally: {err}");
                return;
            }
        };
        match outcome {
            Ok(outcome) => {
                resting.forget(&id);
                stopped.driven += 1;
                tracing::info!(worker = %self.id, run = %id, status = %outcome.status, "run stopped being driven");
                if outcome.status == RunState::Paused && *self.stop_runs.borrow() {
                    match blocking(|| self.store.hand_back(&id, self.owner.pid)) {
                        Ok(true) => stopped.handed_back += 1,
                        Ok(false) => {}
                        Err(err) => {
                            tracing::error!(worker = %self.id, run = %id, "handing the run back: {err:#}");
                        }
                    }
                }
            }
            // Another worker took it first (then the lease is not ours to give up), or driving
            // it failed: the lease is given up at once, for this worker or another to take the
            // run over from its journal after a rest, instead of at the lease's expiry.
            Err(err) => {
                let rest = resting.rest(&id);
                tracing::warn!(worker = %self.id, run = %id, "run not driven (taken again in {rest:?} at the earliest): {err:#}");
                if let Err(err) = blocking(|| {
                    self.store
                        .release_lease(&id, &self.owner.host, self.owner.pid)
                }) {
                    tracing::warn!(worker = %self.id, run = %id, "giving up the lease: {err:#}");
                }
            }
        }
    }
}

/// Runs whose driving failed in this worker, each resting until a time before it is taken again.
#[derive(Default)]
struct Resting(HashMap<String, (Instant, Duration)>);

impl Resting {
    /// Starts (or doubles) `run`'s rest; how long it is.
    fn rest(&mut self, run: &str) -> Duration {
        let rest = self
            .0
            .get(run)
            .map_or(RETRY_FIRST, |(_, last)| (*last * 2).min(RETRY_MAX));
        self.0.insert(run.to_owned(), (Instant::now() + rest, rest));
        rest
    }

    fn is_resting(&self, run: &str) -> bool {
        self.0
            .get(run)
            .is_some_and(|(until, _)| Instant::now() < *until)
    }

    fn forget(&mut self, run: &str) {
        self.0.remove(run);
    }
}

async fn recv(wake: &mut Option<tokio::sync::mpsc::Receiver<()>>) -> Option<()> {
    match wake {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
