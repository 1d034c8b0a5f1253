"""Black-box fixtures for the engage API tests.

The tests drive the real binary: the admin CLI provisions a temporary SQLite
store, `engage serve` runs on a free loopback port, and a small http.client
based client sends raw requests.  Decisions C1..C31 of the contract
(/work/shared/CONTRACT.md, copied into the project docs) are cited by number.

Environment:
  ENGAGE_BIN          the binary (default build/engage, relative to the repo)
  ENGAGE_CONFORMANCE  "1": only tests marked `conformance` run, and their API
                      requests go through a Prism proxy that validates every
                      response against docs/openapi.yaml; a response violation
                      of severity Error fails the test.
  ENGAGE_SERVE_ARGS   extra arguments for `engage serve` (whitespace-split).
  ENGAGE_TEST_PG      HOST:PORT of a PostgreSQL server (user postgres, trust
                      authentication; tests/pg/pg.sh starts one), or a URL
                      prefix "postgres://USER@HOST:PORT": every store is then
                      a fresh database there (one per working directory, as a
                      SQLite file would be), created with psql, instead of a
                      SQLite file. The tests that look inside the store use
                      sql_rows and store_bytes, which read either kind.
"""
import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _engage_bin():
    b = Path(os.environ.get("ENGAGE_BIN") or "build/engage")
    if not b.is_absolute():
        b = REPO / b
    return str(b)


ENGAGE_BIN = _engage_bin()
CONFORMANCE = os.environ.get("ENGAGE_CONFORMANCE") == "1"
SERVE_ARGS = os.environ.get("ENGAGE_SERVE_ARGS", "").split()
HTTP_TIMEOUT = 10.0
BASE = "/engage"

# The shape every timestamp engage returns has (C15).
TIME_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
# credentialId: opaque, URL-safe, >= 128 bits (C12).
ID_RE = r"^[A-Za-z0-9_-]{22,}$"
# Content type of every body engage answers (C3).
JSON_CT_RE = r"^application/json;\s*charset=utf-8$"
REQUEST_ID_RE = r"^[A-Za-z0-9._-]{1,128}$"

_SERVERS = []  # running servers, for printing their stderr on failure


# --------------------------------------------------------------------------
# Stores: SQLite files, or PostgreSQL databases under ENGAGE_TEST_PG


def _pg_prefix():
    v = os.environ.get("ENGAGE_TEST_PG", "").strip()
    if not v:
        return None
    if v.startswith(("postgres://", "postgresql://")):
        return v.rstrip("/")
    return f"postgres://postgres@{v}"


PG = _pg_prefix()
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def pg_tool(name):
    """A PostgreSQL client program (psql, pg_dump)."""
    p = Path(PG_BIN) / name
    return str(p) if p.exists() else (shutil.which(name) or name)


