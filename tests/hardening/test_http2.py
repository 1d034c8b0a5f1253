"""HTTP/2 through nginx (C2, issue 5): the configuration of docs/http2.md,
taken from that file, rendered with free ports and temporary paths, in
front of a real `engage serve`; `curl --http2` gets HTTP/2 200 with the
credential list.
"""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from engage_hardening import api, make_cert, stop_checked

DOC = api.REPO / "docs" / "http2.md"


def doc_config():
    """The ```nginx block of docs/http2.md."""
    text = DOC.read_text()
    m = re.search(r"```nginx\n(.*?)```", text, re.S)
    assert m, "docs/http2.md has no ```nginx block"
    return m.group(1)


def render(d, engage_port, port, cert, key):
    conf = doc_config()
    subst = [
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{engage_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        ("/etc/engage/tls/fullchain.pem", str(cert)),
        ("/etc/engage/tls/privkey.pem", str(key)),
    ]
    for old, new in subst:
        assert old in conf, f"docs/http2.md no longer has {old!r}"
        conf = conf.replace(old, new)
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{conf}
}}
"""
    path = d / "nginx.conf"
    path.write_text(main)
    return path


def nginx_binary():
    for p in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if p and os.access(p, os.X_OK):
            return p
    pytest.fail("nginx is not installed (scripts/deps.sh installs it)")


def curl_has_http2():
    out = subprocess.run(["curl", "-V"], capture_output=True, text=True).stdout
    return "HTTP2" in out


def test_c2_http2_through_nginx(tmpdir_path):
    if not curl_has_http2():
        pytest.skip("this curl was built without HTTP/2")
    nginx = nginx_binary()
    cert, key = make_cert(tmpdir_path)
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    t = api.provision_tenant(srv, "h2", profiles=("P1",))
    srv.start()
    ngx = None
    try:
        r = api.http_request(srv.port, "POST", "/engage/credentials",
                             dict(t.headers(), **{"Content-Type": "application/json"}),
                             b'{"userId":"h2-user","accessProfile":"P1"}')
        assert r.status == 201, r
        cid = r.json["credentialId"]
        port = api.free_port()
        conf = render(tmpdir_path, srv.port, port, cert, key)
        chk = subprocess.run([nginx, "-t", "-p", str(tmpdir_path), "-c", str(conf),
                              "-e", str(tmpdir_path / "error.log")],
                             capture_output=True, text=True, timeout=30)
        assert chk.returncode == 0, chk.stderr
        ngx = subprocess.Popen([nginx, "-p", str(tmpdir_path), "-c", str(conf),
                                "-e", str(tmpdir_path / "error.log")],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        url = f"https://127.0.0.1:{port}/engage/credentials?userId=h2-user"
        cmd = ["curl", "--http2", "-k", "-s", "-i", "--max-time", "10", url,
               "-H", f"alle-subscription-key: {t.key}",
               "-u", f"{t.username}:{t.password}", "-H", "X-Request-Id: h2-test-42"]
        deadline = time.monotonic() + 10
        while True:
            p = subprocess.run(cmd, capture_output=True, timeout=20)
            if p.returncode == 0 or time.monotonic() > deadline or ngx.poll() is not None:
                break
            time.sleep(0.1)
        assert ngx.poll() is None, "nginx exited: " + ngx.stderr.read().decode(errors="replace")
        assert p.returncode == 0, p.stderr
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/2 200"), lines[0]
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (ln.partition(":") for ln in lines[1:])}
        assert headers.get("x-request-id") == "h2-test-42", headers
        assert headers.get("content-type", "").startswith("application/json"), headers
        listed = json.loads(body)
        assert [c["credentialId"] for c in listed["credentials"]] == [cid], listed
        # a request without an id of its own gets nginx's, passed to engage
        p = subprocess.run(cmd[:-2], capture_output=True, timeout=20)
        head = p.stdout.partition(b"\r\n\r\n")[0].decode().lower()
        assert re.search(r"^x-request-id: [0-9a-f]{32}\r?$", head, re.M), head
    finally:
        if ngx is not None and ngx.poll() is None:
            ngx.terminate()
            try:
                ngx.wait(10)
            except subprocess.TimeoutExpired:
                ngx.kill()
                ngx.wait(5)
        stop_checked(srv)
