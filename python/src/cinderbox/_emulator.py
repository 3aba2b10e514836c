"""Start `cinderbox-emulator serve` on a free port over a temp dir, and stop it again."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

from ._faults import Faults

PathLike = Union[str, "os.PathLike[str]"]

#: The cloud the emulator's clouds.yaml names (`OS_CLOUD`).
CLOUD_NAME = "cinderbox"

# Emulators started by this interpreter and not yet stopped: stopped at exit, so a test
# run that dies past its fixtures' cleanup still leaves no emulator behind.
_RUNNING: "set[Emulator]" = set()


class EmulatorError(RuntimeError):
    """The emulator could not be started (the message carries the tail of its log)."""


def find_binary() -> str:
    """The `cinderbox-emulator` to run: `$CINDERBOX_EMULATOR`, the one this package
    installed beside the running Python, or the first on PATH."""
    explicit = os.environ.get("CINDERBOX_EMULATOR")
    if explicit:
        return explicit
    name = "cinderbox-emulator.exe" if os.name == "nt" else "cinderbox-emulator"
    for scripts in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(scripts, name)
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("cinderbox-emulator")
    if found is None:
        raise EmulatorError(
            "cinderbox-emulator not found: install the `cinderbox` package "
            "or set CINDERBOX_EMULATOR to the binary"
        )
    return found


class Emulator:
    """One emulator process: Keystone v3 under `/identity`, Cinder v3 under `/volume`.

    Use as a context manager (or call `start()` and `stop()`)::

        with Emulator(scenario="fixtures/scenarios/slow-create.toml") as emu:
            emu.connection.block_storage.create_volume(size=1)

    `world` is a world file (TOML) replacing the built-in world, `scenario` a file of
    fault rules in force from the start (docs/faults.md). State lives in `data_dir`, a
    fresh temp dir by default (removed on stop). The process is stopped on `stop()`,
    on leaving the `with` block (also through an exception) and at interpreter exit.
    """

    def __init__(
        self,
        *,
        world: Optional[PathLike] = None,
        scenario: Optional[PathLike] = None,
        data_dir: Optional[PathLike] = None,
        binary: Optional[str] = None,
        ready_timeout: float = 60.0,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.world = Path(world) if world is not None else None
        self.scenario = Path(scenario) if scenario is not None else None
        self.binary = binary
        self.ready_timeout = ready_timeout
        self._env = dict(env) if env is not None else None
        self._given_data_dir = Path(data_dir) if data_dir is not None else None
        self._tmp: Optional[tempfile.TemporaryDirectory] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log = None
        self._url: Optional[str] = None
        self._connection = None
        self.workdir: Optional[Path] = None

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> "Emulator":
        if self._proc is not None:
            raise EmulatorError("already started")
        for name, path in (("world", self.world), ("scenario", self.scenario)):
            if path is not None and not path.is_file():
                raise EmulatorError(f"{name} file {path} does not exist")
        self._tmp = tempfile.TemporaryDirectory(prefix="cinderbox-")
        self.workdir = Path(self._tmp.name)
        data_dir = self._given_data_dir or self.workdir / "data"
        args = [
            self.binary or find_binary(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(data_dir),
            "--ready-file",
            str(self.ready_file),
            "--clouds-yaml",
            str(self.clouds_yaml),
        ]
        if self.world is not None:
            args += ["--config", str(self.world)]
        if self.scenario is not None:
            args += ["--scenario", str(self.scenario)]
        self._log = open(self.log_path, "wb")
        try:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self._env,
            )
        except OSError as e:
            self._cleanup_files()
            raise EmulatorError(f"cannot run {args[0]}: {e}") from e
        _RUNNING.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            text = self.ready_file.read_text() if self.ready_file.exists() else ""
            if text.endswith("\n"):
                self._url = text.strip()
                return
            code = self._proc.poll()
            if code is not None:
                raise EmulatorError(f"cinderbox-emulator exited with {code}:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise EmulatorError(
                    f"cinderbox-emulator not ready within {self.ready_timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Stops the process (SIGTERM, then SIGKILL after `timeout` s), closes the
        connection and removes the temp dir. Returns the exit code; safe to call twice."""
        code = None
        proc, self._proc = self._proc, None
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
        if proc is not None:
            _RUNNING.discard(self)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            code = proc.returncode
        self._cleanup_files()
        return code

    def _cleanup_files(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._last_log = self.log_tail()
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what a test uses --------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:41234`."""
        self._started()
        return self._url

    @property
    def identity_url(self) -> str:
        """Keystone v3 (the clouds.yaml's `auth_url`)."""
        return f"{self.url}/identity/v3"

    @property
    def volume_url(self) -> str:
        """Cinder's root (`/v3` below it)."""
        return f"{self.url}/volume"

    @property
    def control_url(self) -> str:
        """The control API (fault rules, request log, reset)."""
        return f"{self.url}/_cinderbox"

    @property
    def ready_file(self) -> Path:
        return self._workdir() / "ready"

    @property
    def clouds_yaml(self) -> Path:
        """A clouds.yaml (0600) with cloud `cinderbox` and the admin's credentials."""
        return self._workdir() / "clouds.yaml"

    @property
    def cloud_name(self) -> str:
        return CLOUD_NAME

    @property
    def log_path(self) -> Path:
        return self._workdir() / "emulator.log"

    @property
    def env(self) -> Dict[str, str]:
        """Variables for a subprocess (`openstack`, `cinder`) to use this emulator."""
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": CLOUD_NAME}

    @property
    def connection(self):
        """An `openstack.connection.Connection` as the world's admin (made once)."""
        if self._connection is None:
            self._connection = self.connect()
        return self._connection

    def connect(self, **kwargs):
        """A new `openstack.connection.Connection` from the clouds.yaml; keyword
        arguments override its values (e.g. `username`, `password`, `project_name`)."""
        import openstack.config
        import openstack.connection

        config = openstack.config.OpenStackConfig(
            config_files=[str(self.clouds_yaml)],
            vendor_files=[],
            secure_files=[],
            load_envvars=False,
        )
        region = config.get_one(cloud=CLOUD_NAME, **kwargs)
        return openstack.connection.Connection(config=region)

    @property
    def faults(self) -> Faults:
        """Fault rules and their counters, the request log, reset."""
        conn = self.connection
        return Faults(self.control_url, lambda: conn.session.get_token())

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the emulator's stdout and stderr."""
        if self._tmp is None:
            return getattr(self, "_last_log", "")
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _started(self) -> subprocess.Popen:
        if self._proc is None or self._url is None:
            raise EmulatorError("the emulator is not running (call start() first)")
        return self._proc

    def _workdir(self) -> Path:
        if self.workdir is None or self._tmp is None:
            raise EmulatorError("the emulator is not running (call start() first)")
        return self.workdir


@atexit.register
def _stop_all() -> None:
    for emulator in list(_RUNNING):
        emulator.stop()
