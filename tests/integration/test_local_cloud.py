"""The background local cloud of scripts/pulumi.sh: one cloud per state folder, reused while it fits, restarted when
it does not (more storage accounts, newer emulator code), its state kept across restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from components.local.cloud import LocalCloud, LocalCloudError


def test_reused_while_it_fits_and_restarted_on_newer_code_with_its_state(tmp_path):
    cloud = LocalCloud(tmp_path / "cloud")
    try:
        first = cloud.ensure()
        assert cloud.ensure().pid == first.pid, "a running cloud is reused"
        assert (tmp_path / "cloud" / "endpoint.json").stat().st_mode & 0o077 == 0, "the token file is the owner's"

        # A cloud started by older code (a `git pull` since) is not reused.
        record = json.loads((tmp_path / "cloud" / "endpoint.json").read_text())
        (tmp_path / "cloud" / "endpoint.json").write_text(json.dumps({**record, "code": "older"}))
        second = cloud.ensure()
        assert second.pid != first.pid
    finally:
        cloud.stop()
    assert cloud.running() is None


# --- faults of the state folder (issue 23) ---------------------------------------------------------------------------

def test_a_truncated_state_file_is_one_line_naming_it_and_the_way_out(tmp_path):
    """A killed write or a full disk leaves emulator.json cut short: one error line naming the file and the way out,
    not a JSONDecodeError traceback from the background process (it was one before)."""
    folder = tmp_path / "cloud"
    folder.mkdir()
    (folder / "emulator.json").write_text('{"resources": {"/subscriptions/x": {"id": "/subs')
    cloud = LocalCloud(folder)
    with pytest.raises(LocalCloudError) as raised:
        cloud.ensure()
    message = str(raised.value)
    assert "\n" not in message and str(folder / "emulator.json") in message
    assert "not valid JSON (line 1" in message and f"mv {folder / 'emulator.json'}" in message
    assert cloud.serving_pid() is None  # nothing was started on the broken state
    # The same through the command the local scripts run: one `error:` line, exit 2.
    result = subprocess.run([sys.executable, "-c", "import sys; from components.local.cloud import LocalCloud; "
                             f"LocalCloud(__import__('pathlib').Path({str(folder)!r})).ensure()"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "JSONDecodeError" not in result.stderr.replace("LocalCloudError", "")
    # The background process itself refuses the file with one line too (it is what `serve` logs).
    served = subprocess.run([sys.executable, "-m", "components.local.cloud", "serve", "--dir", str(folder)],
                            capture_output=True, text=True, timeout=60)
    assert served.returncode == 2 and "Traceback" not in served.stderr
    assert str(folder / "emulator.json") in served.stderr and len(served.stderr.strip().splitlines()) == 1


def test_a_corrupt_endpoint_file_never_starts_a_second_emulator_on_the_folder(tmp_path):
    """endpoint.json unreadable while its cloud runs: the next command stops that cloud (which saves its state) and
    starts one; it started a second emulator on the same state before, which later wrote stale state over the first.
    A second `serve` on a served folder refuses to start."""
    folder = tmp_path / "cloud"
    cloud = LocalCloud(folder)
    try:
        first = cloud.ensure()
        assert cloud.serving_pid() == first.pid
        second_serve = subprocess.run([sys.executable, "-m", "components.local.cloud", "serve", "--dir", str(folder)],
                                      capture_output=True, text=True, timeout=60)
        assert second_serve.returncode == 2 and "another local cloud" in second_serve.stderr
        assert f"pid {first.pid}" in second_serve.stderr

        (folder / "endpoint.json").write_text('{"pid": ')
        assert cloud.running() is None
        second = cloud.ensure()
        assert second.pid != first.pid and cloud.serving_pid() == second.pid
        with pytest.raises(ProcessLookupError):
            for _ in range(100):  # the first one is gone (reaped by its parent, this test process, or init)
                os.kill(first.pid, 0)
                try:
                    os.waitpid(first.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                time.sleep(0.05)
        json.loads((folder / "emulator.json").read_text())  # its state was saved whole
    finally:
        cloud.stop()
    assert cloud.serving_pid() is None


def test_state_files_are_written_atomically_and_owner_only(tmp_path):
    from components.emulator.state import State
    from components.local.cloud import _write_private

    target = tmp_path / "endpoint.json"
    _write_private(target, '{"a": 1}')
    _write_private(target, '{"a": 2}')
    assert json.loads(target.read_text()) == {"a": 2} and target.stat().st_mode & 0o077 == 0
    from components.emulator.faults import Faults

    state = State(Faults, 0.4)
    state.save(str(tmp_path / "emulator.json"))
    json.loads((tmp_path / "emulator.json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emulator.json", "endpoint.json"]  # no temporary left
