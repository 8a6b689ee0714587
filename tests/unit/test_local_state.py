"""The local engine state: secrets are kept as salted references, and an unchanged resource is recognised."""

from __future__ import annotations

import json

from pulumi.runtime import rpc

from components.local.state import EngineState

TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate"


def secret(value):
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def test_secret_strings_are_stored_as_references_and_restored(tmp_path):
    state = EngineState(tmp_path / "engine.json")
    inputs = {"name": "t", "customize": [{"type": "Shell", "inline": secret(["echo s3cr3t", "make"])}]}
    outputs = {"name": "t", "customize": [{"type": "Shell", "inline": ["echo s3cr3t", "make"]}], "id": "x"}
    state.record("urn", TEMPLATE, "/t", inputs, outputs)
    state.save()
    text = (tmp_path / "engine.json").read_text()
    assert "s3cr3t" not in text and "make" not in text

    again = EngineState(tmp_path / "engine.json")
    rid, restored = again.unchanged("urn", TEMPLATE, "/t", inputs)
    assert rid == "/t" and restored == outputs
    assert again.count("same") == 1


def test_a_changed_secret_is_a_change_and_never_restores_the_old_value(tmp_path):
    state = EngineState(tmp_path / "engine.json")
    old = {"k": secret("old-secret")}
    state.record("urn", "pulumi-python:dynamic:Resource", "id", old, {"k": "old-secret"})
    new = {"k": secret("new-secret")}
    assert state.digest(new) != state.digest(old)
    assert state.restore(state.records["urn"]["outputs"], new) == {"k": "[secret changed]"}


def test_same_id_and_inputs_is_unchanged_other_ids_are_replacements(tmp_path):
    state = EngineState(tmp_path / "engine.json")
    inputs = {"resourceGroupName": "rg", "location": "westeurope"}
    state.record("urn", "azure-native:resources:ResourceGroup", "/rg", inputs, dict(inputs))
    assert state.unchanged("urn", "azure-native:resources:ResourceGroup", "/rg", dict(inputs)) is not None
    assert state.unchanged("urn", "azure-native:resources:ResourceGroup", "/rg2", dict(inputs)) is None
    state.record("urn", "azure-native:resources:ResourceGroup", "/rg2", inputs, dict(inputs))
    deleted: list[str] = []
    state.finish(lambda rec: deleted.append(rec["id"]))
    assert deleted == ["/rg"]
    assert json.loads((tmp_path / "engine.json").read_text())["last_run"]["ResourceGroup.replace"] == 1
