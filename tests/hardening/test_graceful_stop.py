"""Graceful stop (issue 5, C27): SIGTERM while clients write.

`engage serve` on SIGTERM answers new requests 503, lets the requests in
flight finish, commits and exits 0. Every 201 a client received must be in the
store after a restart.
"""
import http.client
import json
import signal
import socket
import threading
import time

from engage_hardening import api, sanitizer_report, stop_checked

WORKERS = 32


def wait_exit(proc, timeout):
    """Seconds until proc exited, or None when it is still running."""
    t0 = time.monotonic()
    try:
        proc.wait(timeout)
    except Exception:  # subprocess.TimeoutExpired
        return None
    return time.monotonic() - t0


def creators(port, tenant, stop, out, errors):
    """WORKERS keep-alive connections creating credentials until stop is set
    or the server goes away; 201s are appended to out as (id, body)."""
    hdrs = dict(tenant.headers(), **{"Content-Type": "application/json"})

    def run(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        n = 0
        try:
            while not stop.is_set():
                body = {"userId": f"stop-{i}-{n}", "accessProfile": "P1",
                        "userName": f"Worker {i} #{n}", "validTo": "2031-01-01T00:00:00Z"}
                n += 1
                try:
                    conn.request("POST", "/engage/credentials", json.dumps(body), hdrs)
                    r = conn.getresponse()
                    data = r.read()
                except (OSError, http.client.HTTPException):
                    return  # the server has stopped
                if r.status == 201:
                    out.append((json.loads(data)["credentialId"], body))
                elif r.status != 503:
                    errors.append((r.status, data[:200]))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(WORKERS)]
    for t in threads:
        t.start()
    return threads


def check_all_present(srv, tenant, created):
    missing = []
    for cid, body in created:
        r = api.http_request(srv.port, "GET", f"/engage/credentials/{cid}", tenant.headers())
        if r.status != 200:
            missing.append((cid, r.status))
            continue
        for k, v in body.items():
            if k == "validTo":
                continue  # normalised to .000Z (C15)
            assert r.json.get(k) == v, (cid, k, r.json)
    assert not missing, f"{len(missing)} of {len(created)} answered 201 are not in the store: " \
                        f"{missing[:5]}"


def test_sigterm_while_32_connections_create(tmpdir_path):
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    tenant = api.provision_tenant(srv, "stop", profiles=("P1",))
    srv.start()
    created, errors = [], []
    stop = threading.Event()
    try:
        threads = creators(srv.port, tenant, stop, created, errors)
        time.sleep(1.0)
        n_before = len(created)
        srv.proc.send_signal(signal.SIGTERM)
        took = wait_exit(srv.proc, 10)
        stop.set()
        for t in threads:
            t.join(15)
        assert took is not None, "engage serve still running 10 s after SIGTERM"
        rc = srv.proc.returncode
        log = srv.log_text()
        print(f"SIGTERM with {WORKERS} connections creating: exit {rc} after {took:.2f} s; "
              f"{len(created)} creates answered 201 ({n_before} before the signal)")
    finally:
        stop.set()
        srv.stop()
    # first what matters most: every 201 is in the store
    srv.start()
    try:
        check_all_present(srv, tenant, created)
    finally:
        stop_checked(srv)
    assert sanitizer_report(log) is None, sanitizer_report(log)
    assert rc == 0, f"exit {rc} on SIGTERM:\n{log[-2000:]}"
    assert took <= 5.0, f"took {took:.2f} s to stop after SIGTERM (at most 5 s)"
    assert not errors, errors[:5]
    assert n_before > 0


def test_sigterm_with_a_client_stalled_mid_body(tmpdir_path):
    """A client that sent the head and part of a body and then stalls must
    not hold the stop: exit 0 within 5 s, and writes answered before stay."""
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    tenant = api.provision_tenant(srv, "stall", profiles=("P1",))
    srv.start()
    try:
        r = api.http_request(srv.port, "POST", "/engage/credentials",
                             dict(tenant.headers(), **{"Content-Type": "application/json"}),
                             b'{"userId":"before-stop","accessProfile":"P1"}')
        assert r.status == 201, r
        cid = r.json["credentialId"]
        body = b'{"userId":"stalled","accessProfile":"P1"}'
        hdrs = dict(tenant.headers(), **{"Content-Type": "application/json",
                                         "Content-Length": str(len(body))})
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(("POST /engage/credentials HTTP/1.1\r\nHost: x\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n").encode()
                  + body[:10])
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        took = wait_exit(srv.proc, 15)
        s.close()
        assert took is not None, "engage serve still running 15 s after SIGTERM"
        print(f"SIGTERM with a client stalled mid-body: exit {srv.proc.returncode} "
              f"after {took:.2f} s")
        assert srv.proc.returncode == 0, srv.log_tail()
        assert took <= 5.0, (f"took {took:.2f} s to stop: the stop waits for a request whose "
                             f"body never comes (at most 5 s)")
    finally:
        srv.stop()
    srv.start()
    try:
        r = api.http_request(srv.port, "GET", f"/engage/credentials/{cid}", tenant.headers())
        assert r.status == 200, r
    finally:
        stop_checked(srv)


