"""Many idle and slow clients (issue 5): 1,000 connections that send nothing,
or one header byte a second (slowloris), must not stop a normal client from
being served at at least half its usual rate.
"""
import http.client
import socket
import threading
import time

from engage_hardening import api, open_connections, raise_nofile, stop_checked

SLOW = 1000
MEASURE_S = 3.0


def rate(port, tenant, cid, seconds=MEASURE_S):
    """Requests per second of one keep-alive client: authenticated GETs of
    one credential."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    hdrs = tenant.headers()
    n = 0
    try:
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            conn.request("GET", f"/engage/credentials/{cid}", headers=hdrs)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
            n += 1
        return n / (time.monotonic() - t0)
    finally:
        conn.close()


def test_1000_slow_connections_leave_a_normal_client_at_least_half_its_rate(tmpdir_path):
    limit = raise_nofile()
    assert limit >= SLOW + 200, f"RLIMIT_NOFILE {limit} is too low for {SLOW} connections"
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    tenant = api.provision_tenant(srv, "slow", profiles=("P1",))
    srv.start()
    socks = []
    stop = threading.Event()
    try:
        r = api.http_request(srv.port, "POST", "/engage/credentials",
                             dict(tenant.headers(), **{"Content-Type": "application/json"}),
                             b'{"userId":"normal","accessProfile":"P1"}')
        assert r.status == 201, r
        cid = r.json["credentialId"]
        rate(srv.port, tenant, cid, 0.5)  # warm up: the auth cache, the store
        before = rate(srv.port, tenant, cid)

        # half of them idle (connected, nothing sent), half slowloris
        for i in range(SLOW):
            s = socket.socket()
            s.settimeout(10)
            s.connect(("127.0.0.1", srv.port))
            if i % 2:
                s.sendall(b"GET /engage/credentials HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        slow = socks[1::2]

        def drip():
            # one header byte a second on every slow connection
            pattern = b"X-Slow-Header: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            k = 0
            while not stop.wait(1.0):
                b = pattern[k % len(pattern):k % len(pattern) + 1]
                for s in slow:
                    try:
                        s.send(b)
                    except OSError:
                        pass
                k += 1

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        deadline = time.monotonic() + 10
        opened = open_connections(srv)
        while opened < SLOW and time.monotonic() < deadline:
            time.sleep(0.2)
            opened = open_connections(srv)
        assert opened >= SLOW, f"the server holds only {opened} of {SLOW} connections"

        # the best of up to 3 windows: one window's worth of CPU taken by
        # another process on a shared machine is not the server's doing
        during = rate(srv.port, tenant, cid)
        for _ in range(2):
            if during >= 0.5 * before:
                break
            during = max(during, rate(srv.port, tenant, cid))
        still = open_connections(srv)
        print(f"normal keep-alive client: {before:.0f} req/s alone, {during:.0f} req/s with "
              f"{SLOW} idle and slow connections open ({still} open at the end); "
              f"ratio {during / before:.2f}")
        assert still >= SLOW, f"slow connections were dropped during the measurement: {still}"
        assert during >= 0.5 * before, (f"{during:.0f} req/s with {SLOW} slow connections, "
                                        f"{before:.0f} without")
    finally:
        stop.set()
        for s in socks:
            s.close()
        stop_checked(srv, grace=15)
