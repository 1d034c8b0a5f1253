"""Per-key rate limit (C9, issue 5): `serve --rate-limit RPS[:BURST]`.

The 6th quick request of one key under --rate-limit 1:5 is 429
TooManyRequests with Retry-After; another key, of the same tenant or
another, is not affected. (One token a second: the checks that must see the
bucket still empty have a second, not the 200 ms of 5:5, which an Argon2id
check or two on a slow machine used up.)
"""
import http.client

from engage_hardening import api, stop_checked


def quick(port, headers, n):
    """n requests back to back on one keep-alive connection; the statuses
    and the last answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    last = None
    try:
        for _ in range(n):
            conn.request("GET", "/engage/credentials?limit=1", headers=headers)
            r = conn.getresponse()
            body = r.read()
            last = api.Response(r.status, list(r.getheaders()), body, r.reason)
            out.append(r.status)
    finally:
        conn.close()
    return out, last


def test_c9_per_key_rate_limit(tmpdir_path):
    srv = api.EngageServer(tmpdir_path, extra_args=["--rate-limit", "1:5",
                                                    "--auth-fail-limit", "0"])
    t1 = api.provision_tenant(srv, "rl-1", profiles=("P1",))
    t2 = api.provision_tenant(srv, "rl-2", profiles=("P1",))
    second_key = srv.cli("key", "create", t1.id)["subscriptionKey"]
    srv.start()
    try:
        statuses, last = quick(srv.port, t1.headers(), 6)
        assert statuses[:5] == [200] * 5, statuses
        assert statuses[5] == 429, statuses
        api.assert_error(last, 429, "TooManyRequests")
        ra = last.header("Retry-After")
        assert ra and ra.isdigit() and int(ra) >= 1, ra
        # the limit is per key, not per connection: a new connection of the
        # first key is still refused
        r = api.http_request(srv.port, "GET", "/engage/credentials", t1.headers())
        api.assert_error(r, 429, "TooManyRequests")
        # another key of the same tenant, and another tenant's key: unaffected
        statuses, _ = quick(srv.port, t1.headers(key=second_key), 5)
        assert statuses == [200] * 5, statuses
        statuses, _ = quick(srv.port, t2.headers(), 5)
        assert statuses == [200] * 5, statuses
    finally:
        stop_checked(srv)


def test_c9_rate_limit_is_off_by_default(tmpdir_path):
    srv = api.EngageServer(tmpdir_path, extra_args=["--auth-fail-limit", "0"])
    t = api.provision_tenant(srv, "rl-off", profiles=("P1",))
    srv.start()
    try:
        statuses, _ = quick(srv.port, t.headers(), 50)
        assert statuses == [200] * 50, statuses
    finally:
        stop_checked(srv)
