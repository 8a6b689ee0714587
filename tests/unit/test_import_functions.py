"""ARM template functions evaluated by import-arm: what a template alone determines is computed as ARM does, what only
a deployment knows becomes a named placeholder, never a refusal."""

from __future__ import annotations

import uuid

import pytest

from components.arm.expressions import (
    Deployment,
    ExpressionError,
    Unknown,
    arm_guid,
    evaluate,
    evaluate_tree,
    unique_string,
)

SUB = "11111111-2222-3333-4444-555555555555"


def scope(**kwargs) -> Deployment:
    definitions = {"ids": {"type": "array", "defaultValue": ["/a/b/id1", "/a/b/id2"]},
                   "opt": {"type": "string", "nullable": True},
                   "obj": {"type": "object", "defaultValue": {"k": "v", "n": 2}},
                   "flag": {"type": "bool", "defaultValue": False}}
    return Deployment(definitions=definitions, **kwargs)


@pytest.mark.parametrize("expression,value", [
    ("[split('a/b/c', '/')]", ["a", "b", "c"]),
    ("[last(split('/sub/rg/gallery/img', '/'))]", "img"),
    ("[first(parameters('ids'))]", "/a/b/id1"),
    ("[replace('a-b-c', '-', '.')]", "a.b.c"),
    ("[substring('abcdef', 1, 3)]", "bcd"),
    ("[length(parameters('ids'))]", 2),
    ("[length('abc')]", 3),
    ("[union(parameters('obj'), createObject('k', 'w'))]", {"k": "w", "n": 2}),
    ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
    ("[createObject('a', 1, 'b', createArray('x'))]", {"a": 1, "b": ["x"]}),
    ("[if(equals(parameters('obj').n, 2), 'two', 'other')]", "two"),
    ("[not(empty(parameters('opt')))]", False),
    ("[and(true(), or(false(), parameters('flag'), true()))]", True),
    ("[contains(parameters('obj'), 'K')]", True),
    ("[contains('Hello', 'ell')]", True),
    ("[coalesce(parameters('opt'), 'fallback')]", "fallback"),
    ("[tryGet(parameters('obj'), 'missing')]", None),
    ("[toUpper(format('{0}-{1}', 'a', 1))]", "A-1"),
    ("[join(map(parameters('ids'), lambda('i', last(split(lambdaVariables('i'), '/')))), ',')]", "id1,id2"),
    ("[reduce(map(parameters('ids'), lambda('id', createObject(lambdaVariables('id'), createObject()))), "
     "createObject(), lambda('cur', 'next', union(lambdaVariables('cur'), lambdaVariables('next'))))]",
     {"/a/b/id1": {}, "/a/b/id2": {}}),
    ("[filter(createArray(1, 2, 3), lambda('x', greater(lambdaVariables('x'), 1)))]", [2, 3]),
    ("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'abc')]",
     f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/abc"),
    ("[json('{\"a\": [1]}').a[0]]", 1),
    ("[string(add(1, 2))]", "3"),
])
def test_knowable_functions_evaluate_as_arm_does(expression, value):
    assert evaluate(expression, scope(subscription_id=SUB, resource_group="rg", location="westus")) == value


def test_if_evaluates_only_the_branch_taken():
    # The untaken branch would fail (no property 'x' on the object): ARM does not evaluate it, nor do we.
    assert evaluate("[if(contains(parameters('obj'), 'x'), parameters('obj').x, 'none')]", scope()) == "none"
    assert evaluate("[coalesce('first', parameters('obj').x)]", scope()) == "first"


# Published outputs of ARM's own uniqueString(): each vector is from a public source that ran Microsoft's
# implementation (Azure.Deployments.Expression) or a deployment.
@pytest.mark.parametrize("args,expected", [
    # Azure/terraform-provider-azapi, internal/services/functions/unique_string_function_test.go
    # (commit 6f51d59463f406fcd8733edf74411e7077b07afb)
    (("/subscriptions/00000000-0000-0000-0000-000000000000", "resource-id"), "cwvxuqg24sifi"),
    # microsoft/commercial-marketplace-offer-deploy, test/Tests/UnitTests/ArmFunctionsTests.cs: "valueFromArmTemplate",
    # the output of a real ARM deployment
    (("/subscriptions/31e9f9a0-9fd2-4294-a0a3-0101246d9700/resourceGroups/rg-modm201-20230913120256/providers/"
      "Microsoft.Compute/virtualMachines/bobjacmodm201",), "yvjxno3je5on2"),
    # Stack Overflow question 43295720 ("Azure ARM uniqueString function mimic"): computed with Microsoft's DLL
    (("tyeth",), "zcztcwvu6iyg6"),
    # JasonWhall/go-azure-uniquestring README: uniqueString('hello', 'world')
    (("hello", "world"), "a7wkljktk6wne"),
])
def test_unique_string_matches_published_arm_outputs(args, expected):
    assert unique_string(*args) == expected
    quoted = ", ".join(f"'{a}'" for a in args)
    assert evaluate(f"[uniqueString({quoted})]", scope()) == expected


def test_guid_is_arms_name_based_uuid():
    # No published ARM output of guid() was found to test against; the algorithm (a version-5 UUID of the arguments
    # joined with '-', in the namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830) is the one public reimplementations
    # (Terraform's uuidv5 used to match Bicep's guid) describe. This checks its shape and determinism only.
    value = arm_guid("/subscriptions/x", "principal", "role")
    parsed = uuid.UUID(value)
    assert parsed.version == 5 and parsed.variant == uuid.RFC_4122
    assert value == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "/subscriptions/x-principal-role"))
    assert evaluate("[guid('/subscriptions/x', 'principal', 'role')]", scope()) == value


