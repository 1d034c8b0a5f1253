"""Black-box tests of `engage mcp`: the MCP surface (issue 7).

Each test speaks MCP (newline-delimited JSON-RPC 2.0) to the real binary over
pipes, on a store provisioned by the real CLI (`engage --json demo`).  The
tool list is held against the spec as shipped (docs/openapi.yaml) and the
original (docs/engage-credentialing-openapi.yml), results against the REST
API's own JSON (a `serve` on the same store), and the audit trail is read with
sqlite3.  Decisions of docs/CONTRACT.md are cited by number (C6-C8 auth, C11
tenancy, C13-C14 validation, C19 revoke, C24 errors, C28 audit, C31 one
implementation).  The last test runs tests/mcp/inspector.sh: the official
MCP Inspector CLI against `engage mcp`.

Environment: ENGAGE_BIN, the binary (default build/engage).
Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/mcp
"""
import base64
import http.client
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ENGAGE_BIN") or "build/engage")
BIN = str(BIN if BIN.is_absolute() else REPO / BIN)
# The spec as shipped (with engage's extensions, served at {base}/openapi.yaml)
# and the original, unchanged one: the tools are held against both.
SHIPPED = "docs/openapi.yaml"
ORIGINAL = "docs/engage-credentialing-openapi.yml"
SPECS = {name: yaml.safe_load((REPO / name).read_text()) for name in (SHIPPED, ORIGINAL)}
SPEC = SPECS[SHIPPED]
TIMEOUT = 20.0
VERSIONS = ("2025-06-18", "2025-03-26")
NEWEST = "2025-06-18"
ID_RE = r"^[A-Za-z0-9_-]{22,}$"
TIME_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


# --------------------------------------------------------------------------
# the store and the MCP client


