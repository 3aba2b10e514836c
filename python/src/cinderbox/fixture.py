"""`CinderboxFixture`: the emulator as a `fixtures.Fixture`, for testtools/stestr suites."""

from __future__ import annotations

import fixtures

from ._emulator import Emulator


class CinderboxFixture(fixtures.Fixture):
    """Starts an emulator in `setUp` and stops it in cleanup, even when the test fails.

    ::

        def test_create(self):
            emu = self.useFixture(CinderboxFixture()).emulator
            emu.connection.block_storage.create_volume(size=1)

    Keyword arguments are those of `Emulator` (`world`, `scenario`, ...).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self._kwargs = kwargs
        self.emulator: Emulator = None  # type: ignore[assignment]

    def _setUp(self) -> None:
        self.emulator = Emulator(**self._kwargs)
        # Registered before start: a start that fails half-way is cleaned up too.
        self.addCleanup(self.emulator.stop)
        self.emulator.start()

    @property
    def connection(self):
        return self.emulator.connection

    @property
    def faults(self):
        return self.emulator.faults
