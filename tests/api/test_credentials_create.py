"""POST /credentials: C3 (content type), C13 (validation), C14 (profiles),
C15 (time), C16 (fields), C18 (201 + Location), C25 (malformed input)."""
import json
import re
import time

import pytest

from conftest import (ABSENT, TIME_RE, assert_credential, assert_error, assert_json_ct,
                      parse_ts, ts)


def post_raw(client, tenant, body, content_type="application/json", headers=None):
    h = dict(tenant.headers())
    if content_type is not None:
        h["Content-Type"] = content_type
    h.update(headers or {})
    return client.api("POST", "/credentials", headers=h, body=body)


def created(r):
    assert r.status == 201, r
    return r.json


# ---------------------------------------------------------------- success

@pytest.mark.conformance
def test_c18_create_minimal(client, tenant, uid):
    t0 = time.time()
    r = client.create(tenant, {"userId": uid, "accessProfile": "P1"})
    assert r.status == 201, r
    assert_json_ct(r)
    assert r.header("Cache-Control") == "no-store", "C4"
    c = assert_credential(r.json, userId=uid, accessProfile="P1", status="Active",
                          revokedAt=None, userEmail=ABSENT, userName=ABSENT, validTo=ABSENT)
    assert c["validFrom"] == c["createdAt"], "C16: validFrom defaults to createdAt"
    assert abs(parse_ts(c["createdAt"]) - t0) < 5, c["createdAt"]
    loc = r.header("Location")
    assert loc and loc.endswith("/engage/credentials/" + c["credentialId"]), loc
    g = client.get(tenant, c["credentialId"])
    assert g.status == 200, g
    assert g.json == c, "GET must return what POST returned"


@pytest.mark.conformance
def test_c18_create_full(client, tenant, uid):
    body = {"userId": uid, "accessProfile": "P2", "userEmail": "o'neil+x@sub.example.com",
            "userName": "Ó Néill 😀", "validFrom": "2030-01-01T10:00:00+02:00",
            "validTo": "2031-06-30T23:59:59.123999Z"}
    r = client.create(tenant, body)
    c = assert_credential(created(r), userId=uid, accessProfile="P2",
                          userEmail="o'neil+x@sub.example.com", userName="Ó Néill 😀",
                          status="Active", revokedAt=None,
                          validFrom="2030-01-01T08:00:00.000Z",
                          validTo="2031-06-30T23:59:59.123Z")
    assert client.get(tenant, c["credentialId"]).json == c


def test_c18_charset_parameter_accepted(client, tenant, uid):
    body = json.dumps({"userId": uid, "accessProfile": "P1"}).encode()
    for ct in ("application/json; charset=utf-8", "application/json;charset=UTF-8",
               "application/json"):
        assert post_raw(client, tenant, body, ct).status == 201, ct


def test_c3_media_type_is_case_insensitive(client, tenant, uid):
    """RFC 9110: type and subtype are case-insensitive."""
    body = json.dumps({"userId": uid, "accessProfile": "P1"}).encode()
    assert post_raw(client, tenant, body, "Application/JSON").status == 201


def test_c13_unknown_fields_ignored(client, tenant, uid):
    r = client.create(tenant, {"userId": uid, "accessProfile": "P1", "foo": {"bar": [1, 2]},
                               "credentialId": "mine", "status": "Revoked"})
    c = assert_credential(created(r), status="Active", revokedAt=None)
    assert c["credentialId"] != "mine"


def test_c13_utf8_and_escapes_round_trip(client, tenant, uid):
    body = ('{"userId": "%s-\\u00e9", "accessProfile": "P1", "userName": "Jos\\u00e9 \\ud83d\\ude00"}'
            % uid).encode()
    r = post_raw(client, tenant, body)
    assert_credential(created(r), userId=uid + "-é", userName="José 😀")


# ---------------------------------------------------------------- C13 400s

BASE_BODY = {"userId": "u-valid", "accessProfile": "P1"}


