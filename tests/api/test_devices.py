"""GET /devices: C23 (tenant's devices, ordered by name then deviceId), C16
(optional fields omitted), C6/C11 (tenant isolation)."""
import pytest

from conftest import DEVICE_MODELS, assert_json_ct


def device_list(client, tenant):
    r = client.api("GET", "/devices", auth=tenant)
    assert r.status == 200, r
    assert_json_ct(r)
    assert isinstance(r.json, dict) and isinstance(r.json.get("devices"), list), r
    for d in r.json["devices"]:
        assert {"deviceId", "name", "model"} <= set(d), d
        assert set(d) <= {"deviceId", "name", "model", "firmwareVersion", "siteId"}, d
        assert d["model"] in DEVICE_MODELS, d
        for k in ("firmwareVersion", "siteId"):
            if k in d:
                assert isinstance(d[k], str), f"{k} must be omitted, not null (C16): {d}"
    return r.json["devices"]


def expected(tenant):
    out = []
    for d in tenant.devices:
        e = {"deviceId": d["deviceId"], "name": d["name"], "model": d["model"]}
        for k in ("firmwareVersion", "siteId"):
            if k in d:
                e[k] = d[k]
        out.append(e)
    return sorted(out, key=lambda d: (d["name"].encode(), d["deviceId"].encode()))


@pytest.mark.conformance
def test_c23_list_devices(client, tenant):
    got = device_list(client, tenant)
    assert got == expected(tenant)


def test_c23_devices_are_per_tenant(client, tenant, other_tenant):
    mine = {d["deviceId"] for d in device_list(client, tenant)}
    theirs = {d["deviceId"] for d in device_list(client, other_tenant)}
    assert not mine & theirs
    assert theirs == {d["deviceId"] for d in other_tenant.devices}


@pytest.mark.conformance
def test_c23_empty_tenant(client, make_tenant):
    t = make_tenant(profiles=("P1",))
    r = client.api("GET", "/devices", auth=t)
    assert r.status == 200, r
    assert r.json == {"devices": []}


def test_c23_every_model_and_removal(server, client, make_tenant):
    models = sorted(DEVICE_MODELS)
    t = make_tenant(profiles=("P1",),
                    devices=[{"name": f"Dev {i:02d}", "model": m} for i, m in enumerate(models)])
    got = device_list(client, t)
    assert got == expected(t)
    assert sorted(d["model"] for d in got) == models
    gone = t.devices[3]["deviceId"]
    out = server.cli("device", "remove", t.id, gone)
    assert out == {"deviceId": gone, "removed": True}
    got = device_list(client, t)
    assert gone not in {d["deviceId"] for d in got}
    assert len(got) == len(models) - 1
