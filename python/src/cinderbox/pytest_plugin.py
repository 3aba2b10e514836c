"""pytest plugin (entry point `pytest11`): the `cinderbox` fixture (a fresh emulator per
test) and `cinderbox_session` (one for the whole session).

Options per test with a marker::

    @pytest.mark.cinderbox(scenario="fixtures/scenarios/slow-create.toml", world=None)
    def test_slow(cinderbox):
        ...

The session fixture takes `--cinderbox-world` / `--cinderbox-scenario`. Either way the
process is stopped when the fixture ends, whether the test passed or failed, and a
failing test's report carries the tail of the emulator's log.
"""

from __future__ import annotations

import pytest

from ._emulator import Emulator


def pytest_addoption(parser):
    group = parser.getgroup("cinderbox")
    group.addoption("--cinderbox-world", default=None, help="world file for cinderbox_session")
    group.addoption(
        "--cinderbox-scenario", default=None, help="scenario file for cinderbox_session"
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cinderbox(world=None, scenario=None): options of the cinderbox fixture"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name in ("cinderbox", "cinderbox_session"):
            emulator = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(emulator, Emulator):
                report.sections.append((f"{name} log (tail)", emulator.log_tail()))


@pytest.fixture
def cinderbox(request):
    """A fresh emulator for this test; stopped after it (pass or fail)."""
    marker = request.node.get_closest_marker("cinderbox")
    kwargs = dict(marker.kwargs) if marker else {}
    emulator = Emulator(**kwargs)
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def cinderbox_session(request):
    """One emulator for the session; tests share its state (`faults.reset()` clears it)."""
    emulator = Emulator(
        world=request.config.getoption("cinderbox_world"),
        scenario=request.config.getoption("cinderbox_scenario"),
    )
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()