@pytest.mark.parametrize("expression,placeholder", [
    ("[reference('msi').principalId]", "<reference('msi').principalId>"),
    ("[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id'), '2023-01-31').principalId]",
     "<reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id'), '2023-01-31').principalId>"),
    ("[listKeys('sa', '2023-01-01').keys[0].value]", "<listKeys('sa', '2023-01-01').keys[0].value>"),
    ("[utcNow('yyyyMMdd')]", "<utcNow('yyyyMMdd')>"),
    ("[deployment().name]", "<deployment().name>"),
    ("[uniqueString(resourceGroup().id)]", "<uniqueString(resourceGroup().id)>"),
    ("[subscription().tenantId]", "<tenant-id>"),
])
def test_runtime_values_become_named_placeholders(expression, placeholder):
    deployment = scope()
    value = evaluate(expression, deployment)
    assert isinstance(value, Unknown) and value == placeholder
    assert placeholder in deployment.placeholders_used


def test_placeholders_flow_through_text_functions_and_stay_named():
    deployment = scope()
    value = evaluate("[concat('img-', substring(uniqueString(resourceGroup().id), 0, 4), '-', "
                     "reference('msi').clientId)]", deployment)
    assert isinstance(value, Unknown)
    assert value == "img-<substring(uniqueString(resourceGroup().id), 0, 4)>-<reference('msi').clientId>"
    assert {"<substring(uniqueString(resourceGroup().id), 0, 4)>", "<reference('msi').clientId>"} \
        <= deployment.placeholders_used


def test_property_copy_loops_expand_with_copy_index():
    tree = {"properties": {"copy": [{"name": "distribute", "count": "[length(parameters('ids'))]",
                                     "input": {"runOutputName": "[format('out-{0}', copyIndex('distribute'))]",
                                               "id": "[parameters('ids')[copyIndex('distribute')]]"}}],
                           "other": 1}}
    value, failures = evaluate_tree(tree, scope())
    assert not failures
    assert value == {"properties": {"other": 1, "distribute": [{"runOutputName": "out-0", "id": "/a/b/id1"},
                                                                {"runOutputName": "out-1", "id": "/a/b/id2"}]}}


def test_variable_copy_loops_define_a_variable():
    deployment = Deployment(variables={"copy": [{"name": "names", "count": 2, "input": "[concat('n', copyIndex('names', 1))]"}]})
    assert evaluate("[variables('names')]", deployment) == ["n1", "n2"]


