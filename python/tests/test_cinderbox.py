"""The installed `cinderbox` package as a user meets it: the pytest fixtures, the
context manager and the `fixtures.Fixture` start an emulator, openstacksdk talks to it,
a fault rule fires and is counted, and no emulator process outlives its test, whether
the test passed or failed. Run by scripts/test-all.sh against the wheel in a fresh venv.
"""

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import openstack.exceptions
import pytest

from cinderbox import CinderboxFixture, ControlError, Emulator, EmulatorError

pytest_plugins = ["pytester"]


def alive(pid):
    """Is `pid` a running cinderbox-emulator (not gone, not a zombie, not reused)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    return b"cinderbox-emulator" in cmdline


def test_binaries_are_on_path_beside_python():
    scripts = sysconfig.get_path("scripts")
    for name in ("cinderbox-emulator", "cinderbox-store"):
        assert shutil.which(name) == os.path.join(scripts, name)
        out = subprocess.run([name, "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.startswith(name + " "), out.stdout


def test_volume_through_openstacksdk_and_a_fault_that_fires(cinderbox):
    conn = cinderbox.connection
    assert cinderbox.url.startswith("http://127.0.0.1:")
    assert oct(cinderbox.clouds_yaml.stat().st_mode & 0o777) == "0o600"

    volume = conn.block_storage.create_volume(size=1, name="py-plain")
    volume = conn.block_storage.wait_for_status(volume, "available", wait=60, interval=0.2)
    assert (volume.name, volume.size, volume.status) == ("py-plain", 1, "available")

    rule = cinderbox.faults.add(
        id="doomed-503", operation="volume.create", volume_name="doomed-*", effect="503"
    )
    assert (rule["id"], rule["source"], rule["matched"], rule["fired"]) == (
        "doomed-503",
        "api",
        0,
        0,
    )
    with pytest.raises(openstack.exceptions.HttpException) as err:
        conn.block_storage.create_volume(size=1, name="doomed-1")
    assert err.value.status_code == 503
    assert cinderbox.faults.fired("doomed-503") == 1

    # Other names do not match; the volume list has only the first volume.
    conn.block_storage.create_volume(size=1, name="fine")
    assert (cinderbox.faults.matched("doomed-503"), cinderbox.faults.fired("doomed-503")) == (1, 1)
    assert sorted(v.name for v in conn.block_storage.volumes()) == ["fine", "py-plain"]
    fired = [r for r in cinderbox.faults.requests() if r["rule"] == "doomed-503"]
    assert [(r["operation"], r["status"]) for r in fired] == [("volume.create", 503)]


def test_readme_example(cinderbox):
    # README.md "From Python", as written there: a 503 on the first create only.
    conn = cinderbox.connection
    cinderbox.faults.add(id="c503", operation="volume.create", trigger={"first": 1}, effect="503")
    with pytest.raises(openstack.exceptions.HttpException):
        conn.block_storage.create_volume(size=1, name="v1")
    volume = conn.block_storage.create_volume(size=1, name="v1")
    conn.block_storage.wait_for_status(volume, "available", wait=30)
    assert cinderbox.faults.fired("c503") == 1


@pytest.mark.cinderbox(scenario=Path(__file__).parents[2] / "fixtures/scenarios/error-on-create.toml")
def test_marker_gives_a_scenario(cinderbox):
    conn = cinderbox.connection
    volume = conn.block_storage.create_volume(size=1, name="will-fail")
    with pytest.raises(openstack.exceptions.ResourceFailure):
        conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=60, interval=0.2)
    assert cinderbox.faults.fired("error-on-create") == 1


def test_session_fixture_is_shared_and_resettable(cinderbox_session, request):
    again = request.getfixturevalue("cinderbox_session")
    assert again is cinderbox_session and cinderbox_session.running
    cinderbox_session.faults.add(id="s1", operation="volume.delete", effect="500")
    assert [f["id"] for f in cinderbox_session.faults.list()] == ["s1"]
    assert cinderbox_session.faults.reset() == 0
    assert cinderbox_session.faults.list() == []


def test_bad_rule_is_refused_with_the_emulators_message(cinderbox):
    with pytest.raises(ControlError) as err:
        cinderbox.faults.add(operation="volume.craete", effect="503")
    assert err.value.status == 400
    assert "volume.craete" in err.value.body


def test_context_manager_stops_the_process_also_on_an_exception():
    with Emulator() as emu:
        pid = emu.pid
        assert alive(pid)
    assert not alive(pid) and not emu.running

    with pytest.raises(ZeroDivisionError):
        with Emulator() as emu:
            pid = emu.pid
            1 / 0
    assert not alive(pid)


def test_fixtures_fixture_stops_the_process_also_on_an_exception():
    with pytest.raises(RuntimeError, match="inside"):
        with CinderboxFixture() as fx:
            pid = fx.emulator.pid
            assert fx.connection.block_storage.get_endpoint().startswith(fx.emulator.volume_url)
            raise RuntimeError("inside")
    assert not alive(pid)


def test_a_bad_scenario_fails_start_with_the_emulators_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "typo"\noperation = "volume.craete"\neffect = "503"\n')
    with pytest.raises(EmulatorError, match="unknown operation"):
        Emulator(scenario=bad).start()


def test_no_emulator_outlives_a_passing_or_failing_test(pytester, tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("CINDERBOX_TEST_PIDS", str(pids))
    pytester.makepyfile(
        test_inner="""
        import os
        from pathlib import Path

        def record(emulator):
            with open(os.environ["CINDERBOX_TEST_PIDS"], "a") as f:
                f.write(f"{emulator.pid}\\n")

        def test_passes(cinderbox):
            record(cinderbox)
            assert cinderbox.running

        def test_fails(cinderbox):
            record(cinderbox)
            assert False, "deliberate failure"

        def test_function_scoped_emulators_are_gone_already():
            pids = Path(os.environ["CINDERBOX_TEST_PIDS"]).read_text().split()
            assert len(pids) == 2
            for pid in pids:
                cmdline = Path(f"/proc/{pid}/cmdline")
                assert not cmdline.exists() or b"cinderbox-emulator" not in cmdline.read_bytes()

        def test_fails_with_the_session_one(cinderbox_session):
            record(cinderbox_session)
            raise RuntimeError("deliberate error")
        """
    )
    # A subprocess, as a user runs pytest: the plugin comes from the installed entry point.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*cinderbox log (tail)*", "*cinderbox-emulator ready: http://127.0.0.1:*"]
    )
    recorded = [int(p) for p in pids.read_text().split()]
    assert len(set(recorded)) == 3
    assert [p for p in recorded if alive(p)] == []
