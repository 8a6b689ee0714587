"""Parameterised ARM deployment templates: the expression evaluator, parameters files, distinct image names, notices
for what the import decided or what later checks would refuse, pinning, the project's config namespace, and the
heartbeat of long build phases."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from components.arm.expressions import Deployment, ExpressionError, evaluate, evaluate_tree, tokenize
from components.arm.import_arm import DeploymentInputs, import_document, parameter_values
from components.arm.pinning import Pinner
from components.providers.build_run.progress import Progress
from components.arm.documents import import_notices, imported_as_config
from components.model import SpecError
from components.model.stack import config_from_stack_file, project_name

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "azvmimagebuilder"
SUB = "11111111-2222-3333-4444-555555555555"


def deployment(**kwargs) -> Deployment:
    definitions = {"name": {"type": "string", "defaultValue": "web"}, "n": {"type": "int", "defaultValue": 2},
                   "loc": {"type": "string", "defaultValue": "[resourceGroup().location]"},
                   "bare": {"type": "string"}, "size": {"type": "string", "allowedValues": ["S", "M"]},
                   "obj": {"type": "object", "defaultValue": {"list": ["a", "b"]}}}
    variables = {"full": "[concat(parameters('name'), '-', parameters('n'))]", "self": "[variables('self')]"}
    return Deployment(definitions=definitions, variables=variables, **kwargs)


@pytest.mark.parametrize("expression,value", [
    ("[parameters('name')]", "web"),
    ("[PARAMETERS('Name')]", "web"),  # ARM names and functions are case-insensitive
    ("[variables('full')]", "web-2"),
    ("[concat('a', 'b''c', 1)]", "ab'c1"),
    ("[concat(parameters('obj').list, parameters('obj').list)]", ["a", "b", "a", "b"]),
    ("[parameters('obj').list[1]]", "b"),
    ("[parameters('obj')['list'][0]]", "a"),
    ("[format('{0}-{1}-{{x}}', 'img', parameters('n'))]", "img-2-{x}"),
    ("[toLower('ABC')]", "abc"),
    ("[subscription().subscriptionId]", SUB),
    ("[resourceGroup().name]", "rg-x"),
    ("[parameters('loc')]", "northeurope"),
    ("[resourceId('Microsoft.Compute/galleries/images', 'gal', 'def')]",
     f"/subscriptions/{SUB}/resourceGroups/rg-x/providers/Microsoft.Compute/galleries/gal/images/def"),
    ("[resourceId('rg-other', 'Microsoft.Compute/images', 'img')]",
     f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Compute/images/img"),
    ("[resourceId('s2', 'rg2', 'Microsoft.ManagedIdentity/userAssignedIdentities', 'id')]",
     "/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"),
])
def test_evaluates_the_subset_image_templates_use(expression, value):
    scope = deployment(subscription_id=SUB, resource_group="rg-x", location="northeurope")
    assert evaluate(expression, scope) == value


def test_scope_not_given_stays_a_clear_placeholder():
    scope = deployment()
    assert evaluate("[subscription().subscriptionId]", scope) == "<subscription-id>"
    assert evaluate("[resourceGroup().location]", scope) == "<location>"


@pytest.mark.parametrize("expression,function,text", [
    ("[nosuchFunction('x')]", "nosuchFunction", "not supported"),
    ("[substring('abc', 2, 5)]", "substring", "outside the string"),
    ("[not('yes')]", "not", "needs a boolean"),
    ("[copyIndex()]", "copyIndex", "outside its copy loop"),
    ("[ns.myFunction('x')]", "ns.myFunction", "functions define no such function"),
    ("[parameters('bare')]", "parameters", "no defaultValue"),
    ("[parameters('nope')]", "parameters", "declares no parameter"),
    ("[variables('self')]", "variables", "refers to itself"),
    ("[format('{1}', 'a')]", "format", "argument 1"),
    ("[resourceId('Microsoft.Compute/images')]", "resourceId", "needs 1 name"),
    ("[concat('a' 'b')]", "syntax", "expected"),
    ("[ -d /opt ]", "syntax", "unexpected"),
])
def test_what_cannot_be_evaluated_names_the_function(expression, function, text):
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, deployment())
    assert info.value.function == function and text in str(info.value)


def test_allowed_values_are_checked():
    with pytest.raises(ExpressionError, match="allowedValues"):
        evaluate("[parameters('size')]", deployment(parameters={"size": "XL"}))


def test_tree_keeps_going_and_reports_each_failure_by_location():
    tree = {"a": "[parameters('name')]", "b": ["[[not an expression]", "[nope()]"],
            "[concat('key-', parameters('name'))]": {}}
    value, failures = evaluate_tree(tree, deployment())
    assert value["a"] == "web" and value["b"][0] == "[not an expression]" and "key-web" in value
    assert [(f.loc, f.error.function) for f in failures] == [(("b", 1), "nope")]


def test_tokenizer_reads_strings_with_doubled_quotes():
    assert [t.text for t in tokenize("concat('it''s', 1)")] == ["concat", "(", "'it''s'", ",", "1", ")"]


def arm(resource: dict, parameters: dict | None = None, variables: dict | None = None) -> dict:
    return {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "parameters": parameters or {}, "variables": variables or {}, "resources": [resource]}


def sample(name: str) -> dict:
    text = (SAMPLES / f"{name}.json").read_text(encoding="utf-8")
    for placeholder, value in json.loads((SAMPLES / "placeholders.json").read_text(encoding="utf-8")).items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def sample_parameters(name: str) -> dict:
    return parameter_values(json.loads((SAMPLES / f"{name}.parameters.json").read_text(encoding="utf-8")))


def test_public_sample_imports_with_its_parameters_file():
    [item] = import_document(sample("armTemplateWinSIG"), inputs=DeploymentInputs(sample_parameters("armTemplateWinSIG")))
    assert item.name == "armTemplateWinSIG" and item.spec.location == "westeurope"


def test_sample_without_parameters_file_names_each_parameter_by_path():
    with pytest.raises(SpecError) as info:
        import_document(sample("armTemplateWinSIG"))
    paths = {i.path for i in info.value.issues}
    assert paths == {"resources[0].name", "resources[0].apiVersion", "resources[0].location"}
    assert all("(parameters)" in i.message and "--parameters" in i.message for i in info.value.issues)


def test_variables_and_concat_of_a_sample_evaluate_and_its_typo_is_dropped_as_its_service_ignored_it():
    [imported] = import_document(sample("devOpsEnvTemplate"),
                                 inputs=DeploymentInputs(sample_parameters("devOpsEnvTemplate")))
    # imageId (variables + concat) and inline concat evaluated; the sample's misspelt aritfactTags had no effect at
    # its api-version (2019-05-01-preview: unknown fields ignored; refused from 2024-02-01), so it goes, with a notice
    [typo] = [n for n in imported.notices if "aritfactTags" in n.path]
    assert "dropped" in typo.message and "artifactTags" in typo.message
    assert "aritfactTags" not in str(imported.spec.model_dump())


def test_parameters_file_refuses_key_vault_references_by_path():
    with pytest.raises(SpecError) as info:
        parameter_values({"parameters": {"a": {"value": 1}, "secret": {"reference": {"keyVault": {}}}}})
    assert [i.path for i in info.value.issues] == ["parameters.secret.reference"]


def test_placeholder_scope_is_a_notice_at_its_path():
    doc = sample("armTemplateWinSIG")
    distribute = doc["resources"][0]["properties"]["distribute"][0]
    distribute["galleryImageId"] = ("[resourceId('Microsoft.Compute/galleries/images', 'gal', "
                                    "toLower(parameters('imageTemplateName')))]")
    [item] = import_document(doc, inputs=DeploymentInputs(sample_parameters("armTemplateWinSIG")))
    assert any(n.path == "resources[0].properties.distribute[0].galleryImageId" and "<subscription-id>" in n.message
               for n in item.notices)
    [item] = import_document(doc, inputs=DeploymentInputs(sample_parameters("armTemplateWinSIG"),
                                                          subscription_id=SUB, resource_group="rg"))
    assert not any("galleryImageId" in n.path for n in item.notices)


def test_each_template_gets_its_own_image_name():
    aib = sample("helloImageTemplateLinux")  # no name: the file's name
    [item] = import_document(aib, fallback_name="hello Linux.v1")
    assert item.name == "hello-Linux.v1"
    twice = {"resources": [dict(aib, name="same"), dict(aib, name="same"), aib]}
    names = [i.name for i in import_document(twice, fallback_name="file")]
    assert names == ["same", "same-2", "file"]


def notices_for(name: str, *, pinner: Pinner, parameters: bool = False) -> tuple[dict, list[str]]:
    inputs = DeploymentInputs(sample_parameters(name)) if parameters else None
    imported = import_document(sample(name), inputs=inputs, fallback_name=name)
    config = imported_as_config(imported)
    return config, [str(n) for n in import_notices(imported, config, pinner=pinner, project_dir=ROOT)]


def test_notices_cover_decisions_and_what_validate_and_policy_will_say():
    config, notices = notices_for("helloImageTemplateforReCustomization", pinner=Pinner(pin=False))
    image = config["aib-images:images"]["helloImageTemplateforReCustomization"]
    assert image["gallery"] == {"create": False} and image["identityId"].endswith("/aibBuiUserId")
    text = "\n".join(notices)
    assert "image name 'helloImageTemplateforReCustomization', from the file's name" in text
    assert "gallery.create: false" in text and "identityId:" in text
    assert "(aib-build-timeout) will refuse this: buildTimeoutInMinutes is not set" in text


def test_pin_downloads_each_uri_once_and_writes_its_checksum():
    fetched = []

    def fetch(uri: str) -> bytes:
        fetched.append(uri)
        return b"echo hi\n"

    config, notices = notices_for("helloImageTemplateLinux", pinner=Pinner(fetch))
    steps = config["aib-images:images"]["helloImageTemplateLinux"]["template"]["properties"]["customize"]
    assert steps[0]["sha256Checksum"] == steps[2]["sha256Checksum"] == hashlib.sha256(b"echo hi\n").hexdigest()
    assert len(fetched) == len(set(fetched)) == 2
    assert sum("pinned: sha256Checksum" in n for n in notices) == 2


def test_pin_offline_fails_per_step_with_a_notice():
    def offline(uri: str) -> bytes:
        raise OSError("Name or service not known")

    config, notices = notices_for("helloImageTemplateLinux", pinner=Pinner(offline))
    failed = [n for n in notices if "could not download" in n]
    assert len(failed) == 2 and all("Name or service not known" in n for n in failed)
    steps = config["aib-images:images"]["helloImageTemplateLinux"]["template"]["properties"]["customize"]
    assert "sha256Checksum" not in steps[0]


def test_unpinned_steps_get_a_notice_without_pin():
    _, notices = notices_for("armTemplateWVD", pinner=Pinner(pin=False), parameters=True)
    assert sum("has no sha256Checksum" in n for n in notices) == 3


def test_config_namespace_follows_the_project_name(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: golden\nruntime: python\n")
    assert project_name(tmp_path) == "golden"
    assert project_name(tmp_path / "missing") == "aib-images"
    doc = {"config": {"golden:location": "westeurope", "aib-images:location": "other"}}
    assert config_from_stack_file(doc, project_name(tmp_path)) == {"location": "westeurope"}


def test_a_long_phase_prints_a_heartbeat_with_elapsed_time_and_step():
    lines, now = [], [0.0]
    progress = Progress("web-1", lines.append, heartbeat_seconds=300, clock=lambda: now[0])
    for t in range(0, 3700, 30):
        now[0] = float(t)
        progress.phase("Customizing", t, "customizer 2 of 5: installFsLogix")
    assert lines[0] == "[aib] web-1: Customizing (+0s)"
    assert lines[-1].startswith("[aib] web-1: still Customizing (+1h0") and lines[-1].endswith("installFsLogix")
    assert len(lines) == 1 + 3690 // 300
