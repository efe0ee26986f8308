//! When the host types a secret into a shell, and the dialogue of `shell.elevate`: the command
//! each elevation method types, the host's own password-prompt and refusal detection, and the
//! per-shell [`Guard`]. Pure: no I/O, so every rule is unit-tested without a device.
//!
//! The threat: a pack drives the shell, so anything it typed before a secret may have set the
//! far end up to capture it (`stty -echo; read -r X; printf %s "$X" | od -An -tx1` on a Unix
//! shell, an alias, a function) and print it in a form the masker does not know. So the host
//! types a secret only
//! - on a shell where the pack has typed nothing (its reads are harmless), and
//! - right after it read a password prompt in output that arrived after its own last keystroke:
//!   within `elevate`, after the command it chose itself for the method; for `send-secret`, in
//!   the output the pack read last, with nothing typed since (an in-band login prompt);
//! - once per dialogue: a second password prompt after the secret is a refusal, never a retry.
//!
//! (What comes back after a typed secret is hidden by the shell itself, see `shell.rs`.)
//!
//! What remains is the device's own software: a login account that could script its shell
//! earlier (a `.bashrc` written by `exec` or `sftp-put`, a device alias) decides what happens to
//! what is typed. The contract (`wit/ssh.wit`) says so.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::contract::orch::pack::ssh::Elevation;
use crate::contract::orch::pack::types::{ErrorCode, HostError};

/// A password prompt at the very end of what arrived: `Password: `, `[sudo] password for ops: `,
/// `Enter secret:`, `Passcode:`. The keyword and the colon on the last line, nothing after the
/// colon but blanks.
static PASSWORD_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:password|passcode|passphrase|secret)[^\r\n:]{0,80}:[ \t]*$")
        .expect("the password prompt pattern compiles")
});

/// What devices print when they refuse a secret (IOS, EOS, VRP, su, sudo, login).
static SECRET_REFUSED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^[^\r\n]*(?:bad secrets|access denied|authentication fail|(?:wrong|invalid|incorrect|bad) password|password (?:is )?(?:wrong|incorrect|invalid)|sorry, try again|login incorrect)[^\r\n]*",
    )
    .expect("the refusal pattern compiles")
});

/// What devices print when they refuse the elevation command itself, before any password.
static COMMAND_REFUSED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^[^\r\n]*(?:% ?invalid input|% ?unknown command|unrecognized command|command not found|not in the sudoers file|is not allowed to run sudo|must be run from a terminal|authorization denied|access denied)[^\r\n]*",
    )
    .expect("the command refusal pattern compiles")
});

/// The command the host types for `method` (followed by a newline).
pub fn command(method: Elevation) -> &'static str {
    match method {
        Elevation::Enable => "enable",
        Elevation::Super => "super",
        Elevation::Su => "su -",
        // A root login shell: root's own start-up files, not the login account's.
        Elevation::Sudo => "sudo -i",
    }
}

/// Whether `output` ends in a password prompt.
pub fn ends_in_password_prompt(output: &[u8]) -> bool {
    PASSWORD_PROMPT.is_match(output)
}

/// Whether `secret` can be typed as one line: not empty, no control characters (a line break
/// would end the answer early and run the rest as a command; others edit or interrupt the line).
pub fn typeable(secret: &[u8]) -> bool {
    !secret.is_empty() && !secret.iter().any(|b| b.is_ascii_control())
}

/// What the host knows about one shell's input: the rules of `elevate` and `send-secret`.
#[derive(Debug, Default)]
pub struct Guard {
    /// The pack has typed into this shell (`send`).
    pack_typed: bool,
    /// An elevation failed: the shell is in a state the host does not know.
    elevation_failed: bool,
    /// `send-secret` has typed its secret.
    secret_sent: bool,
    /// The output the pack read last ends in a password prompt, nothing was left unread and
    /// nothing has been typed since.
    at_password_prompt: bool,
}

fn denied(message: &str) -> HostError {
    HostError {
        code: ErrorCode::Denied,
        message: message.to_owned(),
    }
}

impl Guard {
    /// The pack typed into the shell.
    pub fn pack_typed(&mut self) {
        self.pack_typed = true;
        self.at_password_prompt = false;
    }

    /// The host typed into the shell (an elevation command or a secret).
    pub fn host_typed(&mut self) {
        self.at_password_prompt = false;
    }

    /// The pack read `returned`; `unread` bytes arrived after it and stay buffered. A read that
    /// got nothing leaves the shell where it was.
    pub fn pack_read(&mut self, returned: &[u8], unread: usize) {
        if returned.is_empty() && unread == 0 {
            return;
        }
        self.at_password_prompt = unread == 0 && ends_in_password_prompt(returned);
    }

    /// Output arrived that the pack has not read.
    pub fn output_arrived(&mut self) {
        self.at_password_prompt = false;
    }

