"""The `openstack` CLI on the admin APIs Tempest checks: volume services, QoS specs,
volume transfers (accepted by another project) and backend pools."""

import json
import subprocess
import uuid

from common import check, finish, wait_until

TAG = uuid.uuid4().hex[:8]
DEMO = ["--os-username", "demo", "--os-password", "demo", "--os-project-name", "demo"]
s = {}


def osc(*args, ok=True):
    """Runs `openstack ARGS`; returns parsed JSON (with `-f json`) or the stdout."""
    p = subprocess.run(["openstack", *args], capture_output=True, text=True, timeout=120)
    if not ok:
        return p
    assert p.returncode == 0, f"openstack {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-300:]}"
    return json.loads(p.stdout) if "json" in args else p.stdout


@check("cli volume service list")
def _():
    svcs = osc("volume", "service", "list", "-f", "json")
    pairs = {(x["Binary"], x["Host"]) for x in svcs}
    assert ("cinder-volume", "cinderbox@local") in pairs, svcs
    assert all(x["Status"] == "enabled" and x["State"] == "up" for x in svcs), svcs


@check("cli volume service set --disable --disable-reason, then --enable")
def _():
    osc("volume", "service", "set", "--disable", "--disable-reason", "cli", "cinderbox", "cinder-scheduler")
    svc = [x for x in osc("volume", "service", "list", "--long", "-f", "json") if x["Binary"] == "cinder-scheduler"][0]
    assert svc["Status"] == "disabled" and svc["Disabled Reason"] == "cli", svc
    osc("volume", "service", "set", "--enable", "cinderbox", "cinder-scheduler")
    svc = [x for x in osc("volume", "service", "list", "-f", "json") if x["Binary"] == "cinder-scheduler"][0]
    assert svc["Status"] == "enabled", svc


@check("cli volume backend pool list --long")
def _():
    pools = osc("volume", "backend", "pool", "list", "--long", "-f", "json")
    # the default world's two backends: local, and the NFS-exported nfs-1
    assert [p["Name"] for p in pools] == ["cinderbox@local#local", "cinderbox@nfs-1#nfs-1"], pools
    caps = pools[0]["Capabilities"]
    assert caps["storage_protocol"] == "local" and caps["vendor_name"] == "cinderbox", pools
    assert caps["total_capacity_gb"] == 10000, pools


@check("cli volume qos create --property, set, associate")
def _():
    q = osc("volume", "qos", "create", "--consumer", "front-end", "--property", "read_iops_sec=100", f"qos-{TAG}", "-f", "json")
    s["qos"] = q["id"]
    assert q["consumer"] == "front-end" and "read_iops_sec" in str(q["properties"]), q
    osc("volume", "qos", "set", "--property", "write_iops_sec=50", s["qos"])
    shown = osc("volume", "qos", "show", s["qos"], "-f", "json")
    assert "write_iops_sec" in str(shown["properties"]), shown
    t = osc("volume", "type", "create", f"qos-type-{TAG}", "-f", "json")
    s["type"] = t["id"]
    osc("volume", "qos", "associate", s["qos"], s["type"])
    shown = osc("volume", "qos", "show", s["qos"], "-f", "json")
    assert f"qos-type-{TAG}" in str(shown["associations"]), shown
    osc("volume", "qos", "disassociate", "--volume-type", s["type"], s["qos"])
    osc("volume", "qos", "delete", s["qos"])
    osc("volume", "type", "delete", s["type"])


@check("cli volume transfer request create, accept by another project")
def _():
    v = osc("volume", "create", "--size", "1", f"xfer-{TAG}", "-f", "json")
    vid = v["id"]
    wait_until("available", lambda: osc("volume", "show", vid, "-f", "json")["status"] == "available")
    req = osc("volume", "transfer", "request", "create", "--name", f"xfer-{TAG}", vid, "-f", "json")
    assert req["auth_key"] and req["volume_id"] == vid, req
    wait_until("awaiting-transfer", lambda: osc("volume", "show", vid, "-f", "json")["status"] == "awaiting-transfer")
    listed = osc("volume", "transfer", "request", "list", "-f", "json")
    assert req["id"] in [x["ID"] for x in listed], listed
    osc(*DEMO, "volume", "transfer", "request", "accept", "--auth-key", req["auth_key"], req["id"], "-f", "json")
    mine = osc(*DEMO, "volume", "show", vid, "-f", "json")
    assert mine["status"] == "available", mine
    osc(*DEMO, "volume", "delete", vid)


@check("cli volume type create --private, hidden from members, show, delete")
def _():
    # (`volume type set --project` resolves the project through Keystone's /v3/projects,
    # which the emulator's Keystone does not serve yet; cinderclient shares it instead.)
    t = osc("volume", "type", "create", "--private", f"private-{TAG}", "-f", "json")
    assert t["is_public"] is False, t
    names = [x["Name"] for x in osc(*DEMO, "volume", "type", "list", "-f", "json")]
    assert f"private-{TAG}" not in names, names
    shown = osc("volume", "type", "show", t["id"], "-f", "json")
    assert shown["name"] == f"private-{TAG}" and shown["is_public"] is False, shown
    osc("volume", "type", "delete", t["id"])

finish()
