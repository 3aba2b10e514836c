"""python-cinderclient at microversion 3.54 over a keystoneauth1 password session."""

import os
import uuid

from cinderclient import client as cinder_client
from cinderclient import exceptions as cx
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from common import check, cloud_auth, finish, wait_until

NAME = f"cc-{uuid.uuid4().hex[:8]}"
# What os-brick reports for a host; the emulator's `local` connections ignore it.
CONNECTOR = {"platform": "x86_64", "os_type": "linux", "ip": "127.0.0.1",
             "host": "cinderbox-clients", "multipath": False,
             "initiator": "iqn.1993-08.org.debian:01:cinderbox"}


def connect(**auth_override):
    sess = ks_session.Session(auth=v3.Password(**cloud_auth(**auth_override)))
    return cinder_client.Client("3.54", session=sess)


c = connect()
s = {}


def wait_volume(what, pred):
    return wait_until(what, lambda: v if pred(v := c.volumes.get(s["id"])) else None)


@check("cinderclient volume_types.list/get/default")
def _():
    types = {t.name: t for t in c.volume_types.list()}
    assert {"__DEFAULT__", "glance-fast", "multiattach"} <= set(types), sorted(types)
    fast = c.volume_types.get(types["glance-fast"].id)
    assert fast.name == "glance-fast" and fast.is_public, fast._info
    assert c.volume_types.default().name == "__DEFAULT__"


@check("cinderclient volumes.create -> available")
def _():
    v = c.volumes.create(1, name=NAME, volume_type="glance-fast", metadata={"purpose": "ci"})
    assert v.status == "creating" and v.size == 1, v._info
    s["id"] = v.id
    v = wait_volume("available", lambda v: v.status == "available")
    assert v.volume_type == "glance-fast" and v.metadata == {"purpose": "ci"}, v._info


@check("cinderclient volumes.list search_opts")
def _():
    hits = c.volumes.list(search_opts={"name": NAME, "status": "available"})
    assert [v.id for v in hits] == [s["id"]], hits
    assert c.volumes.list(search_opts={"name": NAME, "status": "in-use"}) == []
    hits = c.volumes.list(search_opts={"metadata": {"purpose": "ci"}})
    assert s["id"] in [v.id for v in hits], hits


@check("cinderclient set_metadata/delete_metadata")
def _():
    c.volumes.set_metadata(s["id"], {"a": "1", "b": "2"})
    assert c.volumes.get(s["id"]).metadata == {"purpose": "ci", "a": "1", "b": "2"}
    c.volumes.delete_metadata(s["id"], ["a", "purpose"])
    assert c.volumes.get(s["id"]).metadata == {"b": "2"}


@check("cinderclient volumes.extend")
def _():
    c.volumes.extend(s["id"], 2)
    wait_volume("size 2", lambda v: v.status == "available" and v.size == 2)


@check("cinderclient attachment create (no connector) -> reserved")
def _():
    a = c.attachments.create(s["id"], connector=None, mode="rw")  # a dict, unlike update
    assert a["status"] == "reserved" and a["volume_id"] == s["id"], a
    s["attachment"] = a["id"]
    assert c.volumes.get(s["id"]).status == "reserved"


@check("cinderclient attachment update (connector) -> connection_info")
def _():
    a = c.attachments.update(s["attachment"], CONNECTOR)
    info = a.connection_info
    assert info["driver_volume_type"] == "local", info
    assert info["access_mode"] == "rw", info
    path = info["device_path"]
    assert os.path.getsize(path) == 2 * 1024**3, (path, os.path.getsize(path))
    with open(path, "r+b") as dev:  # the attachment really is the volume's bytes
        dev.write(b"cinderbox")
        dev.seek(0)
        assert dev.read(9) == b"cinderbox"


@check("cinderclient attachment complete -> in-use")
def _():
    c.attachments.complete(s["attachment"])
    v = wait_volume("in-use", lambda v: v.status == "in-use")
    assert [x["attachment_id"] for x in v.attachments] == [s["attachment"]], v.attachments
    assert c.attachments.show(s["attachment"]).status == "attached"


@check("cinderclient attachment delete -> available")
def _():
    c.attachments.delete(s["attachment"])
    v = wait_volume("available", lambda v: v.status == "available")
    assert v.attachments == [], v.attachments


@check("cinderclient volumes.delete")
def _():
    c.volumes.delete(s["id"])

    def gone():
        try:
            c.volumes.get(s["id"])
        except cx.NotFound:
            return True
        return False

    wait_until("deleted", gone)


def expect(exc, call):
    """Runs `call()` and returns the `exc` it must raise."""
    try:
        call()
    except exc as e:
        return e
    raise AssertionError(f"no {exc.__name__}")


@check("cinderclient 404 NotFound")
def _():
    missing = str(uuid.uuid4())
    e = expect(cx.NotFound, lambda: c.volumes.get(missing))
    assert e.code == 404 and f"Volume {missing} could not be found" in str(e), e
    expect(cx.NotFound, lambda: c.volume_types.get(missing))
    expect(cx.NotFound, lambda: c.volumes.extend(missing, 5))
    expect(cx.NotFound, lambda: c.volumes.create(1, volume_type="no-such-type"))


@check("cinderclient 400 BadRequest")
def _():
    e = expect(cx.BadRequest, lambda: c.volumes.create(0))
    assert e.code == 400 and "size" in str(e), e
    expect(cx.BadRequest, lambda: c.volumes.create("one"))


@check("cinderclient 413 OverLimit (demo's 1000 GB quota)")
def _():
    demo = connect(username="demo", password="demo", project_name="demo")
    e = expect(cx.OverLimit, lambda: demo.volumes.create(1001, name=f"{NAME}-big"))
    assert e.code == 413 and "exceeds" in str(e), e


@check("cinderclient volume_type_access add/list/remove on a private type")
def _():
    t = c.volume_types.create(f"{NAME}-private", is_public=False)
    demo = connect(username="demo", password="demo", project_name="demo")
    demo_pid = demo.client.session.get_project_id()
    seen = lambda: [x.id for x in demo.volume_types.list()]
    assert t.id not in seen(), "hidden before it is shared"
    c.volume_type_access.add_project_access(t, demo_pid)
    assert [a.project_id for a in c.volume_type_access.list(t)] == [demo_pid]
    assert t.id in seen(), "shared with demo"
    c.volume_type_access.remove_project_access(t, demo_pid)
    assert t.id not in seen(), "unshared again"
    c.volume_types.delete(t)


finish()