def with_(**kw):
    b = dict(BASE_BODY)
    for k, v in kw.items():
        if v is ABSENT:
            b.pop(k, None)
        else:
            b[k] = v
    return b


WRONG_TYPES = [1, 1.5, None, [], ["a"], {}, {"a": "b"}, True, False]

BAD_BODIES = [
    ("userId", with_(userId=ABSENT)),
    ("accessProfile", with_(accessProfile=ABSENT)),
    ("userId", with_(userId="")),
    ("accessProfile", with_(accessProfile="")),
    ("userEmail", with_(userEmail="")),
    ("validFrom", with_(validFrom="")),
    ("validTo", with_(validTo="")),
]
for _f in ("userId", "accessProfile", "userEmail", "userName", "validFrom", "validTo"):
    for _v in WRONG_TYPES:
        BAD_BODIES.append((_f, with_(**{_f: _v})))


@pytest.mark.parametrize("field,body", BAD_BODIES,
                         ids=[f"{f}={json.dumps(b.get(f, 'ABSENT'))}" for f, b in BAD_BODIES])
def test_c13_required_and_types(client, tenant, field, body):
    assert_error(client.create(tenant, body), 400, "BadRequest", field)


@pytest.mark.conformance
def test_c13_missing_user_id_400(client, tenant):
    assert_error(client.create(tenant, {"accessProfile": "P1"}), 400, "BadRequest", "userId")


def test_c13_lengths(client, tenant, uid):
    u128 = (uid + "x" * 128)[:128]
    assert created(client.create(tenant, with_(userId=u128)))["userId"] == u128
    assert created(client.create(tenant, with_(userId="é" * 64)))["userId"] == "é" * 64
    assert_error(client.create(tenant, with_(userId=u128 + "x")), 400, "BadRequest", "userId")
    assert_error(client.create(tenant, with_(userId="é" * 64 + "x")), 400, "BadRequest",
                 "userId")
    n256 = "n" * 256
    assert created(client.create(tenant, with_(userName=n256)))["userName"] == n256
    assert_error(client.create(tenant, with_(userName=n256 + "n")), 400, "BadRequest",
                 "userName")
    assert_error(client.create(tenant, with_(userName="ü" * 128 + "n")), 400, "BadRequest",
                 "userName")
    assert_error(client.create(tenant, with_(accessProfile="p" * 257)), 400, "BadRequest",
                 "accessProfile")


def _email(total):
    """An otherwise valid address of exactly `total` bytes (labels <= 63)."""
    local = "a"
    domain_len = total - 2
    labels = []
    while domain_len > 0:
        n = min(60, domain_len)
        if domain_len - n == 1:  # avoid a trailing 0-length label after a dot
            n -= 2
        labels.append("b" * n)
        domain_len -= n + 1
    e = local + "@" + ".".join(labels)
    e = e[:total] if len(e) >= total else e + "c" * (total - len(e))
    assert len(e) == total and "." in e.split("@")[1] and not e.endswith("."), e
    return e


VALID_EMAILS = ["a@b.co", "o'neil+x@sub.example.com", "first.last@ex-ample.org",
                "x!#$%&*/=?^_`{|}~-@a1.b2.c3", _email(254)]
INVALID_EMAILS = ["ab.co", "a@bco", "a@-b.co", "a@b-.co", "a@sub.-ex.com", "a@sub.ex-.com",
                  "é@b.co", "a@bé.co", "a@b.cö", _email(255), "a@", "@b.co", "a@b.",
                  "a@.b.co", "a@b..co", "a b@c.co", "a@b_c.co", "a@@b.co", "a@b.co "]


@pytest.mark.parametrize("email", VALID_EMAILS, ids=[e[:30] for e in VALID_EMAILS])
def test_c13_email_valid(client, tenant, uid, email):
    r = client.create(tenant, with_(userId=uid, userEmail=email))
    assert created(r)["userEmail"] == email


