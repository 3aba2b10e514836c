"""`openstack volume snapshot ...` (python-openstackclient) against the emulator:
create, show until available, list, set/unset properties, a volume from the snapshot,
the volume delete a snapshot blocks, snapshot delete, and `volume delete --purge`."""

import json
import subprocess
import uuid

from common import check, finish, wait_until

NAME = f"cli-snap-{uuid.uuid4().hex[:8]}"
s = {}


def osc(*args, ok=True):
    """Runs `openstack ARGS`; returns parsed JSON (with `-f json`) or the completed process."""
    p = subprocess.run(["openstack", *args], capture_output=True, text=True, timeout=120)
    if not ok:
        return p
    assert p.returncode == 0, f"openstack {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-300:]}"
    return json.loads(p.stdout) if "json" in args else p.stdout


def status_is(kind, ref, status):
    """Polls `openstack KIND show REF` until its status is `status`."""
    show = kind.split() + ["show", ref, "-f", "json"]
    return wait_until(f"{kind} {ref} {status}", lambda: v if (v := osc(*show))["status"] == status else None)


def gone(kind, ref):
    show = kind.split() + ["show", ref]
    wait_until(f"{kind} {ref} gone", lambda: osc(*show, ok=False).returncode != 0)


@check("cli volume create for snapshots")
def _():
    v = osc("volume", "create", "--size", "1", NAME, "-f", "json")
    s["vol"] = v["id"]
    status_is("volume", s["vol"], "available")


@check("cli volume snapshot create")
def _():
    snap = osc("volume", "snapshot", "create", "--volume", s["vol"], "--description", "d",
               "--property", "k=v", f"{NAME}-s", "-f", "json")
    assert snap["volume_id"] == s["vol"] and snap["size"] == 1, snap
    assert snap["status"] in ("creating", "available"), snap
    s["snap"] = snap["id"]


@check("cli volume snapshot show until available")
def _():
    snap = status_is("volume snapshot", s["snap"], "available")
    assert snap["name"] == f"{NAME}-s" and snap["description"] == "d", snap
    assert snap["properties"] in ({"k": "v"}, "k='v'"), snap


@check("cli volume snapshot list (and --long, --volume)")
def _():
    ids = [x["ID"] for x in osc("volume", "snapshot", "list", "-f", "json")]
    assert s["snap"] in ids, ids
    long = osc("volume", "snapshot", "list", "--long", "--volume", s["vol"], "-f", "json")
    assert [x["ID"] for x in long] == [s["snap"]], long
    assert long[0]["Status"] == "available", long


@check("cli volume snapshot set / unset --property, --name")
def _():
    osc("volume", "snapshot", "set", "--property", "a=1", "--name", f"{NAME}-r", s["snap"])
    snap = osc("volume", "snapshot", "show", s["snap"], "-f", "json")
    assert snap["name"] == f"{NAME}-r", snap
    osc("volume", "snapshot", "unset", "--property", "k", s["snap"])
    snap = osc("volume", "snapshot", "show", s["snap"], "-f", "json")
    assert snap["properties"] in ({"a": "1"}, "a='1'"), snap


@check("cli volume create --snapshot")
def _():
    v = osc("volume", "create", "--snapshot", s["snap"], "--size", "2", f"{NAME}-from", "-f", "json")
    assert v["snapshot_id"] == s["snap"], v
    v = status_is("volume", v["id"], "available")
    assert v["size"] == 2, v
    osc("volume", "delete", v["id"])
    gone("volume", v["id"])


@check("cli volume delete refused while a snapshot exists")
def _():
    p = osc("volume", "delete", s["vol"], ok=False)
    assert p.returncode != 0, p.stdout
    assert "have snapshots" in p.stderr or "400" in p.stderr, p.stderr
    status_is("volume", s["vol"], "available")


@check("cli volume snapshot delete until gone")
def _():
    osc("volume", "snapshot", "delete", s["snap"])
    gone("volume snapshot", s["snap"])
    assert all(x["ID"] != s["snap"] for x in osc("volume", "snapshot", "list", "-f", "json"))


@check("cli volume delete --purge takes its snapshots")
def _():
    snap = osc("volume", "snapshot", "create", "--volume", s["vol"], f"{NAME}-p", "-f", "json")
    status_is("volume snapshot", snap["id"], "available")
    osc("volume", "delete", "--purge", s["vol"])
    gone("volume", s["vol"])
    gone("volume snapshot", snap["id"])


finish()
