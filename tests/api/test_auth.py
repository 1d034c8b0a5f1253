"""Authentication and tenancy: C6 (key AND Basic account of one tenant), C8 (auth
cache, invalidated by store changes within 1 s), C10 (several active keys)."""
import base64
import secrets
import threading
import time

import pytest

from conftest import assert_error, basic, http_request

REALM = 'Basic realm="ENGAGE"'


def assert_401(r, mentions=None):
    assert_error(r, 401, "Unauthorized", mentions)
    assert r.header("WWW-Authenticate") == REALM, r
    return r.json["message"]


@pytest.mark.conformance
def test_c6_list_without_any_auth_is_401(client):
    assert_401(client.api("GET", "/credentials"))


@pytest.mark.conformance
def test_c6_create_without_any_auth_is_401(client):
    assert_401(client.api("POST", "/credentials",
                          json_body={"userId": "u", "accessProfile": "P1"}))


@pytest.mark.conformance
def test_c6_list_with_bad_password_is_401(client, tenant):
    assert_401(client.api("GET", "/credentials", auth=tenant.headers(password="nope")))


def test_c6_valid_auth_is_200(client, tenant):
    r = client.api("GET", "/credentials", auth=tenant)
    assert r.status == 200, r


def test_c6_missing_key_names_the_header(client, tenant):
    h = tenant.headers()
    del h["alle-subscription-key"]
    assert_401(client.api("GET", "/credentials", headers=h), "alle-subscription-key")


def test_c6_empty_key_is_401(client, tenant):
    h = tenant.headers()
    h["alle-subscription-key"] = ""
    assert_401(client.api("GET", "/credentials", headers=h))


def test_c6_missing_authorization_names_the_header(client, tenant):
    h = {"alle-subscription-key": tenant.key}
    assert_401(client.api("GET", "/credentials", headers=h), "Authorization")


@pytest.mark.parametrize("value", [
    "Bearer abcdef",
    "Basic",
    "Basic ",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Digest username=x",
    "Basic " + base64.b64encode(b"user:pw").decode()[:-3],  # truncated base64
], ids=["bearer", "basic-no-token", "basic-empty", "bad-base64", "no-colon", "digest",
        "truncated-b64"])
def test_c6_malformed_authorization_names_the_header(client, tenant, value):
    h = {"alle-subscription-key": tenant.key, "Authorization": value}
    assert_401(client.api("GET", "/credentials", headers=h), "Authorization")


def test_c6_basic_scheme_is_case_insensitive(client, tenant):
    """RFC 7235: the auth-scheme token is case-insensitive."""
    h = tenant.headers()
    h["Authorization"] = "basic " + h["Authorization"].split(" ", 1)[1]
    r = client.api("GET", "/credentials", headers=h)
    assert r.status == 200, r


@pytest.fixture(scope="module")
def victim(server, make_tenant):
    """A tenant with a second key (revoked) and a second account (removed), both
    used successfully (so cached) before being revoked/removed."""
    t = make_tenant(profiles=("P1",))
    k2 = server.cli("key", "create", t.id)
    u2 = "gone-" + secrets.token_hex(3)
    a2 = server.cli("account", "create", t.id, u2)
    c = http_request(server.port, "GET", "/engage/credentials",
                     t.headers(key=k2["subscriptionKey"]))
    assert c.status == 200, c
    c = http_request(server.port, "GET", "/engage/credentials",
                     t.headers(username=u2, password=a2["password"]))
    assert c.status == 200, c
    assert server.cli("key", "revoke", k2["keyId"]) == {"keyId": k2["keyId"], "revoked": True}
    assert server.cli("account", "remove", t.id, u2) == {"username": u2, "removed": True}
    time.sleep(1.05)  # C8: refused within 1 s
    return t, k2["subscriptionKey"], (u2, a2["password"])


