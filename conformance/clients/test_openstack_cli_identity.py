"""The `openstack` CLI on Keystone's admin API: project and user create, role add (and
the assignment list), the new user working in its own project, application credentials
(create, authenticate with them, delete), then the clean-up Tempest's dynamic
credentials do."""

import json
import os
import subprocess
import uuid

from common import check, cloud_auth, finish

TAG = uuid.uuid4().hex[:8]
PROJECT = f"proj-{TAG}"
USER = f"user-{TAG}"
PASSWORD = f"pw-{TAG}"
AS_USER = ["--os-username", USER, "--os-password", PASSWORD, "--os-project-name", PROJECT]
s = {}


def osc(*args, ok=True):
    """Runs `openstack ARGS`; returns parsed JSON (with `-f json`) or the stdout."""
    p = subprocess.run(["openstack", *args], capture_output=True, text=True, timeout=120)
    if not ok:
        return p
    assert p.returncode == 0, f"openstack {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-300:]}"
    return json.loads(p.stdout) if "json" in args else p.stdout


def with_app_cred(cred_id, secret, *args, ok=True):
    """Runs `openstack ARGS` authenticated by an application credential alone (no
    clouds.yaml: its password auth block would be mixed in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=cloud_auth()["auth_url"],
        OS_AUTH_TYPE="v3applicationcredential",
        OS_APPLICATION_CREDENTIAL_ID=cred_id,
        OS_APPLICATION_CREDENTIAL_SECRET=secret,
        OS_IDENTITY_API_VERSION="3",
        OS_VOLUME_API_VERSION="3",
        OS_REGION_NAME="RegionOne",
        OS_INTERFACE="public",
    )
    p = subprocess.run(["openstack", *args], capture_output=True, text=True, timeout=120, env=env)
    if not ok:
        return p
    assert p.returncode == 0, f"openstack {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-300:]}"
    return json.loads(p.stdout) if "json" in args else p.stdout


@check("cli project create")
def _():
    p = osc("project", "create", "--domain", "default", "--description", "made by the CLI", PROJECT, "-f", "json")
    s["project"] = p["id"]
    assert p["name"] == PROJECT and p["domain_id"] == "default" and p["enabled"] is True, p
    assert p["description"] == "made by the CLI", p
    listed = osc("project", "list", "-f", "json")
    assert PROJECT in [x["Name"] for x in listed], listed


@check("cli project create of an existing name is a conflict")
def _():
    p = osc("project", "create", "--domain", "default", PROJECT, ok=False)
    assert p.returncode != 0 and "409" in p.stderr, p.stderr


@check("cli user create --project --password")
def _():
    u = osc("user", "create", "--domain", "default", "--project", PROJECT, "--password", PASSWORD, USER, "-f", "json")
    s["user"] = u["id"]
    assert u["name"] == USER and u["default_project_id"] == s["project"], u
    shown = osc("user", "show", USER, "-f", "json")
    assert shown["id"] == s["user"], shown


@check("cli role add --project --user, role assignment list --names")
def _():
    osc("role", "add", "--project", PROJECT, "--user", USER, "member")
    rows = osc("role", "assignment", "list", "--project", PROJECT, "--names", "-f", "json")
    assert [(r["User"], r["Role"]) for r in rows] == [(f"{USER}@Default", "member")], rows
    effective = osc("role", "assignment", "list", "--user", USER, "--effective", "--names", "-f", "json")
    assert sorted(r["Role"] for r in effective) == ["member", "reader"], effective


@check("cli the new user creates a volume in its project and sees only its own")
def _():
    v = osc(*AS_USER, "volume", "create", "--size", "1", f"vol-{TAG}", "-f", "json")
    s["volume"] = v["id"]
    osc(*AS_USER, "volume", "show", s["volume"], "-f", "json")
    listed = osc(*AS_USER, "volume", "list", "-f", "json")
    assert [x["ID"] for x in listed] == [s["volume"]], listed
    token = osc(*AS_USER, "token", "issue", "-f", "json")
    assert token["project_id"] == s["project"] and token["user_id"] == s["user"], token


@check("cli the new project has the default quotas")
def _():
    q = osc("quota", "show", "--volume", PROJECT, "-f", "json")
    got = {x["Resource"]: x["Limit"] for x in q} if isinstance(q, list) else q
    assert got["volumes"] == 10 and got["gigabytes"] == 1000, q


@check("cli a member cannot create projects")
def _():
    p = osc(*AS_USER, "project", "create", f"nope-{TAG}", ok=False)
    assert p.returncode != 0 and "403" in p.stderr, p.stderr


@check("cli application credential create, then authenticate with it")
def _():
    c = osc(*AS_USER, "application", "credential", "create", "--role", "member", f"app-{TAG}", "-f", "json")
    s["cred"] = (c["ID"], c["Secret"])
    assert c["Project ID"] == s["project"] and c["Secret"], c
    assert sorted(r["name"] for r in c["Roles"]) == ["member", "reader"], c
    listed = osc(*AS_USER, "application", "credential", "list", "-f", "json")
    assert [x["ID"] for x in listed] == [c["ID"]], listed
    vols = with_app_cred(*s["cred"], "volume", "list", "-f", "json")
    assert [x["ID"] for x in vols] == [s["volume"]], vols


@check("cli application credential delete ends it")
def _():
    osc(*AS_USER, "application", "credential", "delete", s["cred"][0])
    p = with_app_cred(*s["cred"], "volume", "list", ok=False)
    assert p.returncode != 0 and "401" in p.stderr, p.stderr


@check("cli role remove, then the user cannot log in to the project")
def _():
    osc(*AS_USER, "volume", "delete", s["volume"])
    osc("role", "remove", "--project", PROJECT, "--user", USER, "member")
    p = osc(*AS_USER, "volume", "list", ok=False)
    assert p.returncode != 0 and "401" in p.stderr, p.stderr


@check("cli user delete, project delete")
def _():
    osc("user", "delete", USER)
    osc("project", "delete", PROJECT)
    assert PROJECT not in [x["Name"] for x in osc("project", "list", "-f", "json")]
    p = osc("user", "show", USER, ok=False)
    assert p.returncode != 0, p.stdout


finish()
