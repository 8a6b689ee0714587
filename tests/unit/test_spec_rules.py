"""Every pre-flight rule, failing and passing: the exact path, a one-line message and its hint."""

from __future__ import annotations

import copy

import pytest

from components.model import RuleContext, SpecError, check_warnings, parse_template
from components.model.stack import parse_stack_config, stack_warnings
from tests.unit.spec_samples import (
    ACI_SUBNET, DELETE, FILE_WINDOWS, GALLERY, GALLERY_IMAGE, GALLERY_VERSION, IDENTITY, IDENTITY_2, MANAGED_IMAGE,
    MANAGED_SOURCE, POWERSHELL, POWERSHELL_URI, RESTART, RG, SHA, SHELL, SHELL_URI, SIG_SOURCE, SUBNET, UPDATE,
    VHD_TARGET, WINDOWS, issues_of, linux_template, set_at, windows_template,
)

def _pinned(builder):
    """The sample template with its File steps pinned, so that only the rule under test warns."""
    def build(**top):
        doc = builder(**top)
        for step in doc["properties"].get("customize") or []:
            if step.get("type") == "File":
                step["sha256Checksum"] = SHA
        return doc
    return build


L, W = _pinned(linux_template), _pinned(windows_template)
CU, VAL, DIST = "properties.customize", "properties.validate.inVMValidations", "properties.distribute"
OTHER_VNET_SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/other-vnet/subnets/aci"
GALLERY_CTX = RuleContext(gallery_locations={GALLERY.lower(): "northeurope"})


def _build(builder, edits):
    doc = builder()
    for path, value in edits:
        set_at(doc, path, value if value is DELETE else copy.deepcopy(value))
    return doc