def test_c6_bad_secrets_all_give_one_message(client, tenant, other_tenant, victim):
    """Wrong key, wrong password, unknown user, revoked key, removed account and
    key + account of different tenants: one identical 401 (C6)."""
    t, revoked_key, (gone_user, gone_pw) = victim
    assert client.api("GET", "/credentials", auth=t).status == 200  # cached right pair
    cases = {
        "wrong key": t.headers(key="k" + secrets.token_urlsafe(30)),
        "wrong password": t.headers(password=t.password + "x"),
        "unknown user": t.headers(username="nobody-" + secrets.token_hex(3)),
        "revoked key": t.headers(key=revoked_key),
        "removed account": t.headers(username=gone_user, password=gone_pw),
        "cross tenant": {"alle-subscription-key": tenant.key,
                         "Authorization": basic(other_tenant.username, other_tenant.password)},
    }
    got = {}
    for name, h in cases.items():
        r = client.api("GET", "/credentials", headers=h)
        got[name] = (r.status, assert_401(r))
    assert len({m for _, m in got.values()}) == 1, f"messages differ (C6): {got}"


def test_c6_password_with_colon_and_utf8(server, client, tenant):
    """The password is everything after the first colon; UTF-8 passwords work."""
    for pw in ("pa:ss:wo:rd-" + secrets.token_hex(2), "pässwörd-ü-" + secrets.token_hex(2)):
        user = "stdin-" + secrets.token_hex(3)
        out = server.cli("account", "create", tenant.id, user, "--password-stdin",
                         input=pw + "\n")
        assert out["username"] == user
        r = client.api("GET", "/credentials", auth=tenant.headers(username=user, password=pw))
        assert r.status == 200, (pw, r)
        r = client.api("GET", "/credentials",
                       auth=tenant.headers(username=user, password=pw + "\n"))
        assert r.status == 401, r


def test_c8_revoked_key_refused_within_1s_c10_other_key_keeps_working(server, client,
                                                                       make_tenant):
    t = make_tenant(profiles=("P1",))
    k2 = server.cli("key", "create", t.id)
    h1 = t.headers()
    h2 = t.headers(key=k2["subscriptionKey"])
    # C10: both keys active at once
    assert client.api("GET", "/credentials", headers=h1).status == 200
    assert client.api("GET", "/credentials", headers=h2).status == 200
    server.cli("key", "revoke", t.key_id)
    time.sleep(1.0)
    assert_401(client.api("GET", "/credentials", headers=h1))
    assert client.api("GET", "/credentials", headers=h2).status == 200


def test_c8_removed_account_refused_within_1s(server, client, make_tenant):
    t = make_tenant(profiles=("P1",))
    assert client.api("GET", "/credentials", auth=t).status == 200
    server.cli("account", "remove", t.id, t.username)
    time.sleep(1.0)
    assert_401(client.api("GET", "/credentials", auth=t))


def test_c8_auth_cache_one_argon2_per_pair(server, client, tenant):
    """Two identical requests with a brand-new account cost one Argon2id verification."""
    user = "cache-" + secrets.token_hex(3)
    pw = server.cli("account", "create", tenant.id, user)["password"]
    h = tenant.headers(username=user, password=pw)
    m0 = server.metrics()
    for name in ("engage_auth_argon2_verifications_total", "engage_auth_cache_hits_total",
                 "engage_auth_cache_misses_total"):
        assert name in m0, f"/metrics lacks {name}"
    assert client.raw("GET", "/engage/credentials", h).status == 200
    assert client.raw("GET", "/engage/credentials", h).status == 200
    m1 = server.metrics()
    d = {k: m1[k] - m0[k] for k in m0 if k.startswith("engage_auth_")}
    assert d["engage_auth_argon2_verifications_total"] == 1, d
    assert d["engage_auth_cache_hits_total"] >= 1, d
    assert d["engage_auth_cache_misses_total"] >= 1, d


def test_c8_many_first_requests_at_once_cost_one_argon2(server, client, tenant):
    """A client opening its connections with a brand-new pair sends many first
    requests at once: the two auth workers must not both hash the same pair
    (C8). One Argon2id verification for all of them, each answered 200."""
    user = "burst-" + secrets.token_hex(3)
    pw = server.cli("account", "create", tenant.id, user)["password"]
    h = tenant.headers(username=user, password=pw)
    time.sleep(0.3)  # the server reads the auth generation every 200 ms
    n = 12
    gate = threading.Barrier(n)
    statuses = []

    def one():
        gate.wait()
        statuses.append(client.raw("GET", "/engage/credentials?limit=1", h).status)

    m0 = server.metrics()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m1 = server.metrics()
    assert statuses == [200] * n, statuses
    d = {k: m1[k] - m0[k] for k in m0 if k.startswith("engage_auth_")}
    assert d["engage_auth_argon2_verifications_total"] == 1, d
    assert d["engage_auth_cache_misses_total"] >= 2, d  # they did arrive together