@pytest.mark.parametrize("email", INVALID_EMAILS, ids=[e[:30] for e in INVALID_EMAILS])
def test_c13_email_invalid(client, tenant, email):
    assert_error(client.create(tenant, with_(userEmail=email)), 400, "BadRequest", "userEmail")


BAD_TIMES = ["2030-01-01T00:00:00", "2030-01-01", "tomorrow", "2030-13-01T00:00:00Z",
             "2030-02-30T00:00:00Z", "2030-02-29T00:00:00Z", "2030-01-01T25:00:00Z",
             "2030-01-01T00:60:00Z", "2030-01-01T00:00:00+2:00", "2030-01-01T00:00:00+0200",
             "30-01-01T00:00:00Z", "2030-01-01T00:00:00.Z", "1893456000",
             "2030-01-01T00:00:00Zjunk"]


@pytest.mark.parametrize("field", ["validFrom", "validTo"])
@pytest.mark.parametrize("value", BAD_TIMES)
def test_c13_times_not_rfc3339(client, tenant, field, value):
    assert_error(client.create(tenant, with_(**{field: value})), 400, "BadRequest", field)


def test_c13_valid_to_must_follow_valid_from(client, tenant):
    assert_error(client.create(tenant, with_(validFrom="2030-01-01T00:00:00Z",
                                             validTo="2030-01-01T00:00:00Z")),
                 400, "BadRequest", "validTo")
    assert_error(client.create(tenant, with_(validFrom="2030-01-01T00:00:00Z",
                                             validTo="2029-12-31T23:59:59.999Z")),
                 400, "BadRequest", "validTo")
    # same instant, written with different offsets
    assert_error(client.create(tenant, with_(validFrom="2030-01-01T02:00:00+02:00",
                                             validTo="2030-01-01T00:00:00Z")),
                 400, "BadRequest", "validTo")


def test_c13_valid_to_in_past_without_valid_from(client, tenant):
    assert_error(client.create(tenant, with_(validTo=ts(time.time() - 60))), 400, "BadRequest",
                 "validTo")


def test_c17_past_window_with_valid_from_is_created_expired(client, tenant, uid):
    r = client.create(tenant, with_(userId=uid, validFrom="2020-01-01T00:00:00Z",
                                    validTo="2020-06-01T00:00:00Z"))
    assert_credential(created(r), status="Expired", validFrom="2020-01-01T00:00:00.000Z",
                      validTo="2020-06-01T00:00:00.000Z")


@pytest.mark.parametrize("given,want", [
    ("2030-01-01T10:00:00+02:00", "2030-01-01T08:00:00.000Z"),
    ("2030-01-01T00:00:00-05:30", "2030-01-01T05:30:00.000Z"),
    ("2030-01-01T00:00:00.123999Z", "2030-01-01T00:00:00.123Z"),
    ("2030-01-01T00:00:00.5Z", "2030-01-01T00:00:00.500Z"),
    ("2030-01-01T00:00:00.999999999+00:00", "2030-01-01T00:00:00.999Z"),
    ("2028-02-29T23:30:00-01:00", "2028-03-01T00:30:00.000Z"),
])
def test_c15_times_normalised_to_utc_ms(client, tenant, uid, given, want):
    c = created(client.create(tenant, with_(userId=uid, validFrom=given)))
    assert c["validFrom"] == want
    assert re.match(TIME_RE, c["createdAt"])
    c = created(client.create(tenant, with_(userId=uid, validTo=given)))
    assert c["validTo"] == want


@pytest.mark.parametrize("field", ["userId", "userName", "accessProfile"])
@pytest.mark.parametrize("esc", ["\\u0001", "\\u007f", "\\u0000", "\\t", "\\n", "\\u001f"])
def test_c13_control_characters(client, tenant, field, esc):
    body = dict(BASE_BODY, userName="n")
    text = json.dumps(body).replace(f'"{field}": "{body[field]}"',
                                    f'"{field}": "a{esc}b"')
    assert esc in text
    assert_error(post_raw(client, tenant, text.encode()), 400, "BadRequest", field)


