//! What a command works with: the home, the store and the runtime, opened on first use so a
//! command that needs none of them (such as `--help`) costs nothing.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;

use crate::capabilities::{Broker, BrokerSettings};
use crate::home::Home;
use crate::packs::Packs;
use crate::runtime::{EngineSettings, Limits, Runtime};
use crate::store::Store;

/// Lazily opened resources of one command.
pub struct Session {
    home_arg: Option<PathBuf>,
    max_instances: u32,
    database_url: Option<String>,
    opened: OnceLock<(Home, Store)>,
    runtime: OnceLock<Arc<Runtime>>,
    broker: OnceLock<Arc<Broker>>,
}

impl Session {
    /// A session on `home` (or the default home) whose runtime runs at most `max_instances`
    /// pack instances at once, with its store in PostgreSQL at `database_url` if given.
    pub fn new(home: Option<PathBuf>, max_instances: u32, database_url: Option<String>) -> Self {
        Self {
            home_arg: home,
            max_instances,
            database_url,
            opened: OnceLock::new(),
            runtime: OnceLock::new(),
            broker: OnceLock::new(),
        }
    }

    /// The PostgreSQL database the store is in, if not the home's SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    fn opened(&self) -> anyhow::Result<&(Home, Store)> {
        if let Some(opened) = self.opened.get() {
            return Ok(opened);
        }
        let root = match &self.home_arg {
            Some(root) => root.clone(),
            None => Home::default_root()?,
        };
        let home = Home::open(&root)
            .with_context(|| format!("opening ORCH_HOME {}", root.display()))?
            .with_database_url(self.database_url.clone());
        let store = home.open_store()?;
        Ok(self.opened.get_or_init(|| (home, store)))
    }

    /// The runtime, sized for memory caps up to `max_memory_bytes` (at least the default).
    /// Shared (`Arc`) so the workflow driver can run invocations as tasks.
    pub fn runtime(&self, max_memory_bytes: usize) -> anyhow::Result<&Arc<Runtime>> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = Runtime::with_settings(self.engine_settings(max_memory_bytes))?;
        Ok(self.runtime.get_or_init(|| Arc::new(runtime)))
    }

    /// What this session's runtime is built for: memory caps up to `max_memory_bytes` (at least
    /// the default), `--max-instances` at once.
    pub fn engine_settings(&self, max_memory_bytes: usize) -> EngineSettings {
        EngineSettings {
            max_instances: self.max_instances,
            ..EngineSettings::for_memory(max_memory_bytes.max(Limits::DEFAULT.memory_bytes))
        }
    }

    /// The capability broker with `settings` (the first call's settings win).
    pub fn broker(&self, settings: BrokerSettings) -> anyhow::Result<&Arc<Broker>> {
        if let Some(broker) = self.broker.get() {
            return Ok(broker);
        }
        let (home, _) = self.opened()?;
        let broker = Broker::open(home, settings)?;
        Ok(self.broker.get_or_init(|| broker))
    }

    /// The home's directory (`--home`, `ORCH_HOME`, or the default).
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        match &self.home_arg {
            Some(root) => Ok(root.clone()),
            None => Home::default_root(),
        }
    }

    /// The home and the store.
    pub fn home_and_store(&self) -> anyhow::Result<(&Home, &Store)> {
        let (home, store) = self.opened()?;
        Ok((home, store))
    }

    /// The installed packs, with a runtime allowing memory caps up to `max_memory_bytes`.
    pub fn packs(&self, max_memory_bytes: usize) -> anyhow::Result<Packs<'_>> {
        let (home, store) = self.opened()?;
        Ok(Packs::new(home, store, self.runtime(max_memory_bytes)?))
    }
}
