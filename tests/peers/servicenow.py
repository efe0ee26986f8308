#!/usr/bin/env python3
"""A ServiceNow stand-in for orch's tests and demo: the Table API for any table, HTTP basic auth,
the OAuth2 client-credentials token endpoint, and fault switches.

It follows the real Table API's shape (``{"result": ...}`` envelopes, field values as strings,
201/200/204, the ``{"error": {...}, "status": "failure"}`` envelope) so a pack that works here
relies on nothing the real service lacks. Records live in memory only.

Usage:
    python3 servicenow.py --port 0 --user admin --password-file F \
        [--client-id ID --client-secret-file F] [--token-ttl SECONDS] [--ignore-stdin]

The first stdout line is ``listening on 127.0.0.1:PORT``. The server exits when its stdin closes,
so a test that dies (and with it the pipe) never leaves it running; ``--ignore-stdin`` is for
scripts that stop it by pid instead.

Test endpoints (no auth, loopback only):
    POST /__faults   {"delay_ms": N} | {"fail_next": K, "status": 503}
                     | {"drop_after_commit_next": K} | {"reset": true}   (keys may be combined)
    GET  /__faults   the current switches
    GET  /__records/{table}   every stored record of the table, as a JSON array
    GET  /__stats    request counts per table and method, token requests, auth failures
"""

import argparse
import base64
import datetime
import hmac
import ipaddress
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

TABLE_PATH = re.compile(r"^/api/now/table/([^/]+)(?:/([^/]+))?/?$")
TABLE_NAME = re.compile(r"^[a-z0-9_]+$")
FIELD_NAME = re.compile(r"^[a-z0-9_.]+")

# Number prefixes and first numbers of the tables a stock instance numbers.
NUMBERING = {
    "incident": ("INC", 10001),
    "change_request": ("CHG", 30001),
    "problem": ("PRB", 40001),
    "change_task": ("CTASK", 10001),
    "sc_request": ("REQ", 10001),
    "sc_req_item": ("RITM", 10001),
    "sc_task": ("SCTASK", 10001),
}

# Fields the instance owns: a client's values for them are ignored, as the real one does.
SYSTEM_FIELDS = {
    "sys_created_on",
    "sys_updated_on",
    "sys_created_by",
    "sys_updated_by",
    "sys_mod_count",
    "number",
}

