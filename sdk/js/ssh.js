// SSH sessions opened by the host on the pack's behalf (the `ssh` import): commands,
// interactive shells for network-device CLIs, and SFTP.
//
// The host checks the pack's ssh grant, verifies the host key, and logs in with a vault
// credential the pack names but never sees. Every session is closed when the invocation ends.
//
//     import { ssh } from "orch-sdk";
//
//     const session = await ssh.connect("R1");              // an inventory device, by name
//     const out = await session.exec("uptime", { timeoutMs: 10_000 });
//     const shell = await session.shell();
//     await shell.readUntil(String.raw`R1[>#]\s*$`);         // the login banner and prompt
//     await shell.elevate({ method: "enable", privilegedPrompt: String.raw`R1#\s*$`, credential: "r1-enable" });
//     const config = await shell.command("show running-config", String.raw`R1#\s*$`);
//
// Patterns are regular expressions in the host's dialect (Rust's `regex`: no look-around, no
// backreferences), given as strings; a RegExp without flags is taken by its source.

import { current } from "./backend.js";
import { HostError } from "./errors.js";
import { clampU32 } from "./http.js";

/** `Shell.elevate` methods: which command the host types. */
export const ELEVATIONS = Object.freeze(["enable", "super", "su", "sudo"]);

/** What a command produced; `exitStatus` is null when a signal ended it. */
export class ExecOutput {
  constructor(stdout, stderr, exitStatus) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.exitStatus = exitStatus ?? null;
  }

  /** Whether the command exited with status 0. */
  get ok() {
    return this.exitStatus === 0;
  }
}

/**
 * Connects and logs in. `target` is an inventory device's name (`"R1"`: the host supplies its
 * address, port and credential) or an address `{host, port}`. Options: `credential` (an
 * `ssh-password` or `ssh-key` vault credential; optional for an inventory device),
 * `timeoutMs` (connecting and logging in; default 15 000). Rejects with HostError `denied`
 * without a grant, `host_key` for an unknown or changed host key, `auth_failed` when the server
 * refuses the credential.
 *
 * @param {string | {host: string, port?: number}} target
 * @param {{credential?: string, timeoutMs?: number}} [options]
 * @returns {Promise<Session>}
 */
export async function connect(target, { credential, timeoutMs } = {}) {
  const normal = normalTarget(target);
  const host = current(`ssh connect to ${targetName(normal)}`);
  return new Session(host.sshConnect(normal, credential ?? undefined, clampU32(timeoutMs)), normal);
}

/** An authenticated SSH connection; open it with `connect`. */
export class Session {
  constructor(inner, target) {
    Object.defineProperty(this, "_inner", { value: inner });
    /** `{inventory: "R1"}` or `{host, port}`. */
    this.target = target;
  }

  /** Runs `command` and waits for it to end (`timeoutMs`, default 60 000). */
  async exec(command, { timeoutMs = 60_000 } = {}) {
    const out = this._inner.exec(String(command), clampU32(timeoutMs));
    return new ExecOutput(out.stdout, out.stderr, out.exitStatus);
  }

  /** Opens an interactive shell on a pseudo-terminal (default `vt100`, 511x24). */
  async shell({ term, width, height } = {}) {
    return new Shell(this._inner.shell({ term: term ?? undefined, width: clampU32(width), height: clampU32(height) }));
  }

  /** Reads a remote file by SFTP (at most `maxBytes`, default and maximum 16 MiB). */
  async sftpGet(path, { maxBytes } = {}) {
    return this._inner.sftpGet(String(path), clampU32(maxBytes));
  }

  /** Writes a remote file by SFTP, replacing it; `mode` sets its permissions (`0o644`). */
  async sftpPut(path, data, { mode } = {}) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new HostError("invalid", `the data for ${path} must be a string or a Uint8Array`);
    this._inner.sftpPut(String(path), bytes, clampU32(mode));
  }
}

/** An interactive shell of a session. See ssh.wit for how secrets are typed (`elevate`,
 * `sendSecret`): only on a shell the pack has not typed into. */
export class Shell {
  constructor(inner) {
    Object.defineProperty(this, "_inner", { value: inner });
  }

