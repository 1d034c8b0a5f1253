"""GET /credentials, GET and DELETE /credentials/{id}: C11 (cross-tenant
invisible), C12 (ids), C17 (derived status), C19 (delete is revoke), C20 (list)."""
import secrets
import time
import urllib.parse

import pytest

from conftest import (ABSENT, assert_credential, assert_error, assert_json_ct, parse_ts, ts)


def mk(client, tenant, user_id, **extra):
    r = client.create(tenant, dict({"userId": user_id, "accessProfile": "P1"}, **extra))
    assert r.status == 201, r
    return r.json


def listing(client, tenant, **query):
    q = ("?" + urllib.parse.urlencode(query)) if query else ""
    r = client.list(tenant, q)
    assert r.status == 200, r
    assert_json_ct(r)
    assert r.header("Cache-Control") == "no-store", "C4"
    assert isinstance(r.json, dict) and isinstance(r.json.get("credentials"), list), r
    for c in r.json["credentials"]:
        assert_credential(c)
    return r.json["credentials"]


def ids(creds):
    return [c["credentialId"] for c in creds]


NEVER = "A" * 22  # well-shaped, never issued (C12)


# ---------------------------------------------------------------- GET one

@pytest.mark.conformance
def test_get_credential_200(client, tenant, uid):
    c = mk(client, tenant, uid, userName="Get Me")
    r = client.get(tenant, c["credentialId"])
    assert r.status == 200, r
    assert_json_ct(r)
    assert r.header("Cache-Control") == "no-store", "C4"
    assert r.json == c


@pytest.mark.conformance
def test_c12_get_unknown_id_404(client, tenant):
    assert_error(client.get(tenant, NEVER), 404, "NotFound")


@pytest.mark.conformance
def test_c19_delete_unknown_id_404(client, tenant):
    assert_error(client.delete(tenant, NEVER), 404, "NotFound")


BAD_IDS = ["A" * 300, "%00", "abc%00def" + "A" * 20, "..", "%2e%2e", "a%20b" + "A" * 22,
           "%20", "A" * 21 + "%2F", "A" * 22 + "%3B", "'%20or%20'1'='1", "%22%3E%3Cscript%3E",
           "A" * 21 + "=", "A" * 21 + "+", "A" * 21 + "~", "A" * 21 + ".", "%C3%A9" * 11,
           "a", "A" * 5000]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("cid", BAD_IDS, ids=[b[:20] for b in BAD_IDS])
def test_c12_malformed_path_id_is_404(client, tenant, method, cid):
    r = client.raw(method, "/engage/credentials/" + cid, tenant.headers())
    assert_error(r, 404, "NotFound")


def test_c12_ids_are_unique_and_opaque(client, tenant, uid):
    got = {mk(client, tenant, uid)["credentialId"] for _ in range(5)}
    assert len(got) == 5


# ---------------------------------------------------------------- C11

def test_c11_foreign_credential_is_invisible(client, tenant, other_tenant, uid):
    c = mk(client, tenant, uid)
    cid = c["credentialId"]
    never = client.get(other_tenant, NEVER)
    for method in ("GET", "DELETE"):
        r = client.api(method, "/credentials/" + cid, auth=other_tenant)
        assert_error(r, 404, "NotFound")
        assert r.json == never.json, "C11: same body as a never-existing id"
    assert cid not in ids(listing(client, other_tenant))
    assert cid not in ids(listing(client, other_tenant, status="Revoked"))
    assert cid not in ids(listing(client, other_tenant, userId=uid))
    # the foreign DELETE revoked nothing
    assert client.get(tenant, cid).json == c


# ---------------------------------------------------------------- C19

@pytest.mark.conformance
def test_c19_delete_is_revoke(client, tenant, uid):
    c = mk(client, tenant, uid)
    cid = c["credentialId"]
    t0 = time.time()
    r = client.delete(tenant, cid)
    assert r.status == 204, r
    assert r.body == b""
    g = client.get(tenant, cid)
    assert g.status == 200, g
    rev = assert_credential(g.json, status="Revoked", userId=uid, createdAt=c["createdAt"],
                            validFrom=c["validFrom"])
    assert rev["revokedAt"] is not None
    assert parse_ts(rev["revokedAt"]) >= parse_ts(c["createdAt"])
    assert abs(parse_ts(rev["revokedAt"]) - t0) < 5
    # again: 204, first revokedAt kept
    time.sleep(0.01)
    r2 = client.delete(tenant, cid)
    assert r2.status == 204 and r2.body == b"", r2
    assert client.get(tenant, cid).json == rev
    # listed under Revoked only
    assert cid not in ids(listing(client, tenant))
    assert cid not in ids(listing(client, tenant, status="Active"))
    assert cid not in ids(listing(client, tenant, status="Expired"))
    assert cid in ids(listing(client, tenant, status="Revoked"))


# ---------------------------------------------------------------- C20

