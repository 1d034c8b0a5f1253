"""What integrators need beyond the spec (issue 3): idempotent create under
concurrency and its expiry (C22), paging while the list changes (C21), key
rotation and password change without downtime (C10, with C8's 1 s bound),
and the audit trail as the CLI prints it (C28).

Observability (/metrics, access log, log level) and configuration through the
environment are in test_observability.py."""
import datetime as dt
import json
import re
import secrets
import shutil
import tempfile
import threading
import time
import urllib.parse

import pytest

from conftest import (ID_RE, TIME_RE, EngageServer, assert_error, basic, cli_json,
                      http_request, parse_ts, provision_tenant, run_cli, ts)

JOIN_TIMEOUT = 20.0


def idem_post(port, tenant, key, body, rid=None):
    h = dict(tenant.headers(), **{"Content-Type": "application/json", "Idempotency-Key": key})
    if rid:
        h["X-Request-Id"] = rid
    return http_request(port, "POST", "/engage/credentials", h,
                        body if isinstance(body, bytes) else json.dumps(body).encode())


def listing(port, tenant, **q):
    r = http_request(port, "GET", "/engage/credentials?" + urllib.parse.urlencode(q),
                     tenant.headers())
    assert r.status == 200, r
    assert isinstance(r.json, dict) and isinstance(r.json.get("credentials"), list), r
    return r.json


def create(port, tenant, user_id, rid=None):
    h = dict(tenant.headers(), **{"Content-Type": "application/json"})
    if rid:
        h["X-Request-Id"] = rid
    r = http_request(port, "POST", "/engage/credentials", h,
                     json.dumps({"userId": user_id, "accessProfile": "P1"}).encode())
    assert r.status == 201, r
    return r.json


def replayed(r):
    return (r.header("Idempotent-Replayed") or "").lower() == "true"


def run_threads(threads):
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive(), "a request thread hung"


# ====================================================================== C22

def test_c22_eight_simultaneous_posts_create_exactly_one(server, tenant, uid):
    """C22: one Idempotency-Key, the same body, eight requests released at once:
    one credential; every answer 201 (the original or a replay) or 409
    IdempotencyKeyInFlight; every 201 byte-identical; a later retry replays."""
    key = "idem-race-" + secrets.token_hex(8)
    body = json.dumps({"userId": uid, "accessProfile": "P1", "userName": "Race"}).encode()
    n = 8
    barrier = threading.Barrier(n)
    answers = [None] * n

    def go(i):
        try:
            barrier.wait(10)
            answers[i] = idem_post(server.port, tenant, key, body)
        except Exception as e:  # noqa: BLE001 - reported below
            answers[i] = e

    run_threads([threading.Thread(target=go, args=(i,), daemon=True) for i in range(n)])
    for a in answers:
        assert not isinstance(a, Exception), f"request failed: {a!r}"
        assert a.status in (201, 409), f"C22: only 201 or 409 allowed, got {a!r}"
        if a.status == 409:
            assert_error(a, 409, "IdempotencyKeyInFlight")
    ok = [a for a in answers if a.status == 201]
    assert ok, f"C22: no request created the credential: {answers!r}"
    originals = [a for a in ok if not replayed(a)]
    assert len(originals) == 1, \
        f"C22: exactly one 201 is the original, {len(originals)} lack Idempotent-Replayed"
    first = originals[0]
    cid = first.json["credentialId"]
    assert re.match(ID_RE, cid), cid
    assert first.header("Location") and first.header("Location").endswith("/" + cid), first
    for a in ok:
        assert a.body == first.body, f"C22: replay body differs:\n{a.body!r}\n{first.body!r}"
        assert a.header("Location") == first.header("Location"), a
    got = listing(server.port, tenant, userId=uid)["credentials"]
    assert [c["credentialId"] for c in got] == [cid], f"C22: created {len(got)} credentials"
    # a later retry of the same request replays byte for byte
    time.sleep(0.2)
    later = idem_post(server.port, tenant, key, body)
    assert later.status == 201, later
    assert replayed(later), f"C22: later retry lacks Idempotent-Replayed: true: {later!r}"
    assert later.body == first.body and later.header("Location") == first.header("Location")
    assert len(listing(server.port, tenant, userId=uid)["credentials"]) == 1


