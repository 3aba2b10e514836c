"""The `openstack` CLI on Keystone's admin API: project and user create, role add (and
the assignment list), the new user working in its own project, application credentials
(create, authenticate with them, delete), then the clean-up Tempest's dynamic
credentials do."""

import json
import subprocess
import uuid

from common import check, finish

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


def app_cred_args(cred_id, secret):
    """Global options for authenticating with an application credential only."""
    return [
        "--os-auth-type", "v3applicationcredential",
        "--os-application-credential-id", cred_id,
        "--os-application-credential-secret", secret,
        "--os-username", "", "--os-password", "", "--os-project-name", "",
        "--os-project-domain-name", "", "--os-user-domain-name", "",
    ]


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
    s["cred"] = (c["id"], c["secret"])
    assert c["project_id"] == s["project"] and c["secret"], c
    listed = osc(*AS_USER, "application", "credential", "list", "-f", "json")
    assert [x["ID"] for x in listed] == [c["id"]], listed
    vols = osc(*app_cred_args(*s["cred"]), "volume", "list", "-f", "json")
    assert [x["ID"] for x in vols] == [s["volume"]], vols


@check("cli application credential delete ends it")
def _():
    osc(*AS_USER, "application", "credential", "delete", s["cred"][0])
    p = osc(*app_cred_args(*s["cred"]), "volume", "list", ok=False)
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
