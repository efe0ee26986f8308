//! Who drives a run: this process's identity (host, pid) and the lease timings.
//!
//! A lease expires on its own, so a crashed driver frees the run after [`LEASE`]; on the same
//! host a recorded owner whose process is gone frees it at once, so `orch runs resume` right
//! after a crash (or a SIGKILL in the crash test) need not wait out the lease.

use std::path::Path;
use std::time::Duration;

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often the driver renews its lease (and looks for a cancel request).
pub const RENEW_EVERY: Duration = Duration::from_millis(500);

/// This process as a lease owner.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: i64,
}

impl Owner {
    /// The current process.
    pub fn current() -> Self {
        Self {
            host: host_name(),
            pid: i64::from(std::process::id()),
        }
    }
}

/// Who drives a run, as its row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    /// No process holds the run (it is paused, waiting, finished, or never driven).
    None,
    /// A live process holds a current lease.
    Live {
        /// Its pid.
        pid: i64,
    },
    /// A process held it and is gone (killed, crashed) or stopped renewing: the run looks
    /// running but nothing drives it until `orch runs resume`.
    Gone {
        /// The pid that held it.
        pid: i64,
    },
}

/// Who drives `run` at `now` (Unix ms).
pub fn driver_of(run: &crate::store::RunRow, now: i64) -> Driver {
    driver_from(
        run.owner_host.as_deref(),
        run.owner_pid,
        run.lease_until,
        now,
    )
}

/// Who drives a run whose row records `host`, `pid` and `lease_until`, at `now` (Unix ms).
pub fn driver_from(
    host: Option<&str>,
    pid: Option<i64>,
    lease_until: Option<i64>,
    now: i64,
) -> Driver {
    let Some(pid) = pid else {
        return Driver::None;
    };
    let expired = lease_until.is_none_or(|until| until <= now);
    if expired || owner_is_dead(host.unwrap_or(""), pid) {
        Driver::Gone { pid }
    } else {
        Driver::Live { pid }
    }
}

/// Lease expiry for a lease taken now (Unix ms).
pub fn expiry() -> i64 {
    crate::store::now_ms() + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether the owner (`host`, `pid`) is known to be gone: same host and no such process. On a
/// system without `/proc` nothing is known, and the lease runs out on its own.
pub fn owner_is_dead(host: &str, pid: i64) -> bool {
    if host != host_name() || !Path::new("/proc/self").exists() {
        return false;
    }
    if pid == i64::from(std::process::id()) {
        return false;
    }
    !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid)
}

/// A killed child that its parent has not reaped yet still has a `/proc` entry, in state Z.
fn is_zombie(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_missing_pid_is_dead() {
        let me = Owner::current();
        assert!(!owner_is_dead(&me.host, me.pid));
        if Path::new("/proc/self").exists() {
            assert!(owner_is_dead(&me.host, i64::from(i32::MAX)));
        }
        assert!(!owner_is_dead("some-other-host", i64::from(i32::MAX)));
    }
}
