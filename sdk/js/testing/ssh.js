// The test host's SSH: rules for connecting (`onConnect`), exec (`onExec`), lines typed into
// shells (`onLine`) and elevation (`onElevate`); remote files for SFTP; and the record of what
// the action sent (`connections`, `commands`, `secrets`).
//
// A shell behaves like a device's CLI on a pseudo-terminal: it opens showing the prompt, and a
// typed line comes back echoed, followed by the rule's output and the prompt again, so
// `Shell.command` and `Shell.readUntil` work as against a device. Patterns are JavaScript
// regular expressions here; the host uses Rust's `regex`, which agrees on the common syntax (no
// look-around or backreferences there).

import { HostError } from "../errors.js";
import { targetName } from "../ssh.js";
import { unscripted } from "./unscripted.js";

/** The prompt a shell shows when no `TestSsh.prompt` was set. */
export const DEFAULT_PROMPT = "device#";

const ELEVATION_COMMANDS = { enable: "enable", super: "super", su: "su -", sudo: "sudo -i" };

class Rule {
  constructor(rules, key, target) {
    Object.defineProperty(this, "_rules", { value: rules });
    this.key = key;
    this.targetName = target ?? null;
    this.promptAfter = null;
    this.answer = null; // {stdout, stderr, exitStatus} or a HostError
  }

  /** Only for sessions to `target` (an inventory name, or `host:port`). */
  target(target) {
    this.targetName = target;
    return this;
  }

  /** Fails the call as the host would (`timeout`, `auth_failed`, ...). */
  fail(code, message) {
    this.answer = new HostError(code, message);
    this._rules.push(this);
  }

  matches(key, target) {
    return this.key === key && (this.targetName === null || this.targetName === target);
  }

  output() {
    if (this.answer instanceof HostError) throw new HostError(this.answer.code, this.answer.message);
    return { ...this.answer };
  }
}

/** The answer to a command run with `Session.exec`. */
export class ExecRule extends Rule {
  reply(stdout, stderr = "", exitStatus = 0) {
    this.answer = { stdout, stderr, exitStatus };
    this._rules.push(this);
  }
}

/** The answer to a line typed into a shell. */
export class LineRule extends Rule {
  /** The prompt the shell shows from then on (`R1(config)#`). */
  prompt(prompt) {
    this.promptAfter = prompt;
    return this;
  }

  reply(output = "") {
    this.answer = { stdout: output, stderr: "", exitStatus: 0 };
    this._rules.push(this);
  }
}

/** The answer to `Shell.elevate`: what the device prints and its privileged prompt. */
export class ElevateRule extends Rule {
  reply(output, privilegedPrompt) {
    this.answer = { stdout: output, stderr: "", exitStatus: 0 };
    this.promptAfter = privilegedPrompt;
    this._rules.push(this);
  }
}

/** The SSH side of a `TestHost`. */
export class TestSsh {
  constructor() {
    this._prompt = DEFAULT_PROMPT;
    Object.defineProperties(this, {
      _connects: { value: [] },
      _execs: { value: [] },
      _lines: { value: [] },
      _elevations: { value: [] },
      _files: { value: new Map() },
      _connections: { value: [] },
      _commands: { value: [] },
      _secrets: { value: [] },
    });
  }

  /** The prompt shells show when they open (default `device#`). */
  prompt(prompt) {
    this._prompt = prompt;
    return this;
  }

  /** A rule for connecting to `target`; connections succeed unless one says `fail`. */
  onConnect(target) {
    return new Rule(this._connects, target, null);
  }

  /** A rule for `command` run with exec (on any target, or on `target`). */
  onExec(command, { target } = {}) {
    return new ExecRule(this._execs, command, target);
  }

  /** A rule for `line` typed into a shell. */
  onLine(line, { target } = {}) {
    return new LineRule(this._lines, line, target);
  }

  /** A rule for `Shell.elevate` with `method` (`enable`, `super`, `su`, `sudo`). */
  onElevate(method, { target } = {}) {
    return new ElevateRule(this._elevations, method, target);
  }

  /** A remote file for `sftpGet`. */
  file(path, contents) {
    this._files.set(path, typeof contents === "string" ? new TextEncoder().encode(contents) : Uint8Array.from(contents));
    return this;
  }

  /** A remote file, as the action left it (after `sftpPut`), or null. */
  fileContents(path) {
    const data = this._files.get(path);
    return data ? data.slice() : null;
  }

  /** Sessions the action opened: `{target, credential}`. */
  get connections() {
    return [...this._connections];
  }

  /** Every command run with exec and line typed into a shell, in order. */
  get commands() {
    return [...this._commands];
  }