# (id, builder, edits, context, expected paths (in order), fragment of the first message)
FAILING = [
    # buildTimeoutInMinutes: 0 or 6..960
    ("timeout-5", L, [("properties.buildTimeoutInMinutes", 5)], None,
     ["properties.buildTimeoutInMinutes"], "must be 0 or between 6 and 960, but 5 was given"),
    ("timeout-1", L, [("properties.buildTimeoutInMinutes", 1)], None,
     ["properties.buildTimeoutInMinutes"], "but 1 was given"),
    ("timeout-961", L, [("properties.buildTimeoutInMinutes", 961)], None,
     ["properties.buildTimeoutInMinutes"], "less than or equal to 960, but 961 was given"),
    ("timeout-negative", L, [("properties.buildTimeoutInMinutes", -1)], None,
     ["properties.buildTimeoutInMinutes"], "greater than or equal to 0, but -1 was given"),
    # osDiskSizeGB >= 0
    ("os-disk-negative", L, [("properties.vmProfile", {"osDiskSizeGB": -1})], None,
     ["properties.vmProfile.osDiskSizeGB"], "greater than or equal to 0"),
    # names: ^[A-Za-z0-9-_.]{1,64}$
    ("name-space", L, [("name", "ubuntu golden")], None, ["name"], "'ubuntu golden' does not match"),
    ("name-65", L, [("name", "a" * 65)], None, ["name"], "does not match ^[A-Za-z0-9-_.]{1,64}$"),
    ("name-empty", L, [("name", "")], None, ["name"], "does not match"),
    ("run-output-slash", L, [(f"{DIST}[0].runOutputName", "a/b")], None,
     [f"{DIST}[0].runOutputName"], "'a/b' does not match"),
    ("run-output-65", L, [(f"{DIST}[0].runOutputName", "r" * 65)], None, [f"{DIST}[0].runOutputName"], "does not match"),
    # runOutputName unique across distribute
    ("run-output-duplicate", L, [(f"{DIST}[1]", dict(VHD_TARGET, runOutputName="ubuntu-sig"))], None,
     [f"{DIST}[0].runOutputName", f"{DIST}[1].runOutputName"], "'ubuntu-sig' is used by 2 targets"),
    # step names unique per section
    # exactly one of scriptUri / inline, for every script step
    ("shell-neither", L, [(f"{CU}[0].inline", DELETE)], None,
     [f"{CU}[0].inline"], "exactly one of 'scriptUri' or 'inline' is required"),
    ("shell-both", L, [(f"{CU}[0].scriptUri", "https://example.com/a.sh")], None,
     [f"{CU}[0].inline"], "'scriptUri' and 'inline' are mutually exclusive"),
    ("powershell-neither", W, [(f"{CU}[0].inline", DELETE)], None,
     [f"{CU}[0].inline"], "exactly one of 'scriptUri' or 'inline' is required"),
    ("powershell-both", W, [(f"{CU}[0].scriptUri", "https://example.com/a.ps1")], None,
     [f"{CU}[0].inline"], "mutually exclusive"),
    ("shell-validator-neither", L, [(f"{VAL}[0].inline", DELETE)], None,
     [f"{VAL}[0].inline"], "exactly one of 'scriptUri' or 'inline' is required"),
    ("powershell-validator-both", W,
     [("properties.validate", {"inVMValidations": [dict(POWERSHELL_URI, inline=["x"])]})], None,
     [f"{VAL}[0].inline"], "mutually exclusive"),
    # sha256Checksum: 64 hex characters, and only beside scriptUri
    ("sha-63", L, [(f"{CU}[0]", dict(SHELL_URI, sha256Checksum="a" * 63))], None,
     [f"{CU}[0].sha256Checksum"], "does not match"),
    ("sha-65", L, [(f"{CU}[0]", dict(SHELL_URI, sha256Checksum="a" * 65))], None,
     [f"{CU}[0].sha256Checksum"], "does not match"),
    ("sha-not-hex", L, [(f"{CU}[0]", dict(SHELL_URI, sha256Checksum="g" * 64))], None,
     [f"{CU}[0].sha256Checksum"], "does not match"),
    ("file-sha-short", L, [(f"{CU}[1].sha256Checksum", "abc")], None, [f"{CU}[1].sha256Checksum"], "does not match"),
    # script and file URIs: https; http only with allowHttpUris
    ("shell-ftp", L, [(f"{CU}[0]", dict(SHELL_URI, scriptUri="ftp://example.com/setup.sh"))], None,
     [f"{CU}[0].scriptUri"], "is not an http(s) URL"),
    # File on Linux writes under /tmp
    ("file-outside-tmp", L, [(f"{CU}[1].destination", "/etc/motd")], None,
     [f"{CU}[1].destination"], "'/etc/motd' is outside /tmp"),
    ("file-tmp-prefix", L, [(f"{CU}[1].destination", "/tmpfoo/motd")], None, [f"{CU}[1].destination"], "outside /tmp"),
    ("file-validator-outside-tmp", L,
     [(f"{VAL}[1]", {"type": "File", "sourceUri": "https://e.com/f", "destination": "/opt/f"})], None,
     [f"{VAL}[1].destination"], "outside /tmp"),
    ("file-linux-by-ostype", L, [("properties.source", SIG_SOURCE), ("osType", "Linux"),
                                 (f"{CU}[1].destination", "/var/f")], None, [f"{CU}[1].destination"], "outside /tmp"),
    # OS-specific steps, OS from the source
    ("powershell-on-ubuntu", L, [(f"{CU}[0]", POWERSHELL)], None,
     [f"{CU}[0].type"], "PowerShell runs only on Windows, and this image is Linux"),
    ("restart-on-rhel", L, [("properties.source.publisher", "RedHat"), (f"{CU}[0]", RESTART)], None,
     [f"{CU}[0].type"], "WindowsRestart runs only on Windows"),
    ("update-on-ubuntu", L, [(f"{CU}[0]", UPDATE)], None, [f"{CU}[0].type"], "WindowsUpdate runs only on Windows"),
    ("powershell-validator-on-ubuntu", L, [(f"{VAL}[0]", POWERSHELL_URI)], None,
     [f"{VAL}[0].type"], "PowerShell runs only on Windows"),
    ("shell-on-windows", W, [(f"{CU}[3]", SHELL)], None,
     [f"{CU}[3].type"], "Shell runs only on Linux, and this image is Windows"),
    ("shell-validator-on-windows", W, [("properties.validate", {"inVMValidations": [SHELL]})], None,
     [f"{VAL}[0].type"], "Shell runs only on Linux"),
    # OS from osType for managed/gallery sources, else from the steps
    ("managed-ostype-windows-shell", L, [("properties.source", MANAGED_SOURCE), ("osType", "Windows"),
                                         ("properties.validate", DELETE), (f"{CU}[1]", DELETE)], None,
     [f"{CU}[0].type"], "Shell runs only on Linux"),
    ("managed-mixed-steps", L, [("properties.source", MANAGED_SOURCE), (f"{CU}[1]", POWERSHELL)], None,
     ["osType"], "the steps mix Shell with Windows-only types"),
    ("gallery-mixed-steps", W, [("properties.source", SIG_SOURCE), (f"{CU}[3]", SHELL)], None,
     ["osType"], "mix Shell with Windows-only"),
    ("ostype-contradicts-source", L, [("osType", "Windows"), ("properties.customize", DELETE),
                                      ("properties.validate", DELETE)], None,
     ["osType"], "says Windows, but the source image is Linux"),
    # runAsSystem requires runElevated
    ("run-as-system-unelevated", W, [(f"{CU}[0].runElevated", False)], None,
     [f"{CU}[0].runAsSystem"], "'runAsSystem' requires 'runElevated: true'"),
    ("run-as-system-validator", W, [("properties.validate", {"inVMValidations": [
        {"type": "PowerShell", "inline": ["x"], "runAsSystem": True}]})], None,
     [f"{VAL}[0].runAsSystem"], "requires 'runElevated: true'"),
    # SharedImage regions
    ("gallery-region-missing", L, [(f"{DIST}[0].targetRegions[1]", DELETE)], GALLERY_CTX,
     [f"{DIST}[0].targetRegions"], "does not include the gallery's region 'northeurope' (given: westeurope)"),
    ("gallery-region-missing-replication", L, [(f"{DIST}[0].targetRegions", DELETE),
                                              (f"{DIST}[0].replicationRegions", ["westeurope"])], GALLERY_CTX,
     [f"{DIST}[0].replicationRegions"], "does not include the gallery's region 'northeurope' (given: westeurope)"),
    ("regions-mixed", L, [(f"{DIST}[0].replicationRegions", ["westeurope"])], None,
     [f"{DIST}[0].replicationRegions"], "'replicationRegions' and 'targetRegions' cannot be mixed"),
    ("replica-count-0", L, [(f"{DIST}[0].targetRegions[0].replicaCount", 0)], None,
     [f"{DIST}[0].targetRegions[0].replicaCount"], "greater than or equal to 1, but 0 was given"),
    ("storage-type-beside-target-regions", L, [(f"{DIST}[0].storageAccountType", "Standard_LRS")], None,
     [f"{DIST}[0].storageAccountType"], "allowed only beside 'replicationRegions'"),
    ("storage-type-unknown", L, [(f"{DIST}[0].targetRegions[0].storageAccountType", "Ultra_LRS")], None,
     [f"{DIST}[0].targetRegions[0].storageAccountType"], "'Ultra_LRS' was given"),
    ("versioning-major-below-minus-one", L, [(f"{DIST}[0].versioning.major", -2)], None,
     [f"{DIST}[0].versioning.major"], "greater than or equal to -1"),
    ("versioning-unknown-scheme", L, [(f"{DIST}[0].versioning", {"scheme": "Newest"})], None,
     [f"{DIST}[0].versioning"], "unknown scheme 'Newest'"),
    # vnetConfig
    ("aci-without-subnet", L, [("properties.vmProfile.vnetConfig", {"containerInstanceSubnetId": ACI_SUBNET})], None,
     ["properties.vmProfile.vnetConfig.subnetId"], "'containerInstanceSubnetId' needs 'subnetId'"),
    ("proxy-and-aci", L, [("properties.vmProfile.vnetConfig", {"subnetId": SUBNET, "containerInstanceSubnetId": ACI_SUBNET,
                                                               "proxyVmSize": "Standard_A2_v2"})], None,
     ["properties.vmProfile.vnetConfig.proxyVmSize"], "cannot be used together"),
    ("aci-other-vnet", L, [("properties.vmProfile.vnetConfig", {"subnetId": SUBNET,
                                                                "containerInstanceSubnetId": OTHER_VNET_SUBNET})], None,
     ["properties.vmProfile.vnetConfig.containerInstanceSubnetId"], "same virtual network"),
    # sourceValidationOnly refuses customizers
    # exactly one template identity
    ("identity-two", L, [("identity.userAssignedIdentities", {IDENTITY: {}, IDENTITY_2: {}})], None,
     ["identity.userAssignedIdentities"], "exactly one identity is required, 2 given"),
    ("identity-none", L, [("identity.userAssignedIdentities", {})], None,
     ["identity.userAssignedIdentities"], "exactly one identity is required, 0 given"),
    ("identity-type", L, [("identity.type", "SystemAssigned")], None, ["identity.type"], "'SystemAssigned' was given"),
    ("identity-key-wrong-type", L, [("identity.userAssignedIdentities", {GALLERY_IMAGE: {}})], None,
     [f"identity.userAssignedIdentities.{GALLERY_IMAGE}"],
     "is a Microsoft.Compute/galleries/images id, not a Microsoft.ManagedIdentity/userAssignedIdentities id"),
    # distribute not empty
    ("distribute-missing", L, [(DIST, DELETE)], None, [DIST], "required field is missing"),
    # resource ids: well-formed and of the right type
    ("managed-source-is-subnet", L, [("properties.source", {"type": "ManagedImage", "imageId": SUBNET})], None,
     ["properties.source.imageId"],
     "is a Microsoft.Network/virtualNetworks/subnets id, not a Microsoft.Compute/images id"),
    ("gallery-source-is-definition", L, [("properties.source", {"type": "SharedImageVersion",
                                                                "imageVersionId": GALLERY_IMAGE})], None,
     ["properties.source.imageVersionId"], "not a Microsoft.Compute/galleries/images/versions id"),
    ("gallery-target-is-managed-image", L, [(f"{DIST}[0].galleryImageId", MANAGED_IMAGE)], None,
     [f"{DIST}[0].galleryImageId"], "is a Microsoft.Compute/images id"),
    ("managed-target-malformed", L, [(f"{DIST}[1]", {"type": "ManagedImage", "imageId": "images/out",
                                                     "location": "westeurope", "runOutputName": "mi"})], None,
     [f"{DIST}[1].imageId"], "'images/out' is not an Azure resource id"),
    ("subnet-is-image", L, [("properties.vmProfile.vnetConfig", {"subnetId": MANAGED_IMAGE})], None,
     ["properties.vmProfile.vnetConfig.subnetId"], "not a Microsoft.Network/virtualNetworks/subnets id"),
    ("staging-rg-is-subnet", L, [("properties.stagingResourceGroup", SUBNET)], None,
     ["properties.stagingResourceGroup"], "not a resourceGroups id"),
    ("staging-rg-malformed", L, [("properties.stagingResourceGroup", "rg-staging")], None,
     ["properties.stagingResourceGroup"], "is not a resource group id"),
    ("build-vm-identity-wrong-type", L, [("properties.vmProfile.userAssignedIdentities", [IDENTITY, SUBNET])], None,
     ["properties.vmProfile.userAssignedIdentities[1]"], "not a Microsoft.ManagedIdentity/userAssignedIdentities id"),
    # other bounded fields
    ("restart-timeout-words", W, [(f"{CU}[1].restartTimeout", "5 minutes")], None,
     [f"{CU}[1].restartTimeout"], "'5 minutes' is not a duration"),
    ("restart-timeout-bare-number", W, [(f"{CU}[1].restartTimeout", "10")], None,
     [f"{CU}[1].restartTimeout"], "is not a duration"),
    ("restart-timeout-unit-only", W, [(f"{CU}[1].restartTimeout", "m")], None, [f"{CU}[1].restartTimeout"], ""),
    ("direct-shared-gallery-not-a-version", L, [("properties.source", {
        "type": "SharedImageVersion", "imageVersionId": "/sharedGalleries/abc-uniq/images/img"})], None,
     ["properties.source.imageVersionId"], "is not an Azure resource id"),
    ("identity-type-none-with-identities", L, [("identity.type", "None")], None,
     ["identity.userAssignedIdentities"], "type 'None' takes no identities, 1 given"),
    ("update-limit-negative", W, [(f"{CU}[2].updateLimit", -1)], None, [f"{CU}[2].updateLimit"], "greater than or equal"),
    ("data-disk-negative", L, [("properties.additionalDataDisks", [{"sizeGB": -5}])], None,
     ["properties.additionalDataDisks[0].sizeGB"], "greater than or equal to 0"),
    ("deprovision-empty", L, [("deprovision", {"commands": []})], None, ["deprovision.commands"], "at least 1 item"),
]


