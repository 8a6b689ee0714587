"""The ARM emulator driven by the real azure-mgmt-imagebuilder client over HTTPS.

Every test goes through azure-core's pipeline (bearer auth, retries, ARM polling), so these check that the
emulator answers the way the SDK's pollers and retry policy need, and that it enforces the service rules a
client could get wrong: names, schema per api-version, PATCH limits, staging resource groups, RBAC.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.imagebuilder import ImageBuilderClient

from components.emulator import Emulator, Faults, insecure_auth_policy
from components.emulator.triggers import FAILURES_TO_DEACTIVATE

SUB = "00000000-0000-0000-0000-000000000001"


def make_client(emu: Emulator, api_version: str | None = None) -> ImageBuilderClient:
    extra = {"api_version": api_version} if api_version else {}
    return ImageBuilderClient(emu.credential(), SUB, base_url=emu.base_url, credential_scopes=[emu.base_url + "/.default"],
                              connection_verify=emu.ca_bundle, polling_interval=0.05, retry_backoff_factor=0.01, **extra)


LOC = "westus"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg"
ROLE_DEFS = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
CONTRIBUTOR = f"{ROLE_DEFS}/b24988ac-6180-42a0-ab88-20f7382dd24c"
MI_OPERATOR = f"{ROLE_DEFS}/f1a07417-d97a-45cb-824c-7a7467783830"
READER = f"{ROLE_DEFS}/acdd72a7-3385-48ef-bd42-f606fba81ae7"
GALLERY = f"{RG_ID}/providers/Microsoft.Compute/galleries/gal"
IMAGE_DEF = f"{GALLERY}/images/linux"


class Arm:
    """Raw ARM calls through the client's pipeline (auth, TLS, retries) for the generic resources."""

    def __init__(self, emu: Emulator, client: ImageBuilderClient):
        self.emu, self.client = emu, client

    def call(self, method: str, rid: str, body=None, api_version: str = "2023-01-01"):
        sep = "&" if "?" in rid else "?"
        return self.client.send_request(HttpRequest(method, f"{self.emu.base_url}{rid}{sep}api-version={api_version}",
                                                    json=body))

    def put(self, rid: str, body: dict) -> dict:
        r = self.call("PUT", rid, body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def identity(self, name: str = "aib") -> tuple[str, str]:
        rid = f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        return rid, self.put(rid, {"location": LOC})["properties"]["principalId"]

    def grant(self, principal: str, role: str, scope: str) -> str:
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        self.put(rid, {"properties": {"roleDefinitionId": role, "principalId": principal}})
        return rid

    def gallery(self) -> None:
        self.put(GALLERY, {"location": LOC, "properties": {}})
        self.put(IMAGE_DEF, {"location": LOC, "properties": {
            "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
            "identifier": {"publisher": "me", "offer": "golden", "sku": "linux"}}})


@pytest.fixture
def arm(emulator, emulator_client):
    a = Arm(emulator, emulator_client)
    a.put(RG_ID, {"location": LOC})
    return a


@pytest.fixture
def ident(arm):
    """A template identity holding Contributor on the resource group."""
    rid, principal = arm.identity()
    arm.grant(principal, CONTRIBUTOR, RG_ID)
    return rid


def template(identity: str, *, distribute=None, customize=None, **props) -> dict:
    return {
        "location": LOC,
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
        "properties": {
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu", "sku": "24_04-lts",
                       "version": "latest"},
            "customize": customize if customize is not None else [{"type": "Shell", "name": "install", "inline": ["echo hi"]}],
            "distribute": distribute or [{"type": "VHD", "runOutputName": "vhd"}],
            **props,
        },
    }


def templates(client):
    return client.virtual_machine_image_templates


def last_run(client, name: str):
    return templates(client).get("rg", name).properties.last_run_status


def error_of(fn) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        fn()
    return info.value


# ---- LRO shapes, across api-versions --------------------------------------------------------------------------

@pytest.mark.parametrize("api_version", ["2020-02-14", "2021-10-01", "2022-02-14", "2022-07-01", "2023-07-01",
                                         "2024-02-01", "2025-10-01"])
def test_create_run_delete_pollers_complete_for_each_api_version(emulator, arm, ident, api_version):
    client = make_client(emulator, api_version)
    created = templates(client).begin_create_or_update("rg", "t1", template(ident)).result()
    assert created.properties.provisioning_state == "Succeeded"
    assert created.properties.exact_staging_resource_group.startswith(f"/subscriptions/{SUB}/resourceGroups/IT_rg_t1_")
    assert created.id == f"/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/t1"
    assert created.identity.user_assigned_identities[ident].principal_id
    templates(client).begin_run("rg", "t1").result()
    status = last_run(client, "t1")
    assert status.run_state == "Succeeded" and status.end_time > status.start_time
    assert [o.name for o in templates(client).list_run_outputs("rg", "t1")] == ["vhd"]
    staging = created.properties.exact_staging_resource_group
    assert emulator.state.resource(staging) is not None
    templates(client).begin_delete("rg", "t1").result()
    with pytest.raises(ResourceNotFoundError):
        templates(client).get("rg", "t1")
    assert emulator.state.resource(staging) is None  # the service-created staging group goes with the template
    assert emulator.state.request_count("GET", "/operations/") >= 3


