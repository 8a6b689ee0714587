"""ARM and Bicep-compiled templates as published: comments, languageVersion 2.0 (symbolic resources), nested
deployments with their parameters, conditions, and what only a deployment knows."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from components.arm.import_arm import DeploymentInputs, import_document
from components.arm.jsonc import strip_comments
from components.ops.cli import Env, main
from components.model import SpecError

IMAGE = {
    "type": "Microsoft.VirtualMachineImages/imageTemplates", "apiVersion": "2024-02-01",
    "name": "[parameters('imageName')]", "location": "[parameters('location')]",
    "identity": {"type": "UserAssigned", "userAssignedIdentities": {
        "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'aib')]": {}}},
    "properties": {"source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                              "sku": "server", "version": "latest"},
                   "customize": [{"type": "Shell", "name": "hello", "inline": ["echo hello"]}],
                   "distribute": [{"type": "ManagedImage", "runOutputName": "out", "location": "[parameters('location')]",
                                   "imageId": "[resourceId('Microsoft.Compute/images', parameters('imageName'))]"}]},
}
PARAMS = {"imageName": {"type": "string", "defaultValue": "img"}, "location": {"type": "string",
                                                                               "defaultValue": "westus"}}
INPUTS = DeploymentInputs(subscription_id="sub", resource_group="rg")


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), Env(stdout=out, stderr=err)), out.getvalue(), err.getvalue()


def test_comments_are_stripped_outside_strings_only():
    text = '{\n  // a line comment\n  "a": "http://x/*not a comment*/", /* block\n comment */ "b": "\\" // still text"\n}'
    stripped = strip_comments(text)
    assert json.loads(stripped) == {"a": "http://x/*not a comment*/", "b": "\" // still text"}
    assert stripped.count("\n") == text.count("\n")  # errors keep their line numbers


def test_template_and_parameters_file_with_comments_import(tmp_path):
    template = {"$schema": "x", "parameters": PARAMS, "resources": [IMAGE]}
    path = tmp_path / "commented.json"
    path.write_text("// An ARM template as published, with comments\n" + json.dumps(template, indent=2).replace(
        '"resources"', '/* the image */ "resources"'))
    params = tmp_path / "commented.parameters.json"
    params.write_text('{\n  // values\n  "parameters": {"imageName": {"value": "from-file"}}\n}\n')
    code, out, err = call("import-arm", str(path), "--parameters", str(params), "--subscription", "s",
                          "--resource-group", "rg")
    assert code == 0, err
    assert "from-file:" in out


def test_a_broken_parameters_file_is_reported_by_its_own_name(tmp_path):
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"parameters": PARAMS, "resources": [IMAGE]}))
    params = tmp_path / "my.parameters.json"
    params.write_text('{\n  // values\n  "parameters": {"imageName": {"value": "x"},}\n}\n')
    code, _, err = call("import-arm", str(template), "--parameters", str(params))
    assert code == 2 and "(template)" not in err and "Traceback" not in err
    assert f"{params}: 1 problem found" in err and "my.parameters.json: not valid JSON (line 3)" in err


def language_version_2(resource: dict) -> dict:
    return {"$schema": "x", "languageVersion": "2.0", "parameters": PARAMS,
            "resources": {"telemetry": {"type": "Microsoft.Resources/deployments", "apiVersion": "2023-07-01",
                                        "name": "t", "properties": {"mode": "Incremental", "template": {
                                            "resources": []}}},
                          "msi": {"existing": True, "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                                  "apiVersion": "2023-01-31", "name": "aib"},
                          "imageTemplate": resource}}


def test_language_version_2_symbolic_resources_are_searched():
    imported = import_document(language_version_2(IMAGE), inputs=INPUTS)
    assert [(i.name, i.path) for i in imported] == [("img", "resources.imageTemplate")]


def test_nested_deployment_with_inner_scope_gets_the_parameters_passed_down():
    inner = {"parameters": {"imageName": {"type": "string"}, "location": {"type": "string"}},
             "resources": {"imageTemplate": IMAGE}, "languageVersion": "2.0"}
    doc = {"parameters": {"prefix": {"type": "string", "defaultValue": "golden"}},
           "resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "image",
                          "resourceGroup": "images-rg",
                          "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                                         "parameters": {"imageName": {"value": "[format('{0}-ubuntu', parameters('prefix'))]"},
                                                        "location": {"value": "northeurope"}},
                                         "template": inner}}]}
    [item] = import_document(doc, inputs=INPUTS)
    assert item.name == "golden-ubuntu" and item.path == "resources[0].properties.template.resources.imageTemplate"
    assert item.spec.location == "northeurope"
    assert item.spec.properties.distribute[0].image_id == \
        "/subscriptions/sub/resourceGroups/images-rg/providers/Microsoft.Compute/images/golden-ubuntu"


def test_nested_deployment_with_outer_scope_reads_the_outer_parameters():
    doc = {"parameters": PARAMS, "resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
                                                "name": "n", "properties": {"mode": "Incremental",
                                                                            "template": {"resources": [IMAGE]}}}]}
    [item] = import_document(doc, inputs=INPUTS)
    assert item.name == "img" and item.path == "resources[0].properties.template.resources[0]"


def test_linked_templates_are_named_in_the_error():
    doc = {"resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "n",
                          "properties": {"templateLink": {"uri": "https://example.com/image.json"}}}]}
    with pytest.raises(SpecError) as info:
        import_document(doc)
    assert "resources[0] links its template (properties.templateLink)" in str(info.value)


def test_a_resource_whose_condition_is_false_is_not_imported():
    off = {**IMAGE, "condition": "[equals(parameters('location'), 'mars')]", "name": "off"}
    [item] = import_document({"parameters": PARAMS, "resources": [off, IMAGE]}, inputs=INPUTS)
    assert item.name == "img"


def test_runtime_values_are_placeholders_with_a_notice_not_a_refusal():
    resource = json.loads(json.dumps(IMAGE))
    resource["name"] = "[format('{0}-{1}', parameters('imageName'), utcNow('yyyyMMdd'))]"
    resource["properties"]["customize"][0]["inline"] = ["[format('echo {0}', reference('msi').principalId)]"]
    resource["properties"]["stagingResourceGroup"] = "[if(empty(''), null(), 'x')]"  # null: left out, as ARM does
    [item] = import_document({"parameters": PARAMS, "resources": [resource]}, inputs=INPUTS)
    notices = "\n".join(str(n) for n in item.notices)
    assert item.spec.properties.customize[0].inline == ["echo <reference('msi').principalId>"]
    assert "resources[0].properties.customize[0].inline[0]: \"echo <reference('msi').principalId>\" holds " \
           "<reference('msi').principalId>: a value only the deployment knows" in notices
    assert item.name == "img" and "resources[0].name: \"img-<utcNow('yyyyMMdd')>\" is known only at deployment" \
        in notices
    assert item.spec.properties.staging_resource_group is None


def test_an_unusable_template_is_one_line_per_problem_with_its_place_and_way_forward(tmp_path):
    resource = {**IMAGE, "name": "[parameters('nameWithoutDefault')]"}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"parameters": {**PARAMS, "nameWithoutDefault": {"type": "string"}},
                                "resources": {"imageTemplate": resource}, "languageVersion": "2.0"}))
    code, _, err = call("import-arm", str(path))
    assert code == 2 and "Traceback" not in err
    [line] = [entry for entry in err.splitlines() if entry.startswith("  - ")]
    assert line.startswith("  - resources.imageTemplate.name: ") and "hint: import-arm --parameters FILE" in line


def test_a_resource_group_id_through_the_resources_provider_is_read_as_the_canonical_one():
    # subscriptionResourceId('Microsoft.Resources/resourceGroups', n), as AVM's image-builder pattern passes
    # stagingResourceGroup: ARM reads it as the same group as /subscriptions/S/resourceGroups/n.
    resource = json.loads(json.dumps(IMAGE))
    resource["properties"]["stagingResourceGroup"] = \
        "[subscriptionResourceId('Microsoft.Resources/resourceGroups', 'build-rg')]"
    [item] = import_document({"parameters": PARAMS, "resources": [resource]}, inputs=INPUTS)
    assert item.spec.properties.staging_resource_group == "/subscriptions/sub/resourceGroups/build-rg"
    expected = ("resources[0].properties.stagingResourceGroup: '/subscriptions/sub/providers/Microsoft.Resources/"
                "resourceGroups/build-rg' read as '/subscriptions/sub/resourceGroups/build-rg'")
    assert any(str(n).startswith(expected) for n in item.notices), item.notices


def test_a_bicep_module_built_with_shallow_merge_and_a_utcnow_default_imports_with_a_notice():
    # What the AVM image-template module compiles to, in small: `properties` is one shallowMerge() expression whose
    # values hold parameters('baseTime'), whose default is utcNow().
    resource = json.loads(json.dumps(IMAGE))
    resource["name"] = "[format('{0}-{1}', parameters('imageName'), parameters('baseTime'))]"
    properties = resource.pop("properties")
    resource["properties"] = (
        "[shallowMerge(createArray(createObject('source', json('" + json.dumps(properties["source"]) + "')), "
        "createObject('distribute', createArray(createObject('type', 'ManagedImage', 'location', 'westus', "
        "'runOutputName', format('{0}-{1}', parameters('imageName'), parameters('baseTime')), 'imageId', "
        "resourceId('Microsoft.Compute/images', parameters('imageName')))))))]")
    params = {**PARAMS, "baseTime": {"type": "string", "defaultValue": "[utcNow('yyyyMMddHHmm')]"}}
    doc = {"languageVersion": "2.0", "parameters": params, "resources": {"imageTemplate": resource}}
    [item] = import_document(doc, inputs=INPUTS)
    assert item.name == "img-197001010000"
    assert item.spec.properties.distribute[0].run_output_name == "img-197001010000"
    notices = [str(n) for n in item.notices]
    assert any(n.startswith("parameters.baseTime.defaultValue: utcNow('yyyyMMddHHmm') is the time a deployment "
                            "starts; import-arm read it as '197001010000'") for n in notices), notices
    given = import_document(doc, inputs=DeploymentInputs(parameters={"baseTime": "v2"}, subscription_id="sub",
                                                         resource_group="rg"))
    assert given[0].name == "img-v2" and not any("utcNow" in str(n) for n in given[0].notices)


def test_a_blank_left_in_a_template_is_named_with_the_way_to_fill_it_in(tmp_path):
    # An AIB template: the blank is the template's own, filled in by editing it (as the samples' READMEs do with sed).
    aib = json.loads(json.dumps({k: v for k, v in IMAGE.items() if k != "name"}))
    aib.update(location="westus", identity={"type": "UserAssigned", "userAssignedIdentities": {
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib": {}}})
    aib["properties"]["customize"] = [{"type": "Shell", "name": "run", "scriptUri": "<scriptUrl>"}]
    aib["properties"]["distribute"][0].update(imageId="/subscriptions/s/resourceGroups/rg/providers/Microsoft."
                                                      "Compute/images/img", location="westus")
    path = tmp_path / "sample.json"
    path.write_text(json.dumps(aib))
    code, _, err = call("import-arm", str(path))
    [line] = [entry for entry in err.splitlines() if entry.startswith("  - ")]
    assert code == 2 and line == ("  - properties.customize[0].scriptUri: '<scriptUrl>' is a blank left to fill in "
                                  "(hint: replace <scriptUrl> in the template with its value (https://<host>/<path>), "
                                  "as the sample's instructions do, then import again)")
    # An ARM template whose parameter default is the blank: the parameter is the way.
    resource = json.loads(json.dumps(IMAGE))
    resource["properties"]["customize"] = [{"type": "Shell", "name": "run", "scriptUri": "[parameters('scriptUrl')]"}]
    params = {**PARAMS, "scriptUrl": {"type": "string", "defaultValue": "<scriptUrl>"}}
    with pytest.raises(SpecError) as info:
        import_document({"parameters": params, "resources": [resource]}, inputs=INPUTS)
    [issue] = info.value.issues
    assert str(issue) == ("resources[0].properties.customize[0].scriptUri: '<scriptUrl>' is a blank left to fill in "
                          "(hint: give parameter 'scriptUrl' its value with import-arm --parameters FILE)")


def image_loop() -> dict:
    """A resource copy loop of image templates (what Bicep's `[for img in images: {...}]` compiles to), with a
    property copy loop inside each copy: written for these tests, as no public sample in the corpus loops over image
    templates."""
    resource = json.loads(json.dumps(IMAGE))
    resource.update(copy={"name": "images", "count": "[length(parameters('images'))]"},
                    name="[parameters('images')[copyIndex()].name]")
    resource["properties"]["source"]["sku"] = "[parameters('images')[copyIndex('images')].sku]"
    resource["properties"].pop("customize")
    resource["properties"]["copy"] = [{"name": "customize", "count": "[add(copyIndex(), 1)]", "input": {
        "type": "Shell", "name": "[format('step{0}', copyIndex('customize'))]",
        "inline": ["[format('echo image {0} step {1}', copyIndex('images'), copyIndex('customize'))]"]}}]
    resource["properties"]["distribute"][0].update(
        runOutputName="[format('{0}-out', parameters('images')[copyIndex()].name)]",
        imageId="[resourceId('Microsoft.Compute/images', parameters('images')[copyIndex()].name)]")
    return resource


IMAGES = {"images": {"type": "array", "defaultValue": [{"name": "web", "sku": "server"},
                                                        {"name": "db", "sku": "minimal"}]}}


def test_a_resource_copy_loop_of_image_templates_is_one_image_per_copy(tmp_path):
    doc = {"parameters": {**PARAMS, **IMAGES}, "resources": [image_loop()]}
    web, db = import_document(doc, inputs=INPUTS)
    assert [(web.name, web.path), (db.name, db.path)] == [("web", "resources[0][copyIndex=0]"),
                                                          ("db", "resources[0][copyIndex=1]")]
    assert web.spec.properties.source.sku == "server" and db.spec.properties.source.sku == "minimal"
    assert [s.inline for s in db.spec.properties.customize] == [["echo image 1 step 0"], ["echo image 1 step 1"]]
    assert db.spec.properties.distribute[0].run_output_name == "db-out"
    assert "resources[0][copyIndex=1]: copy 2 of 2 of the resource copy loop 'images'" in "\n".join(
        str(n) for n in db.notices)
    # Through the CLI: two images in the stack config, which validates.
    template, output = tmp_path / "loop.json", tmp_path / "loop.yaml"
    template.write_text(json.dumps(doc))
    code, _, err = call("import-arm", str(template), "-o", str(output), "--subscription", "sub",
                        "--resource-group", "rg")
    assert code == 0, err
    code, out, err = call("validate", str(output))
    assert code == 0 and "valid (2 image templates" in out, out + err


def test_a_copy_loop_condition_and_a_bicep_module_loop_are_evaluated_per_copy():
    resource = image_loop()
    resource["condition"] = "[not(equals(parameters('images')[copyIndex()].name, 'db'))]"
    [web] = import_document({"parameters": {**PARAMS, **IMAGES}, "resources": {"it": resource},
                             "languageVersion": "2.0"}, inputs=INPUTS)
    assert web.name == "web"
    # `module images 'image.bicep' = [for (name, i) in names: {params: {imageName: name}}]`: a loop of inner-scope
    # deployments, each passing its copy's value down.
    inner = {"parameters": {"imageName": {"type": "string"}, "location": {"type": "string", "defaultValue": "westus"}},
             "resources": [IMAGE]}
    module = {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
              "name": "[format('image-{0}', copyIndex())]", "copy": {"name": "images", "count": 2},
              "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                             "parameters": {"imageName": {"value": "[parameters('names')[copyIndex()]]"}},
                             "template": inner}}
    names = {"names": {"type": "array", "defaultValue": ["a", "b"]}}
    imported = import_document({"parameters": names, "resources": [module]}, inputs=INPUTS)
    assert [(i.name, i.path) for i in imported] == [("a", "resources[0][copyIndex=0].properties.template.resources[0]"),
                                                    ("b", "resources[0][copyIndex=1].properties.template.resources[0]")]


def test_a_copy_loop_whose_count_is_unknown_or_zero_says_so():
    resource = image_loop()
    resource["copy"]["count"] = "[length(reference('catalog').images)]"
    with pytest.raises(SpecError) as info:
        import_document({"parameters": {**PARAMS, **IMAGES}, "resources": [resource]}, inputs=INPUTS)
    [issue] = info.value.issues
    assert str(issue).startswith("resources[0].copy.count: resource copy loop 'images': "
                                 "\"<length(reference('catalog').images)>\" is known only at deployment (hint: give")
    resource["copy"]["count"] = 0
    with pytest.raises(SpecError) as info:
        import_document({"parameters": {**PARAMS, **IMAGES}, "resources": [resource]}, inputs=INPUTS)
    assert "resources[0] is a copy loop ('images') of count 0" in str(info.value)


def test_a_refused_field_holding_a_value_only_the_deployment_knows_says_so():
    resource = json.loads(json.dumps(IMAGE))
    resource["properties"]["distribute"][0]["runOutputName"] = "[reference('catalog').outputName]"
    with pytest.raises(SpecError) as info:
        import_document({"parameters": PARAMS, "resources": [resource]}, inputs=INPUTS)
    [issue] = info.value.issues
    assert str(issue) == ("resources[0].properties.distribute[0].runOutputName: \"<reference('catalog').outputName>\" "
                          "holds <reference('catalog').outputName>, a value only the deployment knows (hint: write "
                          "the value in the template, or give the parameter it is computed from with import-arm "
                          "--parameters FILE)")
    # Built from a scope value not given: the option that gives it.
    resource["properties"]["distribute"][0]["runOutputName"] = "[substring(subscription().subscriptionId, 0, 8)]"
    with pytest.raises(SpecError) as info:
        import_document({"parameters": PARAMS, "resources": [resource]}, inputs=DeploymentInputs())
    assert str(info.value.issues[0]).endswith("a value only the deployment knows (hint: give import-arm --subscription)")


def test_split_keeps_the_known_parts_of_a_text_holding_a_placeholder():
    from components.arm.expressions import Deployment, Unknown, evaluate

    deployment = Deployment()
    gallery_image = "resourceId('Microsoft.Compute/galleries/images', 'g', 'img')"
    assert isinstance(evaluate(f"[{gallery_image}]", deployment), Unknown)  # /subscriptions/<subscription-id>/...
    assert evaluate(f"[last(split({gallery_image}, '/'))]", deployment) == "img"
    # A delimiter that could cut a placeholder: the whole call is one.
    assert evaluate("[split(resourceGroup().id, '-')]", Deployment()) == "<split(resourceGroup().id, '-')>"


def test_user_defined_functions_are_evaluated_with_their_own_parameters():
    # Bicep's `func imageName(base string, n int) string => '${base}-${n}'` compiles to the `__bicep` namespace.
    functions = [{"namespace": "__bicep", "members": {"imageName": {
        "parameters": [{"type": "string", "name": "base"}, {"type": "int", "name": "n"}],
        "output": {"type": "string", "value": "[format('{0}-{1}', parameters('base'), parameters('n'))]"}}}}]
    resource = {**json.loads(json.dumps(IMAGE)), "name": "[__bicep.imageName(parameters('imageName'), 2)]"}
    doc = {"languageVersion": "2.0", "functions": functions, "parameters": PARAMS,
           "resources": {"imageTemplate": resource}}
    [item] = import_document(doc, inputs=INPUTS)
    assert item.name == "img-2"
    # A function body sees its own parameters only, as in ARM.
    functions[0]["members"]["imageName"]["output"]["value"] = "[parameters('imageName')]"
    with pytest.raises(SpecError) as info:
        import_document(doc, inputs=INPUTS)
    assert "parameters('imageName'): the template declares no parameter of that name" in str(info.value)


def _distributing_to_a_gallery(gallery_resources: dict) -> dict:
    """IMAGE distributing to gallery `acg`, definition `ubuntu`, in a document holding `gallery_resources`."""
    image = json.loads(json.dumps(IMAGE))
    image["properties"]["distribute"] = [{
        "type": "SharedImage", "runOutputName": "out", "replicationRegions": ["westus"],
        "galleryImageId": "[resourceId('Microsoft.Compute/galleries/images', 'acg', 'ubuntu')]"}]
    return {"parameters": PARAMS, "resources": {"imageTemplate": image, **gallery_resources}, "languageVersion": "2.0"}


def test_a_gallery_the_same_deployment_creates_is_created_by_the_stack_as_declared(tmp_path):
    # AVM's azure-image-builder pattern deploys the gallery and its image definition (a module, looped over the
    # definitions) beside the template: they do not exist already, so the stack must create them.
    module = {"languageVersion": "2.0", "parameters": {"definitions": {"type": "array"}},
              "resources": {"definition": {
                  "copy": {"name": "definitions", "count": "[length(parameters('definitions'))]"},
                  "type": "Microsoft.Compute/galleries/images", "apiVersion": "2024-03-03",
                  "name": "[format('acg/{0}', parameters('definitions')[copyIndex()].name)]",
                  "properties": "[createObject('osType', 'Linux', 'osState', 'Generalized', 'identifier', "
                                "parameters('definitions')[copyIndex()].identifier)]"}}}
    doc = _distributing_to_a_gallery({
        "gallery": {"type": "Microsoft.Compute/galleries", "apiVersion": "2024-03-03", "name": "acg"},
        "definitions": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "defs",
                        "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                                       "parameters": {"definitions": {"value": [{"name": "ubuntu", "identifier": {
                                           "publisher": "contoso", "offer": "ubuntu", "sku": "24_04"}}]}},
                                       "template": module}}})
    (tmp_path / "t.json").write_text(json.dumps(doc))
    code, out, err = call("import-arm", str(tmp_path / "t.json"), "--subscription", "sub", "--resource-group", "rg")
    assert code == 0, err
    assert "gallery.create: true: the deployment creates the gallery and image definition" in err, err
    assert "create: false" not in out
    [image] = yaml.safe_load(out)["aib-images:images"].values()
    assert image["gallery"] == {"imageDefinition": {"publisher": "contoso", "offer": "ubuntu", "sku": "24_04",
                                                    "osState": "Generalized"}}


def test_a_gallery_the_deployment_only_references_is_adopted_as_existing(tmp_path):
    doc = _distributing_to_a_gallery({"gallery": {"type": "Microsoft.Compute/galleries", "apiVersion": "2024-03-03",
                                                  "name": "acg", "existing": True}})
    (tmp_path / "t.json").write_text(json.dumps(doc))
    code, out, err = call("import-arm", str(tmp_path / "t.json"), "--subscription", "sub", "--resource-group", "rg")
    assert code == 0, err
    assert "create: false" in out and "exist already" in err