@pytest.mark.parametrize("builder,edits,context,paths,fragment",
                         [pytest.param(*row[1:], id=row[0]) for row in FAILING])
def test_rule_fails_at_exact_path(builder, edits, context, paths, fragment):
    issues = issues_of(_build(builder, edits), context)
    assert [i.path for i in issues] == paths, [str(i) for i in issues]
    if fragment:
        assert fragment in issues[0].message
    for issue in issues:
        assert "\n" not in str(issue)
        assert issue.message
        assert str(issue).startswith(f"{issue.path}: {issue.message}")
        if issue.hint:
            assert str(issue).endswith(f" (hint: {issue.hint})")


# Rules the service does not have: reported as warnings, the template stays valid. (id, builder, edits, context,
# expected paths, fragment of the first message)
WARNING = [
    ("customizer-name-duplicate", L, [(f"{CU}[1].name", "update")], None,
     [f"{CU}[0].name", f"{CU}[1].name"], "'update' is used by 2 steps"),
    ("validator-name-duplicate", L, [(f"{VAL}[1]", {"type": "Shell", "name": "check", "inline": ["true"]})], None,
     [f"{VAL}[0].name", f"{VAL}[1].name"], "'check' is used by 2 steps"),
    ("sha-with-inline", L, [(f"{CU}[0].sha256Checksum", SHA)], None,
     [f"{CU}[0].sha256Checksum"], "applies only to 'scriptUri' or 'script'"),
    ("shell-http", L, [(f"{CU}[0]", dict(SHELL_URI, scriptUri="http://example.com/setup.sh"))], None,
     [f"{CU}[0].scriptUri"], "'http://example.com/setup.sh' is plain http"),
    ("file-http", L, [(f"{CU}[1].sourceUri", "http://example.com/motd")], None, [f"{CU}[1].sourceUri"], "plain http"),
    ("validator-http", L, [(f"{VAL}[0]", {"type": "Shell", "scriptUri": "HTTP://example.com/v.sh",
                                          "sha256Checksum": SHA})], None,
     [f"{VAL}[0].scriptUri"], "plain http"),
    ("powershell-http", W, [(f"{CU}[0]", dict(POWERSHELL_URI, scriptUri="http://example.com/i.ps1"))], None,
     [f"{CU}[0].scriptUri"], "plain http"),
    ("workload-http", L, [("properties.optimize", {"workload": {"state": "Enabled",
                                                              "scriptUri": "http://example.com/w.sh"}})], None,
     ["properties.optimize.workload.scriptUri"], "plain http"),
    ("target-regions-empty", L, [(f"{DIST}[0].targetRegions", [])], None,
     [f"{DIST}[0].targetRegions"], "'targetRegions' is empty"),
    ("versioning-with-explicit-version", L, [(f"{DIST}[0].galleryImageId", GALLERY_VERSION)], None,
     [f"{DIST}[0].versioning"], "versioning applies only when galleryImageId names an image definition"),
    ("proxy-without-subnet", L, [("properties.vmProfile.vnetConfig", {"proxyVmSize": "Standard_A2_v2"})], None,
     ["properties.vmProfile.vnetConfig.proxyVmSize"], "has no effect without 'subnetId'"),
    ("source-validation-only-with-customize", L, [("properties.validate.sourceValidationOnly", True)], None,
     ["properties.validate.sourceValidationOnly"], "customize is never run"),
    ("source-validation-only-with-deprovision", L, [("properties.validate.sourceValidationOnly", True),
                                                    ("properties.customize", DELETE),
                                                    ("deprovision", {"commands": ["sync"]})], None,
     ["deprovision"], "sourceValidationOnly builds nothing"),
    ("distribute-empty", L, [(DIST, [])], None, [DIST], "no distribution target: the build publishes nothing"),
    # Every remote byte pinned: the service accepts unpinned downloads, so validate warns (the pack refuses).
    ("script-unpinned", L, [(f"{CU}[0]", dict(SHELL_URI, sha256Checksum=None))], None,
     [f"{CU}[0].scriptUri"], "'https://example.com/setup.sh' is downloaded without sha256Checksum"),
    ("file-unpinned", L, [(f"{CU}[1].sha256Checksum", DELETE)], None, [f"{CU}[1].sourceUri"], "without sha256Checksum"),
    ("validator-unpinned", L, [(f"{VAL}[0]", {"type": "Shell", "scriptUri": "https://e.com/v.sh"})], None,
     [f"{VAL}[0].scriptUri"], "without sha256Checksum"),
    ("sas-redacted", L, [(f"{CU}[0]", {"type": "Shell", "scriptUri": "https://a.blob.core.windows.net/c/s.sh?"
                                                                      "sv=2022-11-02&sp=r&sig=SECRET%3D"})], None,
     [f"{CU}[0].scriptUri"], "?sv=[redacted]&sp=[redacted]&sig=[redacted]' is downloaded"),
    ("curl-pipe-sh", L, [(f"{CU}[0].inline", ["set -e", "curl -fsSL https://get.example.com | sudo bash -s"])], None,
     [f"{CU}[0].inline"], "downloads code and runs it unpinned"),
    ("iwr-iex", W, [(f"{CU}[0].inline", ["iwr https://x.example/i.ps1 -UseBasicParsing | iex"])], None,
     [f"{CU}[0].inline"], "downloads code and runs it unpinned"),
    ("webclient-downloadstring", W, [(f"{CU}[0].inline", [
        "Invoke-Expression (New-Object Net.WebClient).DownloadString('https://x.example/i.ps1')"])], None,
     [f"{CU}[0].inline"], "downloads code and runs it unpinned"),
    ("opt-out-on-pinned-step", L, [(f"{CU}[1].checksumOptOut", "vendor file")], None,
     [f"{CU}[1].checksumOptOut"], "no unpinned remote content to opt out for"),
]