def test_put_answers_201_creating_with_async_header_then_settles(emulator, arm, ident):
    emulator.state.phase_seconds = 0.3
    r = arm.call("PUT", f"{RG_ID}/providers/Microsoft.VirtualMachineImages/imageTemplates/raw", template(ident),
                 api_version="2024-02-01")
    assert r.status_code == 201
    body = r.json()
    assert body["properties"]["provisioningState"] == "Creating"
    assert body["properties"]["vmProfile"] == {"vmSize": "", "osDiskSizeGB": 0}
    assert body["properties"]["distribute"][0]["artifactTags"] == {}
    assert "lastRunStatus" not in body["properties"]
    op_url = r.headers["Azure-AsyncOperation"]
    op = requests.get(op_url, verify=emulator.ca_bundle, headers={"Authorization": f"Bearer {emulator.token}"}).json()
    assert op["status"] == "InProgress" and op["name"] == op_url.split("/operations/")[1].split("?")[0].upper()
    time.sleep(0.35)
    op = requests.get(op_url, verify=emulator.ca_bundle, headers={"Authorization": f"Bearer {emulator.token}"}).json()
    assert op["status"] == "Succeeded" and op["endTime"]


def test_put_on_existing_name_is_refused(emulator_client, ident):
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident)).result()
    err = error_of(lambda: templates(emulator_client).begin_create_or_update("rg", "t1", template(ident)).result())
    assert isinstance(err, ResourceExistsError) and err.status_code == 409
    assert "Update/Upgrade of image templates is currently not supported" in err.message


