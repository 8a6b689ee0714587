"""OS and generation inference: from the source, from osType/hyperVGeneration, from the steps."""

from __future__ import annotations

import pytest

from components.model import ImageTemplateSpec, parse_template
from components.model.platform import build_vm_size, image_generation, image_os, source_os, steps_os
from tests.unit.spec_samples import (
    DELETE, FILE_WINDOWS, MANAGED_SOURCE, POWERSHELL, SHELL, SIG_SOURCE, linux_template, set_at, windows_template,
)


def _platform(publisher, offer="offer", sku="sku"):
    return {"type": "PlatformImage", "publisher": publisher, "offer": offer, "sku": sku}


@pytest.mark.parametrize("source,expected", [
    (_platform("Canonical"), "Linux"),
    (_platform("canonical"), "Linux"),
    (_platform("RedHat", "RHEL"), "Linux"),
    (_platform("OpenLogic", "CentOS"), "Linux"),
    (_platform("MicrosoftWindowsServer", "WindowsServer"), "Windows"),
    (_platform("MicrosoftWindowsDesktop", "windows-11"), "Windows"),
    (_platform("microsoftwindowsserverhpcpack"), "Windows"),
    (_platform("MicrosoftSQLServer", "sql2019-ws2019"), "Windows"),
    (_platform("MicrosoftSQLServer", "sql2019-ubuntu2004"), "Linux"),
    (_platform("some-vendor", "vendor-ubuntu-hardened"), "Linux"),
    (_platform("some-vendor", "win-hardened"), "Windows"),
    (_platform("some-vendor", "appliance"), None),
    (MANAGED_SOURCE, None),
    (SIG_SOURCE, None),
])
def test_source_os(source, expected):
    spec = parse_template(set_at(linux_template(), "properties", {
        "source": source, "distribute": [{"type": "VHD", "runOutputName": "vhd"}]}))
    assert source_os(spec.properties.source) == expected


@pytest.mark.parametrize("builder,edits,expected", [
    (linux_template, [], "Linux"),
    (windows_template, [], "Windows"),
    # stated osType wins for managed/gallery sources
    (linux_template, [("properties.source", MANAGED_SOURCE), ("osType", "Linux")], "Linux"),
    (windows_template, [("properties.source", SIG_SOURCE), ("osType", "Windows")], "Windows"),
    # else the steps, when they agree
    (linux_template, [("properties.source", SIG_SOURCE)], "Linux"),
    (windows_template, [("properties.source", MANAGED_SOURCE)], "Windows"),
    (windows_template, [("properties.source", MANAGED_SOURCE), ("properties.customize", [FILE_WINDOWS])], None),
    (linux_template, [("properties.source", MANAGED_SOURCE), ("properties.customize", DELETE),
                      ("properties.validate", DELETE)], None),
    (linux_template, [("properties.source", MANAGED_SOURCE), ("properties.customize", [POWERSHELL]),
                      ("properties.validate.inVMValidations", [SHELL]), ("osType", "Windows")], "Windows"),
])
def test_image_os(builder, edits, expected):
    doc = builder()
    for path, value in edits:
        set_at(doc, path, value)
    # The model alone (no pre-flight rules): the last row is refused by them, but its OS still reads.
    assert image_os(ImageTemplateSpec.model_validate(doc)) == expected


def test_steps_os_is_none_when_steps_disagree():
    doc = set_at(linux_template(), "properties.source", MANAGED_SOURCE)
    doc["properties"]["customize"].append(POWERSHELL)
    assert steps_os(ImageTemplateSpec.model_validate(doc)) is None


@pytest.mark.parametrize("source_edits,stated,expected_gen,expected_size", [
    ({"sku": "22_04-lts-gen2"}, None, "V2", "Standard_D2ds_v4"),
    ({"sku": "22_04-lts"}, None, "V1", "Standard_D1_v2"),
    ({"sku": "2022-datacenter-g2"}, None, "V2", "Standard_D2ds_v4"),
    ({"sku": "9-lvm-gen1"}, None, "V1", "Standard_D1_v2"),
    ({"sku": "win11-23h2-ent"}, None, "V2", "Standard_D2ds_v4"),
    ({"offer": "ubuntu-24_04-lts", "sku": "server"}, None, "V2", "Standard_D2ds_v4"),
    ({"sku": "22_04-lts"}, "V2", "V2", "Standard_D2ds_v4"),
    ({"sku": "22_04-lts-gen2"}, "V1", "V1", "Standard_D1_v2"),
])
def test_generation_and_default_vm_size(source_edits, stated, expected_gen, expected_size):
    doc = linux_template()
    doc["properties"]["source"].update(source_edits)
    if stated:
        doc["hyperVGeneration"] = stated
    spec = parse_template(doc)
    assert image_generation(spec) == expected_gen
    assert build_vm_size(spec) == expected_size


def test_managed_source_defaults_to_gen1_and_vm_size_wins():
    doc = set_at(linux_template(), "properties.source", MANAGED_SOURCE)
    assert image_generation(parse_template(doc)) == "V1"
    set_at(doc, "properties.vmProfile", {"vmSize": "Standard_D8s_v5"})
    assert build_vm_size(parse_template(doc)) == "Standard_D8s_v5"
