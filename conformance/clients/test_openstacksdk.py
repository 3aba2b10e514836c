"""openstacksdk's block-storage proxy, and keystoneauth1 directly: token, catalog
endpoints for both service types, and volume API version discovery."""

import uuid

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from common import base_url, check, cloud_auth, finish

NAME = f"sdk-{uuid.uuid4().hex[:8]}"
conn = openstack.connect(cloud="cinderbox")
bs = conn.block_storage
s = {}


@check("sdk block_storage.types()")
def _():
    names = [t.name for t in bs.types()]
    assert {"__DEFAULT__", "glance-fast", "glance-slow"} <= set(names), names


@check("sdk create_volume + wait_for_status available")
def _():
    v = bs.create_volume(size=1, name=NAME)
    s["id"] = v.id
    v = bs.wait_for_status(v, "available", failures=["error"], interval=0.2, wait=60)
    assert v.size == 1 and v.volume_type == "__DEFAULT__", v


@check("sdk get_volume")
def _():
    v = bs.get_volume(s["id"])
    assert (v.id, v.name, v.status, v.is_bootable) == (s["id"], NAME, "available", False), v


@check("sdk volumes(details=True, name=...)")
def _():
    hits = list(bs.volumes(details=True, name=NAME))
    assert [v.id for v in hits] == [s["id"]], hits
    assert hits[0].size == 1 and hits[0].project_id, hits[0]
    assert list(bs.volumes(details=True, name=f"{NAME}-none")) == []


@check("sdk delete_volume + wait_for_delete")
def _():
    v = bs.get_volume(s["id"])
    bs.delete_volume(v)
    bs.wait_for_delete(v, interval=0.2, wait=60)
    assert bs.find_volume(s["id"], ignore_missing=True) is None


@check("sdk get_volume missing raises NotFoundException")
def _():
    try:
        bs.get_volume(str(uuid.uuid4()))
    except openstack.exceptions.NotFoundException as e:
        assert e.status_code == 404, e
    else:
        raise AssertionError("no NotFoundException")


sess = ks_session.Session(auth=v3.Password(**cloud_auth()))


@check("keystoneauth1 password session gets a token")
def _():
    assert sess.get_token()
    s["project_id"] = sess.get_project_id()
    assert s["project_id"], "no project id"


@check("keystoneauth1 get_endpoint volumev3 and block-storage")
def _():
    want = f"{base_url()}/volume/v3/{s['project_id']}"
    for service_type in ["volumev3", "block-storage"]:
        got = sess.get_endpoint(service_type=service_type, interface="public")
        assert got == want, (service_type, got, want)


@check("keystoneauth1 volume API discovery")
def _():
    root = sess.get(f"{base_url()}/volume/", authenticated=False, raise_exc=False)
    assert root.status_code == 300, root.status_code
    (v3doc,) = root.json()["versions"]
    assert v3doc["id"] == "v3.0" and v3doc["min_version"] == "3.0", v3doc
    data = sess.get_endpoint_data(service_type="block-storage", interface="public",
                                  min_version="3.0", max_version="3.latest")
    assert data.api_version == (3, 0), data.api_version
    assert data.min_microversion == (3, 0) and data.max_microversion >= (3, 54), data.max_microversion


@check("sdk set_default_type, show_default_type, default_types, unset_default_type (3.67)")
def _():
    project = conn.current_project_id
    fast = bs.find_type("glance-fast", ignore_missing=False)
    d = bs.set_default_type(project, fast)
    assert d.volume_type_id == fast.id, d
    assert bs.show_default_type(project).volume_type_id == fast.id
    assert project in [x.project_id for x in bs.default_types()]
    v = bs.create_volume(size=1, name=f"{NAME}-default")
    v = bs.wait_for_status(v, "available", failures=["error"], interval=0.2, wait=60)
    assert v.volume_type == "glance-fast", v
    bs.unset_default_type(project)
    assert project not in [x.project_id for x in bs.default_types()]
    bs.delete_volume(v)


@check("sdk resource_filters(resource='volume') (3.33)")
def _():
    filters = list(bs.resource_filters(resource="volume"))
    assert len(filters) == 1 and "metadata" in filters[0].filters, filters


finish()