def test_c22_replay_expires_after_the_ttl():
    """C22 with --idempotency-ttl 1: within the second the key replays; after it
    the same key and body create a new credential."""
    d = tempfile.mkdtemp(prefix="engage-idem-ttl-")
    srv = EngageServer(d, extra_args=["--idempotency-ttl", "1"])
    try:
        t = provision_tenant(srv, "idem-ttl", profiles=("P1",))
        srv.start()
        uid = "u-" + secrets.token_hex(6)
        key = "idem-ttl-" + secrets.token_hex(8)
        body = {"userId": uid, "accessProfile": "P1"}
        r1 = idem_post(srv.port, t, key, body)
        assert r1.status == 201 and not replayed(r1), r1
        r2 = idem_post(srv.port, t, key, body)
        assert r2.status == 201 and replayed(r2), f"replay within the TTL expected: {r2!r}"
        assert r2.body == r1.body
        time.sleep(1.5)
        r3 = idem_post(srv.port, t, key, body)
        assert r3.status == 201, r3
        assert r3.header("Idempotent-Replayed") is None, \
            f"C22: after the TTL the key must be forgotten, got a replay: {r3!r}"
        assert r3.json["credentialId"] != r1.json["credentialId"], (r1, r3)
        assert r3.header("Location") != r1.header("Location")
        ids = {c["credentialId"] for c in listing(srv.port, t, userId=uid)["credentials"]}
        assert ids == {r1.json["credentialId"], r3.json["credentialId"]}, ids
        # the new 201 is remembered afresh
        r4 = idem_post(srv.port, t, key, body)
        assert r4.status == 201 and replayed(r4) and r4.body == r3.body, r4
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


# ====================================================================== C21