def psql(url, query):
    """Rows of `query` on the database at url, each a list of strings."""
    p = subprocess.run([pg_tool("psql"), "-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1",
                        "-d", url, "-c", query], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"psql {query!r}: {p.stderr}"
    return [line.split("|") for line in p.stdout.splitlines()]


_PG_CREATED = set()


def store_url(directory, name="engage.db"):
    """The store of a test working directory: sqlite:DIR/NAME, or, under
    ENGAGE_TEST_PG, a database of its own (created on first use; the same
    directory and name always give the same database)."""
    path = Path(directory) / name
    if not PG:
        return f"sqlite:{path}"
    db = "engage_test_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    if db not in _PG_CREATED:
        psql(PG + "/postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(PG + "/postgres", f"CREATE DATABASE {db}")
        _PG_CREATED.add(db)
    return f"{PG}/{db}"


def sql_rows(store, query):
    """Rows of `query` run on a store URL (SQLite or PostgreSQL), each a list
    of strings, for tests that check what is stored."""
    if store.startswith("sqlite:"):
        p = subprocess.run(["sqlite3", "-separator", "|", store.split(":", 1)[1], query],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, p.stderr
        return [line.split("|") for line in p.stdout.splitlines()]
    return psql(store, query)


def store_bytes(store):
    """Everything a store holds at rest, as bytes: the SQLite file and its
    -wal/-shm/-journal, or a pg_dump of the database."""
    if store.startswith("sqlite:"):
        db = Path(store.split(":", 1)[1])
        out = b""
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = db.with_name(db.name + suffix)
            if p.exists():
                out += p.read_bytes()
        return out
    p = subprocess.run([pg_tool("pg_dump"), "-d", store], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout



# --------------------------------------------------------------------------
# pytest plumbing


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "conformance: also run through the Prism proxy when ENGAGE_CONFORMANCE=1")


def pytest_collection_modifyitems(config, items):
    if not CONFORMANCE:
        return
    keep, drop = [], []
    for it in items:
        (keep if it.get_closest_marker("conformance") else drop).append(it)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in list(_SERVERS):
            tail = srv.log_tail()
            if tail:
                rep.sections.append((f"engage serve stderr (port {srv.port}, last lines)", tail))


# --------------------------------------------------------------------------
# HTTP


class Response:
    """status, headers, body bytes, parsed JSON (or None); unpacks as a 4-tuple."""

    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.json_error = None
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError) as e:
            self.json = None
            self.json_error = f"{e}; around {body[max(0, getattr(e, 'pos', 0) - 60):getattr(e, 'pos', 0) + 60]!r}"
        self.violations = []
        raw = self.header("sl-violations")
        if raw:
            try:
                self.violations = json.loads(raw)
            except ValueError:
                self.violations = [{"severity": "Error", "location": ["response"],
                                    "message": "unparsable sl-violations: " + raw}]

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __iter__(self):
        return iter((self.status, self.headers, self.body, self.json))

    def __getitem__(self, i):
        return (self.status, self.headers, self.body, self.json)[i]

    def __repr__(self):
        b = self.body[:300]
        bad = f" (body is not JSON: {self.json_error})" if self.json_error else ""
        return f"<Response {self.status} {self.headers!r} {b!r}{bad}>"


def http_request(port, method, path, headers=None, body=None, timeout=HTTP_TIMEOUT,
                 host="127.0.0.1"):
    """One request on a fresh connection; headers is a dict or list of pairs."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in hdrs}
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        elif body is None and method in ("POST", "PUT", "PATCH") and "content-length" not in names:
            hdrs.append(("Content-Length", "0"))
        for k, v in hdrs:
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, list(r.getheaders()), data, r.reason)
    finally:
        conn.close()


class Client:
    """Sends API requests (paths relative to the base path, e.g. "/credentials").

    In conformance mode API requests go through Prism, which forwards
    P2/credentials to PORT/engage/credentials and reports violations of the
    spec in `sl-violations`; a response violation of severity Error fails the
    calling test at once.  `raw` always goes to engage directly.
    """

    def __init__(self, port, prism_port=None, base=BASE):
        self.port = port
        self.prism_port = prism_port
        self.base = base

    def api(self, method, path, headers=None, body=None, json_body=None, auth=None,
            content_type="application/json"):
        hdrs = dict(headers or {})
        if auth is not None:
            hdrs.update(auth.headers() if hasattr(auth, "headers") else auth)
        if json_body is not None:
            body = json.dumps(json_body).encode()
            if content_type and not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = content_type
        if self.prism_port:
            r = http_request(self.prism_port, method, path, hdrs, body)
            errors = [v for v in r.violations
                      if v.get("severity") == "Error"
                      and isinstance(v.get("location"), list)
                      and v["location"][:1] == ["response"]]
            assert not errors, (f"Prism: {method} {path} -> {r.status}: response violates "
                                f"the spec: {json.dumps(errors)}; body {r.body[:500]!r}")
            return r
        return http_request(self.port, method, self.base + path, hdrs, body)

    def raw(self, method, path, headers=None, body=None, timeout=HTTP_TIMEOUT):
        return http_request(self.port, method, path, headers, body, timeout=timeout)

    # shorthands
    def create(self, tenant, body, headers=None):
        return self.api("POST", "/credentials", headers=headers, json_body=body, auth=tenant)

    def get(self, tenant, cid, headers=None):
        return self.api("GET", "/credentials/" + cid, headers=headers, auth=tenant)

    def delete(self, tenant, cid, headers=None):
        return self.api("DELETE", "/credentials/" + cid, headers=headers, auth=tenant)

    def list(self, tenant, query="", headers=None):
        return self.api("GET", "/credentials" + query, headers=headers, auth=tenant)


class RawConn:
    """A plain socket with its own read buffer, for keep-alive and framing tests."""

    def __init__(self, port, timeout=HTTP_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_background(self, data):
        """Send in a thread (the server may answer, or stop reading, early)."""
        err = []

        def run():
            try:
                self.sock.sendall(data)
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, err

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _n(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, method="GET"):
        while True:
            status_line = self._line()
            parts = status_line.split(b" ", 2)
            status = int(parts[1])
            headers = []
            while True:
                line = self._line()
                if not line:
                    break
                k, _, v = line.partition(b":")
                headers.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
            if 100 <= status < 200:
                continue
            break
        h = {k.lower(): v for k, v in headers}
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in h.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._n(size)
                self._n(2)
        elif "content-length" in h:
            body = self._n(int(h["content-length"]))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        return Response(status, headers, body)

    def is_closed(self, wait=0.5):
        """True when the server has closed the connection (EOF or reset)."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(HTTP_TIMEOUT)
        if not chunk:
            return True
        self.buf += chunk
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# CLI and server


class CliError(AssertionError):
    pass


def run_cli(store, *args, input=None, json_flag=True, timeout=30):
    """Run `engage --store STORE [--json] ARGS...`; returns CompletedProcess (text)."""
    cmd = [ENGAGE_BIN]
    if store:
        cmd += ["--store", store]
    if json_flag:
        cmd.append("--json")
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, input=input, capture_output=True, encoding="utf-8",
                          errors="replace", timeout=timeout)


def cli_json(store, *args, input=None):
    p = run_cli(store, *args, input=input)
    if p.returncode != 0:
        raise CliError(f"engage {' '.join(map(str, args))} exited {p.returncode}: "
                       f"stderr={p.stderr!r} stdout={p.stdout!r}")
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise CliError(f"engage --json {' '.join(map(str, args))}: stdout is not one JSON "
                       f"object: {p.stdout!r}")


class EngageServer:
    def __init__(self, workdir, extra_args=(), base=BASE, listen_host="127.0.0.1"):
        self.dir = Path(workdir)
        self.db = self.dir / "engage.db"
        self.store = store_url(self.dir)
        self.extra_args = list(extra_args)
        self.base = base
        self.listen_host = listen_host
        self.port = None
        self.proc = None
        self.log_path = None
        self._logf = None

    def cli(self, *args, input=None):
        return cli_json(self.store, *args, input=input)

    def start(self, timeout=10.0, _tries=3):
        if not os.access(ENGAGE_BIN, os.X_OK):
            raise RuntimeError(f"no engage binary at {ENGAGE_BIN} (run make, or set ENGAGE_BIN)")
        self.port = free_port()
        self.log_path = self.dir / f"serve-{self.port}.stderr"
        self._logf = open(self.log_path, "wb")
        cmd = [ENGAGE_BIN, "--store", self.store, "serve",
               "--listen", f"{self.listen_host}:{self.port}"] + SERVE_ARGS + self.extra_args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, cwd=self.dir)
        _SERVERS.append(self)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if _tries > 1 and "Address already in use" in self.log_text():
                    # free_port() gave the port up before engage bound it, and
                    # something else took it meanwhile: another port
                    self.stop()
                    return self.start(timeout, _tries - 1)
                raise RuntimeError(f"engage serve exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=1.0)
                last = r.status
                # still running: not another server answering on the port
                if r.status == 200 and self.proc.poll() is None:
                    return self
            except OSError as e:
                last = e
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"engage serve not healthy within {timeout}s (last: {last}):\n"
                           + self.log_tail())

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit status."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
        if self._logf:
            self._logf.close()
            self._logf = None
        if self in _SERVERS:
            _SERVERS.remove(self)
        return rc

    def log_text(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def metrics(self):
        r = http_request(self.port, "GET", "/metrics")
        assert r.status == 200, r
        return parse_metrics(r.body.decode())


def parse_metrics(text):
    """Prometheus text -> {metric name: sum of its samples over all label sets}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name = line.split("{", 1)[0].strip()
            rest = line.rsplit("}", 1)[1].split()
        else:
            name, *rest = line.split()
        out[name] = out.get(name, 0.0) + float(rest[0])
    return out


class Prism:
    def __init__(self, upstream_port, workdir):
        self.port = free_port()
        self.log_path = Path(workdir) / "prism.log"
        self._logf = open(self.log_path, "wb")
        prism = REPO / "node_modules" / ".bin" / "prism"
        if not prism.exists():
            raise RuntimeError(f"Prism not installed at {prism} (npm ci)")
        self.proc = subprocess.Popen(
            [str(prism), "proxy", os.environ.get("ENGAGE_SPEC", "docs/openapi.yaml"),
             f"http://127.0.0.1:{upstream_port}{BASE}",
             "--port", str(self.port), "--host", "127.0.0.1"],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=self._logf, stderr=self._logf,
            start_new_session=True)

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prism exited:\n" + self.log_path.read_text(errors="replace"))
            try:
                # any HTTP answer at all means Prism is listening and proxying
                http_request(self.port, "GET", "/devices", timeout=2.0)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prism not ready:\n" + self.log_path.read_text(errors="replace"))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own group (start_new_session)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._logf.close()


# --------------------------------------------------------------------------
# Tenants


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Tenant:
    def __init__(self, tenant_id, name, key, key_id, username, password, profiles, devices):
        self.id = tenant_id
        self.name = name
        self.key = key
        self.key_id = key_id
        self.username = username
        self.password = password
        self.profiles = list(profiles)
        self.devices = list(devices)  # dicts: deviceId, name, model, [firmwareVersion], [siteId]

    def headers(self, key=None, username=None, password=None):
        return {"alle-subscription-key": key or self.key,
                "Authorization": basic(username or self.username, password or self.password)}


def provision_tenant(srv, name=None, profiles=("P1", "P2"), devices=()):
    name = name or "t-" + secrets.token_hex(4)
    tid = srv.cli("tenant", "create", name)["tenantId"]
    k = srv.cli("key", "create", tid)
    user = "user-" + secrets.token_hex(3)
    acct = srv.cli("account", "create", tid, user)
    assert acct["username"] == user
    for p in profiles:
        assert srv.cli("profile", "create", tid, p)["accessProfile"] == p
    devs = []
    for d in devices:
        args = ["device", "add", tid, "--model", d["model"], "--name", d["name"]]
        if "siteId" in d:
            args += ["--site", d["siteId"]]
        if "firmwareVersion" in d:
            args += ["--firmware", d["firmwareVersion"]]
        dd = dict(d)
        dd["deviceId"] = srv.cli(*args)["deviceId"]
        devs.append(dd)
    return Tenant(tid, name, k["subscriptionKey"], k["keyId"], user, acct["password"],
                  profiles, devs)


DEFAULT_DEVICES = (
    {"name": "Zulu Gate", "model": "NDEB", "firmwareVersion": "2.1.0", "siteId": "site-9"},
    {"name": "Alpha Door", "model": "LEBMS"},
    {"name": "Alpha Door", "model": "MTKB", "siteId": "site-1"},
    {"name": "Main Exit", "model": "VonDuprinRU", "firmwareVersion": "1.0"},
)


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="engage-api-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def server(workdir):
    # The shared server sees many deliberate 401s from 127.0.0.1: lift the
    # throttle (C9) there; test_c9_* checks the default on its own server.
    srv = EngageServer(workdir, extra_args=["--auth-fail-limit", "0"])
    srv.start()
    yield srv
    rc = srv.stop()
    log = srv.log_text()
    # a sanitizer build (make test SANITIZE=1) reports memory errors and leaks here
    assert "Sanitizer" not in log and "runtime error:" not in log, log[-6000:]
    assert rc == 0, f"engage serve exited {rc} on SIGTERM:\n" + log[-3000:]


@pytest.fixture(scope="session")
def prism(server, workdir):
    if not CONFORMANCE:
        yield None
        return
    p = Prism(server.port, workdir)
    try:
        p.wait_ready()
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def client(server, prism):
    return Client(server.port, prism.port if prism else None)


@pytest.fixture(scope="session")
def tenant(server):
    """The shared tenant: profiles P1 and P2, four devices."""
    return provision_tenant(server, "shared", devices=DEFAULT_DEVICES)


@pytest.fixture(scope="session")
def other_tenant(server):
    """A second tenant, for cross-tenant checks (C6, C11)."""
    return provision_tenant(server, "other", profiles=("P1", "P3"),
                            devices=({"name": "Other Lock", "model": "CTE"},))


@pytest.fixture(scope="session")
def make_tenant(server):
    """Factory for fresh tenants (each costs a few CLI runs and one Argon2id hash)."""
    def make(**kw):
        return provision_tenant(server, **kw)
    return make


@pytest.fixture
def uid():
    """A unique userId per test."""
    return "u-" + secrets.token_hex(6)


# --------------------------------------------------------------------------
# Assertion helpers shared by the test modules

import re as _re
import datetime as _dt

CREDENTIAL_REQUIRED = {"credentialId", "userId", "status", "accessProfile", "validFrom",
                       "createdAt", "revokedAt"}
CREDENTIAL_OPTIONAL = {"userEmail", "userName", "validTo"}
DEVICE_MODELS = {"BE467B", "FE410B", "NDEB", "LEBMS", "LEBMD", "MTKB", "XE360", "CTE",
                 "VonDuprinRU", "VonDuprinRM"}


def assert_json_ct(r):
    ct = r.header("Content-Type") or ""
    assert _re.match(JSON_CT_RE, ct, _re.I), f"Content-Type {ct!r} (C3): {r!r}"


def assert_error(r, status, code, mentions=None):
    """An Error answer (C24): status, JSON {"code","message"}, code, X-Request-Id."""
    assert r.status == status, f"expected {status} {code}, got {r!r}"
    assert_json_ct(r)
    assert isinstance(r.json, dict), r
    assert set(r.json) == {"code", "message"}, f"Error object has other keys: {r.json}"
    assert r.json["code"] == code, r.json
    assert isinstance(r.json["message"], str) and r.json["message"], r.json
    assert r.header("X-Request-Id"), "no X-Request-Id (C4)"
    for m in ([mentions] if isinstance(mentions, str) else mentions or []):
        assert m in r.json["message"], f"message should name {m!r}: {r.json['message']!r}"
    return r.json


def assert_credential(c, **expect):
    """MobileCredential shape (C12, C15, C16)."""
    assert isinstance(c, dict), c
    keys = set(c)
    assert CREDENTIAL_REQUIRED <= keys, f"missing {CREDENTIAL_REQUIRED - keys}: {c}"
    assert keys <= CREDENTIAL_REQUIRED | CREDENTIAL_OPTIONAL, f"extra keys: {c}"
    assert _re.match(ID_RE, c["credentialId"]), c["credentialId"]
    assert c["status"] in ("Active", "Revoked", "Expired"), c
    for f in ("validFrom", "validTo", "createdAt", "revokedAt"):
        if c.get(f) is not None:
            assert _re.match(TIME_RE, c[f]), f"{f}={c[f]!r} (C15)"
    for f in CREDENTIAL_OPTIONAL:
        if f in c:
            assert c[f] is not None, f"{f} is null; must be omitted (C16): {c}"
    for k, v in expect.items():
        if v is ABSENT:
            assert k not in c, f"{k} should be absent (C16): {c}"
        else:
            assert c.get(k) == v, f"{k}: expected {v!r}, got {c.get(k)!r}"
    return c


class _Absent:
    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()


def ts(t):
    """Epoch seconds -> YYYY-MM-DDTHH:MM:SS.sssZ."""
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def parse_ts(s):
    return _dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=_dt.timezone.utc).timestamp()