@pytest.mark.parametrize("builder,edits", [
    (L, [(f"{CU}[1].sha256Checksum", DELETE), (f"{CU}[1].checksumOptOut", "rotated daily by the vendor")]),
    (L, [(f"{CU}[0].inline", ["curl -fsSL https://get.example.com | sh"]), (f"{CU}[0].checksumOptOut", "vendor")]),
    (L, [(f"{VAL}[0]", {"type": "Shell", "scriptUri": "https://e.com/v.sh", "checksumOptOut": "generated per run"})]),
])
def test_opt_out_with_a_reason_silences_the_warning(builder, edits):
    doc = _build(builder, edits)
    assert check_warnings(parse_template(doc)) == []


@pytest.mark.parametrize("command", [
    "curl -fsSLo /tmp/i.sh https://x.example/i.sh && echo \"$SHA  /tmp/i.sh\" | sha256sum -c - && sh /tmp/i.sh",
    "curl -s https://x.example/v.json | jq -r .version", "wget -q https://x.example/a.tgz && tar xzf a.tgz",
    "Invoke-WebRequest https://x.example/a.msi -OutFile a.msi; (Get-FileHash a.msi).Hash",
    "echo 'curl is documented' | tee /tmp/notes",
])
def test_downloads_that_are_not_run_unchecked_are_not_flagged(command):
    doc = _build(L, [(f"{CU}[0].inline", [command])])
    assert check_warnings(parse_template(doc)) == []


