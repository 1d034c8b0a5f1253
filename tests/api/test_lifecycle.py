"""Server lifecycle: restart on the same store keeps everything (C26/C27), SIGTERM
ends the server promptly, --base-path (C1) and --threads."""
import json
import shutil
import tempfile

import pytest

from conftest import (EngageServer, RawConn, assert_error, http_request, provision_tenant)


@pytest.fixture
def tmpdir_():
    d = tempfile.mkdtemp(prefix="engage-life-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def api(srv, t, method, path, body=None, base="/engage"):
    h = t.headers()
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    return http_request(srv.port, method, base + path, h, body)


def test_restart_keeps_everything(tmpdir_):
    srv = EngageServer(tmpdir_)
    t = provision_tenant(srv, "restart", devices=({"name": "D1", "model": "XE360",
                                                   "firmwareVersion": "9"},))
    srv.start()
    try:
        a = api(srv, t, "POST", "/credentials",
                {"userId": "ra", "accessProfile": "P2", "userEmail": "r@a.io", "userName": "R A",
                 "validFrom": "2030-01-01T00:00:00.001Z", "validTo": "2031-01-01T00:00:00Z"})
        b = api(srv, t, "POST", "/credentials", {"userId": "rb", "accessProfile": "P1"})
        assert a.status == 201 and b.status == 201, (a, b)
        assert api(srv, t, "DELETE", "/credentials/" + b.json["credentialId"]).status == 204
        before = {p: api(srv, t, "GET", p).json for p in (
            "/credentials/" + a.json["credentialId"], "/credentials/" + b.json["credentialId"],
            "/credentials", "/credentials?status=Revoked", "/devices")}
        idle = RawConn(srv.port)  # an idle keep-alive connection must not stall shutdown
        rc = srv.stop()
        idle.close()
        assert rc == 0, f"SIGTERM: exit status {rc} (expected a clean 0 within 5 s)"
    finally:
        srv.stop()
    srv.start()
    try:
        for p, j in before.items():
            r = api(srv, t, "GET", p)
            assert r.status == 200 and r.json == j, (p, r.json, j)
        assert before["/credentials/" + b.json["credentialId"]]["status"] == "Revoked"
        assert api(srv, t, "DELETE", "/credentials/" + a.json["credentialId"]).status == 204
    finally:
        assert srv.stop() == 0


def test_base_path_and_threads(tmpdir_):
    srv = EngageServer(tmpdir_, extra_args=["--base-path", "/api/v1", "--threads", "2"])
    t = provision_tenant(srv, "base")
    srv.start()
    try:
        r = api(srv, t, "POST", "/credentials", {"userId": "bp", "accessProfile": "P1"},
                base="/api/v1")
        assert r.status == 201, r
        assert r.header("Location").endswith("/api/v1/credentials/" + r.json["credentialId"])
        assert api(srv, t, "GET", "/credentials", base="/api/v1").status == 200
        assert api(srv, t, "GET", "/devices", base="/api/v1").status == 200
        assert_error(api(srv, t, "GET", "/credentials"), 404, "NotFound")
        assert http_request(srv.port, "GET", "/healthz").status == 200
        assert http_request(srv.port, "GET", "/metrics").status == 200
    finally:
        srv.stop()


def test_c2_warns_when_listening_beyond_loopback_without_tls(tmpdir_, server):
    assert "without TLS" not in server.log_text() and "warning" not in server.log_text().lower()
    srv = EngageServer(tmpdir_, listen_host="0.0.0.0")
    srv.start()
    srv.stop()
    log = srv.log_text()
    assert "warning" in log.lower() and "TLS" in log, log