def test_requests_without_the_token_get_401(emulator, arm):
    r = requests.get(f"{emulator.base_url}{RG_ID}?api-version=2021-04-01", verify=emulator.ca_bundle,
                     headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert emulator.token not in r.text


def test_unsupported_api_version_is_rejected(emulator, ident):
    client = make_client(emulator, "2019-05-01-preview")
    err = error_of(lambda: templates(client).get("rg", "t1"))
    assert err.status_code == 400 and err.error.code == "InvalidApiVersionParameter"


def test_plain_http_needs_the_insecure_auth_policy(arm):
    with Emulator(tls=False, phase_seconds=0.05) as emu:
        scope = emu.base_url + "/.default"
        strict = ImageBuilderClient(emu.credential(), SUB, base_url=emu.base_url, credential_scopes=[scope],
                                    retry_total=0)
        with pytest.raises(Exception, match="non-TLS"):
            list(strict.virtual_machine_image_templates.list())
        relaxed = ImageBuilderClient(emu.credential(), SUB, base_url=emu.base_url, credential_scopes=[scope],
                                     authentication_policy=insecure_auth_policy(emu.credential(), scope))
        assert list(relaxed.virtual_machine_image_templates.list()) == []
        assert emu.client_env()["AIB_ARM_CA_BUNDLE"] == ""


# ---- schema validation ----------------------------------------------------------------------------------------

def _with(ident, mutate):
    body = template(ident)
    mutate(body)
    return body


@pytest.mark.parametrize("api_version,mutate,needle", [
    ("2025-10-01", lambda b: b["properties"].update(buildTimeoutInMinutes=961), "'buildTimeoutInMinutes' has a bad value: '961'"),
    ("2025-10-01", lambda b: b["properties"].update(vmProfile={"osDiskSizeGB": -1}), "'osDiskSizeGB' has a bad value"),
    ("2025-10-01", lambda b: b["properties"]["distribute"][0].pop("runOutputName"), "Missing field runOutputName"),
    ("2025-10-01", lambda b: b["properties"]["distribute"].append({"type": "VHD", "runOutputName": "vhd"}), "must be unique"),
    ("2025-10-01", lambda b: b["properties"]["distribute"][0].update(runOutputName="bad name!"), "'runOutputName' has a bad value"),
    ("2025-10-01", lambda b: b["properties"].pop("source"), "Missing field source"),
    ("2025-10-01", lambda b: b["properties"]["source"].update(type="Marketplace"), "Field 'type' has a bad value: 'Marketplace'"),
    ("2025-10-01", lambda b: b.pop("identity"), "Missing field identity"),
    ("2025-10-01", lambda b: b["identity"]["userAssignedIdentities"].update({b["identity"]["userAssignedIdentities"].copy().popitem()[0] + "2": {}}),
     "exactly one user assigned identity"),
    ("2025-10-01", lambda b: b["properties"]["customize"][0].update(scriptUri="https://x/y.sh"), "Exactly one of 'scriptUri' or 'inline'"),
    ("2024-02-01", lambda b: b["properties"].update(optimize={"vmboot": {"state": "Enabled"}}),
     'unknown field "vmboot"'),
    ("2024-02-01", lambda b: b["properties"].update(additionalDataDisks=[{"sizeGB": 10}]), 'unknown field "additionalDataDisks"'),
    ("2024-02-01", lambda b: b["properties"].update(buildTimeoutInMinutes=5), "'buildTimeoutInMinutes' has a bad value: '5'"),
    ("2024-02-01", lambda b: b["properties"]["customize"].append(
        {"type": "Shell", "scriptUri": "https://x/y.sh", "sha256Checksum": "xyz"}), "'sha256Checksum' has a bad value"),
    ("2024-02-01", lambda b: b["properties"]["customize"].append({"type": "WindowsRestart", "restartTimeout": "5 min"}),
     "'restartTimeout' has a bad value: '5 min'"),
    ("2020-02-14", lambda b: b["properties"]["distribute"].__setitem__(0, {
        "type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF}), "Missing field replicationRegions"),
    ("2022-02-14", lambda b: b["properties"].update(validate={"inVMValidations": [
        {"type": "File", "sourceUri": "https://x/f", "destination": "/tmp/f"}]}), "Field 'type' has a bad value: 'File'"),
])
def test_schema_violations_fail_synchronously(emulator, ident, api_version, mutate, needle):
    client = make_client(emulator, api_version)
    err = error_of(lambda: templates(client).begin_create_or_update("rg", "t1", _with(ident, mutate)))
    assert err.status_code == 400 and needle in err.message
    assert ident and not emulator.state.templates


def test_strict_parsing_names_the_go_types_and_lenient_versions_accept_wrong_case(emulator, ident):
    body = _with(ident, lambda b: b["properties"].update(optimize={"vmboot": {"state": "Enabled"}}))
    err = error_of(lambda: templates(make_client(emulator, "2024-02-01")).begin_create_or_update("rg", "t1", body))
    assert ("unmarshalling type *v2024_02_01.ImageTemplateProperties: struct field Optimize: unmarshalling type "
            '*v2024_02_01.ImageTemplatePropertiesOptimize, unknown field "vmboot"') in err.message
    created = templates(make_client(emulator, "2023-07-01")).begin_create_or_update("rg", "t1", body).result()
    assert created.properties.optimize.vm_boot.state == "Enabled"


@pytest.mark.parametrize("api_version,field,value", [
    ("2023-07-01", "autoRun", {"state": "Enabled"}),
    ("2022-07-01", "errorHandling", {"onCustomizerError": "abort"}),
    ("2022-02-14", "optimize", {"vmBoot": {"state": "Enabled"}}),
    ("2021-10-01", "stagingResourceGroup", RG_ID),
    ("2020-02-14", "validate", {"sourceValidationOnly": False}),
])
def test_fields_newer_than_a_lenient_api_version_are_ignored_like_any_unknown_field(
        emulator, ident, api_version, field, value):
    # Pre-2024 services decode leniently: a field the api-version does not have is dropped, not refused.
    client = make_client(emulator, api_version)
    body = template(ident, **{field: value})
    templates(client).begin_create_or_update("rg", "t1", body).result()
    stored = emulator.state.templates[next(iter(emulator.state.templates))]["body"]["properties"]
    assert field not in stored or stored[field] in ("", None)


@pytest.mark.parametrize("restart_timeout", ["1h30m", "300ms", "10m", "1.5h"])
def test_go_durations_and_direct_shared_gallery_sources_are_accepted(emulator, ident, restart_timeout):
    client = make_client(emulator, "2024-02-01")
    body = template(ident, customize=[{"type": "WindowsRestart", "restartTimeout": restart_timeout}])
    body["properties"]["source"] = {"type": "SharedImageVersion",
                                    "imageVersionId": "/sharedGalleries/abc-uniq/images/img/versions/1.0.0"}
    created = templates(client).begin_create_or_update("rg", "t1", body).result()
    assert created.properties.provisioning_state == "Succeeded"


def test_triggers_do_not_exist_before_2022_07_01(emulator, ident):
    templates(make_client(emulator, "2022-07-01")).begin_create_or_update("rg", "t1", template(ident)).result()
    err = error_of(lambda: list(make_client(emulator, "2022-02-14").triggers.list_by_image_template("rg", "t1")))
    assert err.status_code == 404 and err.error.code == "InvalidResourceType"


# ---- PATCH --------------------------------------------------------------------------------------------------

def test_patch_rules(emulator, arm, ident):
    client = make_client(emulator, "2024-02-01")
    dist = [{"type": "VHD", "runOutputName": "vhd"}, {"type": "VHD", "runOutputName": "vhd2"}]
    templates(client).begin_create_or_update("rg", "t1", template(ident, distribute=dist)).result()
    updated = templates(client).begin_update("rg", "t1", {"tags": {"a": "b"}, "properties": {
        "vmProfile": {"vmSize": "Standard_D4s_v5", "osDiskSizeGB": 64}}}).result()
    assert updated.tags == {"a": "b"} and updated.properties.vm_profile.vm_size == "Standard_D4s_v5"
    err = error_of(lambda: templates(client).begin_update("rg", "t1", {"properties": {"distribute": dist[:1]}}).result())
    assert "Distribute target with Runoutput name vhd2 not found in the update request" in err.message
    err = error_of(lambda: templates(client).begin_update("rg", "t1", {"properties": {"distribute": [
        dist[0], {"type": "VHD"}]}}).result())
    assert "'ImageTemplate.properties.distribute[1]': Missing field runOutputName" in err.message
    old = make_client(emulator, "2023-07-01")  # PATCH of vmProfile came in 2024-02-01: older versions ignore it
    kept = templates(old).begin_update("rg", "t1", {"properties": {"vmProfile": {"vmSize": "x"}}}).result()
    assert kept.properties.vm_profile.vm_size == "Standard_D4s_v5"
    other, _ = arm.identity("other")
    swapped = templates(client).begin_update("rg", "t1", {"identity": {"type": "UserAssigned", "userAssignedIdentities": {
        ident: None, other: {}}}}).result()
    assert list(swapped.identity.user_assigned_identities) == [other]


# ---- runs, cancel, delete rules -------------------------------------------------------------------------------

def test_run_phases_include_optimizing_and_validating_only_when_configured(emulator, emulator_client, ident):
    emulator.state.phase_seconds = 0.15  # long enough for the reads below to see every phase
    body = template(ident, optimize={"vmBoot": {"state": "Enabled"}},
                    validate={"inVMValidations": [{"type": "Shell", "name": "check", "inline": ["true"]}]})
    templates(emulator_client).begin_create_or_update("rg", "t1", body).result()
    templates(emulator_client).begin_create_or_update("rg", "t2", template(ident)).result()
    seen = {"t1": [], "t2": []}
    for name in seen:
        poller = templates(emulator_client).begin_run("rg", name)
        while not poller.done():
            sub = last_run(emulator_client, name).run_sub_state
            if sub and (not seen[name] or seen[name][-1] != sub):
                seen[name].append(sub)
    assert seen["t1"] == ["Queued", "Building", "Customizing", "Optimizing", "Validating", "Distributing"]
    assert seen["t2"] == ["Queued", "Building", "Customizing", "Distributing"]


def test_run_while_running_and_delete_while_running_are_refused_then_cancel(emulator, emulator_client, ident):
    customize = [{"type": "Shell", "name": f"c{i}", "inline": ["x"]} for i in range(20)]
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, customize=customize)).result()
    run = templates(emulator_client).begin_run("rg", "t1")
    err = error_of(lambda: templates(emulator_client).begin_run("rg", "t1"))
    assert err.status_code == 409 and err.error.code == "OperationNotAllowed"
    err = error_of(lambda: templates(emulator_client).begin_delete("rg", "t1"))
    assert err.status_code == 409 and "imageTemplates/delete is not allowed" in err.message
    templates(emulator_client).begin_cancel("rg", "t1").result()
    assert last_run(emulator_client, "t1").run_state == "Canceled"
    with pytest.raises(HttpResponseError):
        run.result()  # the run's operation ends Canceled
    assert emulator.state.runs_started(f"{RG_ID}/providers/Microsoft.VirtualMachineImages/imageTemplates/t1") == 1


def test_canceling_lasts_the_configured_number_of_polls(emulator, emulator_client, ident):
    emulator.faults.cancel_polls = 4
    customize = [{"type": "Shell", "name": f"c{i}", "inline": ["x"]} for i in range(20)]
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, customize=customize)).result()
    templates(emulator_client).begin_run("rg", "t1", polling=False)
    templates(emulator_client).begin_cancel("rg", "t1", polling=False)
    states = [last_run(emulator_client, "t1") for _ in range(5)]
    assert [s.run_state for s in states] == ["Canceling"] * 4 + ["Canceled"]
    assert states[0].message == "Canceling image build" and states[0].run_sub_state is None
    err = error_of(lambda: templates(emulator_client).begin_cancel("rg", "t1"))
    assert err.error.code == "OperationNotAllowed"


