"""Faults: PostgreSQL stops (a fast shutdown, as a failover or a restart
does) under running nodes.

While it is down, every request that needs the store is answered 503
ServiceUnavailable with Retry-After within 2 s - never a crash, never a hang -
/readyz turns 503 and /healthz stays 200. When it returns, the nodes serve
again within 5 s by themselves, and nothing acknowledged is lost: every 201
answered before the outage is there after it (C27)."""
import json
import secrets
import threading
import time

import pytest

from conftest import api, node, stop_clean, wait_for

OUTAGE_ANSWER_S = 2.0   # the longest a request may take during the outage
RECOVERY_S = 5.0        # the longest the nodes may take to serve again


def call(srv, t, method, path, body=None, timeout=10.0):
    h = t.headers()
    data = None
    if body is not None:
        h["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    t0 = time.monotonic()
    r = api.http_request(srv.port, method, "/engage" + path, h, data, timeout=timeout)
    return r, time.monotonic() - t0


def assert_unavailable(r, took, what):
    assert took <= OUTAGE_ANSWER_S, f"{what}: answered after {took:.2f} s during the outage"
    api.assert_error(r, 503, "ServiceUnavailable")
    ra = r.header("Retry-After")
    assert ra is not None and ra.isdigit(), f"{what}: no Retry-After: {r!r}"


@pytest.fixture
def cluster(pg, workdir):
    store = pg.fresh_db()
    a = node(workdir, store, "a")
    b = node(workdir, store, "b", extra_args=["--threads", "2"])
    t = api.provision_tenant(a, "faults", devices=api.DEFAULT_DEVICES)
    a.start()
    b.start()
    yield a, b, t
    for srv in (a, b):
        stop_clean(srv)


def test_outage_503_then_recovery_nothing_lost(pg, cluster):
    a, b, t = cluster
    acked = {}
    for i in range(30):
        srv = (a, b)[i % 2]
        r, _ = call(srv, t, "POST", "/credentials",
                    {"userId": f"f-{i}", "accessProfile": "P1"})
        assert r.status == 201, r
        acked[r.json["credentialId"]] = r.json
    revoked = next(iter(acked))
    r, _ = call(b, t, "DELETE", "/credentials/" + revoked)
    assert r.status == 204
    acked[revoked] = call(a, t, "GET", "/credentials/" + revoked)[0].json

    # a load that keeps running through the outage: nothing may crash or hang
    stop = threading.Event()
    slow = []

    def load(srv):
        while not stop.is_set():
            try:
                _, took = call(srv, t, "GET", "/credentials?limit=5", timeout=15.0)
            except OSError as e:
                slow.append(f"{srv.port}: {e!r}")
                continue
            if took > OUTAGE_ANSWER_S:
                slow.append(f"{srv.port}: {took:.2f} s")
    loaders = [threading.Thread(target=load, args=(s,)) for s in (a, b)]
    for th in loaders:
        th.start()

    pg.down()
    try:
        t_down = time.monotonic()
        for srv in (a, b):
            for what, method, path, body in (
                    ("list", "GET", "/credentials", None),
                    ("get", "GET", "/credentials/" + next(iter(acked)), None),
                    ("create", "POST", "/credentials",
                     {"userId": "during", "accessProfile": "P1"}),
                    ("revoke", "DELETE", "/credentials/" + list(acked)[1], None),
                    ("devices", "GET", "/devices", None)):
                r, took = call(srv, t, method, path, body)
                assert_unavailable(r, took, f"node {srv.port} {what}")
            h = api.http_request(srv.port, "GET", "/healthz")
            assert h.status == 200, f"/healthz must stay 200 while the store is down: {h!r}"
        # readiness follows within the watcher's staleness window (2 s)
        for srv in (a, b):
            took = wait_for(lambda: api.http_request(srv.port, "GET", "/readyz").status == 503,
                            timeout=4.0)
            assert took is not None, f"node {srv.port}: /readyz still 200 with the store down"
        # a key never seen before (no cached verification) is 503, not 401
        k3 = secrets.token_hex(32)
        r = api.http_request(a.port, "GET", "/engage/credentials", t.headers(key=k3))
        assert r.status == 503, r
        # still down, still answering
        r, took = call(b, t, "GET", "/credentials")
        assert_unavailable(r, took, "after a while")
        assert time.monotonic() - t_down < 30
    finally:
        pg.up()
    t_up = time.monotonic()
    for srv in (a, b):
        took = wait_for(lambda: call(srv, t, "GET", "/credentials?limit=1")[0].status == 200,
                        timeout=RECOVERY_S + 5, step=0.1)
        assert took is not None, f"node {srv.port} does not serve again"
        assert time.monotonic() - t_up <= RECOVERY_S, \
            f"node {srv.port} served again only after {time.monotonic() - t_up:.2f} s"
    for srv in (a, b):
        took = wait_for(lambda: api.http_request(srv.port, "GET", "/readyz").status == 200,
                        timeout=RECOVERY_S)
        assert took is not None, f"node {srv.port}: /readyz not 200 after recovery"
    stop.set()
    for th in loaders:
        th.join()
    assert not slow, f"requests hung or failed to answer during the outage: {slow[:5]}"

    # nothing acknowledged is lost, on either node
    for srv in (a, b):
        for cid, body in acked.items():
            r, _ = call(srv, t, "GET", "/credentials/" + cid)
            assert r.status == 200 and r.json == body, (srv.port, cid, r)
        listed = {c["credentialId"] for c in
                  call(srv, t, "GET", "/credentials")[0].json["credentials"]}
        assert listed == set(acked) - {revoked}
    # writes work again, and the processes never restarted
    for srv in (a, b):
        r, _ = call(srv, t, "POST", "/credentials", {"userId": "after", "accessProfile": "P2"})
        assert r.status == 201, r
        assert srv.proc.poll() is None


def test_node_started_while_pg_down_fails_cleanly_then_serves(pg, workdir):
    """A node cannot start without its store (it must migrate first): it exits
    non-zero with a message, at once. One started before an outage lives
    through a second outage too."""
    store = pg.fresh_db()
    a = node(workdir, store, "a")
    t = api.provision_tenant(a, "restart", profiles=("P1",))
    pg.down()
    try:
        t0 = time.monotonic()
        p = api.run_cli(store, "serve", "--listen", f"127.0.0.1:{api.free_port()}",
                        json_flag=False, timeout=20)
        assert p.returncode != 0, p
        assert "PostgreSQL" in p.stderr or "connect" in p.stderr, p.stderr
        assert time.monotonic() - t0 < 5
    finally:
        pg.up()
    a.start()
    try:
        for _ in range(2):
            r, _ = call(a, t, "POST", "/credentials", {"userId": "x", "accessProfile": "P1"})
            assert r.status == 201, r
            pg.down()
            try:
                r, took = call(a, t, "GET", "/credentials/" + r.json["credentialId"])
                assert_unavailable(r, took, "get")
            finally:
                pg.up()
            took = wait_for(lambda: call(a, t, "GET", "/credentials")[0].status == 200,
                            timeout=RECOVERY_S)
            assert took is not None
    finally:
        stop_clean(a)