def test_c13_duplicate_keys(client, tenant):
    body = b'{"userId": "a", "accessProfile": "P1", "userId": "b"}'
    assert_error(post_raw(client, tenant, body), 400, "BadRequest", "userId")
    body = b'{"userId": "a", "accessProfile": "P1", "x": {"k": 1, "k": 2}}'
    assert_error(post_raw(client, tenant, body), 400, "BadRequest")


def _nested(total_depth):
    """A body whose total nesting depth (top-level object = 1) is total_depth."""
    inner = "[" * (total_depth - 1) + "]" * (total_depth - 1)
    return ('{"userId": "deep", "accessProfile": "P1", "x": %s}' % inner).encode()


def test_c13_nesting_limit(client, tenant):
    assert post_raw(client, tenant, _nested(32)).status == 201
    assert_error(post_raw(client, tenant, _nested(34)), 400, "BadRequest")
    assert_error(post_raw(client, tenant, _nested(100)), 400, "BadRequest")


@pytest.mark.parametrize("body", [b"[]", b'[{"userId": "a", "accessProfile": "P1"}]',
                                  b'"str"', b"1", b"null", b"true"])
def test_c13_body_not_an_object(client, tenant, body):
    assert_error(post_raw(client, tenant, body), 400, "BadRequest")


# ---------------------------------------------------------------- C14

@pytest.mark.conformance
def test_c14_unknown_access_profile(client, tenant):
    assert_error(client.create(tenant, with_(accessProfile="NOPE")), 400,
                 "UnknownAccessProfile")


def test_c14_other_tenants_profile_is_unknown(client, tenant, other_tenant):
    assert "P3" in other_tenant.profiles and "P3" not in tenant.profiles
    assert_error(client.create(tenant, with_(accessProfile="P3")), 400, "UnknownAccessProfile")
    assert created(client.create(other_tenant, with_(accessProfile="P3")))


def test_c14_profile_ids_are_exact(client, tenant):
    for p in ("p1", "P1 ", " P1", "P"):
        assert_error(client.create(tenant, with_(accessProfile=p)), 400,
                     "UnknownAccessProfile")


# ---------------------------------------------------------------- C25

MALFORMED = [b"", b" ", b"{", b'{"userId":', b'{"userId": "a", "accessProfile": "P1"',
             b'{"userId": "a", "accessProfile": "P1",}', b"nul", b"{'userId': 'a'}",
             b'{"userId": "\xff\xfe", "accessProfile": "P1"}',
             b'{"userId": "\xc0\xaf", "accessProfile": "P1"}',
             b'{"userId": "\xed\xa0\x80", "accessProfile": "P1"}',
             b'{"userId": "\\ud800", "accessProfile": "P1"}',
             b'{"userId": "a\x00b", "accessProfile": "P1"}',
             b'{"userId": "a", "accessProfile": "P1"} x',
             b'{"userId": "a", "accessProfile": "P1"}{}',
             b'{"userId": "a\x01", "accessProfile": "P1"}',
             b'\xef\xbb\xbf\xff',
             b'{"userId": "a", "accessProfile": "P1", "n": -}',
             b"\x00" * 100]


@pytest.mark.parametrize("body", MALFORMED, ids=[repr(b[:24]) for b in MALFORMED])
def test_c25_malformed_json_is_400(client, tenant, body):
    r = post_raw(client, tenant, body)
    assert r.status == 400, r
    assert_error(r, 400, "BadRequest")


# ---------------------------------------------------------------- C3

@pytest.mark.parametrize("ct", [None, "text/plain", "application/x-www-form-urlencoded",
                                "multipart/form-data; boundary=x", "application/jsonx",
                                "application/json-patch+json", "text/json", "", "json"])
def test_c3_wrong_content_type_is_415(client, tenant, ct):
    body = json.dumps({"userId": "ct", "accessProfile": "P1"}).encode()
    assert_error(post_raw(client, tenant, body, ct), 415, "UnsupportedMediaType")