def test_delete_while_creating_is_refused_and_absent_delete_is_204(emulator, arm, ident):
    emulator.state.phase_seconds = 0.5
    r = arm.call("PUT", f"{RG_ID}/providers/Microsoft.VirtualMachineImages/imageTemplates/t1", template(ident),
                 api_version="2025-10-01")
    assert r.status_code == 201
    r = arm.call("DELETE", f"{RG_ID}/providers/Microsoft.VirtualMachineImages/imageTemplates/t1", api_version="2025-10-01")
    assert r.status_code == 409 and "provisioningState: 'creating'" in r.json()["error"]["message"]
    r = arm.call("DELETE", f"{RG_ID}/providers/Microsoft.VirtualMachineImages/imageTemplates/nope", api_version="2025-10-01")
    assert r.status_code == 204


def test_failed_customizer_fails_the_run_with_log_location_and_fetchable_log(emulator, emulator_client, ident):
    emulator.faults.failing_customizers = {"harden"}
    customize = [{"type": "Shell", "name": n, "inline": ["x"]} for n in ("base", "harden", "cleanup")]
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, customize=customize)).result()
    err = error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    status = last_run(emulator_client, "t1")
    assert status.run_state == "Failed" and status.run_sub_state == "Customizing"
    assert templates(emulator_client).get("rg", "t1").properties.provisioning_state == "Succeeded"
    assert "Packer build command has failed" in err.message
    log_url = status.message.split("Image Build log location: ")[1].split(". OperationId")[0]
    op_id = status.message.split("OperationId: ")[1].split(".")[0]
    assert log_url.startswith("https://") and ".blob.core.windows.net/packerlogs/" in log_url
    r = requests.get(emulator.local_url(log_url), verify=emulator.ca_bundle,
                     headers={"Authorization": f"Bearer {emulator.token}", "x-ms-range": "bytes=0-"})
    lines = r.text.splitlines()
    assert r.status_code == 200 and all(line.startswith(f"[{op_id}] PACKER") for line in lines)
    assert any("Starting provisioner shell" in line for line in lines)
    assert "customizer 'harden' failed" in r.text and "cleanup" not in r.text
    assert requests.get(emulator.local_url(log_url), verify=emulator.ca_bundle).status_code == 401
    assert list(templates(emulator_client).list_run_outputs("rg", "t1")) == []