def test_nested_scope_evaluates_given_parameters_in_the_outer_deployment():
    outer = Deployment(definitions={"p": {"type": "string", "defaultValue": "outer-value"}}, resource_group="rg")
    inner = Deployment(definitions={"q": {"type": "string"}}, parameters={"q": {"value": "[parameters('p')]"}},
                       outer=outer)
    assert evaluate("[parameters('q')]", inner) == "outer-value"


@pytest.mark.parametrize("expression,value", [
    # Only the shape decides these: a placeholder inside a merged object stays where it is (AVM modules build a
    # template's whole `properties` with shallowMerge over values holding one).
    ("[shallowMerge(createArray(createObject('a', reference('x').id), createObject('b', 1)))]",
     {"a": "<reference('x').id>", "b": 1}),
    ("[union(createObject('a', reference('x').id), createObject('b', 1))]", {"a": "<reference('x').id>", "b": 1}),
    ("[length(createArray(reference('x').id, 'b'))]", 2),
    ("[tryGet(createObject('a', reference('x').id, 'b', 'known'), 'b')]", "known"),
    ("[empty(createObject('a', reference('x').id))]", False),
    # A key holding one is carried, as createObject() carries it: an identity map whose subscription is not given.
    ("[union(createObject(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'a'), createObject()), "
     "createObject('b', 1))]",
     {"/subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.ManagedIdentity/"
      "userAssignedIdentities/a": {}, "b": 1}),
    # A lambda carries it through each item.
    ("[map(createArray(createObject('n', reference('x').id)), lambda('i', lambdaVariables('i').n))]",
     ["<reference('x').id>"]),
])
def test_placeholders_inside_a_value_do_not_hide_what_its_shape_decides(expression, value):
    result = evaluate(expression, scope())
    assert result == value and not isinstance(result, Unknown)


@pytest.mark.parametrize("expression", [
    "[shallowMerge(createArray(reference('x').props, createObject('b', 1)))]",  # which keys: unknown
    "[tryGet(createObject('a', reference('x').props), 'a', 'b')]",  # the path goes through the unknown
    "[filter(createArray(1, 2), lambda('v', equals(lambdaVariables('v'), reference('x').n)))]",  # the test is unknown
])
def test_what_a_placeholder_decides_is_a_placeholder(expression):
    assert evaluate(expression, scope()) == f"<{expression[1:-1]}>"


# ARM's documentation of utcNow (learn.microsoft.com, azure-resource-manager/templates/template-functions-date, "utcNow"
# example): deployed at 2019-03-05T17:53:18Z, `utcNow()` gave 20190305T175318Z, `utcNow('d')` 03/05/2019 and
# `utcNow('M d')` 3 5; `dateTimeAdd` example: `utcNow('u')` gave 2020-04-07 14:53:14Z.
@pytest.mark.parametrize("moment,fmt,text", [
    ((2019, 3, 5, 17, 53, 18), "yyyyMMddTHHmmssZ", "20190305T175318Z"),
    ((2019, 3, 5, 17, 53, 18), "d", "03/05/2019"),
    ((2019, 3, 5, 17, 53, 18), "M d", "3 5"),
    ((2020, 4, 7, 14, 53, 14), "u", "2020-04-07 14:53:14Z"),
    ((2020, 4, 7, 14, 53, 14), "yyyy-MM-dd-HH-mm-ss", "2020-04-07-14-53-14"),
    ((2020, 4, 7, 14, 53, 14), "o", "2020-04-07T14:53:14.0000000Z"),
    ((2020, 4, 7, 14, 53, 14), "ddd, dd MMM yyyy hh:mm tt 'at' \\Z", "Tue, 07 Apr 2020 02:53 PM at Z"),
])
def test_dates_format_as_dotnet_does(moment, fmt, text):
    import datetime as dt

    from components.arm.expressions import format_datetime

    assert format_datetime(dt.datetime(*moment, tzinfo=dt.timezone.utc), fmt) == text


