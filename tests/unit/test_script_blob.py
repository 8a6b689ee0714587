"""ScriptBlob's upload: the 403 retry while the data-plane role propagates is bounded and says what to do."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from azure.core.exceptions import HttpResponseError

from components.providers import script_blob


class Refused:
    """A blob client whose uploads are always refused with 403."""

    def upload_blob(self, *_args, **_kwargs) -> None:
        error = HttpResponseError("This request is not authorized to perform this operation.")
        error.status_code = 403
        raise error


def test_upload_gives_up_after_a_bounded_wait_and_says_to_run_again(tmp_path, monkeypatch):
    clock = SimpleNamespace(seconds=0.0)
    monkeypatch.setattr(script_blob, "time", SimpleNamespace(
        monotonic=lambda: clock.seconds, sleep=lambda s: setattr(clock, "seconds", clock.seconds + s)))
    monkeypatch.setattr(script_blob, "_client", lambda _props, **_options: Refused())
    path = tmp_path / "a.sh"
    path.write_bytes(b"echo a\n")
    props = {"account_name": "st", "container_name": "scripts", "blob_name": "a.sh", "source_path": str(path),
             "sha256": hashlib.sha256(b"echo a\n").hexdigest(), "project_path": "a.sh"}
    with pytest.raises(Exception, match="Run `pulumi up` again in a few minutes"):
        script_blob.ScriptBlobProvider().create(props)
    assert clock.seconds <= script_blob.DEFAULT_AUTH_RETRY_SECONDS <= 300
