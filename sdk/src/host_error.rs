//! [`HostError`]: why a host capability (`http`, `ssh`, `catalog`) refused or failed a call, and its
//! conversion into [`ActionError`] so handlers can use `?` on capability calls.

use std::fmt;
use std::time::Duration;

use crate::__private::orch::pack::types as wit;
use crate::ActionError;

/// What kind of failure a [`HostError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The pack holds no grant for this destination, or may not use this credential.
    Denied,
    /// The request itself is wrong (bad URL, bad pattern, unknown method).
    Invalid,
    /// A named thing does not exist (credential, inventory device, remote file).
    NotFound,
    /// The destination could not be reached (DNS, refused, reset).
    Unreachable,
    /// The call took longer than its timeout.
    Timeout,
    /// The destination refused the credential, asked for one none was named, or did not grant
    /// the privileged mode asked for ([`Shell::elevate`](crate::ssh::Shell::elevate)).
    AuthFailed,
    /// The SSH host key is unknown (under the `strict` policy) or changed.
    HostKey,
    /// A response or file was larger than the cap.
    TooLarge,
    /// The peer broke the protocol, or a TLS error.
    Protocol,
    /// The session or shell was already closed.
    Closed,
    /// A catalog write would pass a byte budget set by the operator: what one invocation may
    /// write, or what the collection may hold (or the invocation's count of writes). The
    /// message names the budget, the figures and the operator's fix. Not retryable: trying
    /// again fails the same way until the operator raises the budget or prunes old versions.
    QuotaExceeded,
}

impl ErrorCode {
    /// The snake_case name used as an [`ActionError`] code: `denied`, `not_found`, `host_key`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::AuthFailed => "auth_failed",
            Self::HostKey => "host_key",
            Self::TooLarge => "too_large",
            Self::Protocol => "protocol",
            Self::Closed => "closed",
            Self::QuotaExceeded => "quota_exceeded",
        }
    }

    /// Whether trying again later may succeed: only for timeouts and unreachable destinations;
    /// a refusal or a bad request fails the same way every time.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Timeout | Self::Unreachable)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capability's failure, as the host reports it. The message names what failed and, where
/// there is one, the fix; secret values never appear in it.
///
/// `?` turns it into an [`ActionError`] with the same code (snake_case) and message, retryable
/// for [`Timeout`](ErrorCode::Timeout) and [`Unreachable`](ErrorCode::Unreachable):
///
/// ```
/// use orch_sdk::{ActionError, ErrorCode, HostError};
///
/// let err = HostError::new(ErrorCode::HostKey, "host key of 10.0.0.1:22 changed");
/// let action: ActionError = err.into();
/// assert_eq!(action.code(), "host_key");
/// assert_eq!(action.message(), "host key of 10.0.0.1:22 changed");
/// assert!(!action.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    code: ErrorCode,
    message: String,
}

impl HostError {
    /// An error with `code` and `message`; for tests of code that handles host errors.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// What kind of failure.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether trying again later may succeed (see [`ErrorCode::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.code.is_retryable()
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for HostError {}

impl From<HostError> for ActionError {
    fn from(err: HostError) -> Self {
        let action = ActionError::new(err.code.as_str(), err.message);
        if err.code.is_retryable() {
            action.retryable()
        } else {
            action
        }
    }
}

impl From<wit::HostError> for HostError {
    fn from(err: wit::HostError) -> Self {
        let code = match err.code {
            wit::ErrorCode::Denied => ErrorCode::Denied,
            wit::ErrorCode::Invalid => ErrorCode::Invalid,
            wit::ErrorCode::NotFound => ErrorCode::NotFound,
            wit::ErrorCode::Unreachable => ErrorCode::Unreachable,
            wit::ErrorCode::Timeout => ErrorCode::Timeout,
            wit::ErrorCode::AuthFailed => ErrorCode::AuthFailed,
            wit::ErrorCode::HostKey => ErrorCode::HostKey,
            wit::ErrorCode::TooLarge => ErrorCode::TooLarge,
            wit::ErrorCode::Protocol => ErrorCode::Protocol,
            wit::ErrorCode::Closed => ErrorCode::Closed,
            wit::ErrorCode::QuotaExceeded => ErrorCode::QuotaExceeded,
        };
        Self {
            code,
            message: err.message,
        }
    }
}

/// A timeout in the contract's unit (milliseconds), saturating at `u32::MAX` (about 49 days; the
/// host caps every timeout at the invocation's deadline anyway).
pub(crate) fn millis(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_and_unreachable_become_retryable_action_errors() {
        for code in [ErrorCode::Timeout, ErrorCode::Unreachable] {
            let action = ActionError::from(HostError::new(code, "slow"));
            assert!(action.is_retryable(), "{code}");
        }
        for code in [ErrorCode::Denied, ErrorCode::QuotaExceeded] {
            let refused = ActionError::from(HostError::new(code, "refused"));
            assert_eq!(refused.code(), code.as_str());
            assert!(!refused.is_retryable(), "{code}");
        }
    }

    #[test]
    fn every_wit_code_maps_to_its_snake_case_name() {
        let cases = [
            (wit::ErrorCode::Denied, "denied"),
            (wit::ErrorCode::Invalid, "invalid"),
            (wit::ErrorCode::NotFound, "not_found"),
            (wit::ErrorCode::Unreachable, "unreachable"),
            (wit::ErrorCode::Timeout, "timeout"),
            (wit::ErrorCode::AuthFailed, "auth_failed"),
            (wit::ErrorCode::HostKey, "host_key"),
            (wit::ErrorCode::TooLarge, "too_large"),
            (wit::ErrorCode::Protocol, "protocol"),
            (wit::ErrorCode::Closed, "closed"),
            (wit::ErrorCode::QuotaExceeded, "quota_exceeded"),
        ];
        for (wit_code, name) in cases {
            let err = HostError::from(wit::HostError {
                code: wit_code,
                message: "m".to_owned(),
            });
            assert_eq!(err.code().as_str(), name);
            assert_eq!(ActionError::from(err).code(), name);
        }
    }

    #[test]
    fn millis_saturates() {
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}