@pytest.mark.parametrize("reason,fragment", [("", "at least 1 character"), (" ", "does not match"),
                                              ("x" * 257, "at most 256")])
def test_opt_out_reason_must_fit_a_tag_value(reason, fragment):
    with pytest.raises(SpecError) as caught:
        parse_template(_build(L, [(f"{CU}[1].sha256Checksum", DELETE), (f"{CU}[1].checksumOptOut", reason)]))
    assert f"{CU}[1].checksumOptOut" in str(caught.value) and fragment in str(caught.value)


def test_opt_outs_beyond_the_arm_tag_limit_are_an_error():
    steps = [{"type": "Shell", "name": f"s{i}", "scriptUri": f"https://e.com/{i}.sh", "checksumOptOut": "vendor"}
             for i in range(50)]
    doc = _build(L, [(f"{CU}", steps), ("tags", {"team": "images"})])
    with pytest.raises(SpecError) as caught:
        parse_template(doc)
    assert "tags: the template would carry 51 tags" in str(caught.value)


@pytest.mark.parametrize("builder,edits,context,paths,fragment",
                         [pytest.param(*row[1:], id=row[0]) for row in WARNING])
def test_warning_at_exact_path_and_template_stays_valid(builder, edits, context, paths, fragment):
    doc = _build(builder, edits)
    assert [str(i) for i in issues_of(doc, context)] == []
    warnings = check_warnings(parse_template(doc, context=context), context)
    assert [w.path for w in warnings] == paths, [str(w) for w in warnings]
    assert fragment in warnings[0].message