    /// An elevation failed.
    pub fn elevation_failed(&mut self) {
        self.elevation_failed = true;
    }

    /// `send-secret` typed its secret.
    pub fn secret_sent(&mut self) {
        self.secret_sent = true;
        self.at_password_prompt = false;
    }

    /// Whether `elevate` may run now; `denied` saying why and what to do otherwise.
    pub fn may_elevate(&self) -> Result<(), HostError> {
        if self.pack_typed {
            return Err(denied(
                "elevate must be the first input on a shell: the pack has already typed into \
                 this one, and what it typed (an alias, a function, a `read`) could capture the \
                 secret; open a new shell and call elevate before sending anything",
            ));
        }
        if self.elevation_failed {
            return Err(denied(
                "an elevation already failed on this shell, which leaves it in a state the host \
                 does not know (possibly at a password prompt); open a new shell to try again",
            ));
        }
        Ok(())
    }

    /// Whether `send-secret` may type now; `denied` saying why and what to do otherwise.
    pub fn may_send_secret(&self) -> Result<(), HostError> {
        if self.pack_typed {
            return Err(denied(
                "send-secret only answers a password prompt the device shows before the pack \
                 has typed anything (an in-band login); the pack has typed into this shell, and \
                 what it typed could capture the secret. To reach a privileged mode, open a new \
                 shell and call elevate before sending anything",
            ));
        }
        if self.elevation_failed {
            return Err(denied(
                "an elevation failed on this shell, which leaves it in a state the host does not \
                 know; open a new shell",
            ));
        }
        if self.secret_sent {
            return Err(denied(
                "send-secret already typed a secret on this shell; the host types one answer \
                 to an in-band login prompt, never a second (open a new shell to try again)",
            ));
        }
        if !self.at_password_prompt {
            return Err(denied(
                "send-secret types a secret only when the output read last ends in a password \
                 prompt (read it first with read-until) and nothing was typed since; to reach a \
                 privileged mode, call elevate on a new shell instead",
            ));
        }
        Ok(())
    }
}

/// One decision of the elevation dialogue, taken on what arrived since the host last typed.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing decisive yet: read more.
    Wait,
    /// The output ends in a password prompt and a secret is at hand: type it (once).
    TypeSecret,
    /// The privileged prompt matched; the dialogue's output ends at `end`.
    Elevated {
        /// Where the match ends in the examined output.
        end: usize,
    },
    /// Elevation failed.
    Failed(Failure),
}

/// Why elevation failed, as the device answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// A password prompt, and the pack named no credential.
    NoCredential,
    /// A password prompt again after the secret.
    AskedAgain,
    /// The device refused the command before asking for a password (its line).
    CommandRefused(String),
    /// The device refused the secret (its line).
    SecretRefused(String),
    /// The pack's ordinary prompt came back without the privileged one.
    Unprivileged {
        /// Whether the secret had been typed.
        after_secret: bool,
    },
}

/// The elevation dialogue's decisions, from what arrives.
#[derive(Debug)]
pub struct Dialogue<'a> {
    privileged: &'a Regex,
    prompt: Option<&'a Regex>,
    has_secret: bool,
    secret_typed: bool,
}

impl<'a> Dialogue<'a> {
    /// A dialogue succeeding at `privileged`, failing at `prompt` (any prompt of the shell) when
    /// the privileged one does not match; `has_secret` when a credential was named.
    pub fn new(privileged: &'a Regex, prompt: Option<&'a Regex>, has_secret: bool) -> Self {
        Self {
            privileged,
            prompt,
            has_secret,
            secret_typed: false,
        }
    }

    /// The host typed the secret: from now on `output` is what arrived after it.
    pub fn secret_typed(&mut self) {
        self.secret_typed = true;
    }

    /// Whether the secret has been typed.
    pub fn typed(&self) -> bool {
        self.secret_typed
    }

    /// The decision on `output`, everything that arrived since the host last typed. The
    /// privileged prompt wins (nothing is typed into a shell already privileged); a password
    /// prompt comes next; then refusals; then the ordinary prompt.
    pub fn step(&self, output: &[u8]) -> Step {
        if let Some(found) = self.privileged.find(output) {
            return Step::Elevated { end: found.end() };
        }
        if ends_in_password_prompt(output) {
            return if self.secret_typed {
                Step::Failed(Failure::AskedAgain)
            } else if self.has_secret {
                Step::TypeSecret
            } else {
                Step::Failed(Failure::NoCredential)
            };
        }
        let refused = if self.secret_typed {
            &*SECRET_REFUSED
        } else {
            &*COMMAND_REFUSED
        };
        if let Some(line) = refused.find(output) {
            let line = String::from_utf8_lossy(line.as_bytes()).trim().to_owned();
            return Step::Failed(if self.secret_typed {
                Failure::SecretRefused(line)
            } else {
                Failure::CommandRefused(line)
            });
        }
        if self.prompt.is_some_and(|prompt| prompt.is_match(output)) {
            return Step::Failed(Failure::Unprivileged {
                after_secret: self.secret_typed,
            });
        }
        Step::Wait
    }
}

