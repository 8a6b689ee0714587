"""The background local cloud of scripts/pulumi.sh: one cloud per state folder, reused while it fits, restarted when
it does not (more storage accounts, newer emulator code), its state kept across restarts."""

from __future__ import annotations

import json

from components.local.cloud import LocalCloud


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