  /** Secrets the host typed for the action: `{credential, elevation}` (elevation null for
   * `sendSecret`). */
  get secrets() {
    return [...this._secrets];
  }

  connect(target, credential) {
    const name = targetName(target);
    this._connections.push(Object.freeze({ target, credential: credential ?? null }));
    for (const rule of this._connects) {
      if (rule.key === name) rule.output();
    }
    return new TestSession(this, name);
  }

  find(rules, key, target, call, fix) {
    const rule = rules.find((r) => r.matches(key, target));
    if (!rule) throw unscripted(call, fix);
    return rule;
  }
}

class TestSession {
  constructor(ssh, target) {
    this.ssh = ssh;
    this.target = target;
  }

  exec(command) {
    this.ssh._commands.push(command);
    const rule = this.ssh.find(
      this.ssh._execs,
      command,
      this.target,
      `the command ${JSON.stringify(command)} run on ${this.target}`,
      `host.ssh.onExec(${JSON.stringify(command)}).reply(...)`,
    );
    return rule.output();
  }

  shell() {
    return new TestShell(this.ssh, this.target);
  }

  sftpGet(path, maxBytes) {
    const data = this.ssh._files.get(path);
    if (!data) {
      throw new HostError(
        "not_found",
        `no remote file ${JSON.stringify(path)} on ${this.target} in the test host; add one with host.ssh.file(${JSON.stringify(path)}, ...)`,
      );
    }
    if (maxBytes !== undefined && data.length > maxBytes) {
      throw new HostError("too_large", `remote file ${JSON.stringify(path)} is ${data.length} bytes, over the cap of ${maxBytes}`);
    }
    return data.slice();
  }

  sftpPut(path, data) {
    this.ssh._files.set(path, Uint8Array.from(data));
  }
}

class TestShell {
  constructor(ssh, target) {
    this.ssh = ssh;
    this.target = target;
    this.prompt = ssh._prompt;
    this.unread = ssh._prompt;
    // Whether the pack typed anything: the host then refuses to type secrets.
    this.typed = false;
  }

  send(text) {
    this.typed = true;
    for (const raw of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
      const line = raw.replace(/\r?\n$/, "");
      this.ssh._commands.push(line);
      const rule = this.ssh.find(
        this.ssh._lines,
        line,
        this.target,
        `the line ${JSON.stringify(line)} typed into a shell of ${this.target}`,
        `host.ssh.onLine(${JSON.stringify(line)}).reply(...)`,
      );
      const { stdout } = rule.output();
      this.print(`${line}\r\n`, stdout, rule.promptAfter);
    }
  }

  elevate({ method, credential, privilegedPrompt }) {
    this.refuseAfterTyping("elevate");
    this.ssh._secrets.push(Object.freeze({ credential: credential ?? null, elevation: method }));
    const rule = this.ssh.find(
      this.ssh._elevations,
      method,
      this.target,
      `elevation by ${method} on ${this.target}`,
      `host.ssh.onElevate(${JSON.stringify(method)}).reply(...)`,
    );
    const { stdout } = rule.output();
    this.print(`${ELEVATION_COMMANDS[method]}\r\n`, stdout, rule.promptAfter);
    return this.readUntil(privilegedPrompt);
  }

  sendSecret(credential) {
    this.refuseAfterTyping("sendSecret");
    this.ssh._secrets.push(Object.freeze({ credential, elevation: null }));
    this.unread += "***\r\n";
  }

  readUntil(pattern) {
    let regex;
    try {
      regex = new RegExp(pattern);
    } catch (err) {
      throw new HostError("invalid", `invalid pattern ${JSON.stringify(pattern)}: ${err.message}`);
    }
    const found = regex.exec(this.unread);
    if (!found) {
      throw new HostError(
        "timeout",
        `the test host's shell of ${this.target} never printed ${JSON.stringify(pattern)}; it printed ${JSON.stringify(this.unread.slice(-80))} (script the line's output or the prompt with host.ssh)`,
      );
    }
    const end = found.index + found[0].length;
    const read = this.unread.slice(0, end);
    this.unread = this.unread.slice(end);
    return read;
  }

  read() {
    const read = this.unread;
    this.unread = "";
    return read;
  }

  print(echo, output, prompt) {
    if (prompt !== null && prompt !== undefined) this.prompt = prompt;
    this.unread += echo;
    if (output) this.unread += output.endsWith("\n") ? output : `${output}\r\n`;
    this.unread += this.prompt;
  }

  refuseAfterTyping(what) {
    if (this.typed) {
      throw new HostError("denied", `${what} is refused on a shell the pack has typed into; open a new shell and call it before sending anything`);
    }
  }
}