def test_warnings_of_a_stack_carry_config_paths():
    stack = parse_stack_config({"location": "westeurope", "images": {"ubuntu": {"template": _build(
        L, [(f"{CU}[1].name", "update")])}}})
    assert [w.path for w in stack_warnings(stack)] == [
        f"images.ubuntu.template.{CU}[0].name", f"images.ubuntu.template.{CU}[1].name"]


# Rule failures (and warnings) the spec promises a hint for.
@pytest.mark.parametrize("row_id,hint", [
    ("timeout-5", "0 means 240"),
    ("run-output-duplicate", "runOutputName must be unique across distribute"),
    ("customizer-name-duplicate", "give each step its own name"),
    ("shell-neither", "keep either scriptUri"),
    ("shell-http", "allowHttpUris: true"),
    ("file-outside-tmp", "only write under /tmp"),
    ("powershell-on-ubuntu", "use a Shell step"),
    ("shell-on-windows", "use a PowerShell step"),
    ("managed-mixed-steps", "state osType: Linux or osType: Windows"),
    ("run-as-system-unelevated", "set runElevated: true"),
    ("gallery-region-missing", "add 'northeurope'"),
    ("regions-mixed", "move each region to targetRegions"),
    ("proxy-without-subnet", "add the build VM's subnetId"),
    ("proxy-and-aci", "drop proxyVmSize"),
    ("source-validation-only-with-customize", "remove customize"),
    ("identity-two", "single identity"),
    ("distribute-empty", "add a SharedImage, ManagedImage or VHD entry"),
    ("managed-source-is-subnet", "check the resource type in the id"),
    ("name-space", "letters, digits, '-', '_' and '.'"),
    ("distribute-missing", "add 'distribute'"),
])
def test_rule_hint(row_id, hint):
    row = next(r for r in FAILING + WARNING if r[0] == row_id)
    doc = _build(row[1], row[2])
    issues = issues_of(doc, row[3]) or check_warnings(parse_template(doc, context=row[3]), row[3])
    assert hint in issues[0].hint


