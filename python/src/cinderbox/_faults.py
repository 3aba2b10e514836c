"""The emulator's control API (`/_cinderbox/`): fault rules, their counters, the request
log and reset. See docs/faults.md for the rule format."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import requests


class ControlError(RuntimeError):
    """The control API refused a call (status and the emulator's message)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


class Faults:
    """Adds, reads and removes fault rules on a running emulator, as its admin."""

    def __init__(self, control_url: str, token: Callable[[], str], timeout: float = 30.0) -> None:
        self._url = control_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        r = requests.request(
            method,
            f"{self._url}{path}",
            json=json,
            headers={"X-Auth-Token": self._token()},
            timeout=self._timeout,
        )
        if r.status_code >= 400:
            raise ControlError(r.status_code, r.text)
        return r.json() if r.content else None

    def add(self, rule: Optional[Dict[str, Any]] = None, **fields: Any) -> Dict[str, Any]:
        """Installs a rule (a dict, or keyword fields) and returns it with its `id`:
        `faults.add(id="c503", operation="volume.create", effect="503")`."""
        body = dict(rule or {}, **fields)
        return self._call("POST", "/faults", body)["fault"]

    def get(self, rule_id: str) -> Dict[str, Any]:
        """The rule as listed: the rule plus `source`, `matched` and `fired`."""
        return self._call("GET", f"/faults/{rule_id}")["fault"]

    def fired(self, rule_id: str) -> int:
        """How often the rule fired."""
        return int(self.get(rule_id)["fired"])

    def matched(self, rule_id: str) -> int:
        """How many requests (or jobs) the rule matched."""
        return int(self.get(rule_id)["matched"])

    def list(self) -> List[Dict[str, Any]]:
        """Every rule, in evaluation order (scenario rules first)."""
        return self._call("GET", "/faults")["faults"]

    def delete(self, rule_id: str) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def reset(self) -> int:
        """Drops API rules, resets scenario counters and the world; returns the number
        of rules left."""
        return int(self._call("POST", "/reset")["reset"]["faults"])

    def requests(self, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The request log, oldest first (each: method, path, operation, status,
        latency_ms, rule)."""
        path = "/requests" if limit is None else f"/requests?limit={int(limit)}"
        return self._call("GET", path)["requests"]