@pytest.mark.parametrize("default,value", [
    ("[utcNow()]", "19700101T000000Z"),
    ("[utcNow('yyyy-MM-dd-HH-mm-ss')]", "1970-01-01-00-00-00"),
    ("[concat('build-', utcNow('yyyyMMdd'))]", "build-19700101"),
])
def test_utcnow_in_a_parameter_default_is_a_fixed_time_with_a_note(default, value):
    # ARM allows utcNow() only in a parameter's defaultValue; import-arm gives it the Unix epoch there, and says so.
    deployment = Deployment(definitions={"baseTime": {"type": "string", "defaultValue": default}})
    assert evaluate("[parameters('baseTime')]", deployment) == value
    [(path, note)] = deployment.notes.items()
    assert path == "parameters.baseTime.defaultValue"
    assert "import-arm read it as '1970" in note and "(1970-01-01T00:00:00Z, a fixed time" in note
    assert "give 'baseTime' a value with import-arm --parameters" in note
    given = Deployment(definitions={"baseTime": {"type": "string", "defaultValue": default}},
                       parameters={"baseTime": "20250101"})
    assert evaluate("[parameters('baseTime')]", given) == "20250101" and not given.notes


def test_a_nested_parameter_given_as_an_expression_yielding_value_is_unwrapped():
    # Bicep compiles an optional module parameter to `"p": "[if(c, createObject('value', x), createObject('value',
    # null()))]"`: the whole entry is an expression whose result has the value.
    outer = Deployment(definitions={"rg": {"type": "string", "defaultValue": "build"}}, subscription_id=SUB)
    entry = ("[if(not(empty(parameters('rg'))), createObject('value', subscriptionResourceId("
             "'Microsoft.Resources/resourceGroups', parameters('rg'))), createObject('value', null()))]")
    inner = Deployment(definitions={"staging": {"type": "string", "nullable": True}}, parameters={"staging": entry},
                       outer=outer)
    assert evaluate("[parameters('staging')]", inner) == \
        f"/subscriptions/{SUB}/providers/Microsoft.Resources/resourceGroups/build"
    off = Deployment(definitions={"rg": {"type": "string", "defaultValue": ""}})
    assert evaluate("[parameters('staging')]", Deployment(definitions=inner.definitions, parameters=inner.parameters,
                                                          outer=off)) is None


# ARM's documentation of the date functions (learn.microsoft.com, azure-resource-manager/templates/
# template-functions-date): dateTimeAdd's remarks (a year is 365 days, a month 30) and examples, and the
# dateTimeFromEpoch/dateTimeToEpoch example (1683040573 is 2023-05-02T15:16:13Z).
@pytest.mark.parametrize("expression,value", [
    ("[dateTimeAdd('2023-01-01 00:00:00Z', 'P1Y')]", "2024-01-01T00:00:00Z"),
    ("[dateTimeAdd('2024-01-01 00:00:00Z', 'P1Y')]", "2024-12-31T00:00:00Z"),
    ("[dateTimeAdd('2023-02-01 00:00:00Z', 'P1M')]", "2023-03-03T00:00:00Z"),
    ("[dateTimeAdd('2024-02-01 00:00:00Z', 'P1M')]", "2024-03-02T00:00:00Z"),
    ("[dateTimeAdd('2020-04-07 14:53:14Z', '-P9D')]", "2020-03-29T14:53:14Z"),
    ("[dateTimeAdd('2020-04-07 14:53:14Z', 'PT1H', 'u')]", "2020-04-07 15:53:14Z"),
    ("[dateTimeFromEpoch(1683040573)]", "2023-05-02T15:16:13Z"),
    ("[dateTimeToEpoch('2023-05-02T15:16:13Z')]", 1683040573),
    ("[dateTimeToEpoch('20230502T171613+02:00')]", 1683040573),
])
def test_date_functions_evaluate_as_arms_documentation_shows(expression, value):
    assert evaluate(expression, scope()) == value


def test_a_date_from_a_utcnow_default_is_the_fixed_time_plus_the_duration():
    deployment = Deployment(definitions={"expiry": {"type": "string",
                                                    "defaultValue": "[dateTimeAdd(utcNow(), 'PT8H', 'yyyy-MM-dd')]"}})
    assert evaluate("[parameters('expiry')]", deployment) == "1970-01-01"
    assert evaluate("[dateTimeAdd(utcNow(), 'PT8H')]", scope()) == "<dateTimeAdd(utcNow(), 'PT8H')>"


