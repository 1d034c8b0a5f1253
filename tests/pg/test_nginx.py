"""docs/scaling.md in practice: nginx in front of two engage nodes on one
PostgreSQL database. Requests spread over both nodes, each sees the others'
writes, and when one node stops the other takes every request."""
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import api, node, stop_clean, wait_for

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream engage_nodes {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=10s;
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://engage_nodes;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_503;
            proxy_buffering off;
        }}
    }}
}}
"""


def nginx_bin():
    return shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def balanced(pg, workdir):
    store = pg.fresh_db()
    a = node(workdir, store, "a")
    b = node(workdir, store, "b")
    t = api.provision_tenant(a, "lb", profiles=("P1",))
    a.start()
    b.start()
    d = Path(workdir) / "nginx"
    d.mkdir()
    port = api.free_port()
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=d, a=a.port, b=b.port, port=port))
    proc = subprocess.Popen([nginx_bin(), "-p", str(d), "-c", str(conf), "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(d / "stderr.log", "wb"))
    up = wait_for(lambda: _answers(port), timeout=10)
    if up is None:
        proc.kill()
        logs = [p.read_text(errors="replace") for p in (d / "stderr.log", d / "error.log")
                if p.exists()]
        pytest.fail("nginx did not start: " + "\n".join(logs))
    yield a, b, t, port
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    for srv in (a, b):
        if srv.proc is not None and srv.proc.poll() is None:
            stop_clean(srv)


def _answers(port):
    try:
        return api.http_request(port, "GET", "/healthz", timeout=1.0).status == 200
    except OSError:
        return False


def via(port, t, method, path, body=None):
    h = t.headers()
    data = None
    if body is not None:
        h["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    return api.http_request(port, method, "/engage" + path, h, data)


def served_by(srv):
    """How many API requests a node has answered (its /metrics)."""
    m = srv.metrics()
    return m.get("engage_requests_total", 0.0)


def test_two_nodes_behind_nginx(balanced):
    a, b, t, port = balanced
    before = (served_by(a), served_by(b))
    made = []
    for i in range(20):
        r = via(port, t, "POST", "/credentials", {"userId": f"lb-{i}", "accessProfile": "P1"})
        assert r.status == 201, r
        made.append(r.json["credentialId"])
        g = via(port, t, "GET", "/credentials/" + r.json["credentialId"])
        assert g.status == 200 and g.json == r.json, g
    after = (served_by(a), served_by(b))
    assert after[0] - before[0] >= 5 and after[1] - before[1] >= 5, \
        f"nginx should spread the requests: {before} -> {after}"
    listed = via(port, t, "GET", "/credentials")
    assert sorted(c["credentialId"] for c in listed.json["credentials"]) == sorted(made)

    # node B goes away: every request still answered, by A
    stop_clean(b)
    for i in range(10):
        r = via(port, t, "POST", "/credentials", {"userId": f"lb-a-{i}", "accessProfile": "P1"})
        assert r.status == 201, r
        made.append(r.json["credentialId"])
        assert via(port, t, "GET", "/credentials/" + made[-1]).status == 200
    listed = via(port, t, "GET", "/credentials")
    assert len(listed.json["credentials"]) == 30
    # and B back: it serves what A wrote
    b.start()
    r = api.http_request(b.port, "GET", "/engage/credentials", t.headers())
    assert r.status == 200 and r.json == listed.json