def test_failing_validator_and_distribution_faults(emulator, emulator_client, ident):
    emulator.faults.failing_validators = {"check"}
    body = template(ident, validate={"continueDistributeOnFailure": True,
                                     "inVMValidations": [{"type": "Shell", "name": "check", "inline": ["false"]}]},
                    distribute=[{"type": "VHD", "runOutputName": "a"}, {"type": "VHD", "runOutputName": "b"}])
    templates(emulator_client).begin_create_or_update("rg", "t1", body).result()
    error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    assert last_run(emulator_client, "t1").run_state == "PartiallySucceeded"
    emulator.faults.failing_validators = set()
    emulator.faults.fail_distribute = {"b"}
    error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    status = last_run(emulator_client, "t1")
    assert status.run_state == "PartiallySucceeded" and "Failed in distributing 1 images out of total 2" in status.message


# ---- run outputs and artifacts -------------------------------------------------------------------------------

def test_shared_image_run_creates_versions_and_managed_image_and_vhd_outputs(emulator, emulator_client, arm, ident):
    arm.gallery()
    managed = f"{RG_ID}/providers/Microsoft.Compute/images/golden"
    dist = [
        {"type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF, "versioning": {"scheme": "Latest", "major": 1},
         "targetRegions": [{"name": LOC, "replicaCount": 2}], "artifactTags": {"k": "v"}},
        {"type": "ManagedImage", "runOutputName": "mi", "imageId": managed, "location": LOC},
        {"type": "VHD", "runOutputName": "vhd"},
        {"type": "VHD", "runOutputName": "vhd2", "uri": "https://acct.blob.core.windows.net/c/x.vhd"},
    ]
    arm.put(f"{IMAGE_DEF}/versions/1.2.0", {"location": LOC, "properties": {"publishingProfile": {}}})
    arm.put(f"{IMAGE_DEF}/versions/2.0.0", {"location": LOC, "properties": {"publishingProfile": {}}})
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, distribute=dist)).result()
    templates(emulator_client).begin_run("rg", "t1").result()
    outs = {o.name: o for o in templates(emulator_client).list_run_outputs("rg", "t1")}
    assert outs["sig"].properties.artifact_id == f"{IMAGE_DEF}/versions/1.2.1"
    assert outs["mi"].properties.artifact_id == managed
    assert outs["vhd"].properties.artifact_uri.endswith(".vhd") and ".blob.core.windows.net/vhds/" in outs["vhd"].properties.artifact_uri
    assert outs["vhd2"].properties.artifact_uri == dist[3]["uri"]
    assert outs["sig"].id.startswith(f"/subscriptions/{SUB}/resourcegroups/rg/")
    version = emulator.state.image_versions(IMAGE_DEF)["1.2.1"]
    assert version["tags"] == {"k": "v"} and version["properties"]["publishingProfile"]["targetRegions"][0]["regionalReplicaCount"] == 2
    assert emulator.state.resource(managed)["type"] == "Microsoft.Compute/images"
    assert templates(emulator_client).get_run_output("rg", "t1", "mi").properties.provisioning_state == "Succeeded"
    templates(emulator_client).begin_run("rg", "t1").result()
    assert set(emulator.state.image_versions(IMAGE_DEF)) == {"1.2.0", "1.2.1", "1.2.2", "2.0.0"}
    with pytest.raises(ResourceNotFoundError):
        templates(emulator_client).get_run_output("rg", "t1", "nope")
    r = arm.call("PATCH", f"{IMAGE_DEF}/versions/1.2.2", {"properties": {"publishingProfile": {"excludeFromLatest": True}}})
    assert r.json()["properties"]["publishingProfile"]["excludeFromLatest"] is True
    assert r.json()["properties"]["publishingProfile"]["targetRegions"]  # merged, not replaced
    listed = arm.call("GET", f"{IMAGE_DEF}/versions").json()["value"]
    assert {v["name"] for v in listed} == {"1.2.0", "1.2.1", "1.2.2", "2.0.0"}


# ---- staging resource groups ----------------------------------------------------------------------------------

def _staging(arm, name, location=LOC):
    rid = f"/subscriptions/{SUB}/resourceGroups/{name}"
    arm.put(rid, {"location": location})
    return rid


