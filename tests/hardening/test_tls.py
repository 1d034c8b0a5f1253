"""TLS (C2, issue 5): `serve --tls-cert F --tls-key F` serves HTTPS only,
TLS 1.2 and 1.3; older versions and plain HTTP are refused.

A self-signed P-256 certificate for 127.0.0.1 is made with openssl per test
module; clients trust exactly that certificate.
"""
import http.client
import socket
import ssl
import threading
import warnings

import pytest

from engage_hardening import TLSServer, api, make_cert, stop_checked, tls_context


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("engage-tls")
    cert, key = make_cert(d)
    srv = TLSServer(d, cert, key, extra_args=["--auth-fail-limit", "0"])
    srv.tenant = api.provision_tenant(srv, "tls", profiles=("P1",))
    srv.start()
    yield srv
    stop_checked(srv)


def test_c2_https_serves_the_api(tls):
    t = tls.tenant
    r, version = tls.https("POST", "/engage/credentials",
                           dict(t.headers(), **{"Content-Type": "application/json"}),
                           b'{"userId":"tls-user","accessProfile":"P1"}')
    assert r.status == 201, r
    cid = r.json["credentialId"]
    r, _ = tls.https("GET", "/engage/credentials?userId=tls-user", t.headers())
    assert r.status == 200, r
    assert [c["credentialId"] for c in r.json["credentials"]] == [cid]
    r, _ = tls.https("GET", "/healthz")
    assert r.status == 200, r
    # the certificate is checked: a client trusting nothing else fails
    with pytest.raises(ssl.SSLCertVerificationError):
        tls.https("GET", "/healthz", ctx=ssl.create_default_context())


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_c2_tls_1_2_and_1_3_accepted(tls, version):
    ctx = tls_context(tls.cert, minimum=version, maximum=version)
    r, got = tls.https("GET", "/engage/credentials", tls.tenant.headers(), ctx=ctx)
    assert r.status == 200, r
    assert got == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


def _old_context(cafile, version):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.create_default_context(cafile=str(cafile))
        # OpenSSL 3 offers TLS 1.0 and 1.1 only at security level 0
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def _client_hello_version(ctx):
    """The legacy_version a client with ctx puts in its ClientHello, read by
    a plain TCP listener (proves the client really offers the old version)."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(1)
    port = lsn.getsockname()[1]
    got = {}

    def serve():
        c, _ = lsn.accept()
        c.settimeout(5)
        data = b""
        while len(data) < 11:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        got["hello"] = data
        c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            try:
                ctx.wrap_socket(s, server_hostname="127.0.0.1")
            except (ssl.SSLError, OSError):
                pass
    finally:
        th.join(5)
        lsn.close()
    h = got.get("hello", b"")
    assert len(h) >= 11 and h[0] == 0x16 and h[5] == 0x01, f"not a ClientHello: {h[:16]!r}"
    return (h[9], h[10])


@pytest.mark.parametrize("version,wire", [(ssl.TLSVersion.TLSv1_1, (3, 2)),
                                          (ssl.TLSVersion.TLSv1, (3, 1))],
                         ids=["tls1.1", "tls1.0"])
def test_c2_tls_1_1_and_1_0_refused(tls, version, wire):
    ctx = _old_context(tls.cert, version)
    assert _client_hello_version(ctx) == wire, "this client cannot offer the old version"
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", tls.port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                pytest.fail(f"handshake succeeded with {t.version()}")
    # and the server is still fine
    r, _ = tls.https("GET", "/healthz")
    assert r.status == 200


def test_c2_plain_http_to_the_tls_port_fails(tls):
    try:
        r = api.http_request(tls.port, "GET", "/engage/credentials", tls.tenant.headers(),
                             timeout=5)
    except (OSError, http.client.HTTPException) as e:  # reset, closed, not HTTP
        print(f"plain HTTP to the TLS port: {type(e).__name__}: {e}")
        return
    pytest.fail(f"plain HTTP to the TLS port was answered: {r!r}")
