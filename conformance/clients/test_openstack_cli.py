"""The `openstack` CLI (python-openstackclient) against the emulator, via subprocess."""

import json
import subprocess
import uuid

from common import check, finish, wait_until

NAME = f"cli-{uuid.uuid4().hex[:8]}"
s = {}


def osc(*args, ok=True):
    """Runs `openstack ARGS`; returns parsed JSON (with `-f json`) or the completed process."""
    p = subprocess.run(["openstack", *args], capture_output=True, text=True, timeout=120)
    if not ok:
        return p
    assert p.returncode == 0, f"openstack {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-300:]}"
    return json.loads(p.stdout) if "json" in args else p.stdout


def show(vol_id):
    return osc("volume", "show", vol_id, "-f", "json")


def show_when(what, vol_id, pred):
    """Polls `volume show` until `pred(volume)` holds."""
    return wait_until(what, lambda: v if pred(v := show(vol_id)) else None)


@check("cli token issue")
def _():
    t = osc("token", "issue", "-f", "json")
    assert t["id"] and t["project_id"] and t["user_id"], t


@check("cli catalog list")
def _():
    types = {e["Type"]: e for e in osc("catalog", "list", "-f", "json")}
    assert {"identity", "block-storage", "volumev3"} <= set(types), sorted(types)
    urls = [ep["url"] for ep in types["volumev3"]["Endpoints"]]
    assert all("/volume/v3/" in u for u in urls), urls


@check("cli volume type list")
def _():
    names = [t["Name"] for t in osc("volume", "type", "list", "-f", "json")]
    assert {"__DEFAULT__", "glance-fast", "multiattach"} <= set(names), names


@check("cli volume type show glance-fast")
def _():
    t = osc("volume", "type", "show", "glance-fast", "-f", "json")
    assert t["name"] == "glance-fast" and t["is_public"] is True, t


@check("cli volume create --type glance-fast")
def _():
    v = osc("volume", "create", "--size", "1", "--type", "glance-fast", NAME, "-f", "json")
    assert v["size"] == 1 and v["name"] == NAME and v["type"] == "glance-fast", v
    s["id"] = v["id"]


@check("cli volume show until available")
def _():
    v = show_when("available", s["id"], lambda v: v["status"] == "available")
    assert v["size"] == 1 and v["type"] == "glance-fast", v


@check("cli volume list --name --status")
def _():
    hits = osc("volume", "list", "--name", NAME, "--status", "available", "-f", "json")
    assert [h["ID"] for h in hits] == [s["id"]], hits
    none = osc("volume", "list", "--name", NAME, "--status", "error", "-f", "json")
    assert none == [], none


@check("cli volume set --property / unset --property")
def _():
    osc("volume", "set", "--property", "k=v", "--property", "keep=1", s["id"])
    assert show(s["id"])["properties"] == {"k": "v", "keep": "1"}
    osc("volume", "unset", "--property", "k", s["id"])
    assert show(s["id"])["properties"] == {"keep": "1"}


@check("cli volume set --size 2 (extend)")
def _():
    osc("volume", "set", "--size", "2", s["id"])
    show_when("size 2", s["id"], lambda v: v["status"] == "available" and v["size"] == 2)


def backup_show(backup_id):
    return osc("volume", "backup", "show", backup_id, "-f", "json")


@check("cli volume backup create / show until available")
def _():
    b = osc("volume", "backup", "create", "--name", f"{NAME}-bk", s["id"], "-f", "json")
    s["backup"] = b["id"]
    done = wait_until("backup available", lambda: x if (x := backup_show(b["id"]))["status"] == "available" else None)
    assert done["name"] == f"{NAME}-bk" and done["volume_id"] == s["id"], done
    show_when("volume available again", s["id"], lambda v: v["status"] == "available")
    assert any(x["ID"] == b["id"] for x in osc("volume", "backup", "list", "-f", "json"))


@check("cli volume backup restore to a new volume by name")
def _():
    r = osc("volume", "backup", "restore", s["backup"], f"{NAME}-restored", "-f", "json")
    vid = r["volume_id"]
    v = show_when("restored volume available", vid, lambda v: v["status"] == "available")
    assert v["name"] == f"{NAME}-restored" and v["size"] == 2, v
    osc("volume", "delete", vid)


@check("cli volume backup restore --force onto its volume, backup delete")
def _():
    p = osc("volume", "backup", "restore", s["backup"], s["id"], ok=False)
    assert p.returncode != 0 and "--force" in p.stderr, p.stderr
    osc("volume", "backup", "restore", "--force", s["backup"], s["id"], "-f", "json")
    show_when("restored onto itself", s["id"], lambda v: v["status"] == "available")
    wait_until("backup available", lambda: backup_show(s["backup"])["status"] == "available" or None)
    osc("volume", "backup", "delete", s["backup"])
    wait_until("backup gone", lambda: osc("volume", "backup", "show", s["backup"], ok=False).returncode != 0 or None)


@check("cli volume delete until gone")
def _():
    osc("volume", "delete", s["id"])
    wait_until("gone", lambda: osc("volume", "show", s["id"], ok=False).returncode != 0)
    assert all(v["ID"] != s["id"] for v in osc("volume", "list", "-f", "json"))


@check("cli volume show missing fails")
def _():
    for ref in [str(uuid.uuid4()), "no-such-volume"]:
        p = osc("volume", "show", ref, ok=False)
        out = p.stdout + p.stderr
        assert p.returncode != 0, out
        assert any(m in out for m in ["No volume with a name or ID", "No Volume found", "404"]), out


@check("cli volume create --size 0 fails with 400")
def _():
    p = osc("volume", "create", "--size", "0", f"{NAME}-zero", ok=False)
    assert p.returncode != 0 and "400" in p.stderr, p.stderr


finish()