# (id, builder, edits, context): each is the closest valid neighbour of a failing case above.
PASSING = [
    ("baseline-linux", L, [], None),
    ("baseline-windows", W, [], None),
    ("timeout-0", L, [("properties.buildTimeoutInMinutes", 0)], None),
    ("timeout-6", L, [("properties.buildTimeoutInMinutes", 6)], None),
    ("timeout-960", L, [("properties.buildTimeoutInMinutes", 960)], None),
    ("timeout-omitted", L, [("properties.buildTimeoutInMinutes", DELETE)], None),
    ("os-disk-0", L, [("properties.vmProfile", {"osDiskSizeGB": 0})], None),
    ("os-disk-1024", L, [("properties.vmProfile", {"osDiskSizeGB": 1024})], None),
    ("name-64-all-classes", L, [("name", "Ab9-_." + "x" * 58)], None),
    ("name-omitted", L, [("name", DELETE)], None),
    ("run-output-64", L, [(f"{DIST}[0].runOutputName", "r" * 64)], None),
    ("run-output-distinct", L, [(f"{DIST}[1]", VHD_TARGET)], None),
    ("same-name-customizer-and-validator", L, [(f"{VAL}[0].name", "update")], None),
    ("unnamed-steps", L, [(f"{CU}[0].name", DELETE), (f"{CU}[1].name", DELETE)], None),
    ("shell-script-uri-only", L, [(f"{CU}[0]", SHELL_URI)], None),
    ("shell-script-uri-no-sha", L, [(f"{CU}[0]", {"type": "Shell", "scriptUri": "https://example.com/a.sh"})], None),
    ("sha-uppercase-hex", L, [(f"{CU}[0]", dict(SHELL_URI, sha256Checksum="ABCDEF0123" * 6 + "ABCD"))], None),
    ("http-allowed", L, [("allowHttpUris", True), (f"{CU}[0]", dict(SHELL_URI, scriptUri="http://e.com/a.sh")),
                         (f"{CU}[1].sourceUri", "http://e.com/motd")], None),
    ("file-tmp-itself", L, [(f"{CU}[1].destination", "/tmp")], None),
    ("file-windows-anywhere", W, [(f"{CU}[3]", FILE_WINDOWS)], None),
    ("powershell-validator-on-windows", W, [("properties.validate", {"inVMValidations": [POWERSHELL_URI]})], None),
    ("managed-ostype-windows-powershell", W, [("properties.source", MANAGED_SOURCE), ("osType", "Windows")], None),
    ("managed-steps-imply-windows", W, [("properties.source", MANAGED_SOURCE), (f"{CU}[3]", FILE_WINDOWS)], None),
    ("gallery-steps-imply-linux", L, [("properties.source", SIG_SOURCE)], None),
    ("gallery-mixed-steps-with-ostype-windows-only", W, [("properties.source", SIG_SOURCE), ("osType", "Windows")], None),
    ("ostype-agrees-with-source", W, [("osType", "Windows")], None),
    ("run-as-system-elevated", W, [(f"{CU}[0].runElevated", True)], None),
    ("gallery-region-included", L, [(f"{DIST}[0].targetRegions[1].name", "North Europe")], GALLERY_CTX),
    ("gallery-region-replication", L, [(f"{DIST}[0].targetRegions", DELETE),
                                       (f"{DIST}[0].replicationRegions", ["westeurope", "northeurope"]),
                                       (f"{DIST}[0].storageAccountType", "Standard_LRS")], GALLERY_CTX),
    ("gallery-region-unknown", L, [], RuleContext(gallery_locations={})),
    ("gallery-no-regions", L, [(f"{DIST}[0].targetRegions", DELETE)], GALLERY_CTX),
    ("explicit-version-without-versioning", L, [(f"{DIST}[0].galleryImageId", GALLERY_VERSION),
                                                (f"{DIST}[0].versioning", DELETE)], None),
    ("versioning-source", L, [(f"{DIST}[0].versioning", {"scheme": "Source"})], None),
    ("replica-count-1", L, [(f"{DIST}[0].targetRegions[0].replicaCount", 1)], None),
    ("proxy-with-subnet", L, [("properties.vmProfile.vnetConfig", {"subnetId": SUBNET,
                                                                   "proxyVmSize": "Standard_A2_v2"})], None),
    ("aci-with-subnet", L, [("properties.vmProfile.vnetConfig", {"subnetId": SUBNET,
                                                                 "containerInstanceSubnetId": ACI_SUBNET})], None),
    ("source-validation-only-no-customize", L, [("properties.validate.sourceValidationOnly", True),
                                                ("properties.customize", DELETE)], None),
    ("source-validation-only-empty-customize", L, [("properties.validate.sourceValidationOnly", True),
                                                   ("properties.customize", [])], None),
    ("no-identity", L, [("identity", DELETE)], None),
    ("staging-rg", L, [("properties.stagingResourceGroup", f"{RG}")], None),
    ("build-vm-identities", L, [("properties.vmProfile.userAssignedIdentities", [IDENTITY, IDENTITY_2])], None),
    ("windows-platform-source", W, [("properties.source", WINDOWS)], None),
    # restartTimeout: Go's time.ParseDuration grammar
    ("restart-timeout-go-compound", W, [(f"{CU}[1].restartTimeout", "1h30m")], None),
    ("restart-timeout-go-ms", W, [(f"{CU}[1].restartTimeout", "300ms")], None),
    ("restart-timeout-go-fraction", W, [(f"{CU}[1].restartTimeout", "1.5h")], None),
    ("restart-timeout-go-zero", W, [(f"{CU}[1].restartTimeout", "0")], None),
    ("restart-timeout-go-micro", W, [(f"{CU}[1].restartTimeout", "2us")], None),
    ("direct-shared-gallery-source", L, [("properties.source", {
        "type": "SharedImageVersion", "imageVersionId": "/sharedGalleries/abc-uniq/images/img/versions/1.0.0"})], None),
    ("direct-shared-gallery-latest", L, [("properties.source", {
        "type": "SharedImageVersion", "imageVersionId": "/sharedGalleries/abc-uniq/images/img/versions/latest"})], None),
    ("identity-type-none", L, [("identity", {"type": "None"})], None),
    ("state-omitted", L, [("properties.optimize", {"vmBoot": {}}), ("properties.autoRun", {})], None),
    ("data-disk-size-omitted", L, [("properties.additionalDataDisks", [{}])], None),
]


