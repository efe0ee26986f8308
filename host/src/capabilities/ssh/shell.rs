//! An interactive shell on a pseudo-terminal (the host object behind a guest's `shell` handle):
//! what network-device CLIs need, since many refuse `exec`. Output is kept in a bounded buffer
//! that `read-until` consumes up to the end of a prompt match; the rest stays for the next read.
//!
//! Masking of what goes back to the pack happens in the capability, over every returned text.

use regex::bytes::{Regex, RegexBuilder};
use russh::ChannelMsg;
use russh::client::Msg;
use tokio::time::Instant;

use super::hostkeys;
use crate::runtime::bindings::orch::pack::types::{ErrorCode, HostError};

/// Bytes of unread shell output kept at most.
pub const MAX_BUFFER_BYTES: usize = 16 << 20;
/// Characters of unread output a timeout error shows.
const TAIL_CHARS: usize = 200;
/// Compiled size a pack's prompt pattern may take.
const MAX_PATTERN_BYTES: usize = 1 << 20;

fn error(code: ErrorCode, message: String) -> HostError {
    HostError { code, message }
}

/// An open shell.
pub struct Shell {
    channel: Option<russh::Channel<Msg>>,
    buffer: Vec<u8>,
    ended: bool,
    host: String,
    port: u16,
    destination: String,
}

/// Terminal settings after defaults.
pub struct Terminal {
    /// Terminal type.
    pub term: String,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

impl Shell {
    /// Requests a pty and a shell on `channel`.
    pub async fn start(
        channel: russh::Channel<Msg>,
        terminal: &Terminal,
        host: &str,
        port: u16,
        until: Instant,
    ) -> Result<Self, HostError> {
        let destination = hostkeys::destination(host, port);
        let shell = Self {
            channel: Some(channel),
            buffer: Vec::new(),
            ended: false,
            host: host.to_owned(),
            port,
            destination,
        };
        let start = async {
            let channel = shell.channel()?;
            channel
                .request_pty(
                    true,
                    &terminal.term,
                    terminal.width,
                    terminal.height,
                    0,
                    0,
                    &[],
                )
                .await
                .map_err(|err| shell.failed("requesting a terminal", &err))?;
            channel
                .request_shell(true)
                .await
                .map_err(|err| shell.failed("starting a shell", &err))?;
            Ok::<_, HostError>(())
        };
        tokio::time::timeout_at(until, start).await.map_err(|_| {
            error(
                ErrorCode::Timeout,
                format!("{} did not start a shell in time", shell.destination),
            )
        })??;
        Ok(shell)
    }

    /// The session's host, as the pack named it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The session's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn channel(&self) -> Result<&russh::Channel<Msg>, HostError> {
        match &self.channel {
            Some(channel) if !self.ended => Ok(channel),
            _ => Err(error(
                ErrorCode::Closed,
                format!("the shell on {} has ended", self.destination),
            )),
        }
    }

    fn failed(&self, what: &str, err: &russh::Error) -> HostError {
        error(
            ErrorCode::Protocol,
            format!("{what} on {} failed: {err}", self.destination),
        )
    }

