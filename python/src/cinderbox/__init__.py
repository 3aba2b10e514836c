"""cinderbox: a local Keystone v3 + Cinder v3 emulator for tests.

`Emulator` starts `cinderbox-emulator` on a free port over a temp dir (a context
manager); `CinderboxFixture` is the same as a `fixtures.Fixture`; the pytest plugin
(`cinderbox.pytest_plugin`, loaded by pytest on its own) gives the `cinderbox` and
`cinderbox_session` fixtures. `Emulator.faults` adds fault rules and reads their counters.
"""

from ._emulator import CLOUD_NAME, Emulator, EmulatorError, find_binary
from ._faults import ControlError, Faults

__all__ = [
    "CLOUD_NAME",
    "CinderboxFixture",
    "ControlError",
    "Emulator",
    "EmulatorError",
    "Faults",
    "find_binary",
]


def __getattr__(name):
    # `fixtures` is imported only by those who use the Fixture.
    if name == "CinderboxFixture":
        from .fixture import CinderboxFixture

        return CinderboxFixture
    raise AttributeError(name)
