"""Least privilege (issue 5): `serve --user NAME` binds, gives the store's
files to NAME and drops root. Started as root with --user nobody, the
process runs as nobody, still reads and writes, and the store file is
mode 0600 and nobody's.
"""
import os
import pwd
import stat
import time

import pytest

from engage_hardening import api, proc_status, stop_checked


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_serve_user_nobody(tmpdir_path):
    nobody = pwd.getpwnam("nobody")
    # the store's directory must be reachable by the user (the operator's
    # part); the files in it are engage's
    os.chmod(tmpdir_path, 0o755)
    srv = api.EngageServer(tmpdir_path, extra_args=["--user", "nobody",
                                                    "--auth-fail-limit", "0"])
    t = api.provision_tenant(srv, "priv", profiles=("P1",))
    srv.start()
    try:
        # engage drops root right after its daemon has started (it may have
        # answered the first /healthz a moment before): allow a second
        deadline = time.monotonic() + 1.0
        st = proc_status(srv.proc.pid)
        while int(st["Uid"].split()[1]) != nobody.pw_uid and time.monotonic() < deadline:
            time.sleep(0.01)
            st = proc_status(srv.proc.pid)
        uids = [int(x) for x in st["Uid"].split()]
        gids = [int(x) for x in st["Gid"].split()]
        assert uids == [nobody.pw_uid] * 4, f"Uid line {st['Uid']!r}"
        assert gids == [nobody.pw_gid] * 4, f"Gid line {st['Gid']!r}"
        assert st.get("Groups", "") == "", f"supplementary groups kept: {st['Groups']!r}"
        assert int(st["CapEff"], 16) == 0, f"capabilities kept: {st['CapEff']}"

        # reads and writes still work
        hdrs = dict(t.headers(), **{"Content-Type": "application/json"})
        r = api.http_request(srv.port, "POST", "/engage/credentials", hdrs,
                             b'{"userId":"priv-user","accessProfile":"P1"}')
        assert r.status == 201, r
        cid = r.json["credentialId"]
        r = api.http_request(srv.port, "GET", f"/engage/credentials/{cid}", t.headers())
        assert r.status == 200, r
        r = api.http_request(srv.port, "DELETE", f"/engage/credentials/{cid}", t.headers())
        assert r.status == 204, r
        r = api.http_request(srv.port, "GET", "/engage/credentials?status=Revoked",
                             t.headers())
        assert r.status == 200 and [c["credentialId"] for c in r.json["credentials"]] == [cid]
        r = api.http_request(srv.port, "GET", "/engage/devices", t.headers())
        assert r.status == 200, r
        assert api.http_request(srv.port, "GET", "/readyz").status == 200

        db = os.stat(srv.db)
        assert stat.S_IMODE(db.st_mode) == 0o600, f"store mode {oct(stat.S_IMODE(db.st_mode))}"
        assert db.st_uid == nobody.pw_uid, f"store owned by uid {db.st_uid}"
        for suffix in ("-wal", "-shm"):
            p = str(srv.db) + suffix
            if os.path.exists(p):
                assert os.stat(p).st_uid == nobody.pw_uid, f"{p} not nobody's"
    finally:
        stop_checked(srv)


def test_serve_user_unknown_fails(tmpdir_path):
    srv = api.EngageServer(tmpdir_path, extra_args=["--user", "no-such-user-xyz"])
    api.provision_tenant(srv, "priv2", profiles=("P1",))
    with pytest.raises(RuntimeError, match="exited"):
        srv.start(timeout=5)
    srv.stop()
    assert "no-such-user-xyz" in srv.log_text()
