//! `orch:pack/http`: outbound HTTP made by the host for a pack, under its grants.
//!
//! (Skeleton: the request path is being written; every call is refused until then.)

use std::time::Instant;

use super::broker::CapabilityContext;
use super::{ErrorCode, HostError, host_error};
use crate::runtime::bindings::orch::pack::http::{Host, Request, Response};

/// What every invocation's http capability shares: the client and the OAuth2 token cache.
#[derive(Default)]
pub struct Shared {}

impl Shared {
    /// The shared client.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {})
    }
}

/// The http capability of one invocation.
#[expect(dead_code, reason = "skeleton: the request path comes next")]
pub struct HttpCapability {
    context: CapabilityContext,
    deadline: Instant,
}

impl HttpCapability {
    /// The capability for one invocation ending at `deadline`.
    pub fn new(context: CapabilityContext, deadline: Instant) -> Self {
        Self { context, deadline }
    }
}

impl Host for HttpCapability {
    async fn send(&mut self, _request: Request) -> Result<Response, HostError> {
        Err(host_error(
            ErrorCode::Denied,
            format!("pack {:?}: http is not available yet", self.context.pack),
        ))
    }
}
