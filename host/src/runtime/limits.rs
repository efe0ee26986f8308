//! Per-invocation limits and the resource limiter that enforces memory caps.
//!
//! Limits are what make a misbehaving pack cost one failed invocation instead of the host:
//! the limiter refuses growth past the cap and remembers that it did, so the error can name
//! the limit instead of surfacing the guest's own "allocation failed" abort.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Limits applied to one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on each linear memory of the instance, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline of the whole call, host calls included.
    pub deadline: Duration,
    /// Cap on the size of the JSON output, in bytes.
    pub output_bytes: usize,
}

impl Limits {
    /// 256 MiB of memory, 60 s, 16 MiB of output.
    pub const DEFAULT: Limits = Limits {
        memory_bytes: 256 << 20,
        deadline: Duration::from_secs(60),
        output_bytes: 16 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Caps on instances, tables and table elements of one store. Components made by Rust's
/// toolchain hold a handful of core instances; the caps leave room for larger toolchains
/// (componentize-py) while bounding what one invocation can claim.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 8;
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Enforces [`Limits::memory_bytes`] and records the first refusal.
#[derive(Debug)]
pub struct MemoryLimiter {
    memory_cap: usize,
    refused_growth_to: Option<usize>,
}

impl MemoryLimiter {
    /// A limiter capping each linear memory at `memory_cap` bytes.
    pub fn new(memory_cap: usize) -> Self {
        Self {
            memory_cap,
            refused_growth_to: None,
        }
    }

    /// The size a memory asked to grow to when the limiter refused it, if it did.
    pub fn refused_growth_to(&self) -> Option<usize> {
        self.refused_growth_to
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let cap = maximum.map_or(self.memory_cap, |max| max.min(self.memory_cap));
        if desired > cap {
            self.refused_growth_to.get_or_insert(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= maximum.unwrap_or(usize::MAX).min(MAX_TABLE_ELEMENTS))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_growth_past_the_cap_and_remembers_it() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert_eq!(limiter.refused_growth_to(), None);
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert_eq!(limiter.refused_growth_to(), Some(2 << 20));
    }

    #[test]
    fn respects_a_smaller_maximum_declared_by_the_module() {
        let mut limiter = MemoryLimiter::new(1 << 30);
        assert!(!limiter.memory_growing(0, 2 << 20, Some(1 << 20)).unwrap());
    }
}
