"""Stack settings whose only local proof is the request body the azure-native stand-in sends: a SourceImage trigger
(its `kind` goes under `properties`) and `scriptsNetwork` (the storage account's network rules go as ARM's
`networkAcls`, `ipRules[].value`, `virtualNetworkRules[].id`), as azure-native 3.x maps them
(provider/pkg/convert/sdkInputsToRequestBody.go `SdkInputsToRequestBody`)."""

from __future__ import annotations

from e2e_helpers import SUBSCRIPTION, e2e_config, minimal_image

SUBNET = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/"
          "subnets/build")


def test_a_source_image_trigger_is_created_on_its_template(local_stack):
    image = {**minimal_image("one"), "sourceImageTrigger": True}
    stack = local_stack(e2e_config({"one": image}))
    stack.up()
    [template] = stack.templates().values()
    [trigger] = template["triggers"].values()
    assert trigger["properties"]["kind"] == "SourceImage"
    assert trigger["properties"]["status"]["code"] == "Healthy"
    [declared] = stack.resources(":virtualmachineimages:Trigger")
    assert declared["id"].lower() == f"{template['id']}/triggers/{trigger['name']}".lower()


def test_scripts_network_reaches_the_storage_account_as_network_acls(local_stack):
    image = minimal_image("one")
    image["template"]["properties"]["customize"].append(
        {"type": "File", "name": "motd", "sourceFile": "files/linux/motd", "destination": "/tmp/motd"})
    image["scriptsNetwork"] = {"denyPublic": True, "subnetIds": [SUBNET], "ipRanges": ["203.0.113.7"]}
    stack = local_stack(e2e_config({"one": image}))
    stack.up()
    [account] = stack.resources(":storage:StorageAccount")
    held = stack.cloud.state.resource(account["id"])
    assert held is not None
    properties = held["properties"]
    assert properties["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices",
                                         "ipRules": [{"value": "203.0.113.7", "action": "Allow"}],
                                         "virtualNetworkRules": [{"id": SUBNET, "action": "Allow"}]}
    assert properties["supportsHttpsTrafficOnly"] is True
    assert "networkRuleSet" not in properties and "enableHttpsTrafficOnly" not in properties
    # the state keeps the SDK's names, read back from the answer
    rules = account["outputs"]["networkRuleSet"]
    assert rules["ipRules"] == [{"iPAddressOrRange": "203.0.113.7", "action": "Allow"}]
    assert rules["virtualNetworkRules"] == [{"virtualNetworkResourceId": SUBNET, "action": "Allow"}]
