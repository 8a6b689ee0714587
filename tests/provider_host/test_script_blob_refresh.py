"""ScriptBlob refresh through the real provider host against Azurite: a blob deleted outside Pulumi is dropped."""

from __future__ import annotations

import hashlib

import pytest
from dynamic_host import ProviderHost, urn, with_provider

from components.emulator import Emulator
from components.local.azurite import Azurite, unavailable_reason
from components.providers.script_blob import ScriptBlobProvider

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=f"Azurite unavailable: {unavailable_reason()}")
BLOB = urn("aib:ScriptBlob", "setup")


def test_refresh_drops_a_blob_deleted_outside_pulumi(tmp_path):
    script = tmp_path / "setup.sh"
    script.write_bytes(b"echo setup\n")
    sha = hashlib.sha256(b"echo setup\n").hexdigest()
    props = with_provider(ScriptBlobProvider(), {
        "account_name": "stblobhost", "container_name": "scripts", "blob_name": f"{sha}/setup.sh", "sha256": sha,
        "source_path": str(script), "project_path": "setup.sh"})
    with Azurite(["stblobhost"]) as azurite, \
            Emulator(phase_seconds=0.05, blob_endpoint=azurite.endpoint, blob_account_key=azurite.key) as emu, \
            ProviderHost(env=emu.client_env()) as host:
        emu.create_container("stblobhost", "scripts")
        blob_id, outs = host.call("Create", BLOB, news=props)
        assert host.call("Read", BLOB, outs, id_=blob_id)[0] == blob_id

        host.call("Delete", BLOB, outs, id_=blob_id)  # the same DELETE someone could make by hand
        assert host.call("Read", BLOB, outs, id_=blob_id)[0] == ""
