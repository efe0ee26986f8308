//! An interactive shell on a pseudo-terminal (the host object behind a guest's `shell` handle):
//! what network-device CLIs need, since many refuse `exec`. Output is kept in a bounded buffer
//! that `read-until` consumes up to the end of a prompt match; the rest stays for the next read.
//!
//! The shell also keeps the [`Guard`] of its input and runs the `elevate` dialogue, so the rules
//! of when the host types a secret ([`elevation`](super::elevation)) hold on every path that
//! writes to the channel. What a secret it typed may come back as is hidden as it arrives: the
//! line right after it (the device's echo, possibly one character at a time) is held back and
//! becomes [`MASK`] when it ends, and any later copy is masked. So a pack's pattern (`read-until`,
//! the prompts of `elevate`) never runs over any part of the secret, and whether a pattern
//! matched tells the pack nothing about it. Masking of what goes back to the pack happens in
//! the capability, over every returned text.

use regex::bytes::{Regex, RegexBuilder};
use russh::ChannelMsg;
use russh::client::Msg;
use tokio::time::Instant;

use zeroize::Zeroizing;

use super::elevation::{Dialogue, Guard, Step};
use super::hostkeys;
use crate::contract::orch::pack::types::{ErrorCode, HostError};
use crate::policy::masking::MASK;

/// Bytes of unread shell output kept at most.
pub const MAX_BUFFER_BYTES: usize = 16 << 20;
/// The longest line held back after a typed secret: longer than any echo of a password.
const MAX_ECHO_BYTES: usize = 4096;
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
    guard: Guard,
    /// The secrets typed into this shell, masked in its output as it arrives.
    typed: Vec<Zeroizing<Vec<u8>>>,
    /// The line arriving right after a typed secret, held back until it ends.
    echo: Option<Zeroizing<Vec<u8>>>,
}