def cli(store, *args, check=True):
    p = subprocess.run([BIN, "--store", store, "--json", *map(str, args)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if check:
        assert p.returncode == 0, f"engage {args}: {p.returncode} {p.stderr}"
        return json.loads(p.stdout)
    return p


def assert_no_sanitizer_report(stderr):
    """A SANITIZE=1 build reports leaks and undefined behaviour on stderr."""
    for mark in (b"Sanitizer", b"runtime error:"):
        assert mark not in stderr, stderr.decode(errors="replace")


def mcp_env(key, username, password, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")}
    env.update(ENGAGE_SUBSCRIPTION_KEY=key, ENGAGE_USERNAME=username,
               ENGAGE_PASSWORD=password)
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


class Mcp:
    """One `engage mcp` process; every stdout line must be a JSON-RPC message."""

    def __init__(self, store, env):
        self.proc = subprocess.Popen([BIN, "--store", store, "mcp"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.lines = queue.Queue()
        self.stderr = b""
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, msg):
        self.send_raw(json.dumps(msg).encode() + b"\n")

    def recv(self, timeout=TIMEOUT):
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"engage mcp closed stdout; stderr: {self.stderr!r}"
        assert line.endswith(b"\n")
        msg = json.loads(line)  # nothing but protocol messages on stdout
        assert isinstance(msg, (dict, list)), msg
        for m in msg if isinstance(msg, list) else [msg]:
            assert m["jsonrpc"] == "2.0", m
            assert ("result" in m) != ("error" in m), m
        return msg

    def no_answer(self, wait=0.3):
        try:
            line = self.lines.get(timeout=wait)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected answer: {line!r}")

    def request(self, method, params=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        r = self.recv()
        assert r["id"] == self.next_id, r
        return r

    def initialize(self, version=NEWEST):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "pytest", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def call(self, name, arguments=None):
        params = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        r = self.request("tools/call", params)
        assert "result" in r, r
        res = r["result"]
        # the text item is the same JSON as structuredContent
        assert [c["type"] for c in res["content"]] == ["text"], res
        assert json.loads(res["content"][0]["text"]) == res["structuredContent"], res
        return res

    def ok(self, name, arguments=None):
        res = self.call(name, arguments)
        assert res["isError"] is False, res
        return res["structuredContent"]

    def error(self, name, arguments, code, mentions=None):
        res = self.call(name, arguments)
        assert res["isError"] is True, res
        err = res["structuredContent"]
        assert set(err) == {"code", "message"}, err
        assert err["code"] == code, err
        assert err["message"], err
        if mentions:
            assert mentions in err["message"], err
        return err

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err_reader.join(TIMEOUT)
        assert_no_sanitizer_report(self.stderr)
        return self.proc.returncode


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="engage-mcp-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def store(workdir):
    return f"sqlite:{workdir / 'e.db'}"


@pytest.fixture(scope="module")
def demo(store):
    d = cli(store, "demo")
    assert d["username"] and d["password"] and d["subscriptionKey"]
    assert d["accessProfiles"] == ["staff", "visitor"]
    return d


@pytest.fixture(scope="module")
def env(demo):
    return mcp_env(demo["subscriptionKey"], demo["username"], demo["password"])


@pytest.fixture
def session(store, env):
    """A fresh, initialized session of the demo tenant."""
    m = Mcp(store, env)
    m.initialize()
    yield m
    assert m.close() == 0, m.stderr


@pytest.fixture(scope="module")
def shared(store, env):
    """One session for the read-only checks of the tool list."""
    m = Mcp(store, env)
    m.initialize()
    yield m
    assert m.close() == 0, m.stderr


def uid():
    return "mcp-u-" + secrets.token_hex(5)


# --------------------------------------------------------------------------
# lifecycle


@pytest.mark.parametrize("version", VERSIONS)
def test_initialize_answers_a_supported_version(store, env, version):
    m = Mcp(store, env)
    r = m.initialize(version)["result"]
    assert r["protocolVersion"] == version
    assert r["capabilities"]["tools"] == {"listChanged": False}
    assert r["serverInfo"]["name"] == "engage" and r["serverInfo"]["version"]
    assert m.request("ping")["result"] == {}
    assert m.close() == 0


def test_initialize_offers_the_newest_for_an_unknown_version(store, env):
    m = Mcp(store, env)
    assert m.initialize("1999-01-01")["result"]["protocolVersion"] == NEWEST
    assert m.close() == 0


def test_initialize_without_a_version_is_invalid_params(store, env):
    m = Mcp(store, env)
    r = m.request("initialize", {"capabilities": {}})
    assert r["error"]["code"] == -32602, r
    assert m.close() == 0


def test_ping(session):
    assert session.request("ping")["result"] == {}


def test_notifications_get_no_answer(session):
    session.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    session.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 99}})
    assert session.no_answer()
    assert session.request("ping")["result"] == {}


def test_batch(session):
    session.send([{"jsonrpc": "2.0", "id": "a", "method": "ping"},
                  {"jsonrpc": "2.0", "method": "notifications/initialized"},
                  {"jsonrpc": "2.0", "id": "b", "method": "nope"}])
    r = session.recv()
    assert isinstance(r, list) and len(r) == 2, r
    by_id = {m["id"]: m for m in r}
    assert by_id["a"]["result"] == {}
    assert by_id["b"]["error"]["code"] == -32601


def test_end_of_input_ends_the_session(store, env):
    m = Mcp(store, env)
    m.initialize()
    m.proc.stdin.close()
    assert m.proc.wait(TIMEOUT) == 0
    assert m.lines.get(timeout=TIMEOUT) is None


# --------------------------------------------------------------------------
# tools/list against the spec


class Spec:
    """An OpenAPI 3.0 document, with $ref resolved on demand."""

    def __init__(self, name):
        self.name = name
        self.doc = SPECS[name]

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            cur = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                cur = cur[part]
            node = cur
        return node

    def operations(self):
        return {op["operationId"]: (method, path, op)
                for path, item in self.doc["paths"].items()
                for method, op in item.items()}

    def params(self, op):
        """The path and query parameters (headers such as Idempotency-Key
        are HTTP's own, not a tool's input)."""
        ps = [self.deref(p) for p in op.get("parameters", [])]
        return [p for p in ps if p["in"] in ("path", "query")]

    def body_schema(self, op):
        body = op.get("requestBody")
        if not body:
            return None
        return self.deref(body["content"]["application/json"]["schema"])

    def success_schema(self, op):
        for status, resp in op["responses"].items():
            if status.startswith("2"):
                content = self.deref(resp).get("content")
                if content:
                    return self.deref(content["application/json"]["schema"])
        return None

    def schema(self, name):
        return self.doc["components"]["schemas"][name]

    def assert_matches(self, ours, spec, where):
        """ours (JSON Schema) says what spec (an OpenAPI 3.0 schema) says:
        type, format, enum, nullable, required, properties, items."""
        spec = self.deref(spec)
        t = ours.get("type")
        types = t if isinstance(t, list) else [t]
        assert spec["type"] in types, f"{where}: type {t} vs {spec['type']}"
        if spec.get("nullable"):
            assert "null" in types, f"{where}: nullable in the spec"
        else:
            assert "null" not in types, f"{where}: not nullable in the spec"
        assert ours.get("format") == spec.get("format"), f"{where}: format"
        assert ours.get("enum") == spec.get("enum"), f"{where}: enum"
        if "required" in spec:
            assert sorted(ours.get("required", [])) == sorted(spec["required"]), where
        if spec["type"] == "object":
            assert set(ours["properties"]) >= set(spec.get("properties", {})), where
            for name, sub in spec.get("properties", {}).items():
                self.assert_matches(ours["properties"][name], sub, f"{where}.{name}")
        if spec["type"] == "array":
            self.assert_matches(ours["items"], spec["items"], f"{where}[]")


@pytest.fixture(params=[SHIPPED, ORIGINAL])
def spec(request):
    return Spec(request.param)


@pytest.fixture(scope="module")
def tools(shared):
    r = shared.request("tools/list")["result"]
    assert "nextCursor" not in r
    return {t["name"]: t for t in r["tools"]}


def test_one_tool_per_spec_operation(tools, spec):
    assert set(tools) == set(spec.operations())


def test_tool_descriptions_are_the_spec_summaries(tools, spec):
    for name, (_, _, op) in spec.operations().items():
        t = tools[name]
        assert t["title"] == op["summary"]
        assert t["description"].startswith(op["summary"]), t["description"]
        assert t["annotations"]["title"] == op["summary"]


def test_input_schemas_hold_the_spec_parameters(tools, spec):
    """Every path and query parameter, with the spec's type and enum,
    required as in the spec; then the body's fields; nothing else but the
    extensions the shipped spec documents (C21 paging)."""
    shipped = Spec(SHIPPED)
    for name, (_, _, op) in spec.operations().items():
        schema = tools[name]["inputSchema"]
        assert schema["type"] == "object", name
        props = schema["properties"]
        required = set(schema.get("required", []))
        extensions = {p["name"] for p in shipped.params(shipped.operations()[name][2])}
        expected = set()
        for p in spec.params(op):
            expected.add(p["name"])
            ours = props[p["name"]]
            assert ours["type"] == p["schema"]["type"], (name, p)
            assert ours.get("enum") == p["schema"].get("enum"), (name, p)
            assert (p["name"] in required) == bool(p.get("required")), (name, p)
        body = spec.body_schema(op)
        if body is not None:
            for field, sub in body["properties"].items():
                expected.add(field)
                spec.assert_matches(props[field], sub, f"{name}.{field}")
            assert required >= set(body["required"]), name
        assert set(props) >= expected, name
        assert set(props) - expected <= extensions, (name, set(props) - expected)
        assert required <= set(props), name


def test_create_schema_is_mobile_credential_create(tools, spec):
    schema = tools["uploadCredential"]["inputSchema"]
    create = spec.schema("MobileCredentialCreate")
    assert set(schema["properties"]) == set(create["properties"])
    assert sorted(schema["required"]) == sorted(create["required"])
    spec.assert_matches(schema, create, "uploadCredential")


def test_output_schemas_are_the_spec_responses(tools, spec):
    credential = spec.schema("MobileCredential")
    for name, (_, _, op) in spec.operations().items():
        out = tools[name]["outputSchema"]
        assert out["type"] == "object", name
        answer = spec.success_schema(op)
        # deleteCredential answers 204 in REST; its tool returns the
        # credential as it stands after the revoke.
        spec.assert_matches(out, answer if answer is not None else credential, name)


def test_annotations_follow_the_operations(tools, spec):
    for name, (method, _, _) in spec.operations().items():
        a = tools[name]["annotations"]
        assert a["readOnlyHint"] is (method == "get"), name
        assert a["destructiveHint"] is (method == "delete"), name
        assert a["idempotentHint"] is (method in ("get", "delete")), name


def test_tools_list_with_a_bad_cursor(shared):
    r = shared.request("tools/list", {"cursor": "nope"})
    assert r["error"]["code"] == -32602


# --------------------------------------------------------------------------
# calling the tools


def assert_credential(c):
    assert re.match(ID_RE, c["credentialId"]), c
    for f in ("validFrom", "createdAt"):
        assert re.match(TIME_RE, c[f]), c
    assert c["status"] in ("Active", "Revoked", "Expired")
    assert "revokedAt" in c
    return c


def test_credential_lifecycle(session):
    u = uid()
    c = assert_credential(session.ok("uploadCredential", {
        "userId": u, "userEmail": "ann@example.com", "userName": "Ann",
        "accessProfile": "staff", "validTo": "2031-01-01T01:00:00+01:00"}))
    assert c["userId"] == u and c["status"] == "Active" and c["revokedAt"] is None
    assert c["validTo"] == "2031-01-01T00:00:00.000Z"  # C15
    cid = c["credentialId"]

    assert session.ok("getCredential", {"credentialId": cid}) == c
    listed = session.ok("listCredentials", {"userId": u})
    assert listed == {"credentials": [c]}
    assert cid in [x["credentialId"] for x in session.ok("listCredentials")["credentials"]]

    gone = session.ok("deleteCredential", {"credentialId": cid})
    assert gone["credentialId"] == cid and gone["status"] == "Revoked"
    assert re.match(TIME_RE, gone["revokedAt"])
    assert session.ok("getCredential", {"credentialId": cid}) == gone
    assert session.ok("listCredentials", {"userId": u}) == {"credentials": []}
    assert session.ok("listCredentials", {"userId": u, "status": "Revoked"}) == {
        "credentials": [gone]}
    # C19: revoking again changes nothing and keeps the first revokedAt
    assert session.ok("deleteCredential", {"credentialId": cid}) == gone


def test_list_devices(session, demo):
    devices = session.ok("listEngageDevices")["devices"]
    assert sorted(d["deviceId"] for d in devices) == sorted(demo["deviceIds"])
    assert [d["name"] for d in devices] == sorted(d["name"] for d in devices)  # C23
    assert {d["model"] for d in devices} <= set(
        SPEC["components"]["schemas"]["EngageDevice"]["properties"]["model"]["enum"])


def test_list_pages(session):
    u = uid()
    made = [session.ok("uploadCredential", {"userId": u, "accessProfile": "visitor"})
            for _ in range(3)]
    # C20: the list order is createdAt, then credentialId (two creates may
    # share a millisecond)
    ids = [c["credentialId"] for c in
           sorted(made, key=lambda c: (c["createdAt"], c["credentialId"]))]
    first = session.ok("listCredentials", {"userId": u, "limit": 2})
    assert [c["credentialId"] for c in first["credentials"]] == ids[:2]
    rest = session.ok("listCredentials", {"userId": u, "limit": 2,
                                          "cursor": first["nextCursor"]})
    assert [c["credentialId"] for c in rest["credentials"]] == ids[2:]
    assert "nextCursor" not in rest


# --------------------------------------------------------------------------
# tool errors: isError with the spec's Error object (C24)


def test_validation_errors_are_bad_request(session):
    session.error("uploadCredential", {"accessProfile": "staff"}, "BadRequest", "userId")
    session.error("uploadCredential", {"userId": 5, "accessProfile": "staff"},
                  "BadRequest", "userId")
    session.error("uploadCredential", {"userId": uid(), "accessProfile": "staff",
                                       "userEmail": "not an email"},
                  "BadRequest", "userEmail")
    session.error("uploadCredential", {"userId": uid(), "accessProfile": "staff",
                                       "validTo": "2001-01-01T00:00:00Z"},
                  "BadRequest", "validTo")
    session.error("uploadCredential", None, "BadRequest", "userId")
    session.error("listCredentials", {"status": "Bogus"}, "BadRequest", "status")
    session.error("listCredentials", {"limit": "2"}, "BadRequest", "limit")
    session.error("listCredentials", {"limit": 0}, "BadRequest", "limit")
    session.error("listCredentials", {"limit": 1.5}, "BadRequest", "limit")
    session.error("listCredentials", {"cursor": "nope"}, "BadRequest", "cursor")
    session.error("getCredential", {}, "BadRequest", "credentialId")
    session.error("getCredential", {"credentialId": 7}, "BadRequest", "credentialId")


def test_nesting_deeper_than_32_is_bad_request(session):
    deep = "x"
    for _ in range(40):
        deep = [deep]
    session.error("uploadCredential", {"userId": uid(), "accessProfile": "staff",
                                       "extra": deep}, "BadRequest")


def test_unknown_access_profile(session):
    session.error("uploadCredential", {"userId": uid(), "accessProfile": "nope"},
                  "UnknownAccessProfile", "accessProfile")


def test_unknown_credential_is_not_found(session):
    for tool in ("getCredential", "deleteCredential"):
        session.error(tool, {"credentialId": "A" * 22}, "NotFound")
        session.error(tool, {"credentialId": "../../etc"}, "NotFound")  # C12


# --------------------------------------------------------------------------
# protocol errors: JSON-RPC errors


def test_unknown_tool_is_invalid_params(session):
    r = session.request("tools/call", {"name": "dropTables", "arguments": {}})
    assert r["error"]["code"] == -32602 and "dropTables" in r["error"]["message"]
    r = session.request("tools/call", {"arguments": {}})
    assert r["error"]["code"] == -32602
    r = session.request("tools/call", {"name": "listCredentials", "arguments": [1]})
    assert r["error"]["code"] == -32602


def test_unknown_method(session):
    r = session.request("resources/list")
    assert r["error"]["code"] == -32601


def test_garbage_is_a_parse_error_and_the_session_goes_on(session):
    session.send_raw(b"this is not json\n")
    r = session.recv()
    assert r["error"]["code"] == -32700 and r["id"] is None
    session.send_raw(b'{"jsonrpc": "2.0", "id": 1, "method": \n')
    assert session.recv()["error"]["code"] == -32700
    session.send_raw(b"\xff\xfe\n")
    assert session.recv()["error"]["code"] == -32700
    assert session.request("ping")["result"] == {}


@pytest.mark.parametrize("msg", [
    {"id": 1, "method": "ping"},                        # no jsonrpc
    {"jsonrpc": "1.0", "id": 1, "method": "ping"},
    {"jsonrpc": "2.0", "id": 1},                        # no method
    {"jsonrpc": "2.0", "id": 1, "method": 42},
    {"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"},
    {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"},
    [],
    42,
])
def test_invalid_requests(session, msg):
    session.send(msg)
    r = session.recv()
    assert r["error"]["code"] == -32600, r
    assert r["id"] in (1, None)


def test_an_overlong_line_is_refused_and_the_session_goes_on(session):
    session.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'
                     + b"a" * (5 * 1024 * 1024) + b'"}}\n')
    assert session.recv()["error"]["code"] == -32600
    assert session.request("ping")["result"] == {}


def test_a_big_body_is_payload_too_large(session):
    session.error("uploadCredential", {"userId": uid(), "accessProfile": "staff",
                                       "pad": "x" * 70000}, "PayloadTooLarge")


# --------------------------------------------------------------------------
# authentication (C6-C8)


def start_refused(store, env):
    p = subprocess.run([BIN, "--store", store, "mcp"], env=env, capture_output=True,
                       input=b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n',
                       timeout=TIMEOUT)
    assert p.returncode == 1, p
    assert p.stdout == b"", p.stdout  # nothing served
    assert_no_sanitizer_report(p.stderr)
    return p.stderr.decode()


@pytest.mark.parametrize("missing", ["ENGAGE_SUBSCRIPTION_KEY", "ENGAGE_USERNAME",
                                     "ENGAGE_PASSWORD"])
def test_missing_credentials_refuse_to_start(store, env, missing):
    e = dict(env)
    del e[missing]
    assert missing in start_refused(store, e)
    e[missing] = ""
    assert missing in start_refused(store, e)


@pytest.mark.parametrize("which", ["key", "username", "password"])
def test_wrong_credentials_refuse_to_start(store, demo, which):
    args = {"key": demo["subscriptionKey"], "username": demo["username"],
            "password": demo["password"]}
    args[which] = "wrong-" + secrets.token_hex(8)
    err = start_refused(store, mcp_env(**args))
    assert "not valid" in err and "ENGAGE_PASSWORD" in err, err
    assert demo["password"] not in err and demo["subscriptionKey"] not in err  # C7


def new_tenant(store):
    tid = cli(store, "tenant", "create", "mcp-" + secrets.token_hex(3))["tenantId"]
    key = cli(store, "key", "create", tid)
    acct = cli(store, "account", "create", tid, "ops")
    cli(store, "profile", "create", tid, "staff")
    return tid, key, acct


def test_sessions_are_scoped_to_their_tenant(store, session):
    """C11: another tenant's credential is not found; lists never mix."""
    _, key, acct = new_tenant(store)
    other = Mcp(store, mcp_env(key["subscriptionKey"], "ops", acct["password"]))
    other.initialize()
    c = other.ok("uploadCredential", {"userId": uid(), "accessProfile": "staff"})
    session.error("getCredential", {"credentialId": c["credentialId"]}, "NotFound")
    session.error("deleteCredential", {"credentialId": c["credentialId"]}, "NotFound")
    assert other.ok("listCredentials")["credentials"] == [c]
    assert other.ok("listEngageDevices") == {"devices": []}
    assert other.close() == 0


def test_a_key_revoked_during_the_session_is_refused(store):
    """C8: the session's key and account are re-checked through the auth
    cache, so a revocation by the CLI is refused within a second or so."""
    _, key, acct = new_tenant(store)
    m = Mcp(store, mcp_env(key["subscriptionKey"], "ops", acct["password"]))
    m.initialize()
    m.ok("listCredentials")
    cli(store, "key", "revoke", key["keyId"])
    deadline = time.monotonic() + 2.0
    while not m.call("listCredentials")["isError"]:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.1)
    m.error("listCredentials", None, "Unauthorized")
    m.error("uploadCredential", {"userId": uid(), "accessProfile": "staff"},
            "Unauthorized")
    assert m.close() == 0


# --------------------------------------------------------------------------
# the same API as REST (C31), audited with the same actor (C28)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def rest(store, workdir):
    port = free_port()
    log = open(workdir / "serve.log", "wb")
    proc = subprocess.Popen([BIN, "--store", store, "serve", "--listen",
                             f"127.0.0.1:{port}"], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, \
            (workdir / "serve.log").read_text()
        time.sleep(0.05)
    yield port
    proc.send_signal(signal.SIGTERM)
    proc.wait(TIMEOUT)
    log.close()


def rest_call(port, demo, method, path, body=None):
    auth = base64.b64encode(f"{demo['username']}:{demo['password']}".encode()).decode()
    headers = {"alle-subscription-key": demo["subscriptionKey"],
               "Authorization": "Basic " + auth}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.request(method, "/engage" + path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        return r.status, raw
    finally:
        c.close()


def audit(store, cid):
    db = store[len("sqlite:"):]
    out = subprocess.run(["sqlite3", db, "select action, key_id, username, request_id "
                          f"from audit where credential_id = '{cid}' order by seq"],
                         capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return [tuple(line.split("|")) for line in out.stdout.splitlines()]


def test_mcp_and_rest_see_the_same_credentials(session, rest, demo, store):
    # made through MCP, read through REST: the very JSON the tool returned
    u = uid()
    c = session.ok("uploadCredential", {"userId": u, "accessProfile": "staff",
                                        "validTo": "2032-05-01T00:00:00Z"})
    status, raw = rest_call(rest, demo, "GET", "/credentials/" + c["credentialId"])
    assert status == 200 and json.loads(raw) == c
    status, raw = rest_call(rest, demo, "GET", "/credentials?userId=" + u)
    assert status == 200 and json.loads(raw) == session.ok("listCredentials", {"userId": u})
    status, raw = rest_call(rest, demo, "GET", "/devices")
    assert status == 200 and json.loads(raw) == session.ok("listEngageDevices")

    # made through REST, read and revoked through MCP
    status, raw = rest_call(rest, demo, "POST", "/credentials",
                            {"userId": u, "accessProfile": "visitor"})
    assert status == 201, raw
    r = json.loads(raw)
    assert session.ok("getCredential", {"credentialId": r["credentialId"]}) == r
    gone = session.ok("deleteCredential", {"credentialId": r["credentialId"]})
    status, raw = rest_call(rest, demo, "GET", "/credentials/" + r["credentialId"])
    assert status == 200 and json.loads(raw) == gone

    # C28: one actor, whichever surface; MCP's request ids are its own
    mine = audit(store, c["credentialId"])
    theirs = audit(store, r["credentialId"])
    assert [a[0] for a in mine] == ["credential.create"]
    assert [a[0] for a in theirs] == ["credential.create", "credential.revoke"]
    actors = {(a[1], a[2]) for a in mine + theirs}
    assert len(actors) == 1 and actors.pop()[1] == demo["username"], mine + theirs
    assert re.match(r"^mcp-[A-Za-z0-9_-]{22}$", mine[0][3]), mine
    assert re.match(r"^mcp-[A-Za-z0-9_-]{22}$", theirs[1][3]), theirs
    assert not theirs[0][3].startswith("mcp-")
    assert mine[0][3] != theirs[1][3]


# --------------------------------------------------------------------------
# the official client, and the README's registration


def test_mcp_inspector_cli():
    p = subprocess.run(["sh", str(REPO / "tests" / "mcp" / "inspector.sh")],
                       env=dict(os.environ, ENGAGE_BIN=BIN), capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "checks passed" in p.stdout


def test_readme_registration_works_as_printed(workdir):
    """The README's MCP section: its shell snippet, run where `make run` left
    engage-demo.env and engage.db, prints a config that the MCP Inspector
    loads (--config) and uses."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## MCP\n", 1)[1].split("\n## ", 1)[0]
    snippet = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    d = workdir / "readme"
    (d / "build").mkdir(parents=True)
    os.symlink(BIN, d / "build" / "engage")
    demo = cli(f"sqlite:{d / 'engage.db'}", "demo")  # what `make run` does
    (d / "engage-demo.env").write_text(
        f"ENGAGE_TENANT_ID={demo['tenantId']}\n"
        f"ENGAGE_SUBSCRIPTION_KEY={demo['subscriptionKey']}\n"
        f"ENGAGE_USERNAME={demo['username']}\n"
        f"ENGAGE_PASSWORD={demo['password']}\n")
    p = subprocess.run(["sh", "-c", snippet], cwd=d, capture_output=True, text=True,
                       timeout=TIMEOUT, env={"PATH": os.environ["PATH"]})
    assert p.returncode == 0, p.stderr
    config = json.loads(p.stdout)
    server = config["mcpServers"]["engage"]
    assert set(server) == {"command", "args", "env"}
    assert server["args"][-1] == "mcp"
    (d / "mcp.json").write_text(p.stdout)
    r = subprocess.run(["npx", "--no-install", "@modelcontextprotocol/inspector", "--cli",
                        "--config", str(d / "mcp.json"), "--server", "engage",
                        "--method", "tools/call", "--tool-name", "listEngageDevices"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(json.loads(r.stdout)["structuredContent"]["devices"]) == 3
