"""Shared helpers for the client scripts: checks that print `ok`/`FAIL`, polling
with a deadline, and the credentials from the emulator's clouds.yaml."""

import os
import sys
import time
import traceback

import yaml

_failed = []


def check(name):
    """Runs the decorated function at once and prints `ok <name>` or `FAIL <name>: ...`.

    Checks run in file order and may use what earlier checks left in module state; a
    check after a failed one usually fails too, with its own reason.
    """

    def run(fn):
        try:
            fn()
        except Exception as e:  # a check fails on anything, not only AssertionError
            reason = f"{type(e).__name__}: {e}".strip().replace("\n", " ")
            print(f"FAIL {name}: {reason[:400]}", flush=True)
            if os.environ.get("CLIENTS_VERBOSE"):
                traceback.print_exc()
            _failed.append(name)
        else:
            print(f"ok {name}", flush=True)
        return fn

    return run


def finish():
    """Exits non-zero when any check failed."""
    sys.exit(1 if _failed else 0)


def wait_until(what, probe, timeout_s=60.0, interval_s=0.2):
    """Polls `probe()` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


def cloud_auth(**override):
    """The `auth` block of cloud `cinderbox` in $OS_CLIENT_CONFIG_FILE, with overrides."""
    with open(os.environ["OS_CLIENT_CONFIG_FILE"]) as f:
        auth = dict(yaml.safe_load(f)["clouds"][os.environ.get("OS_CLOUD", "cinderbox")]["auth"])
    auth.update(override)
    return auth


def base_url():
    """`http://host:port` of the emulator, from the identity URL in clouds.yaml."""
    auth_url = cloud_auth()["auth_url"]
    return auth_url[: auth_url.index("/identity")]