/// What `elevate` types and waits for, resolved by the capability.
pub struct Elevate<'a> {
    /// The method's command, typed followed by a newline.
    pub command: &'a str,
    /// The password to type at a password prompt (without newline), when a credential was named.
    pub secret: Option<&'a [u8]>,
    /// The credential's name, for messages.
    pub credential: Option<&'a str>,
    /// The privileged prompt: success.
    pub privileged: &'a Regex,
    /// Any ordinary prompt: failure when it matches and the privileged one does not.
    pub prompt: Option<&'a Regex>,
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
            guard: Guard::default(),
            typed: Vec::new(),
            echo: None,
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

    /// Sends the pack's `data` as typed. From now on the shell refuses secrets: what the pack
    /// typed may be waiting to capture one.
    pub async fn send(&mut self, data: Vec<u8>, until: Instant) -> Result<(), HostError> {
        self.guard.pack_typed();
        self.write(data, until).await
    }

    /// Whether `elevate` may run on this shell now (`denied` saying why otherwise).
    pub fn may_elevate(&self) -> Result<(), HostError> {
        self.guard.may_elevate()
    }

    /// Whether `send-secret` may type now: first takes whatever output has already arrived,
    /// since output after the prompt the pack read means the prompt is no longer the last word.
    pub async fn may_send_secret(&mut self) -> Result<(), HostError> {
        self.guard.may_send_secret()?;
        let before = self.buffer.len();
        while !self.ended && self.receive(Instant::now()).await? {}
        if self.buffer.len() > before {
            self.guard.output_arrived();
        }
        self.guard.may_send_secret()
    }

    /// Types `secret` and a newline as the answer to the password prompt the pack read last,
    /// when the [`Guard`] allows it.
    pub async fn send_secret(&mut self, secret: &[u8], until: Instant) -> Result<(), HostError> {
        self.guard.may_send_secret()?;
        self.guard.secret_sent();
        self.type_secret(secret, until).await
    }

    /// Reaches a privileged mode (see `elevate` in `wit/ssh.wit`): types `request.command`,
    /// then follows the [`Dialogue`]; returns what was read through the privileged prompt.
    /// A failure marks the shell: no more secrets on it.
    pub async fn elevate(
        &mut self,
        request: &Elevate<'_>,
        until: Instant,
        timeout_text: &str,
    ) -> Result<Vec<u8>, HostError> {
        self.guard.may_elevate()?;
        let result = self.converse(request, until, timeout_text).await;
        if result.is_err() {
            self.guard.elevation_failed();
        }
        result
    }

    async fn converse(
        &mut self,
        request: &Elevate<'_>,
        until: Instant,
        timeout_text: &str,
    ) -> Result<Vec<u8>, HostError> {
        // Output from before the command goes back to the pack but is never examined: a prompt
        // in it is no answer to what the host types.
        let mut transcript = std::mem::take(&mut self.buffer);
        self.guard.host_typed();
        self.write(format!("{}\n", request.command).into_bytes(), until)
            .await?;
        let mut dialogue =
            Dialogue::new(request.privileged, request.prompt, request.secret.is_some());
        loop {
            match dialogue.step(&self.buffer) {
                Step::Wait => {}
                Step::Elevated { end } => {
                    transcript.extend(self.buffer.drain(..end));
                    return Ok(transcript);
                }
                Step::TypeSecret => {
                    let Some(secret) = request.secret else {
                        return Err(error(
                            ErrorCode::Protocol,
                            "host bug: the elevation dialogue asked to type a secret it does not \
                             have"
                                .to_owned(),
                        ));
                    };
                    // Everything up to the password prompt is answered; what comes next is
                    // judged on its own.
                    transcript.append(&mut self.buffer);
                    dialogue.secret_typed();
                    self.type_secret(secret, until).await?;
                }
                Step::Failed(failure) => {
                    transcript.append(&mut self.buffer);
                    let mut err =
                        failure.error(&self.destination, request.command, request.credential);
                    err.message = format!(
                        "{}; the last characters received: {:?}",
                        err.message,
                        tail(&transcript)
                    );
                    return Err(err);
                }
            }
            if self.ended {
                transcript.append(&mut self.buffer);
                return Err(error(
                    ErrorCode::Closed,
                    format!(
                        "the shell on {} ended during `{}`; it last printed: {:?}",
                        self.destination,
                        request.command,
                        tail(&transcript)
                    ),
                ));
            }
            if !self.receive(until).await? {
                transcript.append(&mut self.buffer);
                let waited = if dialogue.typed() {
                    format!(
                        "the privileged prompt {:?} after the secret was typed",
                        request.privileged.as_str()
                    )
                } else {
                    format!(
                        "a password prompt or the privileged prompt {:?}",
                        request.privileged.as_str()
                    )
                };
                return Err(error(
                    ErrorCode::Timeout,
                    format!(
                        "{} did not show {waited} within {timeout_text} of `{}`; the last \
                         characters received: {:?}",
                        self.destination,
                        request.command,
                        tail(&transcript)
                    ),
                ));
            }
        }
    }

    /// Types `secret` and a newline, having noted it so that its echo is hidden on arrival.
    async fn type_secret(&mut self, secret: &[u8], until: Instant) -> Result<(), HostError> {
        if !self.typed.iter().any(|typed| typed.as_slice() == secret) {
            self.typed.push(Zeroizing::new(secret.to_vec()));
        }
        self.echo = Some(Zeroizing::new(Vec::new()));
        self.write(secret_line(secret), until).await
    }

    /// Writes `data` to the channel.
    async fn write(&self, data: Vec<u8>, until: Instant) -> Result<(), HostError> {
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
        let found = self
            .read_through(&regex, pattern, until, timeout_text)
            .await;
        let returned: &[u8] = match &found {
            Ok(found) => found,
            Err(_) => &[],
        };
        self.guard.pack_read(returned, self.buffer.len());
        found
    }

    async fn read_through(
        &mut self,
        regex: &Regex,
        pattern: &str,
        until: Instant,
        timeout_text: &str,
    ) -> Result<Vec<u8>, HostError> {
        loop {
            if let Some(found) = take_through_match(&mut self.buffer, regex) {
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
        let received = async {
            while !self.ended && self.receive(until).await? {}
            Ok(())
        }
        .await;
        let taken = std::mem::take(&mut self.buffer);
        self.guard.pack_read(&taken, 0);
        received.map(|()| taken)
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
                let data = hide_echo(&mut self.echo, &data);
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
                let from = self.buffer.len();
                self.buffer.extend_from_slice(&data);
                for secret in &self.typed {
                    mask_from(&mut self.buffer, from, secret);
                }
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

/// `secret` followed by a newline: the one buffer the channel takes over (nothing else here
/// keeps a copy).
fn secret_line(secret: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(secret.len() + 1);
    line.extend_from_slice(secret);
    line.push(b'\n');
    line
}

/// What of `data` may enter the buffer while `echo` holds the line that follows a typed secret:
/// nothing until that line ends; then [`MASK`] for it (when it held anything but blanks), its
/// line ending and the rest. A line longer than [`MAX_ECHO_BYTES`] is no echo: it is masked and
/// what follows passes.
pub fn hide_echo(echo: &mut Option<Zeroizing<Vec<u8>>>, data: &[u8]) -> Vec<u8> {
    let Some(held) = echo.as_mut() else {
        return data.to_vec();
    };
    let end = data.iter().position(|&b| b == b'\n');
    let (line, rest) = data.split_at(end.unwrap_or(data.len()));
    held.extend_from_slice(line);
    if end.is_none() && held.len() <= MAX_ECHO_BYTES {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(MASK.len() + 1 + rest.len());
    if held.iter().any(|b| !b.is_ascii_whitespace()) {
        out.extend_from_slice(MASK.as_bytes());
    }
    if end.is_some() && held.last() == Some(&b'\r') {
        out.push(b'\r');
    }
    out.extend_from_slice(rest);
    *echo = None;
    out
}

/// Replaces each occurrence of `secret` in `buffer` that ends after `from` (where new data
/// starts: an echo split across two arrivals is caught when its end arrives) by [`MASK`].
pub fn mask_from(buffer: &mut Vec<u8>, from: usize, secret: &[u8]) {
    if secret.is_empty() {
        return;
    }
    let mut at = from.saturating_sub(secret.len() - 1);
    while let Some(found) = buffer
        .get(at..)
        .and_then(|rest| rest.windows(secret.len()).position(|w| w == secret))
    {
        let start = at + found;
        buffer.splice(start..start + secret.len(), MASK.bytes());
        at = start + MASK.len();
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
    fn masks_the_echo_of_a_typed_secret_as_it_arrives_even_split_in_two() {
        let secret = b"en-5ecret";
        let mut buffer = b"R1>enable\r\nPassword: ".to_vec();
        let from = buffer.len();
        buffer.extend_from_slice(b"en-5e");
        mask_from(&mut buffer, from, secret);
        let from = buffer.len();
        buffer.extend_from_slice(b"cret\r\nR1#en-5ecret");
        mask_from(&mut buffer, from, secret);
        assert_eq!(buffer, b"R1>enable\r\nPassword: ***\r\nR1#***");
        // Output that arrived before `from` was masked when it arrived: not scanned again.
        let mut old = b"en-5ecret then".to_vec();
        let end = old.len();
        mask_from(&mut old, end, secret);
        assert_eq!(old, b"en-5ecret then");
    }

    #[test]
    fn holds_back_the_line_after_a_typed_secret_even_one_character_at_a_time() {
        let mut echo = Some(Zeroizing::new(Vec::new()));
        let mut seen = Vec::new();
        for chunk in [&b"e"[..], b"n", b"-5ec", b"ret\r", b"\nR1#"] {
            seen.extend(hide_echo(&mut echo, chunk));
            assert!(
                !seen.windows(2).any(|w| w == b"en"),
                "a part of the secret passed: {seen:?}"
            );
        }
        assert_eq!(seen, b"***\r\nR1#");
        assert!(echo.is_none(), "the hold ends with the line");
        assert_eq!(hide_echo(&mut echo, b"after"), b"after");

        // A device that echoes nothing: only its line break passes.
        let mut echo = Some(Zeroizing::new(Vec::new()));
        assert_eq!(hide_echo(&mut echo, b"\r\nR1#"), b"\r\nR1#");
        // A line that never ends is no echo: masked once it is too long, then output passes.
        let mut echo = Some(Zeroizing::new(Vec::new()));
        assert!(hide_echo(&mut echo, &[b'x'; MAX_ECHO_BYTES]).is_empty());
        assert_eq!(hide_echo(&mut echo, b"yz"), b"***");
        assert_eq!(hide_echo(&mut echo, b"more"), b"more");
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