def test_c21_paging_while_another_client_creates_and_revokes(server, tenant, uid):
    """C21: a walk with limit=3 while another thread creates and revokes
    credentials of the same userId: no credentialId twice, keyset order kept,
    every credential that existed before and was never revoked is seen."""
    before = [create(server.port, tenant, uid)["credentialId"] for _ in range(12)]
    stop = threading.Event()
    started = threading.Event()
    revoked, created, errors = set(), [], []

    def mutate():
        try:
            pre_victims = before[1::2]  # half of the pre-existing ones
            i = 0
            while not stop.is_set() and i < 40:
                created.append(create(server.port, tenant, uid)["credentialId"])
                if i % 2 == 0 and i // 2 < len(pre_victims):
                    victim = pre_victims[i // 2]
                else:
                    victim = created[len(created) // 2]
                if victim not in revoked:
                    revoked.add(victim)  # before the DELETE is sent
                    r = http_request(server.port, "DELETE", "/engage/credentials/" + victim,
                                     tenant.headers())
                    if r.status != 204:
                        errors.append(r)
                i += 1
                started.set()
                time.sleep(0.005)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            started.set()

    th = threading.Thread(target=mutate, daemon=True)
    th.start()
    try:
        assert started.wait(10)
        seen, keys, cursor, pages = [], [], None, 0
        while True:
            q = {"userId": uid, "limit": 3}
            if cursor:
                q["cursor"] = cursor
            p = listing(server.port, tenant, **q)
            pages += 1
            assert len(p["credentials"]) <= 3, p
            for c in p["credentials"]:
                assert c["userId"] == uid and c["status"] == "Active", c
                seen.append(c["credentialId"])
                keys.append((c["createdAt"], c["credentialId"].encode()))
            if "nextCursor" not in p:
                break
            cursor = p["nextCursor"]
            assert isinstance(cursor, str) and cursor, p
            assert pages < 200, "paging does not end"
            # the next page only after the other client changed the list
            # again (a fixed sleep left that to the machine's speed)
            n, deadline = len(created), time.monotonic() + 5
            while len(created) == n and th.is_alive() and time.monotonic() < deadline:
                time.sleep(0.002)
    finally:
        stop.set()
        th.join(JOIN_TIMEOUT)
    assert not th.is_alive()
    assert not errors, errors
    assert len(created) >= 3 and revoked, \
        f"the list did not change during the walk ({len(created)} created): test is void"
    dups = {x for x in seen if seen.count(x) > 1}
    assert not dups, f"C21: repeated across pages: {dups}"
    assert keys == sorted(keys) and len(set(keys)) == len(keys), \
        "C21/C20: the walk is not in (createdAt, credentialId) order"
    missing = [c for c in before if c not in revoked and c not in seen]
    assert not missing, f"C21: skipped credentials that existed all along: {missing}"


def test_c21_no_next_cursor_when_nothing_remains(client, tenant, uid):
    # listed by (createdAt, credentialId) (C20): creates within one millisecond
    # are ordered by id, not by creation
    made = [c["credentialId"] for c in
            sorted((create(client.port, tenant, uid) for _ in range(4)),
                   key=lambda c: (c["createdAt"], c["credentialId"].encode()))]
    full = listing(client.port, tenant, userId=uid)
    assert [c["credentialId"] for c in full["credentials"]] == made
    assert "nextCursor" not in full, "C21: no limit, no nextCursor"
    for limit in (4, 5, 1000):
        p = listing(client.port, tenant, userId=uid, limit=limit)
        assert [c["credentialId"] for c in p["credentials"]] == made
        assert "nextCursor" not in p, f"C21: limit={limit} >= count, yet nextCursor: {p}"
    p = listing(client.port, tenant, userId=uid, limit=3)
    assert [c["credentialId"] for c in p["credentials"]] == made[:3]
    last = listing(client.port, tenant, userId=uid, limit=3, cursor=p["nextCursor"])
    assert [c["credentialId"] for c in last["credentials"]] == made[3:]
    assert "nextCursor" not in last, last


# ====================================================================== C10

KEY_FIELDS = {"keyId", "createdAt", "state", "revokedAt"}
LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


def key_list(srv, tid):
    out = cli_json(srv.store, "key", "list", tid)
    assert set(out) == {"keys"} and isinstance(out["keys"], list), out
    return {k["keyId"]: k for k in out["keys"]}


def status_with(port, key, user, pw):
    h = {"alle-subscription-key": key, "Authorization": basic(user, pw)}
    return http_request(port, "GET", "/engage/credentials?limit=1", h).status


def refused_within(port, key, user, pw, seconds=1.0):
    """Seconds from now until the pair is refused (401), or None if not within `seconds`."""
    t0 = time.monotonic()
    while True:
        sent = time.monotonic()
        st = status_with(port, key, user, pw)
        if st == 401:
            return sent - t0
        assert st == 200, f"unexpected status {st}"
        if sent - t0 > seconds:
            return None
        time.sleep(0.05)


def test_c10_key_list_shows_keys_never_secrets(server, make_tenant):
    t = make_tenant(profiles=("P1",))
    k2 = server.cli("key", "create", t.id)
    keys = key_list(server, t.id)
    assert set(keys) == {t.key_id, k2["keyId"]}, keys
    for k in keys.values():
        assert set(k) <= KEY_FIELDS, f"C10/C7: key list shows more than it may: {k}"
        assert {"keyId", "createdAt", "state"} <= set(k), k
        assert re.match(TIME_RE, k["createdAt"]), k
        assert k["state"] == "active" and "revokedAt" not in k, k
    assert keys[t.key_id]["createdAt"] <= keys[k2["keyId"]]["createdAt"]
    server.cli("key", "revoke", k2["keyId"])
    k = key_list(server, t.id)[k2["keyId"]]
    assert k["state"] == "revoked" and re.match(TIME_RE, k.get("revokedAt") or ""), k
    assert parse_ts(k["revokedAt"]) >= parse_ts(k["createdAt"])
    for json_flag in (True, False):
        p = run_cli(server.store, "key", "list", t.id, json_flag=json_flag)
        assert p.returncode == 0, p.stderr
        for secret in (t.key, k2["subscriptionKey"]):
            assert secret not in p.stdout and secret not in p.stderr, "C7: secret printed"
        for field in ("subscriptionKey", "hash", "secret"):
            assert field not in p.stdout, f"key list prints {field!r}: {p.stdout!r}"
        assert not LONG_TOKEN.search(p.stdout), f"a secret or hash-like value: {p.stdout!r}"
    p = run_cli(server.store, "key", "list", "no-such-tenant")
    assert p.returncode != 0 and p.stderr.strip(), (p.returncode, p.stdout)


def test_c10_rotate_gives_a_new_secret_and_refuses_the_old(server, make_tenant):
    t = make_tenant(profiles=("P1",))
    assert status_with(server.port, t.key, t.username, t.password) == 200  # now cached (C8)
    out = server.cli("key", "rotate", t.key_id)
    assert set(out) == {"keyId", "subscriptionKey"}, out
    assert out["keyId"] == t.key_id, "rotate keeps the key id"
    new = out["subscriptionKey"]
    assert new != t.key and len(new) >= 22, out
    assert status_with(server.port, new, t.username, t.password) == 200, \
        "C10: the rotated secret must work at once"
    took = refused_within(server.port, t.key, t.username, t.password)
    assert took is not None, "C8/C10: the old secret is still accepted 1 s after rotation"
    assert status_with(server.port, t.key, t.username, t.password) == 401
    assert key_list(server, t.id)[t.key_id]["state"] == "active"
    # a revoked key cannot be rotated; neither can an unknown one
    server.cli("key", "revoke", t.key_id)
    for kid in (t.key_id, "key_no-such-key", "nope"):
        p = run_cli(server.store, "key", "rotate", kid)
        assert p.returncode != 0, f"rotate {kid} should fail: {p.stdout!r}"
        assert p.stderr.strip() and not p.stdout.strip(), (p.stdout, p.stderr)
    assert refused_within(server.port, new, t.username, t.password) is not None
    p = run_cli(server.store, "key", "rotate")
    assert p.returncode != 0 and p.stderr.strip()


def test_c10_rotation_without_downtime(server, make_tenant):
    """C10: clients on key2 see no failure while key1 is rotated, then revoked."""
    t = make_tenant(profiles=("P1",))
    k2 = server.cli("key", "create", t.id)
    assert status_with(server.port, t.key, t.username, t.password) == 200
    assert status_with(server.port, k2["subscriptionKey"], t.username, t.password) == 200
    stop = threading.Event()
    results = []

    def traffic():
        while not stop.is_set():
            try:
                results.append(status_with(server.port, k2["subscriptionKey"],
                                           t.username, t.password))
            except Exception as e:  # noqa: BLE001
                results.append(repr(e))
            time.sleep(0.02)

    th = threading.Thread(target=traffic, daemon=True)
    th.start()
    try:
        time.sleep(0.1)
        new1 = server.cli("key", "rotate", t.key_id)["subscriptionKey"]
        assert refused_within(server.port, t.key, t.username, t.password) is not None
        assert status_with(server.port, new1, t.username, t.password) == 200
        server.cli("key", "revoke", t.key_id)
        assert refused_within(server.port, new1, t.username, t.password) is not None, \
            "C8: a revoked key still accepted after 1 s"
        time.sleep(0.2)
    finally:
        stop.set()
        th.join(JOIN_TIMEOUT)
    assert len(results) >= 10, f"too little traffic to judge: {results}"
    bad = [r for r in results if r != 200]
    assert not bad, f"C10: key2 requests failed during rotation: {bad} of {len(results)}"


def test_c10_account_passwd(server, make_tenant):
    t = make_tenant(profiles=("P1",))
    assert status_with(server.port, t.key, t.username, t.password) == 200
    out = server.cli("account", "passwd", t.id, t.username)
    assert set(out) == {"username", "password"} and out["username"] == t.username, out
    pw2 = out["password"]
    assert pw2 != t.password and len(pw2) >= 12, out
    assert status_with(server.port, t.key, t.username, pw2) == 200
    assert refused_within(server.port, t.key, t.username, t.password) is not None, \
        "C8: the old password still accepted 1 s after passwd"
    pw3 = "Given-" + secrets.token_hex(8)
    out = server.cli("account", "passwd", t.id, t.username, "--password-stdin",
                     input=pw3 + "\n")
    assert out["username"] == t.username, out
    assert status_with(server.port, t.key, t.username, pw3) == 200, \
        "--password-stdin: the given password (without its newline) must work"
    assert refused_within(server.port, t.key, t.username, pw2) is not None
    for args in ([t.id, "nobody-" + secrets.token_hex(3)], ["no-such-tenant", t.username],
                 [t.id]):
        p = run_cli(server.store, "account", "passwd", *args)
        assert p.returncode != 0 and p.stderr.strip(), (args, p.returncode, p.stdout)
    assert status_with(server.port, t.key, t.username, pw3) == 200


# ====================================================================== C28

AUDIT_FIELDS = {"time", "action", "credentialId", "requestId", "keyId", "username"}


def audit(srv, *args, ok=True):
    p = run_cli(srv.store, "audit", *args)
    if not ok:
        return p
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stdout == "" or p.stdout.endswith("\n"), repr(p.stdout[-80:])
    recs = []
    for line in p.stdout.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            pytest.fail(f"C30: audit --json prints a non-JSON line: {line!r}")
        assert isinstance(rec, dict), line
        recs.append(rec)
    return recs, p


def test_c28_audit_command(server, make_tenant):
    t = make_tenant(profiles=("P1",))
    uid = "aud-" + secrets.token_hex(4)
    rid = {n: f"aud-{n}-{secrets.token_hex(4)}" for n in ("c1", "c2", "r1", "r2")}
    a = create(server.port, t, uid, rid["c1"])["credentialId"]
    time.sleep(0.06)
    b = create(server.port, t, uid, rid["c2"])["credentialId"]
    time.sleep(0.02)
    for n in ("r1", "r2"):  # the second DELETE is 204 again but changes nothing (C19)
        r = http_request(server.port, "DELETE", "/engage/credentials/" + a,
                         dict(t.headers(), **{"X-Request-Id": rid[n]}))
        assert r.status == 204, r
    assert t.key_id in key_list(server, t.id)

    recs, p = audit(server, t.id)
    for rec in recs:
        assert set(rec) == AUDIT_FIELDS, f"C28: audit record fields: {rec}"
        assert re.match(TIME_RE, rec["time"]), rec
        assert rec["keyId"] == t.key_id and rec["username"] == t.username, rec
    got = [(r["action"], r["credentialId"], r["requestId"]) for r in recs]
    assert got == [("credential.create", a, rid["c1"]), ("credential.create", b, rid["c2"]),
                   ("credential.revoke", a, rid["r1"])], f"C28: {got}"
    times = [parse_ts(r["time"]) for r in recs]
    assert times == sorted(times), "audit must be oldest first"
    assert times[1] - times[0] >= 0.04, times

    # filters
    only_a, _ = audit(server, t.id, "--credential", a)
    assert only_a == [recs[0], recs[2]], only_a
    only_b, _ = audit(server, t.id, "--credential", b)
    assert only_b == [recs[1]], only_b
    none, pn = audit(server, t.id, "--credential", "B" * 22)
    assert none == [] and pn.stdout == "", pn.stdout
    mid = (times[0] + times[1]) / 2
    since, _ = audit(server, t.id, "--since", ts(mid))
    assert since == recs[1:], f"--since {ts(mid)}: {since}"
    plus2 = dt.datetime.fromtimestamp(mid, dt.timezone(dt.timedelta(hours=2)))
    since2, _ = audit(server, t.id, "--since", plus2.isoformat(timespec="milliseconds"))
    assert since2 == recs[1:], "--since with a +02:00 offset names the same instant"
    at, _ = audit(server, t.id, "--since", recs[1]["time"])
    assert at == recs[1:], "--since is inclusive (at or after)"
    future, _ = audit(server, t.id, "--since", "2999-01-01T00:00:00Z")
    assert future == []
    lim, _ = audit(server, t.id, "--limit", "2")
    assert lim == recs[:2], f"--limit 2: {lim}"
    lim1, _ = audit(server, t.id, "--since", ts(mid), "--limit", "1")
    assert lim1 == recs[1:2], lim1

    # no secret in any output, JSON or plain
    secrets_ = [t.key, t.password, basic(t.username, t.password).split(" ", 1)[1]]
    plain = run_cli(server.store, "audit", t.id, json_flag=False)
    assert plain.returncode == 0, plain.stderr
    assert a in plain.stdout and rid["c1"] in plain.stdout
    for s in secrets_:
        assert s not in p.stdout and s not in plain.stdout and s not in p.stderr, \
            "C7/C28: a secret in the audit output"


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "2030-01-01T00:00:00"],
                                  ["--since", ""], ["--since"], ["--limit", "0"],
                                  ["--limit", "-3"], ["--limit", "x"], ["--limit", "1.5"],
                                  ["--limit"], ["--bogus"]],
                         ids=lambda a: " ".join(a) or "empty")
def test_c28_audit_bad_arguments(server, tenant, args):
    p = audit(server, tenant.id, *args, ok=False)
    assert p.returncode != 0, f"audit {args} should fail: {p.stdout[:200]!r}"
    assert p.stderr.strip(), "no message on stderr"
    assert p.stdout == "", p.stdout[:200]


def test_c28_audit_unknown_tenant(server):
    for args in (["no-such-tenant"], []):
        p = audit(server, *args, ok=False)
        assert p.returncode != 0 and p.stderr.strip() and p.stdout == "", (args, p)