@pytest.mark.conformance
def test_c20_list_default_is_active(client, tenant, uid):
    a = mk(client, tenant, uid)
    b = mk(client, tenant, uid)
    assert client.delete(tenant, b["credentialId"]).status == 204
    default = listing(client, tenant)
    assert a["credentialId"] in ids(default)
    assert b["credentialId"] not in ids(default)
    assert all(c["status"] == "Active" for c in default)
    assert listing(client, tenant, status="Active") == default


@pytest.mark.conformance
@pytest.mark.parametrize("status", ["Active", "Revoked", "Expired"])
def test_c20_status_filter(client, tenant, status):
    got = listing(client, tenant, status=status)
    assert all(c["status"] == status for c in got), got


@pytest.mark.parametrize("value", ["bogus", "active", "REVOKED", "", "Active,Revoked"])
def test_c20_bad_status_is_400(client, tenant, value):
    r = client.list(tenant, "?" + urllib.parse.urlencode({"status": value}))
    assert_error(r, 400, "BadRequest", "status")


@pytest.mark.conformance
def test_c20_user_id_filter_is_exact(client, tenant, uid):
    a = mk(client, tenant, uid)
    mk(client, tenant, uid + "x")
    mk(client, tenant, uid[:-1])
    mk(client, tenant, uid.upper())
    got = listing(client, tenant, userId=uid)
    assert ids(got) == [a["credentialId"]]
    assert listing(client, tenant, userId=uid[:-1] + "%") == []
    assert listing(client, tenant, userId=uid[:-1] + "_") == []


def test_c20_user_id_filter_with_odd_characters(client, tenant):
    u = "a b&c=d/é+" + secrets.token_hex(2)
    a = mk(client, tenant, u)
    assert ids(listing(client, tenant, userId=u)) == [a["credentialId"]]


def test_c20_user_id_and_status_combine(client, tenant, uid):
    a = mk(client, tenant, uid)
    b = mk(client, tenant, uid)
    client.delete(tenant, b["credentialId"])
    assert ids(listing(client, tenant, userId=uid)) == [a["credentialId"]]
    assert ids(listing(client, tenant, userId=uid, status="Revoked")) == [b["credentialId"]]


def test_c20_order_created_then_id(client, tenant, uid):
    made = [mk(client, tenant, uid)["credentialId"] for _ in range(6)]
    for creds in (listing(client, tenant), listing(client, tenant, status="Revoked"),
                  listing(client, tenant, status="Expired")):
        keys = [(c["createdAt"], c["credentialId"].encode()) for c in creds]
        assert keys == sorted(keys), "C20 order: createdAt, then credentialId (bytes)"
    got = listing(client, tenant, userId=uid)
    assert sorted(ids(got)) == sorted(made)
    keys = [(c["createdAt"], c["credentialId"].encode()) for c in got]
    assert keys == sorted(keys)


@pytest.mark.conformance
def test_c20_empty_tenant(client, make_tenant):
    t = make_tenant(profiles=("P1",))
    r = client.list(t)
    assert r.status == 200, r
    assert r.json == {"credentials": []}
    r = client.list(t, "?status=Revoked")
    assert r.json == {"credentials": []}


# ---------------------------------------------------------------- C17

def test_c17_status_is_derived_at_read_time(client, tenant, uid):
    valid_to = time.time() + 2.0
    e = mk(client, tenant, uid, validTo=ts(valid_to))
    r = mk(client, tenant, uid, validTo=ts(valid_to))
    future = mk(client, tenant, uid, validFrom=ts(time.time() + 86400 * 365))
    assert e["status"] == "Active" and r["status"] == "Active"
    assert future["status"] == "Active", "C17: a future validFrom is still Active"
    assert client.delete(tenant, r["credentialId"]).status == 204
    assert e["credentialId"] in ids(listing(client, tenant, userId=uid))
    time.sleep(max(0.0, valid_to - time.time()) + 0.3)
    ge = client.get(tenant, e["credentialId"]).json
    assert_credential(ge, status="Expired", revokedAt=None)
    gr = client.get(tenant, r["credentialId"]).json
    assert_credential(gr, status="Revoked")
    active = ids(listing(client, tenant))
    expired = ids(listing(client, tenant, status="Expired"))
    revoked = ids(listing(client, tenant, status="Revoked"))
    assert e["credentialId"] not in active and e["credentialId"] in expired
    assert e["credentialId"] not in revoked
    assert r["credentialId"] in revoked
    assert r["credentialId"] not in expired and r["credentialId"] not in active
    assert future["credentialId"] in active
    assert ids(listing(client, tenant, userId=uid)) == [future["credentialId"]]
    # revoking an expired credential makes it Revoked
    assert client.delete(tenant, e["credentialId"]).status == 204
    assert client.get(tenant, e["credentialId"]).json["status"] == "Revoked"


def test_c16_optional_fields_absent_in_list(client, tenant, uid):
    mk(client, tenant, uid)
    (c,) = listing(client, tenant, userId=uid)
    assert_credential(c, userEmail=ABSENT, userName=ABSENT, validTo=ABSENT, revokedAt=None)