  /** Sends `text` as typed (add `\n` to end a line). */
  async send(text) {
    this._inner.send(String(text));
  }

  /** Sends `line` and a newline. */
  async sendLine(line) {
    this._inner.send(`${line}\n`);
  }

  /**
   * Reaches a privileged mode, the host typing the command of `method` (`enable`, `super`, `su`
   * or `sudo`) and, at a password prompt, the password of `credential`. Resolves to what was
   * read through `privilegedPrompt`. `prompt` (any ordinary prompt) makes a refusal fail at
   * once instead of at `timeoutMs` (default 15 000).
   *
   * @param {{method: string, privilegedPrompt: string|RegExp, credential?: string, prompt?: string|RegExp, timeoutMs?: number}} options
   */
  async elevate({ method, privilegedPrompt, credential, prompt, timeoutMs } = {}) {
    if (!ELEVATIONS.includes(method)) {
      throw new HostError("invalid", `unknown elevation ${JSON.stringify(method)}; use one of ${ELEVATIONS.join(", ")}`);
    }
    return this._inner.elevate({
      method,
      credential: credential ?? undefined,
      privilegedPrompt: patternSource(privilegedPrompt),
      prompt: prompt === undefined || prompt === null ? undefined : patternSource(prompt),
      timeoutMs: clampU32(timeoutMs),
    });
  }

  /** Types the secret of `credential` and a newline, answering a password prompt the device
   * shows on its own (an in-band login). */
  async sendSecret(credential) {
    this._inner.sendSecret(String(credential));
  }

  /** Reads until the output matches `pattern`; resolves to everything read, the match
   * included. Rejects with HostError `timeout` naming the tail (`timeoutMs`, default 15 000). */
  async readUntil(pattern, { timeoutMs = 15_000 } = {}) {
    return this._inner.readUntil(patternSource(pattern), clampU32(timeoutMs) ?? 0);
  }

  /** Resolves to what arrived within `timeoutMs` (default 1 000; possibly nothing). */
  async read({ timeoutMs = 1_000 } = {}) {
    return this._inner.read(clampU32(timeoutMs) ?? 0);
  }

  /** Runs one CLI command: sends it, reads until `prompt` matches, and resolves to the output
   * without the echoed command line and the prompt line, with `\r\n` as `\n`. */
  async command(command, prompt, { timeoutMs = 30_000 } = {}) {
    await this.sendLine(command);
    return commandOutput(await this.readUntil(prompt, { timeoutMs }), command);
  }
}

/** The output of `command` in `raw` (what `readUntil` returned after sending it): without the
 * echoed command line, without the last line (the prompt). */
export function commandOutput(raw, command) {
  const lines = raw.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  lines.pop(); // `readUntil` stops at the prompt's match: the last line is the prompt
  if (lines.length > 0 && lines[0].trimEnd().endsWith(command.trim())) lines.shift();
  return lines.join("\n");
}

function patternSource(pattern) {
  if (pattern instanceof RegExp) {
    // Flags have no equivalent the host would honour: refuse rather than silently drop them.
    if (pattern.flags) throw new HostError("invalid", `pattern ${pattern} has flags; write them inline, such as (?i)`);
    return pattern.source;
  }
  return String(pattern);
}

function normalTarget(target) {
  if (typeof target === "string") return Object.freeze({ inventory: target });
  if (target && typeof target === "object" && typeof target.inventory === "string") {
    return Object.freeze({ inventory: target.inventory });
  }
  if (target && typeof target === "object" && typeof target.host === "string") {
    const port = target.port ?? 22;
    // The contract's port is a u16, and the generated bindings wrap a larger number silently:
    // 70000 would reach port 4464.
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new HostError("invalid", `the port of ${target.host} must be a number from 1 to 65535, not ${port}`);
    }
    return Object.freeze({ host: target.host, port });
  }
  throw new HostError("invalid", "an ssh target is an inventory device's name or {host, port}");
}

/** How tests and messages name a target: the inventory name, or `host:port`. */
export function targetName(target) {
  return target.inventory !== undefined ? target.inventory : `${target.host}:${target.port ?? 22}`;
}