def test_staging_resource_group_rules(emulator, emulator_client, arm):
    uai, principal = arm.identity()
    good, far, full = _staging(arm, "stg-good"), _staging(arm, "stg-far", "eastus"), _staging(arm, "stg-full")
    arm.put(f"{full}/providers/Microsoft.Network/virtualNetworks/v", {"location": LOC, "properties": {}})
    for rg in (good, far, full):
        arm.grant(principal, CONTRIBUTOR, rg)
    nocontrib = _staging(arm, "stg-nocontrib")
    arm.grant(principal, READER, nocontrib)
    cases = {"far": (far, "is in location 'eastus'"), "full": (full, "must be empty"),
             "nocontrib": (nocontrib, f"Not authorized to access the resource: {nocontrib}.")}
    for name, (rg, needle) in cases.items():
        err = error_of(lambda: templates(emulator_client).begin_create_or_update(
            "rg", name, template(uai, stagingResourceGroup=rg)).result())
        assert needle in err.message, err.message
        assert templates(emulator_client).get("rg", name).properties.provisioning_state == "Failed"
    templates(emulator_client).begin_create_or_update("rg", "ok", template(uai, stagingResourceGroup=good)).result()
    tags = emulator.state.resource(good)["tags"]
    assert tags["imageTemplateName"] == "ok" and tags["imageTemplateResourceGroupName"] == "rg" and "usedBy" in tags
    err = error_of(lambda: templates(emulator_client).begin_create_or_update(
        "rg", "second", template(uai, stagingResourceGroup=good)).result())
    assert "already used by image template" in err.message
    templates(emulator_client).begin_run("rg", "ok").result()
    assert emulator.state.contents_of_rg(good)  # the storage account with the logs
    templates(emulator_client).begin_delete("rg", "ok").result()
    kept = emulator.state.resource(good)
    assert kept is not None and "imageTemplateName" not in kept["tags"] and not emulator.state.contents_of_rg(good)
    missing = f"/subscriptions/{SUB}/resourceGroups/stg-new"
    templates(emulator_client).begin_create_or_update("rg", "new", template(uai, stagingResourceGroup=missing)).result()
    assert emulator.state.resource(missing)["tags"]["createdBy"]
    templates(emulator_client).begin_delete("rg", "new").result()
    assert emulator.state.resource(missing) is None


# ---- permissions --------------------------------------------------------------------------------------------

def test_missing_permission_fails_the_run_until_a_custom_role_grants_it(emulator, emulator_client, arm):
    arm.gallery()
    uai, principal = arm.identity()
    vm_uai, _ = arm.identity("buildvm")
    body = template(uai, distribute=[{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF}],
                    vmProfile={"userAssignedIdentities": [vm_uai]})
    templates(emulator_client).begin_create_or_update("rg", "t1", body).result()
    err = error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    assert f"Not authorized to access the resource: {IMAGE_DEF}. Please check the user assigned identity" in err.message
    assert last_run(emulator_client, "t1").run_state == "Failed"
    role = f"{RG_ID}/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}"
    arm.put(role, {"properties": {"roleName": "Azure Image Builder Service Image Creation Role", "permissions": [
        {"actions": ["Microsoft.Compute/galleries/*/read", "Microsoft.Compute/galleries/images/versions/write"]}],
        "assignableScopes": [RG_ID]}})
    arm.grant(principal, role, GALLERY)
    err = error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    assert f"Not authorized to access the resource: {vm_uai}." in err.message  # Managed Identity Operator missing
    arm.grant(principal, MI_OPERATOR, vm_uai)
    templates(emulator_client).begin_run("rg", "t1").result()
    assert last_run(emulator_client, "t1").run_state == "Succeeded"
    assert emulator.state.image_versions(IMAGE_DEF)


def test_not_actions_subtract_and_subnet_join_is_required(emulator, emulator_client, arm):
    uai, principal = arm.identity()
    vnet = f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet"
    arm.put(vnet, {"location": LOC, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                                   "subnets": [{"name": "build", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})
    subnet = f"{vnet}/subnets/build"
    assert arm.call("GET", subnet).json()["name"] == "build"
    role = f"{ROLE_DEFS}/{uuid.uuid4()}"
    arm.put(role, {"properties": {"roleName": "net-no-join", "permissions": [
        {"actions": ["Microsoft.Network/*"], "notActions": ["Microsoft.Network/virtualNetworks/subnets/join/action"]}],
        "assignableScopes": [f"/subscriptions/{SUB}"]}})
    arm.grant(principal, role, RG_ID)
    templates(emulator_client).begin_create_or_update("rg", "t1", template(uai, vmProfile={"vnetConfig": {"subnetId": subnet}})).result()
    err = error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    assert f"Not authorized to access the resource: {subnet}." in err.message
    arm.grant(principal, CONTRIBUTOR, vnet)
    templates(emulator_client).begin_run("rg", "t1").result()


# ---- faults -------------------------------------------------------------------------------------------------

def test_throttling_is_retried_after_the_retry_after_delay(emulator, emulator_client, ident):
    emulator.faults = Faults(throttle_rate=1.0, max_transport_faults=1, throttle_retry_after=1)
    t0 = time.monotonic()
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident)).result()
    assert time.monotonic() - t0 >= 1.0
    assert emulator.state.request_count("PUT", "imageTemplates/t1", status=429) == 1
    assert emulator.state.request_count("PUT", "imageTemplates/t1", status=201) == 1


