"""Fixtures for the PostgreSQL tests of engage (C27, C29 and faults).

These tests start a PostgreSQL 15 server of their own with tests/pg/pg.sh
(PG_BIN names its binaries, default /usr/lib/postgresql/15/bin) in a
temporary folder, so they may stop and start it; they never skip: when
PostgreSQL cannot start, they fail. The black-box helpers (EngageServer,
provision_tenant, http_request, ...) are those of tests/api/conftest.py,
loaded here as the module `engage_api`.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

_spec = importlib.util.spec_from_file_location("engage_api", REPO / "tests/api/conftest.py")
api = importlib.util.module_from_spec(_spec)
sys.modules["engage_api"] = api
_spec.loader.exec_module(api)

# the API tests' failure report: the stderr of the servers still running
pytest_runtest_makereport = api.pytest_runtest_makereport


class PgServer:
    """A PostgreSQL server of the tests' own, driven by tests/pg/pg.sh."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="engage-pg-")
        self.port = None
        self.serial = 0

    def _sh(self, cmd, timeout=120):
        p = subprocess.run(["sh", str(HERE / "pg.sh"), cmd, self.dir], capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"pg.sh {cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def start(self):
        self.port = int(self._sh("start").strip().splitlines()[-1])
        return self

    def down(self):
        """An outage: the server stops (fast shutdown), its data stays."""
        self._sh("down")

    def up(self):
        self._sh("up")

    def stop(self):
        self._sh("stop")

    @property
    def prefix(self):
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def fresh_db(self):
        """The URL of a new, empty database."""
        self.serial += 1
        name = f"engage_pg_{os.getpid()}_{self.serial}"
        api.psql(self.prefix + "/postgres", f"CREATE DATABASE {name}")
        return f"{self.prefix}/{name}"


@pytest.fixture(scope="session")
def pg():
    srv = PgServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="engage-pgtest-")
    yield Path(d)
    subprocess.run(["rm", "-rf", d])


def node(workdir, store, name, extra_args=()):
    """An `engage serve` on store, not yet started, its files in workdir/name."""
    d = Path(workdir) / name
    d.mkdir(exist_ok=True)
    srv = api.EngageServer(d, extra_args=["--auth-fail-limit", "0", *extra_args])
    srv.store = store
    return srv


def stop_clean(srv):
    """Stops a node: it must exit 0 on SIGTERM with no sanitizer report."""
    rc = srv.stop()
    log = srv.log_text()
    assert "Sanitizer" not in log and "runtime error:" not in log, log[-6000:]
    assert rc == 0, f"engage serve exited {rc} on SIGTERM:\n" + log[-3000:]


def wait_for(pred, timeout, step=0.05):
    """Polls pred() until it is true; returns the seconds from the start to
    the probe that found it true (when that probe began: its own time, an
    Argon2id check for a 401, is not the server's delay), or None."""
    t0 = time.monotonic()
    while True:
        sent = time.monotonic()
        if pred():
            return sent - t0
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(step)
