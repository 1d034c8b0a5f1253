"""The admin CLI (C30): --help everywhere, --json before or after the command,
one JSON object on stdout, failures on stderr with a non-zero exit that leave
nothing half-made.  Runs on its own store; `demo` is then used over HTTP."""
import json
import subprocess
import tempfile

import pytest

from conftest import (ENGAGE_BIN, DEVICE_MODELS, basic, cli_json, http_request, run_cli,
                      sql_rows, store_url)

TABLES = ("tenants", "api_keys", "accounts", "access_profiles", "devices", "credentials",
          "audit")


@pytest.fixture(scope="module")
def store():
    d = tempfile.mkdtemp(prefix="engage-cli-")
    yield store_url(d, "cli.db")
    subprocess.run(["rm", "-rf", d])


@pytest.fixture(scope="module")
def t(store):
    return cli_json(store, "tenant", "create", "cli-tenant")["tenantId"]


def counts(store):
    q = "select " + ", ".join(f"(select count(*) from {t})" for t in TABLES)
    return dict(zip(TABLES, map(int, sql_rows(store, q)[0])))


def fails(store, *args, input=None):
    before = counts(store)
    p = run_cli(store, *args, input=input)
    assert p.returncode != 0, f"engage {args} should fail: {p.stdout!r}"
    assert p.stderr.strip(), f"engage {args}: no message on stderr"
    assert counts(store) == before, f"engage {args} left something half-made"
    return p


HELP = [[], ["tenant"], ["tenant", "create"], ["tenant", "list"], ["key"], ["key", "create"],
        ["key", "revoke"], ["account"], ["account", "create"], ["account", "remove"],
        ["profile"], ["profile", "create"], ["device"], ["device", "add"],
        ["device", "remove"], ["demo"], ["serve"]]