def test_server_errors_and_dropped_connections_are_retried(emulator, emulator_client, ident):
    emulator.faults = Faults(server_error_rate=1.0, max_transport_faults=2, methods=frozenset({"GET"}))
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident)).result()
    assert emulator.state.request_count("GET", status=500) + emulator.state.request_count("GET", status=503) == 2
    emulator.faults = Faults(drop_rate=1.0, max_transport_faults=2, methods=frozenset({"GET"}))
    templates(emulator_client).begin_run("rg", "t1").result()
    assert emulator.state.request_count("GET", status=0) == 2
    assert last_run(emulator_client, "t1").run_state == "Succeeded"


def test_fault_sequences_are_deterministic_for_a_seed():
    def sequence(seed):
        f = Faults(seed=seed, throttle_rate=0.3, server_error_rate=0.3, drop_rate=0.2)
        return [f.draw("GET", "/providers/Microsoft.VirtualMachineImages/x") for _ in range(40)]
    assert sequence(3) == sequence(3) and sequence(3) != sequence(4)
    assert Faults(throttle_rate=1.0).draw("GET", "/subscriptions/s/resourceGroups/rg") is None


def test_role_assignment_propagation_window(emulator, emulator_client, arm):
    emulator.faults.auth_propagation_seconds = 0.5
    arm.gallery()
    uai, principal = arm.identity()
    arm.grant(principal, CONTRIBUTOR, RG_ID)
    body = template(uai, distribute=[{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF}])
    templates(emulator_client).begin_create_or_update("rg", "t1", body).result()
    err = error_of(lambda: templates(emulator_client).begin_run("rg", "t1").result())
    assert "Not authorized to access the resource" in err.message
    time.sleep(0.5)
    templates(emulator_client).begin_run("rg", "t1").result()
    assert last_run(emulator_client, "t1").run_state == "Succeeded"


# ---- triggers -----------------------------------------------------------------------------------------------

def test_trigger_rules(emulator, emulator_client, arm, ident):
    arm.gallery()
    triggers = emulator_client.triggers
    sig = [{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF}]
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, distribute=sig)).result()
    t = triggers.begin_create_or_update("rg", "t1", "source", {"properties": {"kind": "SourceImage"}}).result()
    assert t.properties.kind == "SourceImage" and t.properties.status.code == "Healthy"
    assert t.properties.status.message == "Trigger is active."
    err = error_of(lambda: triggers.begin_create_or_update("rg", "t1", "second", {"properties": {"kind": "SourceImage"}}).result())
    assert "at most one" in err.message
    assert [x.name for x in triggers.list_by_image_template("rg", "t1")] == ["source"]
    triggers.begin_delete("rg", "t1", "source").result()
    with pytest.raises(ResourceNotFoundError):
        triggers.get("rg", "t1", "source")
    pinned = template(ident)
    pinned["properties"]["source"]["version"] = "1.2.3"
    templates(emulator_client).begin_create_or_update("rg", "t2", pinned).result()
    err = error_of(lambda: triggers.begin_create_or_update("rg", "t2", "source", {"properties": {"kind": "SourceImage"}}).result())
    assert "version 'latest'" in err.message
    explicit = [{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": f"{IMAGE_DEF}/versions/1.0.0"}]
    templates(emulator_client).begin_create_or_update("rg", "t3", template(ident, distribute=explicit)).result()
    err = error_of(lambda: triggers.begin_create_or_update("rg", "t3", "source", {"properties": {"kind": "SourceImage"}}).result())
    assert "explicit image version" in err.message


def _finished_run(client, name: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while (status := last_run(client, name)).run_state == "Running":
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.05)
    return status


def _trigger_status(client, name: str = "t1"):
    (trigger,) = client.triggers.list_by_image_template("rg", name)
    assert client.triggers.get("rg", name, trigger.name).properties.status == trigger.properties.status
    return trigger.properties.status


def test_source_image_trigger_builds_when_a_newer_platform_version_is_published(emulator, emulator_client, arm, ident):
    arm.gallery()
    sig = [{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF}]
    created = templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, distribute=sig)).result()
    emulator_client.triggers.begin_create_or_update("rg", "t1", "source", {"properties": {"kind": "SourceImage"}}).result()
    assert emulator.publish_platform_image_version("canonical", "UBUNTU", "24_04-lts", "1.0.20200101") == []  # older
    assert emulator.publish_platform_image_version("Canonical", "ubuntu", "24_04-lts", "1.0.20990101") == [created.id]
    assert _finished_run(emulator_client, "t1").run_state == "Succeeded"
    output = templates(emulator_client).get_run_output("rg", "t1", "sig")
    assert output.properties.artifact_id.startswith(IMAGE_DEF + "/versions/")
    assert templates(emulator_client).get("rg", "t1").properties.source.exact_version == "1.0.20990101"
    assert emulator.publish_platform_image_version("Canonical", "ubuntu", "24_04-lts", "1.0.20990101") == []  # built
    assert emulator.publish_platform_image_version("Canonical", "other", "24_04-lts", "1.0.30000101") == []
    assert _trigger_status(emulator_client).code == "Healthy"