@pytest.mark.parametrize("builder,edits,context", [pytest.param(*row[1:], id=row[0]) for row in PASSING])
def test_rule_passes(builder, edits, context):
    doc = _build(builder, edits)
    assert [str(i) for i in issues_of(doc, context)] == []


def test_spec_error_lists_each_issue_on_its_own_line():
    doc = _build(L, [("properties.buildTimeoutInMinutes", 5), (f"{CU}[1].destination", "/etc/motd")])
    with pytest.raises(SpecError) as info:
        parse_template(doc, source="stacks/Pulumi.dev.yaml")
    lines = str(info.value).splitlines()
    assert lines[0] == "stacks/Pulumi.dev.yaml: 2 problems found"
    assert lines[1].startswith("  - properties.buildTimeoutInMinutes: must be 0 or between 6 and 960")
    assert lines[2].startswith(f"  - {CU}[1].destination: '/etc/motd' is outside /tmp")


@pytest.mark.parametrize("data,kind", [([], "list"), ("template", "str"), (None, "NoneType"), (3, "int")])
def test_template_must_be_a_mapping(data, kind):
    issues = issues_of(data)
    assert [(i.path, i.message) for i in issues] == [("", f"a template must be a mapping, not {kind}")]


@pytest.mark.parametrize("security,warned", [("TrustedLaunch", True), ("ConfidentialVM", True),
                                             ("TrustedLaunchSupported", False), (None, False),
                                             ("TrustedLaunchAndConfidentialVmSupported", False)])
def test_image_definition_security_types_aib_does_not_support_are_warned(security, warned):
    from components.model.lints import lint_stack

    image = {"template": _build(L, []), "gallery": {"imageDefinition": {"securityType": security}}}
    stack = parse_stack_config({"location": "westeurope", "images": {"ubuntu": image}})
    found = [w for w in lint_stack(stack) if w.path == "images.ubuntu.gallery.imageDefinition.securityType"]
    assert bool(found) == warned and all("image-builder-overview" in w.hint for w in found)