    /// Sends `data` as typed.
    pub async fn send(&self, data: Vec<u8>, until: Instant) -> Result<(), HostError> {
        let channel = self.channel()?;
        match tokio::time::timeout_at(until, channel.data_bytes(data)).await {
            Err(_) => Err(error(
                ErrorCode::Timeout,
                format!("{} did not accept input in time", self.destination),
            )),
            Ok(Err(_)) => Err(error(
                ErrorCode::Closed,
                format!("the shell on {} has ended", self.destination),
            )),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads until the unread output matches `pattern`; returns it through the end of the match.
    pub async fn read_until(
        &mut self,
        pattern: &str,
        until: Instant,
        timeout_text: &str,
    ) -> Result<Vec<u8>, HostError> {
        let regex = compile(pattern)?;
        loop {
            if let Some(found) = take_through_match(&mut self.buffer, &regex) {
                return Ok(found);
            }
            if self.ended {
                return Err(error(
                    ErrorCode::Closed,
                    format!(
                        "the shell on {} ended before its output matched {pattern:?}; it last \
                         printed: {:?}",
                        self.destination,
                        tail(&self.buffer)
                    ),
                ));
            }
            if !self.receive(until).await? {
                return Err(error(
                    ErrorCode::Timeout,
                    format!(
                        "the output of {} did not match {pattern:?} within {timeout_text}; the \
                         last characters received: {:?}",
                        self.destination,
                        tail(&self.buffer)
                    ),
                ));
            }
        }
    }

    /// Returns everything that arrives until `until` (or the shell ends).
    pub async fn read(&mut self, until: Instant) -> Result<Vec<u8>, HostError> {
        while !self.ended && self.receive(until).await? {}
        Ok(std::mem::take(&mut self.buffer))
    }

    /// Waits for one message; false when `until` passed first.
    async fn receive(&mut self, until: Instant) -> Result<bool, HostError> {
        let Some(channel) = self.channel.as_mut() else {
            self.ended = true;
            return Ok(true);
        };
        let message = match tokio::time::timeout_at(until, channel.wait()).await {
            Err(_) => return Ok(false),
            Ok(message) => message,
        };
        match message {
            Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                if self.buffer.len() + data.len() > MAX_BUFFER_BYTES {
                    self.buffer.clear();
                    return Err(error(
                        ErrorCode::TooLarge,
                        format!(
                            "more than {MAX_BUFFER_BYTES} bytes arrived from {} without being \
                             read; the unread output was dropped",
                            self.destination
                        ),
                    ));
                }
                self.buffer.extend_from_slice(&data);
            }
            None | Some(ChannelMsg::Close) | Some(ChannelMsg::Eof) => self.ended = true,
            Some(_) => {}
        }
        Ok(true)
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let (Some(channel), Ok(runtime)) =
            (self.channel.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = channel.close().await;
            });
        }
    }
}

/// Compiles a pack's prompt pattern, bounded in size.
pub fn compile(pattern: &str) -> Result<Regex, HostError> {
    RegexBuilder::new(pattern)
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map_err(|err| {
            error(
                ErrorCode::Invalid,
                format!("invalid pattern {pattern:?}: {err}"),
            )
        })
}

/// Removes and returns the start of `buffer` through the end of `regex`'s first match.
pub fn take_through_match(buffer: &mut Vec<u8>, regex: &Regex) -> Option<Vec<u8>> {
    let end = regex.find(buffer)?.end();
    let rest = buffer.split_off(end);
    Some(std::mem::replace(buffer, rest))
}

/// The last characters of `bytes`, decoded.
pub fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let count = text.chars().count();
    text.chars()
        .skip(count.saturating_sub(TAIL_CHARS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_output_through_the_prompt_and_keeps_the_rest() {
        let prompt = compile(r"R1[>#]\s*").unwrap();
        let mut buffer = b"show clock\r\n10:00 UTC\r\nR1#  more".to_vec();
        let taken = take_through_match(&mut buffer, &prompt).unwrap();
        assert_eq!(taken, b"show clock\r\n10:00 UTC\r\nR1#  ");
        assert_eq!(buffer, b"more");
        assert!(take_through_match(&mut buffer, &prompt).is_none());
        assert_eq!(buffer, b"more", "a failed match keeps the buffer");
    }

    #[test]
    fn end_anchored_prompts_match_only_at_the_end_of_what_arrived() {
        let prompt = compile(r"R1[>#]\s*$").unwrap();
        let mut buffer = b"R1# show run\r\nhostname R1\r\n".to_vec();
        assert!(take_through_match(&mut buffer, &prompt).is_none());
        buffer.extend_from_slice(b"R1#");
        assert!(take_through_match(&mut buffer, &prompt).is_some());
        assert!(buffer.is_empty());
    }

    #[test]
    fn refuses_a_bad_or_huge_pattern_as_invalid() {
        assert_eq!(compile("R1[").unwrap_err().code, ErrorCode::Invalid);
        assert_eq!(
            compile(r"\w{1000}{1000}").unwrap_err().code,
            ErrorCode::Invalid
        );
    }

    #[test]
    fn tail_keeps_the_last_characters() {
        let long = "é".repeat(300) + "end";
        let tail = tail(long.as_bytes());
        assert_eq!(tail.chars().count(), TAIL_CHARS);
        assert!(tail.ends_with("end"));
        assert_eq!(super::tail(b"short"), "short");
    }
}
