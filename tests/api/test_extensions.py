"""Contract extensions beyond the spec: C21 (paging), C22 (idempotent create),
C9 (throttling failed authentication, on by default)."""
import json
import secrets
import shutil
import tempfile
import time
import urllib.parse

import pytest

from conftest import EngageServer, assert_error, http_request, provision_tenant


def mk(client, tenant, user_id):
    r = client.create(tenant, {"userId": user_id, "accessProfile": "P1"})
    assert r.status == 201, r
    return r.json["credentialId"]


def page(client, tenant, **q):
    r = client.list(tenant, "?" + urllib.parse.urlencode(q))
    assert r.status == 200, r
    assert isinstance(r.json, dict), r
    return r.json


# ---------------------------------------------------------------- C21

def in_list_order(client, tenant, ids):
    """C20: the order is createdAt, then credentialId -- not creation order,
    since two creates may share a millisecond."""
    def key(i):
        r = client.get(tenant, i)
        return (r.json["createdAt"], i)
    return sorted(ids, key=key)


def test_c21_pages_walk_the_whole_list(client, tenant, uid):
    made = in_list_order(client, tenant, [mk(client, tenant, uid) for _ in range(5)])
    seen, cursor, pages = [], None, 0
    while True:
        q = {"userId": uid, "limit": 2}
        if cursor:
            q["cursor"] = cursor
        p = page(client, tenant, **q)
        assert len(p["credentials"]) <= 2
        seen += [c["credentialId"] for c in p["credentials"]]
        pages += 1
        if "nextCursor" not in p:
            break
        cursor = p["nextCursor"]
        assert isinstance(cursor, str) and cursor
        assert pages < 10
    assert seen == made
    assert pages == 3
    full = page(client, tenant, userId=uid)
    assert "nextCursor" not in full
    assert [c["credentialId"] for c in full["credentials"]] == made


def test_c21_no_skip_or_repeat_when_list_changes_between_pages(client, tenant, uid):
    made = in_list_order(client, tenant, [mk(client, tenant, uid) for _ in range(6)])
    a, b, c, d, e, f = made
    p1 = page(client, tenant, userId=uid, limit=2)
    assert [x["credentialId"] for x in p1["credentials"]] == [a, b]
    g = mk(client, tenant, uid)                       # inserted after
    assert client.delete(tenant, c).status == 204     # revoked ahead
    assert client.delete(tenant, a).status == 204     # revoked behind
    seen = [a, b]
    cursor = p1["nextCursor"]
    while cursor:
        p = page(client, tenant, userId=uid, limit=2, cursor=cursor)
        seen += [x["credentialId"] for x in p["credentials"]]
        cursor = p.get("nextCursor")
    assert seen == [a, b] + in_list_order(client, tenant, [d, e, f, g])


@pytest.mark.parametrize("q,field", [("limit=0", "limit"), ("limit=1001", "limit"),
                                     ("limit=-1", "limit"), ("limit=x", "limit"),
                                     ("limit=", "limit"), ("limit=1.5", "limit"),
                                     ("cursor=garbage", "cursor"), ("cursor=", "cursor"),
                                     ("cursor=%00%01", "cursor")])
def test_c21_bad_limit_or_cursor_is_400(client, tenant, q, field):
    assert_error(client.list(tenant, "?" + q), 400, "BadRequest", field)


def test_c21_limit_bounds_accepted(client, tenant):
    assert len(page(client, tenant, limit=1)["credentials"]) <= 1
    assert page(client, tenant, limit=1000)


# ---------------------------------------------------------------- C22

def idem_post(client, tenant, key, body):
    h = dict(tenant.headers(), **{"Content-Type": "application/json", "Idempotency-Key": key})
    return client.api("POST", "/credentials", headers=h,
                      body=body if isinstance(body, bytes) else json.dumps(body).encode())


def test_c22_replay_returns_the_original(client, tenant, uid):
    key = "idem-" + secrets.token_hex(8)
    body = {"userId": uid, "accessProfile": "P1"}
    r1 = idem_post(client, tenant, key, body)
    assert r1.status == 201, r1
    r2 = idem_post(client, tenant, key, body)
    assert r2.status == 201, r2
    assert r2.body == r1.body, "C22: byte-identical body"
    assert r2.header("Location") == r1.header("Location")
    assert (r2.header("Idempotent-Replayed") or "").lower() == "true"
    assert r1.header("Idempotent-Replayed") in (None, "false")
    got = page(client, tenant, userId=uid)["credentials"]
    assert len(got) == 1, "C22: the replay created nothing"


def test_c22_same_key_other_body_is_422(client, tenant, uid):
    key = "idem-" + secrets.token_hex(8)
    body = json.dumps({"userId": uid, "accessProfile": "P1"}).encode()
    assert idem_post(client, tenant, key, body).status == 201
    assert_error(idem_post(client, tenant, key, body + b" "), 422, "IdempotencyKeyReused")
    assert len(page(client, tenant, userId=uid)["credentials"]) == 1


def test_c22_only_201_is_remembered(client, tenant, uid):
    key = "idem-" + secrets.token_hex(8)
    assert_error(idem_post(client, tenant, key, {"userId": uid}), 400, "BadRequest")
    r = idem_post(client, tenant, key, {"userId": uid, "accessProfile": "P1"})
    assert r.status == 201, r


def test_c22_keys_are_per_tenant(client, tenant, other_tenant, uid):
    key = "idem-" + secrets.token_hex(8)
    body = {"userId": uid, "accessProfile": "P1"}
    r1 = idem_post(client, tenant, key, body)
    r2 = idem_post(client, other_tenant, key, body)
    assert r1.status == 201 and r2.status == 201, (r1, r2)
    assert r1.json["credentialId"] != r2.json["credentialId"]


def test_c22_key_shape(client, tenant, uid):
    body = {"userId": uid, "accessProfile": "P1"}
    assert idem_post(client, tenant, "k" * 239 + secrets.token_hex(8), body).status == 201
    assert_error(idem_post(client, tenant, "k" * 256, body), 400, "BadRequest",
                 "Idempotency-Key")
    assert_error(idem_post(client, tenant, "", body), 400, "BadRequest", "Idempotency-Key")
    assert_error(idem_post(client, tenant, "a\tb", body), 400, "BadRequest", "Idempotency-Key")


# ---------------------------------------------------------------- C9

def test_c9_failed_auth_is_throttled_by_default():
    """Repeated failures from one address end in 429 TooManyRequests + Retry-After.
    Own server: the throttle must not leak into the other tests."""
    d = tempfile.mkdtemp(prefix="engage-c9-")
    srv = EngageServer(d)
    try:
        t = provision_tenant(srv, "c9", profiles=("P1",))
        srv.start()
        bad = t.headers(password="wrong-" + secrets.token_hex(4))
        deadline = time.monotonic() + 10
        last = None
        n = 0
        while time.monotonic() < deadline and n < 120:
            last = http_request(srv.port, "GET", "/engage/credentials", bad)
            n += 1
            if last.status == 429:
                break
            assert last.status == 401, last
        assert last.status == 429, f"C9: no 429 after {n} failed attempts"
        assert_error(last, 429, "TooManyRequests")
        ra = last.header("Retry-After")
        assert ra and ra.isdigit() and int(ra) >= 1, ra
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