def test_sigterm_under_connection_churn(tmpdir_path):
    """SIGTERM while clients keep opening new connections: every stop exits
    0 within 5 s (0.1 s here), and a request that meets the stop is answered the Error
    JSON 503 `ServiceUnavailable` with Retry-After, or not at all.

    engage used MHD_quiesce_daemon here until it aborted a CI run: in
    libmicrohttpd 0.9.75 it races the epoll workers over removing the
    listening socket, and the loser aborts the process ("Failed to remove
    listen FD from epoll set", about 1 stop in 60 under `wrk -H 'Connection:
    close'`). The race is narrow, so this test alone rarely meets it; it
    checks that the stop that replaced it stays clean and quick under churn.
    """
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    tenant = api.provision_tenant(srv, "churn", profiles=("P1",))
    rounds, answers, bad = 8, {}, []
    for rnd in range(rounds):
        srv.start()
        stop = threading.Event()
        lock = threading.Lock()

        def churn():
            while not stop.is_set():
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
                    conn.request("GET", "/engage/credentials?userId=nobody", headers=tenant.headers())
                    r = conn.getresponse()
                    data = r.read()
                    conn.close()
                except (OSError, http.client.HTTPException):
                    continue  # refused or cut once the server is gone
                with lock:
                    answers[r.status] = answers.get(r.status, 0) + 1
                    if r.status == 503:
                        body = json.loads(data)
                        if body.get("code") != "ServiceUnavailable" or not r.getheader("Retry-After"):
                            bad.append((r.status, data[:200]))
                    elif r.status != 200:
                        bad.append((r.status, data[:200]))

        threads = [threading.Thread(target=churn, daemon=True) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        took = wait_exit(srv.proc, 10)
        stop.set()
        for t in threads:
            t.join(10)
        log = srv.log_text()
        rc = srv.proc.returncode
        srv.stop()
        assert took is not None, f"round {rnd}: still running 10 s after SIGTERM"
        assert sanitizer_report(log) is None, sanitizer_report(log)
        assert rc == 0, f"round {rnd}: exit {rc} on SIGTERM:\n{log[-2000:]}"
        assert took <= 5.0, f"round {rnd}: took {took:.2f} s to stop under churn"
    print(f"{rounds} stops under connection churn: answers by status {answers}")
    assert not bad, bad[:5]
    assert answers.get(200, 0) > 0


def test_sigterm_with_argon2_checks_queued(tmpdir_path):
    """SIGTERM while 400 requests wait for an Argon2id check (a wrong password
    each, ~65 ms apiece on 2 auth workers: some 13 s of queue):
    the checks not yet started are skipped and answered 503, and the server
    exits 0 at once.

    Before, the stop waited 5 s and then stopped libmicrohttpd with those
    connections still suspended, which 0.9.75 answers by aborting the
    process ("MHD_stop_daemon() called while we have suspended
    connections")."""
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    tenant = api.provision_tenant(srv, "argon-queue", profiles=("P1",))
    srv.start()
    socks = []
    try:
        for i in range(400):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            hdrs = tenant.headers(password=f"wrong-{i}-" + "x" * 12)
            s.sendall(("GET /engage/credentials?userId=u HTTP/1.1\r\nHost: x\r\n"
                       + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n").encode())
            socks.append(s)
        time.sleep(0.5)
        srv.proc.send_signal(signal.SIGTERM)
        took = wait_exit(srv.proc, 40)
        statuses = {}
        for s in socks:
            try:
                line = s.recv(64).split(b"\r\n", 1)[0]
            except OSError:
                line = b""
            code = int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else "closed"
            statuses[code] = statuses.get(code, 0) + 1
        log = srv.log_text()
        rc = srv.proc.returncode
        print(f"SIGTERM with 400 Argon2id checks queued: exit {rc} after {took:.2f} s; "
              f"answers {statuses}")
    finally:
        for s in socks:
            s.close()
        srv.stop()
    assert took is not None, "engage serve still running 40 s after SIGTERM"
    assert sanitizer_report(log) is None, sanitizer_report(log)
    assert rc == 0, f"exit {rc} on SIGTERM:\n{log[-2000:]}"
    assert took <= 5.0, f"took {took:.2f} s to stop with Argon2id checks queued"
    assert set(statuses) <= {401, 503, "closed"}, statuses
    assert statuses.get(503, 0) > 0, statuses