@pytest.mark.parametrize("cmd", HELP, ids=[" ".join(c) or "top" for c in HELP])
def test_c30_help(store, cmd):
    p = subprocess.run([ENGAGE_BIN, *cmd, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stdout.strip(), "help text goes to stdout"


def test_c30_json_before_or_after_the_command(store):
    a = cli_json(store, "tenant", "create", "json-before")
    p = run_cli(store, "tenant", "create", "json-after", "--json", json_flag=False)
    assert p.returncode == 0, p.stderr
    b = json.loads(p.stdout)
    assert set(a) == {"tenantId"} and set(b) == {"tenantId"}
    assert a["tenantId"] != b["tenantId"]
    p = run_cli(store, "tenant", "list", "--json", json_flag=False)
    assert p.returncode == 0, p.stderr
    listed = json.loads(p.stdout)
    assert set(listed) == {"tenants"}
    names = {x["tenantId"]: x["name"] for x in listed["tenants"]}
    assert names[a["tenantId"]] == "json-before" and names[b["tenantId"]] == "json-after"
    for x in listed["tenants"]:
        assert set(x) == {"tenantId", "name"}, x


def test_c30_without_json_succeeds(store):
    p = run_cli(store, "tenant", "list", json_flag=False)
    assert p.returncode == 0, p.stderr


def test_c30_key_create_and_revoke(store, t):
    k1 = cli_json(store, "key", "create", t)
    k2 = cli_json(store, "key", "create", t)
    assert set(k1) == {"keyId", "subscriptionKey"}
    assert k1["subscriptionKey"] != k2["subscriptionKey"] and k1["keyId"] != k2["keyId"]
    assert len(k1["subscriptionKey"]) >= 22, "C7: at least 128 random bits"
    assert k1["keyId"] not in k1["subscriptionKey"]
    assert cli_json(store, "key", "revoke", k1["keyId"]) == {"keyId": k1["keyId"],
                                                             "revoked": True}
    fails(store, "key", "revoke", "no-such-key")
    fails(store, "key", "create", "no-such-tenant")
    fails(store, "key", "create")


def test_c30_account_create_and_remove(store, t):
    a = cli_json(store, "account", "create", t, "alice")
    assert a["username"] == "alice" and len(a["password"]) >= 12
    b = cli_json(store, "account", "create", t, "bob", "--password-stdin",
                 input="given secret\nsecond line\n")
    assert b["username"] == "bob"
    fails(store, "account", "create", t, "alice")  # duplicate
    fails(store, "account", "create", "no-such-tenant", "carol")
    fails(store, "account", "create", t)
    fails(store, "account", "remove", t, "nobody")
    fails(store, "account", "remove", "no-such-tenant", "alice")
    assert cli_json(store, "account", "remove", t, "alice") == {"username": "alice",
                                                               "removed": True}
    fails(store, "account", "remove", t, "alice")
    # the name is free again
    assert cli_json(store, "account", "create", t, "alice")["username"] == "alice"


def test_c30_profile_create(store, t):
    assert cli_json(store, "profile", "create", t, "PX") == {"accessProfile": "PX"}
    assert cli_json(store, "profile", "create", t, "PY", "--name", "Front doors") == \
        {"accessProfile": "PY"}
    fails(store, "profile", "create", t, "PX")  # duplicate
    fails(store, "profile", "create", "no-such-tenant", "PZ")
    fails(store, "profile", "create", t)


def test_c30_device_add_and_remove(store, t):
    d = cli_json(store, "device", "add", t, "--model", "NDEB", "--name", "Lobby",
                 "--site", "s1", "--firmware", "1.2.3")
    assert set(d) == {"deviceId"} and d["deviceId"]
    for m in sorted(DEVICE_MODELS):
        assert cli_json(store, "device", "add", t, "--model", m, "--name", "n-" + m)["deviceId"]
    fails(store, "device", "add", t, "--model", "NOPE", "--name", "x")
    fails(store, "device", "add", t, "--model", "ndeb", "--name", "x")
    fails(store, "device", "add", t, "--name", "x")
    fails(store, "device", "add", t, "--model", "NDEB")
    fails(store, "device", "add", "no-such-tenant", "--model", "NDEB", "--name", "x")
    fails(store, "device", "remove", t, "no-such-device")
    assert cli_json(store, "device", "remove", t, d["deviceId"]) == {"deviceId": d["deviceId"],
                                                                    "removed": True}
    fails(store, "device", "remove", t, d["deviceId"])


def test_c30_device_remove_needs_the_right_tenant(store, t):
    other = cli_json(store, "tenant", "create", "other")["tenantId"]
    d = cli_json(store, "device", "add", t, "--model", "CTE", "--name", "mine")
    fails(store, "device", "remove", other, d["deviceId"])


@pytest.mark.parametrize("args", [["bogus"], ["tenant", "bogus"], ["tenant", "create"],
                                  ["tenant", "list", "--bogus"], ["key"], ["device", "add"],
                                  ["serve", "--listen"]],
                         ids=lambda a: " ".join(a))
def test_c30_bad_command_lines(store, args):
    fails(store, *args)


def test_c30_no_command(store):
    p = run_cli(store)
    assert p.returncode != 0 and p.stderr.strip()


@pytest.mark.parametrize("url", ["bogus:x", "sqlite:/nonexistent-dir/x/y.db", "postgres"])
def test_c30_bad_store(url):
    p = run_cli(url, "tenant", "list")
    assert p.returncode != 0 and p.stderr.strip(), (p.returncode, p.stdout)


@pytest.mark.parametrize("listen", ["127.0.0.1:notaport", "999.0.0.1:80", "127.0.0.1:70000"])
def test_c30_serve_bad_listen_fails(store, listen):
    p = run_cli(store, "serve", "--listen", listen, json_flag=False, timeout=10)
    assert p.returncode != 0 and p.stderr.strip()


def test_c30_serve_port_in_use_fails(store, server):
    p = run_cli(store, "serve", "--listen", f"127.0.0.1:{server.port}", json_flag=False,
                timeout=10)
    assert p.returncode != 0 and p.stderr.strip()


def test_c30_demo_works_over_http(server):
    d = server.cli("demo")
    assert {"tenantId", "subscriptionKey", "username", "password", "accessProfiles",
            "deviceIds"} <= set(d)
    assert d["accessProfiles"] and d["deviceIds"]
    h = {"alle-subscription-key": d["subscriptionKey"],
         "Authorization": basic(d["username"], d["password"])}
    r = http_request(server.port, "GET", "/engage/devices", h)
    assert r.status == 200, r
    assert {x["deviceId"] for x in r.json["devices"]} == set(d["deviceIds"])
    body = json.dumps({"userId": "demo-user", "accessProfile": d["accessProfiles"][0]}).encode()
    r = http_request(server.port, "POST", "/engage/credentials",
                     dict(h, **{"Content-Type": "application/json"}), body)
    assert r.status == 201, r