def test_trigger_deactivates_after_consecutive_failures_and_a_manual_success_reactivates_it(
        emulator, emulator_client, arm, ident):
    arm.gallery()
    sig = [{"type": "SharedImage", "runOutputName": "sig", "galleryImageId": IMAGE_DEF}]
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident, distribute=sig)).result()
    emulator_client.triggers.begin_create_or_update("rg", "t1", "source", {"properties": {"kind": "SourceImage"}}).result()
    emulator.faults.failing_customizers = {"install"}
    for day in range(1, FAILURES_TO_DEACTIVATE + 1):
        assert emulator.publish_platform_image_version("Canonical", "ubuntu", "24_04-lts", f"2.0.{day}")
        assert _finished_run(emulator_client, "t1").run_state == "Failed"
    status = _trigger_status(emulator_client)
    assert status.code == "Disabled" and f"{FAILURES_TO_DEACTIVATE} consecutive failed builds" in status.message
    assert emulator.publish_platform_image_version("Canonical", "ubuntu", "24_04-lts", "2.0.99") == []
    emulator.faults.failing_customizers = set()
    templates(emulator_client).begin_run("rg", "t1").result()
    assert _trigger_status(emulator_client).code == "Healthy"
    assert emulator.publish_platform_image_version("Canonical", "ubuntu", "24_04-lts", "2.0.100")


# ---- generic resources and misc -------------------------------------------------------------------------------

def test_generic_resources_round_trip(emulator, arm):
    rg = arm.call("GET", f"/subscriptions/{SUB}/resourcegroups/RG").json()
    assert rg["id"] == RG_ID and rg["properties"]["provisioningState"] == "Succeeded"
    uai, principal = arm.identity()
    got = arm.call("GET", uai).json()
    assert got["properties"]["principalId"] == principal and got["properties"]["clientId"] and got["properties"]["tenantId"]
    assert arm.identity()[1] == principal  # PUT again keeps the identity's principal
    builtin = arm.call("GET", MI_OPERATOR).json()
    assert builtin["properties"]["roleName"] == "Managed Identity Operator"
    a = arm.grant(principal, READER, RG_ID)
    assert arm.call("GET", a).json()["properties"]["scope"] == RG_ID
    dup = arm.call("PUT", f"{RG_ID}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                   {"properties": {"roleDefinitionId": READER, "principalId": principal}})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "RoleAssignmentExists"
    bad_role = arm.call("PUT", f"{RG_ID}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                        {"properties": {"roleDefinitionId": f"{ROLE_DEFS}/{uuid.uuid4()}", "principalId": principal}})
    assert bad_role.status_code == 400
    orphan = arm.call("PUT", f"{GALLERY}/images/x", {"location": LOC, "properties": {}})
    assert orphan.status_code == 404 and orphan.json()["error"]["code"] == "ParentResourceNotFound"
    no_rg = arm.call("PUT", f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.Compute/galleries/g", {"location": LOC})
    assert no_rg.status_code == 404 and no_rg.json()["error"]["code"] == "ResourceGroupNotFound"
    arm.gallery()
    assert arm.call("GET", f"{GALLERY}/images").json()["value"][0]["properties"]["osType"] == "Linux"
    assert arm.call("DELETE", GALLERY).status_code == 200
    assert arm.call("GET", IMAGE_DEF).status_code == 404
    assert arm.call("DELETE", GALLERY).status_code == 204
    assert arm.call("DELETE", RG_ID).status_code == 200
    assert emulator.state.resource(uai) is None


def test_listing_operations_status_and_list_endpoints(emulator, emulator_client, ident):
    templates(emulator_client).begin_create_or_update("rg", "t1", template(ident)).result()
    assert [t.name for t in templates(emulator_client).list_by_resource_group("rg")] == ["t1"]
    assert [t.name for t in templates(emulator_client).list()] == ["t1"]
    ops = {o.name for o in emulator_client.operations.list()}
    assert "Microsoft.VirtualMachineImages/imageTemplates/run/action" in ops and len(ops) == 13


def test_state_file_persists_across_restarts(tmp_path):
    path = str(tmp_path / "state.json")
    with Emulator(phase_seconds=0.05, state_file=path) as emu:
        arm = Arm(emu, make_client(emu))
        arm.put(RG_ID, {"location": LOC})
        uai, principal = arm.identity()
        arm.grant(principal, CONTRIBUTOR, RG_ID)
        templates(arm.client).begin_create_or_update("rg", "t1", template(uai)).result()
    with Emulator(phase_seconds=0.05, state_file=path) as emu:
        client = make_client(emu)
        assert templates(client).get("rg", "t1").properties.provisioning_state == "Succeeded"
        templates(client).begin_run("rg", "t1").result()
        assert last_run(client, "t1").run_state == "Succeeded"


def test_cli_runs_the_emulator_in_the_foreground():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-m", "components.emulator", "--port", "0", "--phase-seconds", "0.1"],
                            cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        env = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
        r = requests.get(f"{env['AIB_ARM_ENDPOINT']}/providers/Microsoft.VirtualMachineImages/operations"
                         "?api-version=2025-10-01", verify=env["AIB_ARM_CA_BUNDLE"],
                         headers={"Authorization": f"Bearer {env['AIB_ARM_TOKEN']}"})
        assert r.status_code == 200 and len(r.json()["value"]) == 13
    finally:
        proc.terminate()
        proc.wait(10)