# Longest first, so `!=` is not read as `!` then `=` and `NOT LIKE` not as `NOT` then `LIKE`.
OPERATORS = [
    "ISNOTEMPTY",
    "ISEMPTY",
    "STARTSWITH",
    "ENDSWITH",
    "NOT LIKE",
    "NOT IN",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
]


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def as_field(value):
    """ServiceNow stores and returns every field value as a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def error_envelope(message, detail=None):
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def split_query(query):
    """Splits an encoded query on `^` (`^^` is a literal caret), keeping `OR` markers."""
    terms, current, i = [], [], 0
    while i < len(query):
        if query[i] == "^":
            if query.startswith("^^", i):
                current.append("^")
                i += 2
                continue
            terms.append("".join(current))
            current = []
            i += 1
            continue
        current.append(query[i])
        i += 1
    terms.append("".join(current))
    return [t for t in terms if t and t != "EQ"]


def parse_query(query):
    """Returns (groups, order): groups is a list of OR-groups of (field, op, value) conditions,
    ANDed together; order is a list of (field, descending)."""
    groups, order = [], []
    for term in split_query(query):
        if term.startswith("ORDERBYDESC"):
            order.append((term[len("ORDERBYDESC"):], True))
            continue
        if term.startswith("ORDERBY"):
            order.append((term[len("ORDERBY"):], False))
            continue
        alternative = term.startswith("OR") and FIELD_NAME.match(term[2:]) is not None
        if alternative:
            term = term[2:]
        match = FIELD_NAME.match(term)
        if match is None:
            raise ValueError("invalid query term " + term)
        field, rest = match.group(0), term[match.end():]
        for op in OPERATORS:
            if rest.startswith(op):
                condition = (field, op, rest[len(op):])
                break
        else:
            raise ValueError("invalid operator in query term " + term)
        if alternative and groups:
            groups[-1].append(condition)
        else:
            groups.append([condition])
    return groups, order


def compare(actual, op, expected):
    def numbers():
        try:
            return float(actual), float(expected)
        except ValueError:
            return actual, expected

    if op == "=":
        return actual == expected
    if op == "!=":
        return actual != expected
    if op == "LIKE":
        return expected.lower() in actual.lower()
    if op == "NOT LIKE":
        return expected.lower() not in actual.lower()
    if op == "STARTSWITH":
        return actual.lower().startswith(expected.lower())
    if op == "ENDSWITH":
        return actual.lower().endswith(expected.lower())
    if op == "IN":
        return actual in expected.split(",")
    if op == "NOT IN":
        return actual not in expected.split(",")
    if op == "ISEMPTY":
        return actual == ""
    if op == "ISNOTEMPTY":
        return actual != ""
    a, b = numbers()
    if op == ">":
        return a > b
    if op == "<":
        return a < b
    if op == ">=":
        return a >= b
    if op == "<=":
        return a <= b
    return False


def matches(record, groups):
    return all(
        any(compare(record.get(f, ""), op, v) for (f, op, v) in group) for group in groups
    )


class State:
    """Everything the server remembers, behind one lock."""

    def __init__(self, user, password, client_id, client_secret, token_ttl):
        self.lock = threading.Lock()
        self.user = user
        self.password = password
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.tables = {}  # table -> {sys_id: record}, in insertion order
        self.counters = {}  # table -> next number
        self.tokens = {}  # access token -> expiry (monotonic seconds)
        self.faults = {"delay_ms": 0, "fail_next": 0, "status": 503, "drop_after_commit_next": 0}
        self.stats = {"table": {}, "token_requests": 0, "auth_failures": 0, "faults_served": 0}

    def next_number(self, table):
        prefix, first = NUMBERING.get(table, (table[:3].upper(), 1001))
        n = self.counters.get(table, first)
        self.counters[table] = n + 1
        return "%s%07d" % (prefix, n)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ServiceNow"
    sys_version = ""

    # Quiet: the test's output is for the test.
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    @property
    def state(self):
        return self.server.state

    # ---- plumbing ---------------------------------------------------------------------------

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_empty(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def drop(self):
        """Closes the connection without a response, as a proxy or a crash would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def is_loopback(self):
        try:
            return ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            return False

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urlsplit(self.path)
        path = unquote(url.path)
        if path.startswith("/__"):
            return self.test_endpoint(method, path)
        if path == "/oauth_token.do":
            if method != "POST":
                return self.send_json(405, error_envelope("Method not Supported"))
            return self.token()
        match = TABLE_PATH.match(path)
        if match is None:
            self.read_body()
            return self.send_json(
                400, error_envelope("Requested URI does not represent any resource", None)
            )
        self.table_api(method, match.group(1), match.group(2), parse_qs(url.query))

    # ---- authentication ---------------------------------------------------------------------

    def authenticated_user(self):
        header = self.headers.get("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        state = self.state
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if hmac.compare_digest(user, state.user) and hmac.compare_digest(
                password, state.password
            ):
                return user
            return None
        if scheme.lower() == "bearer":
            with state.lock:
                expiry = state.tokens.get(credentials.strip())
            if expiry is not None and expiry > time.monotonic():
                return state.user
        return None

    def token(self):
        state = self.state
        body = self.read_body()
        with state.lock:
            state.stats["token_requests"] += 1
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(credentials).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        denied = {"error_description": "access_denied", "error": "server_error"}
        if form.get("grant_type") != "client_credentials":
            return self.send_json(400, {"error_description": "unsupported grant_type",
                                        "error": "unsupported_grant_type"})
        if (
            state.client_id is None
            or client_id is None
            or client_secret is None
            or not hmac.compare_digest(client_id, state.client_id)
            or not hmac.compare_digest(client_secret, state.client_secret)
        ):
            with state.lock:
                state.stats["auth_failures"] += 1
            return self.send_json(401, denied)
        token = secrets.token_urlsafe(48)
        with state.lock:
            state.tokens[token] = time.monotonic() + state.token_ttl
        self.send_json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": state.token_ttl,
                "scope": "",
            },
            headers=[("Cache-Control", "no-store")],
        )

    # ---- the Table API ----------------------------------------------------------------------

    def table_api(self, method, table, sys_id, params):
        state = self.state
        body = self.read_body()
        with state.lock:
            counts = state.stats["table"].setdefault(table, {})
            counts[method] = counts.get(method, 0) + 1
            delay_ms = state.faults["delay_ms"]
            fail_status = None
            if state.faults["fail_next"] > 0:
                state.faults["fail_next"] -= 1
                state.stats["faults_served"] += 1
                fail_status = state.faults["status"]
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        if fail_status is not None:
            return self.send_json(
                fail_status,
                error_envelope(
                    "Service Unavailable",
                    "The instance is not available; injected by the stand-in's fault switch",
                ),
            )
        user = self.authenticated_user()
        if user is None:
            with state.lock:
                state.stats["auth_failures"] += 1
            return self.send_json(
                401,
                error_envelope("User Not Authenticated", "Required to provide Auth information"),
                headers=[("WWW-Authenticate", 'BASIC realm="Service-now"')],
            )
        if not TABLE_NAME.match(table):
            return self.send_json(400, error_envelope("Invalid table " + table))

        if sys_id is None:
            if method == "GET":
                return self.list_records(table, params)
            if method == "POST":
                return self.create(table, body, user, params)
            return self.send_json(405, error_envelope("Method not Supported"))
        if method == "GET":
            return self.get(table, sys_id, params)
        if method in ("PATCH", "PUT"):
            return self.update(table, sys_id, body, user, params)
        if method == "DELETE":
            return self.delete(table, sys_id)
        return self.send_json(405, error_envelope("Method not Supported"))

    def parse_fields(self, body):
        try:
            fields = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            self.send_json(
                400,
                error_envelope("Exception while reading request", "The payload is not valid JSON."),
            )
            return None
        if not isinstance(fields, dict):
            self.send_json(
                400,
                error_envelope("Exception while reading request", "The payload is not a JSON object."),
            )
            return None
        return fields

    @staticmethod
    def selected(record, params):
        wanted = params.get("sysparm_fields")
        if not wanted:
            return dict(record)
        names = [n.strip() for n in wanted[0].split(",") if n.strip()]
        return {n: record[n] for n in names if n in record}

    def not_found(self):
        self.send_json(
            404,
            error_envelope(
                "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            ),
        )

    def create(self, table, body, user, params):
        fields = self.parse_fields(body)
        if fields is None:
            return
        state = self.state
        stamp = now_text()
        with state.lock:
            sys_id = uuid.uuid4().hex
            given = fields.get("sys_id")
            if isinstance(given, str) and re.fullmatch(r"[0-9a-f]{32}", given):
                sys_id = given
            record = {k: as_field(v) for k, v in fields.items() if k not in SYSTEM_FIELDS}
            record["sys_id"] = sys_id
            record["number"] = state.next_number(table)
            record["sys_created_on"] = stamp
            record["sys_updated_on"] = stamp
            record["sys_created_by"] = user
            record["sys_updated_by"] = user
            record["sys_mod_count"] = "0"
            state.tables.setdefault(table, {})[sys_id] = record
            drop = state.faults["drop_after_commit_next"] > 0
            if drop:
                state.faults["drop_after_commit_next"] -= 1
                state.stats["faults_served"] += 1
        if drop:
            return self.drop()
        self.send_json(
            201,
            {"result": self.selected(record, params)},
            headers=[("Location", "%s/api/now/table/%s/%s" % (self.base_url(), table, sys_id))],
        )

    def base_url(self):
        host, port = self.server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def get(self, table, sys_id, params):
        with self.state.lock:
            record = self.state.tables.get(table, {}).get(sys_id)
            record = dict(record) if record is not None else None
        if record is None:
            return self.not_found()
        self.send_json(200, {"result": self.selected(record, params)})

    def update(self, table, sys_id, body, user, params):
        fields = self.parse_fields(body)
        if fields is None:
            return
        with self.state.lock:
            record = self.state.tables.get(table, {}).get(sys_id)
            if record is not None:
                for k, v in fields.items():
                    if k not in SYSTEM_FIELDS and k != "sys_id":
                        record[k] = as_field(v)
                record["sys_updated_on"] = now_text()
                record["sys_updated_by"] = user
                record["sys_mod_count"] = str(int(record.get("sys_mod_count", "0")) + 1)
                record = dict(record)
        if record is None:
            return self.not_found()
        self.send_json(200, {"result": self.selected(record, params)})

    def delete(self, table, sys_id):
        with self.state.lock:
            removed = self.state.tables.get(table, {}).pop(sys_id, None)
        if removed is None:
            return self.not_found()
        self.send_empty(204)

    def list_records(self, table, params):
        query = params.get("sysparm_query", [""])[0]
        try:
            groups, order = parse_query(query)
            limit = int(params.get("sysparm_limit", ["10000"])[0])
            offset = int(params.get("sysparm_offset", ["0"])[0])
        except ValueError as err:
            return self.send_json(400, error_envelope("Invalid query", str(err)))
        with self.state.lock:
            rows = [dict(r) for r in self.state.tables.get(table, {}).values() if matches(r, groups)]
        # Stable sorts applied last key first give ORDERBY a, ORDERBY b the expected precedence.
        for field, descending in reversed(order):
            rows.sort(key=lambda r: r.get(field, ""), reverse=descending)
        total = len(rows)
        rows = rows[max(offset, 0): max(offset, 0) + max(limit, 0)]
        self.send_json(
            200,
            {"result": [self.selected(r, params) for r in rows]},
            headers=[("X-Total-Count", str(total))],
        )

    # ---- test endpoints ---------------------------------------------------------------------

    def test_endpoint(self, method, path):
        body = self.read_body()
        if not self.is_loopback():
            return self.send_json(403, error_envelope("test endpoints are loopback only"))
        state = self.state
        if path == "/__faults" and method == "POST":
            try:
                switches = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(switches, dict):
                    raise ValueError("expected a json object")
                with state.lock:
                    if switches.get("reset"):
                        state.faults.update(
                            delay_ms=0, fail_next=0, status=503, drop_after_commit_next=0
                        )
                    for key in ("delay_ms", "fail_next", "status", "drop_after_commit_next"):
                        if key in switches:
                            state.faults[key] = int(switches[key])
                    faults = dict(state.faults)
            except (ValueError, TypeError, UnicodeDecodeError) as err:
                return self.send_json(400, error_envelope("invalid fault switches", str(err)))
            return self.send_json(200, faults)
        if path == "/__faults" and method == "GET":
            with state.lock:
                return self.send_json(200, dict(state.faults))
        if path == "/__stats" and method == "GET":
            with state.lock:
                return self.send_json(200, json.loads(json.dumps(state.stats)))
        if path.startswith("/__records/") and method == "GET":
            table = path[len("/__records/"):]
            with state.lock:
                rows = [dict(r) for r in state.tables.get(table, {}).values()]
            return self.send_json(200, rows)
        self.send_json(404, error_envelope("unknown test endpoint " + path))


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().rstrip("\r\n")


def main():
    parser = argparse.ArgumentParser(description="ServiceNow Table API stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret-file")
    parser.add_argument("--token-ttl", type=int, default=1800)
    parser.add_argument("--ignore-stdin", action="store_true")
    args = parser.parse_args()
    if (args.client_id is None) != (args.client_secret_file is None):
        parser.error("--client-id and --client-secret-file go together")

    state = State(
        args.user,
        read_secret(args.password_file),
        args.client_id,
        read_secret(args.client_secret_file) if args.client_secret_file else None,
        args.token_ttl,
    )
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = state
    host, port = server.server_address[:2]
    print("listening on %s:%d" % (host, port), flush=True)

    if not args.ignore_stdin:
        def watch_stdin():
            # Read until EOF: the parent closing the pipe (or dying) stops the server.
            while sys.stdin.buffer.read(4096):
                pass
            server.shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