def test_c8_a_change_elsewhere_does_not_make_requests_wait(server, client, make_tenant):
    """Any key or account change moves the generation. A pair verified just
    before is answered from the cache while it is verified again in the
    background (C8), so no request waits for an Argon2id check because
    another tenant's key changed."""
    t = make_tenant(profiles=("P1",))
    other = make_tenant(profiles=("P1",))
    # The server reads the generation every 200 ms: let it see the two
    # tenants' own changes first, or the move awaited below may be theirs
    # (the pair, verified against the store, then holds the newer one and
    # is a plain hit).
    time.sleep(0.3)
    assert client.api("GET", "/credentials", auth=t).status == 200
    m0 = server.metrics()
    server.cli("key", "create", other.id)
    deadline = time.monotonic() + 3  # the server reads it every 200 ms
    while server.metrics()["engage_auth_generation"] == m0["engage_auth_generation"]:
        assert time.monotonic() < deadline, "the generation did not move"
        time.sleep(0.01)
    assert client.api("GET", "/credentials", auth=t).status == 200
    m1 = server.metrics()
    assert m1["engage_auth_cache_stale_hits_total"] - m0["engage_auth_cache_stale_hits_total"] >= 1, \
        {k: (m0[k], m1[k]) for k in m0 if k.startswith("engage_auth")}
    assert m1["engage_auth_cache_misses_total"] == m0["engage_auth_cache_misses_total"], (m0, m1)
    # Once the background check is done the pair is a plain hit again (a
    # request during the check is still answered from the cache).
    deadline = time.monotonic() + 5
    plain = False
    while not plain and time.monotonic() < deadline:
        time.sleep(0.05)
        before = server.metrics()["engage_auth_cache_stale_hits_total"]
        assert client.api("GET", "/credentials", auth=t).status == 200
        m2 = server.metrics()
        plain = m2["engage_auth_cache_stale_hits_total"] == before
    assert plain, "still answered as stale 5 s after the change"
    assert m2["engage_auth_cache_misses_total"] == m0["engage_auth_cache_misses_total"], (m0, m2)
    assert m2["engage_auth_argon2_verifications_total"] - m0["engage_auth_argon2_verifications_total"] == 1


@pytest.mark.parametrize("change", ["key revoke", "account remove", "account passwd"])
def test_c8_answered_from_the_cache_at_most_1s_after_a_change_then_refused(
        server, client, make_tenant, change):
    """While the pair is served during its background check, a revoked key,
    a removed account or a changed password is still refused within 1 s of
    the change, and from then on every time (C8)."""
    t = make_tenant(profiles=("P1",))
    assert client.api("GET", "/credentials", auth=t).status == 200
    if change == "key revoke":
        server.cli("key", "revoke", t.key_id)
    elif change == "account remove":
        server.cli("account", "remove", t.id, t.username)
    else:
        server.cli("account", "passwd", t.id, t.username)
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < 1.5:
        st = client.api("GET", "/credentials", auth=t).status
        seen.append((round(time.monotonic() - t0, 3), st))
        time.sleep(0.02)
    first = next((at for at, st in seen if st == 401), None)
    assert first is not None and first < 1.0, seen
    assert all(st == 401 for at, st in seen if at >= first), seen
    assert all(st in (200, 401) for _, st in seen), seen


def test_c8_cached_pair_does_not_admit_other_password(client, tenant):
    assert client.api("GET", "/credentials", auth=tenant).status == 200
    assert_401(client.api("GET", "/credentials",
                          auth=tenant.headers(password=tenant.password[:-1])))


def test_c6_devices_needs_auth(client, tenant):
    assert_401(client.api("GET", "/devices"))
    assert_401(client.api("GET", "/devices", auth=tenant.headers(password="x")))
