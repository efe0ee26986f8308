//! One authenticated SSH session (the host object behind a guest's `session` handle): login
//! with a vault credential, `exec`, SFTP, and closing the connection when the handle is dropped
//! or the invocation ends.
//!
//! Every wait here is bounded by an instant the caller computes from the call's timeout and the
//! invocation's deadline: neither epochs nor fuel stop time spent inside a host call.

use std::sync::Arc;

use russh::ChannelMsg;
use russh::client::{AuthResult, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::hostkeys;
use super::transport::Verifier;
use crate::capabilities::broker::OpenedCredential;
use crate::contract::orch::pack::ssh::ExecOutput;
use crate::contract::orch::pack::types::{ErrorCode, HostError};
use crate::vault::Kind;

/// Bytes of stdout, of stderr, or of a file one call may return.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

fn error(code: ErrorCode, message: String) -> HostError {
    HostError { code, message }
}

/// An open, authenticated SSH session.
pub struct Session {
    handle: Option<Handle<Verifier>>,
    /// Host as the pack named it (canonical), for messages and for `send-secret` bindings.
    pub host: String,
    /// Port.
    pub port: u16,
    sftp: Option<SftpSession>,
}

impl Session {
    /// Logs in on `handle` with `credential` (`ssh-password` or `ssh-key`).
    pub async fn login(
        mut handle: Handle<Verifier>,
        host: &str,
        port: u16,
        credential: &OpenedCredential,
    ) -> Result<Self, HostError> {
        let user = credential.public_field("username").to_owned();
        let who = format!("{user}@{}", hostkeys::destination(host, port));
        let name = &credential.name;
        if user.is_empty() {
            return Err(error(
                ErrorCode::Invalid,
                format!(
                    "credential {name:?} has no username; set it with: orch secret set {name} --username USER ..."
                ),
            ));
        }
        let protocol = |err: russh::Error| {
            error(
                ErrorCode::Protocol,
                format!("logging in as {who} failed: {err}"),
            )
        };
        let result = match credential.kind {
            Kind::SshPassword => {
                let password = Zeroizing::new(
                    String::from_utf8(credential.secret("password").to_vec()).map_err(|_| {
                        error(
                            ErrorCode::Invalid,
                            format!("the password of credential {name:?} is not UTF-8 text"),
                        )
                    })?,
                );
                handle
                    .authenticate_password(user.as_str(), password.as_str())
                    .await
                    .map_err(protocol)?
            }
            Kind::SshKey => {
                let text = Zeroizing::new(
                    String::from_utf8(credential.secret("private_key").to_vec()).map_err(|_| {
                        error(
                            ErrorCode::Invalid,
                            format!("the private key of credential {name:?} is not text"),
                        )
                    })?,
                );
                let passphrase = Zeroizing::new(
                    String::from_utf8(credential.secret("passphrase").to_vec()).unwrap_or_default(),
                );
                let passphrase = (!passphrase.is_empty()).then_some(passphrase.as_str());
                // The decoder's messages name formats and ciphers, never key material.
                let key = russh::keys::decode_secret_key(&text, passphrase).map_err(|err| {
                    error(
                        ErrorCode::Invalid,
                        format!(
                            "the private key of credential {name:?} could not be read ({err}); \
                             store an OpenSSH or PEM private key, with --passphrase-file if it \
                             is encrypted"
                        ),
                    )
                })?;
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(protocol)?
                    .flatten();
                handle
                    .authenticate_publickey(
                        user.as_str(),
                        PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
                    .map_err(protocol)?
            }
            other => {
                return Err(error(
                    ErrorCode::Invalid,
                    format!(
                        "credential {name:?} is of kind {}, which ssh cannot use",
                        other.as_str()
                    ),
                ));
            }
        };
        match result {
            AuthResult::Success => Ok(Self {
                handle: Some(handle),
                host: host.to_owned(),
                port,
                sftp: None,
            }),
            AuthResult::Failure { .. } => {
                let _ = handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                Err(error(
                    ErrorCode::AuthFailed,
                    format!(
                        "{who} refused credential {name:?} ({}); check the user name and the \
                         secret with: orch secret set {name} ...",
                        credential.kind.as_str()
                    ),
                ))
            }
        }
    }

    fn destination(&self) -> String {
        hostkeys::destination(&self.host, self.port)
    }

    fn handle(&self) -> Result<&Handle<Verifier>, HostError> {
        match &self.handle {
            Some(handle) if !handle.is_closed() => Ok(handle),
            _ => Err(error(
                ErrorCode::Closed,
                format!("the ssh session to {} is closed", self.destination()),
            )),
        }
    }

    /// Opens a session channel.
    pub async fn open_channel(
        &self,
        until: Instant,
    ) -> Result<russh::Channel<russh::client::Msg>, HostError> {
        let handle = self.handle()?;
        match tokio::time::timeout_at(until, handle.channel_open_session()).await {
            Err(_) => Err(error(
                ErrorCode::Timeout,
                format!("{} did not open a channel in time", self.destination()),
            )),
            Ok(Err(err)) => Err(self.channel_error(err)),
            Ok(Ok(channel)) => Ok(channel),
        }
    }

    /// The error for a failed channel operation.
    pub fn channel_error(&self, err: russh::Error) -> HostError {
        if self.handle.as_ref().is_none_or(Handle::is_closed) {
            return error(
                ErrorCode::Closed,
                format!(
                    "the ssh session to {} is closed ({err})",
                    self.destination()
                ),
            );
        }
        error(
            ErrorCode::Protocol,
            format!("ssh to {} failed: {err}", self.destination()),
        )
    }

    /// Runs `command`, collecting its output until the channel closes or `until`.
    pub async fn exec(
        &self,
        command: &str,
        until: Instant,
        timeout_text: &str,
    ) -> Result<ExecOutput, HostError> {
        let mut channel = self.open_channel(until).await?;
        let collected =
            tokio::time::timeout_at(until, collect(&mut channel, command, &self.destination()))
                .await;
        // Closing tells the server to end the command; the result does not matter any more.
        let _ = channel.close().await;
        match collected {
            Err(_) => Err(error(
                ErrorCode::Timeout,
                format!(
                    "command did not finish within {timeout_text} on {}; the channel was closed",
                    self.destination()
                ),
            )),
            Ok(result) => result,
        }
    }

    async fn sftp(&mut self, until: Instant) -> Result<&SftpSession, HostError> {
        if self.sftp.is_none() {
            let channel = self.open_channel(until).await?;
            let destination = self.destination();
            let start = async {
                channel
                    .request_subsystem(true, "sftp")
                    .await
                    .map_err(|err| self.channel_error(err))?;
                SftpSession::new(channel.into_stream())
                    .await
                    .map_err(|err| {
                        error(
                            ErrorCode::Protocol,
                            format!("{destination} did not start sftp: {err}"),
                        )
                    })
            };
            let sftp = tokio::time::timeout_at(until, start).await.map_err(|_| {
                error(
                    ErrorCode::Timeout,
                    format!("{destination} did not start sftp in time"),
                )
            })??;
            self.sftp = Some(sftp);
        }
        self.sftp.as_ref().ok_or_else(|| {
            error(
                ErrorCode::Closed,
                format!("the sftp channel to {} is closed", self.destination()),
            )
        })
    }

    /// Reads `path` (at most `max_bytes`).
    pub async fn sftp_get(
        &mut self,
        path: &str,
        max_bytes: usize,
        until: Instant,
    ) -> Result<Vec<u8>, HostError> {
        let destination = self.destination();
        let sftp = self.sftp(until).await?;
        let read = async {
            let file = sftp
                .open(path)
                .await
                .map_err(|err| sftp_error(&destination, path, err))?;
            let mut data = Vec::new();
            let mut limited = file.take(max_bytes as u64 + 1);
            limited.read_to_end(&mut data).await.map_err(|err| {
                error(
                    ErrorCode::Protocol,
                    format!("reading {path} on {destination}: {err}"),
                )
            })?;
            let _ = limited.into_inner().close().await;
            if data.len() > max_bytes {
                return Err(error(
                    ErrorCode::TooLarge,
                    format!("{path} on {destination} is larger than {max_bytes} bytes"),
                ));
            }
            Ok(data)
        };
        timed(until, read, &format!("reading {path} on {destination}")).await
    }

    /// Writes `data` to `path`, replacing it; `mode` sets its permissions.
    pub async fn sftp_put(
        &mut self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        until: Instant,
    ) -> Result<(), HostError> {
        let destination = self.destination();
        let sftp = self.sftp(until).await?;
        let write = async {
            let attributes = FileAttributes {
                permissions: mode,
                ..FileAttributes::empty()
            };
            let mut file = sftp
                .open_with_flags_and_attributes(
                    path,
                    OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                    attributes.clone(),
                )
                .await
                .map_err(|err| sftp_error(&destination, path, err))?;
            let io = |err: std::io::Error| {
                error(
                    ErrorCode::Protocol,
                    format!("writing {path} on {destination}: {err}"),
                )
            };
            file.write_all(data).await.map_err(io)?;
            file.close().await.map_err(io)?;
            // The mode given at creation does not apply to a file that already existed.
            if mode.is_some() {
                sftp.set_metadata(path, attributes)
                    .await
                    .map_err(|err| sftp_error(&destination, path, err))?;
            }
            Ok(())
        };
        timed(until, write, &format!("writing {path} on {destination}")).await
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        // Dropping the handle alone leaves the connection up while channels hold senders to
        // it; a disconnect ends it at once. Outside a runtime the dropped handle still ends the
        // session loop once its channels are gone.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let sftp = self.sftp.take();
            runtime.spawn(async move {
                drop(sftp);
                let _ = handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
            });
        }
    }
}

async fn timed<T>(
    until: Instant,
    work: impl Future<Output = Result<T, HostError>>,
    what: &str,
) -> Result<T, HostError> {
    tokio::time::timeout_at(until, work)
        .await
        .map_err(|_| error(ErrorCode::Timeout, format!("{what} did not finish in time")))?
}

fn sftp_error(destination: &str, path: &str, err: SftpError) -> HostError {
    match &err {
        SftpError::Status(status) if status.status_code == StatusCode::NoSuchFile => error(
            ErrorCode::NotFound,
            format!("{path} does not exist on {destination}"),
        ),
        SftpError::Status(status) if status.status_code == StatusCode::PermissionDenied => error(
            ErrorCode::Denied,
            format!("{destination} refused access to {path} (permission denied)"),
        ),
        SftpError::Timeout => error(
            ErrorCode::Timeout,
            format!("{destination} did not answer about {path} in time"),
        ),
        _ => error(
            ErrorCode::Protocol,
            format!("sftp on {destination} failed for {path}: {err}"),
        ),
    }
}

/// Runs `command` on `channel` and gathers what it prints.
async fn collect(
    channel: &mut russh::Channel<russh::client::Msg>,
    command: &str,
    destination: &str,
) -> Result<ExecOutput, HostError> {
    channel.exec(true, command).await.map_err(|err| {
        error(
            ErrorCode::Protocol,
            format!("sending the command to {destination} failed: {err}"),
        )
    })?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut status = None;
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => append(&mut stdout, &data, "stdout", destination)?,
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                append(&mut stderr, &data, "stderr", destination)?
            }
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::Failure => {
                return Err(error(
                    ErrorCode::Protocol,
                    format!(
                        "{destination} refused to run a command (a device that only offers an \
                         interactive shell needs shell instead of exec)"
                    ),
                ));
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    Ok(ExecOutput {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        exit_status: status,
    })
}

fn append(
    buffer: &mut Vec<u8>,
    data: &[u8],
    stream: &str,
    destination: &str,
) -> Result<(), HostError> {
    if buffer.len() + data.len() > MAX_OUTPUT_BYTES {
        return Err(error(
            ErrorCode::TooLarge,
            format!("the command's {stream} on {destination} exceeded {MAX_OUTPUT_BYTES} bytes"),
        ));
    }
    buffer.extend_from_slice(data);
    Ok(())
}
