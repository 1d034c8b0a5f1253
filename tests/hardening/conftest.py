"""Fixtures for the hardening tests (issue 5): the helpers of tests/api.

tests/api/conftest.py is loaded once under the name `engage_api` (it is not
registered as a plugin here, so its fixtures and hooks stay in tests/api),
and the test modules import it from here (`from engage_hardening import
api, ...`): EngageServer, provision_tenant, http_request, RawConn, ...
Each server a test starts is stopped through
`stop_checked`, which fails the test when a sanitizer build (make test
SANITIZE=1) reported a memory error or a leak, or when the stop was not
clean.
"""
import importlib.util
import os
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

_API = Path(__file__).resolve().parents[1] / "api" / "conftest.py"
if "engage_api" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("engage_api", _API)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["engage_api"] = _mod
    _spec.loader.exec_module(_mod)
api = sys.modules["engage_api"]
# The test modules import this file as `engage_hardening`: a name of its own,
# so that other suites' conftest modules in the same session never shadow it.
sys.modules["engage_hardening"] = sys.modules[__name__]

# Failing tests show the stderr of the servers they started.
pytest_runtest_makereport = api.pytest_runtest_makereport


def sanitizer_report(log):
    """The sanitizer's report in a server log, or None."""
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                 "Sanitizer:"):
        i = log.find(mark)
        if i >= 0:
            return log[max(0, i - 200):i + 4000]
    return None


def stop_checked(srv, grace=5.0, expect_rc=0):
    """Stop srv with SIGTERM; fail on a sanitizer report or another exit code."""
    rc = srv.stop(grace=grace)
    log = srv.log_text()
    rep = sanitizer_report(log)
    assert rep is None, "sanitizer report in engage serve's log:\n" + rep
    if expect_rc is not None:
        assert rc == expect_rc, f"engage serve exited {rc}:\n" + log[-3000:]
    return rc


@pytest.fixture
def tmpdir_path():
    d = tempfile.mkdtemp(prefix="engage-hard-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def raise_nofile():
    """Raise this process's descriptor limit to its hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(status_value):
    """'1234 kB' -> 1234."""
    return int(status_value.split()[0])


def open_connections(srv):
    """engage_open_connections of /metrics (the metrics request's own included)."""
    return int(srv.metrics().get("engage_open_connections", -1))


# --------------------------------------------------------------------------
# TLS

def make_cert(d):
    """A self-signed P-256 certificate for 127.0.0.1 and localhost."""
    d = Path(d)
    cert, key = d / "cert.pem", d / "key.pem"
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (scripts/deps.sh installs it)")
    p = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    os.chmod(key, 0o600)
    return cert, key


def tls_context(cafile, minimum=None, maximum=None):
    ctx = ssl.create_default_context(cafile=str(cafile))
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class TLSServer(api.EngageServer):
    """engage serve --tls-cert --tls-key: started and probed over HTTPS."""

    def __init__(self, workdir, cert, key, extra_args=()):
        super().__init__(workdir, extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]
                         + list(extra_args))
        self.cert = cert

    def https(self, method, path, headers=None, body=None, ctx=None, timeout=10.0):
        import http.client
        ctx = ctx or tls_context(self.cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx,
                                           timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            r = conn.getresponse()
            data = r.read()
            return api.Response(r.status, list(r.getheaders()), data, r.reason), \
                conn.sock.version() if conn.sock else None
        finally:
            conn.close()

    def start(self, timeout=10.0):
        if not os.access(api.ENGAGE_BIN, os.X_OK):
            raise RuntimeError(f"no engage binary at {api.ENGAGE_BIN}")
        self.port = api.free_port()
        self.log_path = self.dir / f"serve-{self.port}.stderr"
        self._logf = open(self.log_path, "wb")
        cmd = [api.ENGAGE_BIN, "--store", self.store, "serve",
               "--listen", f"127.0.0.1:{self.port}"] + api.SERVE_ARGS + self.extra_args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, cwd=self.dir)
        api._SERVERS.append(self)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engage serve exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                r, _ = self.https("GET", "/healthz", timeout=1.0)
                last = r.status
                if r.status == 200:
                    return self
            except (OSError, ssl.SSLError) as e:
                last = e
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"engage serve (TLS) not healthy within {timeout}s (last: {last}):\n"
                           + self.log_tail())