impl Failure {
    /// The error for the pack: `auth-failed`, naming the device, the command and the fix.
    pub fn error(&self, destination: &str, command: &str, credential: Option<&str>) -> HostError {
        let credential = credential.unwrap_or_default();
        let message = match self {
            Self::NoCredential => format!(
                "{destination} asked for a password after `{command}` and no credential was \
                 named; name the ssh-password credential holding it"
            ),
            Self::AskedAgain => format!(
                "{destination} asked for the password again after `{command}`: it refused the \
                 secret of credential {credential:?}; check it with: orch secret set \
                 {credential} ..."
            ),
            Self::CommandRefused(line) => {
                format!("{destination} refused `{command}` before asking for a password: {line}")
            }
            Self::SecretRefused(line) => format!(
                "{destination} refused the secret of credential {credential:?} after \
                 `{command}`: {line}; check it with: orch secret set {credential} ..."
            ),
            Self::Unprivileged {
                after_secret: false,
            } => format!(
                "{destination} came back to its ordinary prompt after `{command}` without \
                 asking for a password or showing the privileged prompt"
            ),
            Self::Unprivileged { after_secret: true } => format!(
                "{destination} came back to its ordinary prompt after `{command}` and the secret \
                 of credential {credential:?}: it did not grant the privileged mode; check the \
                 credential with: orch secret set {credential} ..."
            ),
        };
        HostError {
            code: ErrorCode::AuthFailed,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str) -> Regex {
        Regex::new(pattern).expect("test pattern")
    }

    #[test]
    fn recognises_password_prompts_only_at_the_end_of_the_output() {
        for prompt in [
            "enable\r\nPassword: ",
            "su -\r\nPassword:",
            "sudo -i\r\n[sudo] password for ops: ",
            "super\r\n  Password:",
            "Enter secret:\t",
            "Passcode:",
        ] {
            assert!(ends_in_password_prompt(prompt.as_bytes()), "{prompt:?}");
        }
        for text in [
            "Password: \r\nR1#",
            "Password:x",
            "enable\r\n",
            "the password is: hunter2",
            "show run | include secret\r\nenable secret 5 $1$abc\r\nR1#",
            "Password\r\n:",
            "",
        ] {
            assert!(!ends_in_password_prompt(text.as_bytes()), "{text:?}");
        }
    }

    #[test]
    fn only_single_line_printable_secrets_can_be_typed() {
        assert!(typeable(b"en-1234 with spaces!"));
        assert!(!typeable(b""));
        assert!(!typeable(b"secret\nreboot"));
        assert!(!typeable(b"secret\r"));
        assert!(!typeable(b"sec\x03ret"));
        assert!(!typeable(b"sec\x7fret"));
    }

    #[test]
    fn elevate_is_refused_once_the_pack_has_typed_into_the_shell() {
        let mut guard = Guard::default();
        guard.pack_read(b"Last login: today\r\nR1>", 0);
        assert!(guard.may_elevate().is_ok(), "reading is not typing");
        guard.host_typed();
        assert!(
            guard.may_elevate().is_ok(),
            "the host's own command is not the pack's"
        );
        guard.pack_typed();
        let err = guard.may_elevate().unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(err.message.contains("first input"), "{}", err.message);
        assert!(err.message.contains("new shell"), "{}", err.message);
    }

    #[test]
    fn a_failed_elevation_spends_the_shell_for_secrets() {
        let mut guard = Guard::default();
        guard.elevation_failed();
        assert_eq!(guard.may_elevate().unwrap_err().code, ErrorCode::Denied);
        guard.pack_read(b"Password: ", 0);
        assert_eq!(guard.may_send_secret().unwrap_err().code, ErrorCode::Denied);
    }

    #[test]
    fn send_secret_answers_only_a_password_prompt_read_last_before_the_pack_typed() {
        let mut guard = Guard::default();
        let err = guard.may_send_secret().unwrap_err();
        assert!(err.message.contains("password prompt"), "{}", err.message);

        guard.pack_read(b"Welcome\r\nPassword: ", 0);
        assert!(guard.may_send_secret().is_ok());
        // An empty read changes nothing; more output after the prompt does.
        guard.pack_read(b"", 0);
        assert!(guard.may_send_secret().is_ok());
        guard.pack_read(b"Password: ", 3);
        assert!(
            guard.may_send_secret().is_err(),
            "output left unread after the prompt"
        );
        guard.pack_read(b"Password: ", 0);
        guard.host_typed();
        assert!(guard.may_send_secret().is_err(), "typed since the prompt");

        guard.pack_read(b"Password: ", 0);
        guard.secret_sent();
        guard.pack_read(b"\r\nPassword: ", 0);
        let err = guard.may_send_secret().unwrap_err();
        assert!(err.message.contains("never a second"), "{}", err.message);

        // The attack: the pack types a capture and a password prompt of its own.
        let mut guard = Guard::default();
        guard.pack_typed();
        guard.pack_read(b"Password: ", 0);
        let err = guard.may_send_secret().unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(err.message.contains("elevate"), "{}", err.message);
    }

    #[test]
    fn dialogue_types_the_secret_only_at_a_password_prompt_and_only_once() {
        let privileged = re(r"(?:^|\n)R1#\s*$");
        let prompt = re(r"(?:^|\n)R1[>#]\s*$");
        let mut dialogue = Dialogue::new(&privileged, Some(&prompt), true);
        assert_eq!(dialogue.step(b""), Step::Wait);
        assert_eq!(dialogue.step(b"enable\r\n"), Step::Wait);
        assert_eq!(dialogue.step(b"enable\r\nPassword: "), Step::TypeSecret);
        dialogue.secret_typed();
        assert_eq!(dialogue.step(b"\r\n"), Step::Wait);
        assert_eq!(
            dialogue.step(b"\r\nR1#"),
            Step::Elevated {
                end: b"\r\nR1#".len()
            }
        );
        assert_eq!(
            dialogue.step(b"\r\n% Invalid input\r\nPassword: "),
            Step::Failed(Failure::AskedAgain)
        );
        assert_eq!(
            dialogue.step(b"\r\n% Bad secrets\r\n\r\nR1>"),
            Step::Failed(Failure::SecretRefused("% Bad secrets".into()))
        );
        assert_eq!(
            dialogue.step(b"\r\nR1>"),
            Step::Failed(Failure::Unprivileged { after_secret: true })
        );
    }

    #[test]
    fn dialogue_succeeds_without_typing_on_an_already_privileged_shell() {
        let privileged = re(r"#\s*$");
        let dialogue = Dialogue::new(&privileged, None, true);
        let answer = b"enable\r\nR1#";
        assert_eq!(dialogue.step(answer), Step::Elevated { end: answer.len() });
        // Output after an unanchored privileged prompt stays for the next read.
        let privileged = re(r"R1#");
        let dialogue = Dialogue::new(&privileged, None, true);
        assert_eq!(
            dialogue.step(b"enable\r\nR1#\r\nmore"),
            Step::Elevated { end: answer.len() }
        );
        // The privileged prompt wins even over a pattern that also matches a password prompt.
        let sloppy = re(r"[#:]\s*$");
        let dialogue = Dialogue::new(&sloppy, None, true);
        assert!(matches!(
            dialogue.step(b"Password: "),
            Step::Elevated { .. }
        ));
    }

    #[test]
    fn dialogue_without_a_credential_fails_at_a_password_prompt() {
        let privileged = re(r"#\s*$");
        let dialogue = Dialogue::new(&privileged, None, false);
        assert_eq!(
            dialogue.step(b"enable\r\nPassword: "),
            Step::Failed(Failure::NoCredential)
        );
        let err = Failure::NoCredential.error("10.0.0.1:22", "enable", None);
        assert_eq!(err.code, ErrorCode::AuthFailed);
        assert!(
            err.message.contains("no credential was named"),
            "{}",
            err.message
        );
    }

    #[test]
    fn dialogue_fails_fast_on_a_refused_command_or_the_ordinary_prompt() {
        let privileged = re(r"NEVER");
        let prompt = re(r"[$#]\s*$");
        let dialogue = Dialogue::new(&privileged, Some(&prompt), true);
        assert_eq!(
            dialogue.step(b"super\r\n-bash: super: command not found\r\n$ "),
            Step::Failed(Failure::CommandRefused(
                "-bash: super: command not found".into()
            ))
        );
        // bash's `enable` builtin lists builtins and comes back to the prompt.
        assert_eq!(
            dialogue.step(b"enable\r\nenable .\r\nenable :\r\n$ "),
            Step::Failed(Failure::Unprivileged {
                after_secret: false
            })
        );
        // Without an ordinary prompt to recognise, only the timeout ends it.
        let dialogue = Dialogue::new(&privileged, None, true);
        assert_eq!(dialogue.step(b"enable\r\nenable .\r\n$ "), Step::Wait);
    }

    #[test]
    fn every_method_types_a_fixed_command() {
        assert_eq!(command(Elevation::Enable), "enable");
        assert_eq!(command(Elevation::Super), "super");
        assert_eq!(command(Elevation::Su), "su -");
        assert_eq!(command(Elevation::Sudo), "sudo -i");
    }
}
