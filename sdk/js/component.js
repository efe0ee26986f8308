// The component's side of the SDK: the backend that sends capability calls to the host's
// imports (`orch:pack/log`, `http`, `ssh`, `catalog`), installed when the component starts.
//
// Only the build includes this module: `esbuild pack.js --bundle --inject:…/component.js`
// evaluates it before the pack. It is the one module of the SDK that imports `orch:pack/*`,
// names only componentize-js resolves (esbuild leaves them to it with `--external:orch:*`);
// node cannot, so no module a native test imports may import it. A test installs a TestHost
// instead.
//
// The generated bindings throw a `ComponentError` whose `payload` is the contract's
// `host-error` record (`{code: "not-found", message}`, codes in kebab-case) for an `err`
// result; every call turns it into a HostError with the snake_case code the SDK uses.

import { write } from "orch:pack/log@0.1.0";
import { send } from "orch:pack/http@0.1.0";
import { Session as WitSession } from "orch:pack/ssh@0.1.0";
import { findDevices, get, getDevice, put } from "orch:pack/catalog@0.1.0";

import { setComponentBackend } from "./backend.js";
import { parseJson } from "./catalog.js";
import { HostError } from "./errors.js";

/** The HostError of whatever a host call threw. */
function hostError(err) {
  const payload = err?.payload;
  if (payload && typeof payload.code === "string") {
    return new HostError(payload.code.replaceAll("-", "_"), String(payload.message ?? ""));
  }
  // Not a host-error: the bindings refused an argument (a number out of range, a wrong type)
  // before the call left the component.
  return new HostError("invalid", String(err?.message ?? err));
}

function host(call) {
  try {
    return call();
  } catch (err) {
    throw hostError(err);
  }
}

function device(d) {
  return {
    name: d.name,
    address: d.address,
    port: d.port,
    platform: d.platform,
    credential: d.credential ?? null,
    tags: Object.fromEntries(d.tags),
    vars: parseJson(d.vars, `vars of inventory device ${JSON.stringify(d.name)}`),
  };
}

function entry(e) {
  return {
    collection: e.collection,
    key: e.key,
    version: Number(e.version), // a u64 arrives as a BigInt; versions stay far below 2^53
    value: parseJson(e.value, `record ${e.collection}/${e.key}`),
    writtenAt: e.writtenAt,
    writer: e.writer,
  };
}

class ComponentShell {
  constructor(inner) {
    this.inner = inner;
  }
  send(text) {
    host(() => this.inner.send(text));
  }
  elevate(options) {
    return host(() => this.inner.elevate(options));
  }
  sendSecret(credential) {
    host(() => this.inner.sendSecret(credential));
  }
  readUntil(pattern, timeoutMs) {
    return host(() => this.inner.readUntil(pattern, timeoutMs));
  }
  read(timeoutMs) {
    return host(() => this.inner.read(timeoutMs));
  }
}

class ComponentSession {
  constructor(inner) {
    this.inner = inner;
  }
  exec(command, timeoutMs) {
    const out = host(() => this.inner.exec(command, timeoutMs));
    return { stdout: out.stdout, stderr: out.stderr, exitStatus: out.exitStatus ?? null };
  }
  shell(options) {
    return new ComponentShell(host(() => this.inner.shell(options)));
  }
  sftpGet(path, maxBytes) {
    return host(() => this.inner.sftpGet(path, maxBytes));
  }
  sftpPut(path, data, mode) {
    host(() => this.inner.sftpPut(path, data, mode));
  }
}

setComponentBackend({
  logWrite(level, message, fields) {
    write(level, message, fields);
  },
  httpSend(request) {
    const r = host(() => send(request));
    return { status: r.status, headers: r.headers, body: r.body, url: r.url };
  },
  sshConnect(target, credential, timeoutMs) {
    const witTarget =
      target.inventory !== undefined
        ? { tag: "inventory", val: target.inventory }
        : { tag: "address", val: { host: target.host, port: target.port } };
    return new ComponentSession(host(() => WitSession.connect({ target: witTarget, credential, timeoutMs })));
  },
  catalogGetDevice(name) {
    return device(host(() => getDevice(name)));
  },
  catalogFindDevices(tags) {
    return host(() => findDevices(tags)).map(device);
  },
  catalogGet(collection, key, version) {
    const found = host(() => get(collection, key, version === undefined ? undefined : BigInt(version)));
    return found === undefined || found === null ? null : entry(found);
  },
  catalogPut(collection, key, value) {
    return entry(host(() => put(collection, key, value)));
  },
});