# ARM's documentation examples (learn.microsoft.com, azure-resource-manager/templates/template-functions-string,
# -lambda and -object): dataUri('Hello'), dataUriToString of "Hello, World!", mapValues and groupBy.
@pytest.mark.parametrize("expression,value", [
    ("[dataUri('Hello')]", "data:text/plain;charset=utf8;base64,SGVsbG8="),
    ("[dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')]", "Hello, World!"),
    ("[base64ToJson(base64('{\"one\": \"a\", \"two\": \"b\"}'))]", {"one": "a", "two": "b"}),
    ("[mapValues(createObject('foo', 'foo'), lambda('val', toUpper(lambdaVariables('val'))))]", {"foo": "FOO"}),
    ("[groupBy(createArray('foo', 'bar', 'baz'), lambda('x', substring(lambdaVariables('x'), 0, 1)))]",
     {"f": ["foo"], "b": ["bar", "baz"]}),
])
def test_more_knowable_functions_evaluate_as_arms_documentation_shows(expression, value):
    assert evaluate(expression, scope()) == value


def test_references_is_a_runtime_placeholder():
    assert evaluate("[references('vms')]", scope()) == "<references('vms')>"


# ARM's documentation examples (learn.microsoft.com, azure-resource-manager/templates/template-functions-cidr, and
# -numeric for float); indexFromEnd is what Bicep's `items[^n]` compiles to (Azure/bicep#16104), 1 being the last.
@pytest.mark.parametrize("expression,value", [
    ("[parseCidr('10.144.0.0/20')]", {"network": "10.144.0.0", "netmask": "255.255.240.0",
                                      "broadcast": "10.144.15.255", "firstUsable": "10.144.0.1",
                                      "lastUsable": "10.144.15.254", "cidr": 20}),
    ("[parseCidr('fdad:3236:5555::/48')]", {"network": "fdad:3236:5555::", "netmask": "ffff:ffff:ffff::",
                                            "firstUsable": "fdad:3236:5555::",
                                            "lastUsable": "fdad:3236:5555:ffff:ffff:ffff:ffff:ffff", "cidr": 48}),
    ("[map(range(0, 5), lambda('i', cidrSubnet('10.144.0.0/20', 24, lambdaVariables('i'))))]",
     ["10.144.0.0/24", "10.144.1.0/24", "10.144.2.0/24", "10.144.3.0/24", "10.144.4.0/24"]),
    ("[map(range(0, 3), lambda('i', cidrSubnet('fdad:3236:5555::/48', 52, lambdaVariables('i'))))]",
     ["fdad:3236:5555::/52", "fdad:3236:5555:1000::/52", "fdad:3236:5555:2000::/52"]),
    ("[map(range(0, 3), lambda('i', cidrHost('10.144.3.0/24', lambdaVariables('i'))))]",
     ["10.144.3.1", "10.144.3.2", "10.144.3.3"]),
    ("[cidrHost('fdad:3236:5555:3000::/52', 4)]", "fdad:3236:5555:3000::5"),
    ("[float('1.5')]", 1.5),
    ("[indexFromEnd(createArray('a', 'b', 'c'), 1)]", "c"),
    ("[indexFromEnd(parameters('ids'), 2)]", "/a/b/id1"),
    ("[tryIndexFromEnd(createArray('a'), 2)]", None),
])
def test_cidr_float_and_index_from_end_evaluate_as_documented(expression, value):
    assert evaluate(expression, scope()) == value


@pytest.mark.parametrize("expression,function", [
    ("[parseCidr('10.144.0.0/33')]", "parseCidr"),
    ("[cidrSubnet('10.144.0.0/20', 16, 0)]", "cidrSubnet"),
    ("[cidrSubnet('10.144.0.0/20', 24, 16)]", "cidrSubnet"),
    ("[cidrHost('10.144.3.0/30', 2)]", "cidrHost"),
    ("[indexFromEnd(createArray('a'), 2)]", "indexFromEnd"),
    ("[float('x')]", "float"),
])
def test_impossible_cidr_and_index_arguments_name_the_function(expression, function):
    with pytest.raises(ExpressionError) as raised:
        evaluate(expression, scope())
    assert raised.value.function == function
