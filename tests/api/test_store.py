"""What the store keeps: C28 (audit records with actor and request id, in the
same transaction) and C7 (no secret at rest, none in the log)."""
import base64
import json
import secrets
import subprocess
import time

from conftest import basic, sql_rows, store_bytes


def sql(server, query):
    return sql_rows(server.store, query)


def post(client, tenant, body, rid):
    return client.raw("POST", "/engage/credentials",
                      dict(tenant.headers(), **{"Content-Type": "application/json",
                                                "X-Request-Id": rid}),
                      json.dumps(body).encode())


def test_c28_audit_records_create_and_revoke(server, client, tenant):
    rid1 = "audit-create-" + secrets.token_hex(4)
    rid2 = "audit-revoke-" + secrets.token_hex(4)
    t0 = int(time.time() * 1000)
    r = post(client, tenant, {"userId": "audited", "accessProfile": "P1"}, rid1)
    assert r.status == 201, r
    cid = r.json["credentialId"]
    d = client.raw("DELETE", "/engage/credentials/" + cid,
                   dict(tenant.headers(), **{"X-Request-Id": rid2}))
    assert d.status == 204, d
    rows = sql(server, "select action, credential_id, key_id, username, request_id, tenant_id,"
                       f" time from audit where credential_id = '{cid}' order by seq")
    assert len(rows) == 2, rows
    (a1, c1, k1, u1, q1, t1, tm1), (a2, c2, k2, u2, q2, t2, tm2) = rows
    assert "creat" in a1.lower() or "upload" in a1.lower(), a1
    assert "revok" in a2.lower() or "delet" in a2.lower(), a2
    assert (c1, k1, u1, q1, t1) == (cid, tenant.key_id, tenant.username, rid1, tenant.id)
    assert (c2, k2, u2, q2, t2) == (cid, tenant.key_id, tenant.username, rid2, tenant.id)
    now = int(time.time() * 1000)
    assert t0 - 2000 <= int(tm1) <= int(tm2) <= now + 2000, (tm1, tm2)


def test_c28_no_audit_for_refused_requests(server, client, tenant):
    rid = "audit-refused-" + secrets.token_hex(4)
    assert post(client, tenant, {"userId": "x"}, rid).status == 400
    assert post(client, tenant, {"userId": "x", "accessProfile": "NOPE"}, rid).status == 400
    r = client.raw("DELETE", "/engage/credentials/" + "B" * 22,
                   dict(tenant.headers(), **{"X-Request-Id": rid}))
    assert r.status == 404
    assert sql(server, f"select count(*) from audit where request_id = '{rid}'") == [["0"]]


def test_c7_secrets_not_in_store_or_log(server, client, tenant):
    wrong_pw = "WrongPw-" + secrets.token_hex(8)
    wrong_key = "WrongKey-" + secrets.token_hex(8)
    pw2 = "StdinPw-" + secrets.token_hex(8)
    user2 = "sec-" + secrets.token_hex(3)
    server.cli("account", "create", tenant.id, user2, "--password-stdin", input=pw2 + "\n")
    k2 = server.cli("key", "create", tenant.id)["subscriptionKey"]
    h_ok = tenant.headers()
    assert client.raw("GET", "/engage/credentials", h_ok).status == 200
    assert client.raw("GET", "/engage/credentials",
                      tenant.headers(key=k2, username=user2, password=pw2)).status == 200
    assert client.raw("GET", "/engage/credentials", tenant.headers(password=wrong_pw)).status == 401
    assert client.raw("GET", "/engage/credentials", tenant.headers(key=wrong_key)).status == 401
    r = post(client, tenant, {"userId": "sec", "accessProfile": "P1"}, "c7-check")
    assert r.status == 201
    secrets_ = {
        "subscription key": tenant.key, "second key": k2, "password": tenant.password,
        "stdin password": pw2, "wrong password": wrong_pw, "wrong key": wrong_key,
        "basic token": h_ok["Authorization"].split(" ", 1)[1],
        "basic token 2": basic(user2, pw2).split(" ", 1)[1],
    }
    blobs = store_bytes(server.store)
    assert blobs, "no store file"
    log = server.log_text()
    for name, s in secrets_.items():
        assert s.encode() not in blobs, f"C7: {name} stored in clear in the store"
        assert s not in log, f"C7: {name} appears in the server log"
