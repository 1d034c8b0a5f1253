"""Crash safety (C26, C27): nothing answered 201 or 204 is lost when the
process is killed.

32 keep-alive connections create and revoke credentials against the real
`engage serve` on a fresh store; at a random moment 0.3-1.5 s in, the
server is killed with SIGKILL. Then:
  - `PRAGMA integrity_check` of the store is ok (sqlite3 CLI);
  - the server restarts on the same store;
  - every create answered 201 reads back (GET 200) with the fields sent,
    and every revoke answered 204 reads back Revoked.
Rounds: CRASH_ROUNDS (3 in `make test`, 20 in `make crash-test`); the seed
of the random moments is printed (CRASH_SEED repeats a run). At the end all
the writes of all rounds are checked again through the lists.
"""
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import engage_api as api

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "3"))
WORKERS = 32
PROFILES = ("P1", "P2")


def no_sanitizer_report(log):
    """A sanitizer build (make test SANITIZE=1) reports errors in the log."""
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert mark not in log, log[max(0, log.find(mark) - 200):][:4000]


def integrity_check(db):
    sqlite3 = shutil.which("sqlite3")
    assert sqlite3, "the sqlite3 CLI is not installed (scripts/deps.sh installs it)"
    p = subprocess.run([sqlite3, str(db), "PRAGMA integrity_check;"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", \
        f"integrity_check: rc {p.returncode}: {p.stdout!r} {p.stderr!r}"


class Load:
    """WORKERS connections writing until the server dies."""

    def __init__(self, port, tenant, rnd, rng):
        self.port = port
        self.tenant = tenant
        self.rnd = rnd
        self.created = {}    # credentialId -> body sent, answered 201
        self.revoked = set()  # credentialIds answered 204
        self.unexpected = []
        self.lock = threading.Lock()
        self.seeds = [rng.random() for _ in range(WORKERS)]

    def worker(self, i):
        rng = random.Random(self.seeds[i])
        hdrs = dict(self.tenant.headers(), **{"Content-Type": "application/json"})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        mine = []
        n = 0
        try:
            while True:
                if mine and rng.random() < 0.3:
                    cid = mine.pop(rng.randrange(len(mine)))
                    conn.request("DELETE", f"/engage/credentials/{cid}", headers=hdrs)
                    r = conn.getresponse()
                    data = r.read()
                    if r.status == 204:
                        with self.lock:
                            self.revoked.add(cid)
                    else:
                        self.unexpected.append(("DELETE", r.status, data[:200]))
                    continue
                n += 1
                body = {"userId": f"crash-{self.rnd}-{i}-{n}",
                        "accessProfile": rng.choice(PROFILES),
                        "userName": f"Worker {i} no. {n}",
                        "userEmail": f"w{i}.n{n}@example.com",
                        "validTo": "2035-06-01T12:00:00.250Z"}
                conn.request("POST", "/engage/credentials", json.dumps(body), hdrs)
                r = conn.getresponse()
                data = r.read()
                if r.status == 201:
                    cid = json.loads(data)["credentialId"]
                    with self.lock:
                        self.created[cid] = body
                    mine.append(cid)
                else:
                    self.unexpected.append(("POST", r.status, data[:200]))
        except (OSError, http.client.HTTPException, ValueError):
            return  # killed
        finally:
            conn.close()

    def run(self, kill_after, proc):
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                   for i in range(WORKERS)]
        for t in threads:
            t.start()
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads), "a client hung after the kill"


def verify(port, tenant, created, revoked):
    """GET every credential answered 201 (and every one revoked 204)."""
    hdrs = tenant.headers()
    problems = []

    def check(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for cid in chunk:
                conn.request("GET", f"/engage/credentials/{cid}", headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                if r.status != 200:
                    problems.append((cid, r.status, data[:200]))
                    continue
                c = json.loads(data)
                body = created.get(cid)
                if body is not None:
                    for k, v in body.items():
                        want = "2035-06-01T12:00:00.250Z" if k == "validTo" else v
                        if c.get(k) != want:
                            problems.append((cid, k, c.get(k), want))
                if cid in revoked and (c.get("status") != "Revoked" or not c.get("revokedAt")):
                    problems.append((cid, "not revoked", c.get("status"), c.get("revokedAt")))
        finally:
            conn.close()

    ids = sorted(set(created) | revoked)
    chunks = [ids[k::8] for k in range(8)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(check, chunks))
    return problems


def list_all(port, tenant, status):
    out = {}
    cursor = None
    while True:
        q = f"/engage/credentials?status={status}&limit=1000"
        if cursor:
            q += f"&cursor={cursor}"
        r = api.http_request(port, "GET", q, tenant.headers(), timeout=60)
        assert r.status == 200, r
        for c in r.json["credentials"]:
            out[c["credentialId"]] = c
        cursor = r.json.get("nextCursor")
        if not cursor:
            return out


def test_c27_nothing_answered_is_lost_over_sigkill():
    seed = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    d = Path(tempfile.mkdtemp(prefix="engage-crash-"))
    srv = api.EngageServer(d, extra_args=["--auth-fail-limit", "0"])
    all_created, all_revoked = {}, set()
    checked = 0
    try:
        tenant = api.provision_tenant(srv, "crash", profiles=PROFILES)
        srv.start()
        print(f"\ncrash test: {ROUNDS} rounds, {WORKERS} connections, seed {seed}")
        for rnd in range(1, ROUNDS + 1):
            kill_after = rng.uniform(0.3, 1.5)
            load = Load(srv.port, tenant, rnd, rng)
            load.run(kill_after, srv.proc)
            srv.stop()  # reaps the killed process, closes its log
            no_sanitizer_report(srv.log_text())
            assert not load.unexpected, load.unexpected[:5]
            integrity_check(srv.db)
            srv.start()
            problems = verify(srv.port, tenant, load.created, load.revoked)
            assert not problems, (f"round {rnd}: {len(problems)} acknowledged writes lost "
                                  f"or changed: {problems[:10]}")
            n = len(load.created) + len(load.revoked)
            checked += n
            all_created.update(load.created)
            all_revoked |= load.revoked
            print(f"round {rnd}: SIGKILL at {kill_after:.2f} s; {len(load.created)} creates "
                  f"(201) and {len(load.revoked)} revokes (204) read back intact")
        # every round's writes, once more, through the lists
        active = list_all(srv.port, tenant, "Active")
        revoked = list_all(srv.port, tenant, "Revoked")
        for cid in all_created:
            assert cid in active or cid in revoked, f"{cid} (201) missing from the lists"
        for cid in all_revoked:
            assert cid in revoked, f"{cid} (204) not listed as Revoked"
        rc = srv.stop()
        no_sanitizer_report(srv.log_text())
        assert rc == 0, srv.log_tail()
        integrity_check(srv.db)
        print(f"crash test: {checked} acknowledged writes checked over {ROUNDS} SIGKILLs "
              f"({len(all_created)} creates, {len(all_revoked)} revokes); "
              f"integrity_check ok")
        assert checked > 0
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
