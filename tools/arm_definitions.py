"""Writes the ARM request-body definitions the e2e judge (tests/arm_judge) checks bodies against.

The definitions come from Microsoft's generated `azure-mgmt-*` models, which AutoRest/TypeSpec generate from the
official REST API specs (Azure/azure-rest-api-specs): each model knows every property's wire name, its type, whether it
is required or read-only, and the discriminator of a polymorphic family (`type` of a customizer, `kind` of a trigger).
Nothing here is product code: the wheels are downloaded with `pip download` into a temporary folder, unpacked, and
each one is imported in a child process of its own (two versions of one package cannot share a process), so neither
the product's lock files nor its virtualenv change.

    python3 tools/arm_definitions.py                  # download, read, write tests/fixtures/arm-definitions
    python3 tools/arm_definitions.py --wheels DIR     # reuse wheels already downloaded into DIR

The children import the models, so the interpreter running this script needs their runtime packages: use a throwaway
virtualenv (`python3 -m venv /tmp/v && /tmp/v/bin/pip install msrest msrestazure azure-common azure-core
azure-mgmt-core isodate typing_extensions`), never the project's (msrest is not in its lock files).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import typing
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "arm-definitions"

# (resource type, api-version) -> (pip requirement, models module, PUT body model, PATCH body model or "")
# The PUT model is the type of `parameters` of the operation group's create_or_update (or create) in that package.
TABLE: dict[tuple[str, str], tuple[str, str, str, str]] = {
    # No azure-mgmt-resource release carries resources 2024-03-01 (23.1.1 stops at 2022-09-01, 23.4.0 starts again at
    # 2024-07-01); ResourceGroup is the same model in both of those, so the one of 2024-07-01 stands for it.
    ("Microsoft.Resources/resourceGroups", "2024-03-01"): (
        "azure-mgmt-resource==23.4.0", "azure.mgmt.resource.resources.v2024_07_01.models",
        "ResourceGroup", "ResourceGroupPatchable"),
    # What azure-mgmt-resource in requirements-dev.lock sends (tests and tools create groups with it).
    ("Microsoft.Resources/resourceGroups", "2025-04-01"): (
        "azure-mgmt-resource==26.0.0", "azure.mgmt.resource.resources.models", "ResourceGroup",
        "ResourceGroupPatchable"),
    ("Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31"): (
        "azure-mgmt-msi==7.0.0", "azure.mgmt.msi.v2023_01_31.models", "Identity", "IdentityUpdate"),
    ("Microsoft.Authorization/roleDefinitions", "2022-04-01"): (
        "azure-mgmt-authorization==4.0.0", "azure.mgmt.authorization.v2022_04_01.models", "RoleDefinition", ""),
    ("Microsoft.Authorization/roleDefinitions", "2022-05-01-preview"): (
        "azure-mgmt-authorization==4.0.0", "azure.mgmt.authorization.v2022_05_01_preview.models",
        "RoleDefinition", ""),
    ("Microsoft.Authorization/roleAssignments", "2022-04-01"): (
        "azure-mgmt-authorization==4.0.0", "azure.mgmt.authorization.v2022_04_01.models",
        "RoleAssignmentCreateParameters", ""),
    ("Microsoft.Compute/galleries", "2024-03-03"): (
        "azure-mgmt-compute==33.1.0", "azure.mgmt.compute.v2024_03_03.models", "Gallery", "GalleryUpdate"),
    ("Microsoft.Compute/galleries/images", "2024-03-03"): (
        "azure-mgmt-compute==33.1.0", "azure.mgmt.compute.v2024_03_03.models", "GalleryImage", "GalleryImageUpdate"),
    # What someone made outside Pulumi and a stack names (local runs seed them: components/local/existing.py).
    ("Microsoft.Compute/galleries/images/versions", "2024-03-03"): (
        "azure-mgmt-compute==33.1.0", "azure.mgmt.compute.v2024_03_03.models", "GalleryImageVersion",
        "GalleryImageVersionUpdate"),
    ("Microsoft.Compute/images", "2024-07-01"): (
        "azure-mgmt-compute==33.1.0", "azure.mgmt.compute.v2024_07_01.models", "Image", "ImageUpdate"),
    ("Microsoft.Compute/virtualMachineScaleSets", "2024-07-01"): (
        "azure-mgmt-compute==33.1.0", "azure.mgmt.compute.v2024_07_01.models",
        "VirtualMachineScaleSet", "VirtualMachineScaleSetUpdate"),
    ("Microsoft.Compute/virtualMachineScaleSets", "2024-11-01"): (
        "azure-mgmt-compute==35.0.0", "azure.mgmt.compute.v2024_11_01.models",
        "VirtualMachineScaleSet", "VirtualMachineScaleSetUpdate"),
    ("Microsoft.Network/virtualNetworks", "2024-05-01"): (
        "azure-mgmt-network==28.1.0", "azure.mgmt.network.models", "VirtualNetwork", "TagsObject"),
    ("Microsoft.Network/virtualNetworks/subnets", "2024-05-01"): (
        "azure-mgmt-network==28.1.0", "azure.mgmt.network.models", "Subnet", ""),
    ("Microsoft.Storage/storageAccounts", "2024-01-01"): (
        "azure-mgmt-storage==22.1.0", "azure.mgmt.storage.v2024_01_01.models",
        "StorageAccountCreateParameters", "StorageAccountUpdateParameters"),
    ("Microsoft.Storage/storageAccounts/blobServices", "2024-01-01"): (
        "azure-mgmt-storage==22.1.0", "azure.mgmt.storage.v2024_01_01.models", "BlobServiceProperties", ""),
    ("Microsoft.Storage/storageAccounts/blobServices/containers", "2024-01-01"): (
        "azure-mgmt-storage==22.1.0", "azure.mgmt.storage.v2024_01_01.models", "BlobContainer", "BlobContainer"),
}
_IMAGE_BUILDER = {"2020-02-14": "0.4.0", "2021-10-01": "1.0.0", "2022-02-14": "1.1.0", "2022-07-01": "1.2.0",
                  "2023-07-01": "1.3.0", "2024-02-01": "1.4.0", "2025-10-01": "2.0.0"}
for _version, _release in _IMAGE_BUILDER.items():
    TABLE["Microsoft.VirtualMachineImages/imageTemplates", _version] = (
        f"azure-mgmt-imagebuilder=={_release}", "azure.mgmt.imagebuilder.models", "ImageTemplate",
        "ImageTemplateUpdateParameters")
    if _version >= "2022-07-01":  # triggers came with 2022-07-01
        TABLE["Microsoft.VirtualMachineImages/imageTemplates/triggers", _version] = (
            f"azure-mgmt-imagebuilder=={_release}", "azure.mgmt.imagebuilder.models", "Trigger", "")


# ---- the child: one package version imported, its models read ----------------------------------------------------
_MSREST_SCALARS = {"str": "string", "int": "integer", "long": "integer", "float": "number", "bool": "boolean",
                   "iso-8601": "string", "rfc-1123": "string", "duration": "string", "date": "string",
                   "time": "string", "bytearray": "string", "base64": "string", "unix-time": "integer",
                   "object": "any", "decimal": "number"}


class _Reader:
    """Reads models of one module into definitions: name -> {"type": "object", "properties": {...}, ...}."""

    def __init__(self, module: Any):
        self.module = module
        self.definitions: dict[str, dict] = {}

    def ref(self, cls: type) -> dict:
        name = cls.__name__
        if name not in self.definitions:
            self.definitions[name] = {}  # placeholder: recursion stops here
            self.definitions[name] = self.read(cls)
        return {"$ref": name}

    def read(self, cls: type) -> dict:
        return self.read_msrest(cls) if hasattr(cls, "_attribute_map") else self.read_typespec(cls)

    # msrest models: _attribute_map {attr: {"key": "properties.x", "type": "[Model]"}}, _validation, _subtype_map
    def read_msrest(self, cls: Any) -> dict:
        validation = getattr(cls, "_validation", {}) or {}
        enums = self._docstring_enums(cls)
        root: dict[str, Any] = {"type": "object", "model": cls.__name__, "properties": {}}
        containers: dict[tuple[str, ...], dict] = {(): root}
        for attr, spec in cls._attribute_map.items():
            path = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", spec["key"])]
            node = root
            for depth, part in enumerate(path[:-1]):
                key = tuple(path[:depth + 1])
                if key not in containers:
                    containers[key] = {"type": "object", "properties": {}}
                    node["properties"][part] = containers[key]
                node = containers[key]
            schema = self.schema(spec["type"], enums.get(attr))
            rule = validation.get(attr) or {}
            if rule.get("required"):
                schema["required"] = True
            if rule.get("readonly"):
                schema["readOnly"] = True
            if "constant" in rule:
                schema["constant"] = True
            node["properties"][path[-1]] = schema
        # A flattened container that is required because a child is (the REST definition requires `properties`).
        for key, container in containers.items():
            if key and any(p.get("required") for p in container["properties"].values()):
                container["required"] = True
            if key:
                self._restore_polymorphic(container)
        subtypes = cls.__dict__.get("_subtype_map")  # a variant inherits its family's map: it is not the family
        if subtypes:
            (disc, variants), = subtypes.items()
            root["discriminator"] = self._wire_name(cls, disc)
            root["variants"] = {}
            for value, sub in variants.items():
                sub_cls = getattr(self.module, sub)
                root["variants"][value] = self.ref_variant(sub_cls)
        return root

    def ref_variant(self, cls: Any) -> str:
        """A discriminated subclass read on its own (its _attribute_map holds the base's fields too)."""
        name = cls.__name__
        if name not in self.definitions:
            self.definitions[name] = {}
            self.definitions[name] = self.read(cls)
        return name

    def _restore_polymorphic(self, container: dict) -> None:
        """msrest loses a discriminator under a flattened `properties` (a trigger's `properties.kind`): where the
        container's keys are exactly a polymorphic model's keys, the container is that model (as in the REST spec)."""
        keys = set(container["properties"])
        for name, candidate in vars(self.module).items():
            if not (inspect.isclass(candidate) and getattr(candidate, "_subtype_map", None) and "_subtype_map" in
                    candidate.__dict__):
                continue
            if {spec["key"] for spec in candidate._attribute_map.values()} == keys:
                required = container.get("required")
                container.clear()
                container.update(self.ref(candidate))
                if required:
                    container["required"] = True
                return

    def _wire_name(self, cls: Any, attr: str) -> str:
        return cls._attribute_map.get(attr, {}).get("key", attr)

    def _docstring_enums(self, cls: Any) -> dict[str, list[str]]:
        """msrest types an enum as `str`; the docstring names the enum class (`str or ~...models.ProvisioningState`)."""
        found: dict[str, list[str]] = {}
        for attr, name in re.findall(r":vartype (\w+): (?:list\[)?str or ~[\w.]+\.(\w+)", cls.__doc__ or ""):
            enum = getattr(self.module, name, None)
            if enum is not None and hasattr(enum, "__members__"):
                found[attr] = sorted({str(m.value) for m in enum})
        return found

    def schema(self, typ: str, enum: list[str] | None = None) -> dict:
        if typ.startswith("[") and typ.endswith("]"):
            return {"type": "array", "items": self.schema(typ[1:-1], enum)}
        if typ.startswith("{") and typ.endswith("}"):
            return {"type": "map", "values": self.schema(typ[1:-1])}
        if typ in _MSREST_SCALARS:
            out: dict[str, Any] = {"type": _MSREST_SCALARS[typ]}
            if enum and typ == "str":
                out["enum"] = enum
            return out
        target = getattr(self.module, typ, None)
        if target is None:
            return {"type": "any"}
        if hasattr(target, "__members__"):  # an enum typed by its class name
            return {"type": "string", "enum": sorted({str(m.value) for m in target})}
        return self.ref(target)

    # TypeSpec ("hybrid") models: rest_field(name=..., visibility=[...]) and annotations; __mapping__ per family
    def read_typespec(self, cls: Any) -> dict:
        hints = typing.get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]),
                                      localns={"_models": self.module})
        root: dict[str, Any] = {"type": "object", "model": cls.__name__, "properties": {}}
        fields: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if not attr.startswith("_") and hasattr(value, "_rest_name_input") and hasattr(value, "_visibility"):
                    fields[attr] = value
        discriminator = None
        for attr, rf in fields.items():
            wire = rf._rest_name_input or attr
            hint = hints.get(attr, Any)
            schema = self.hint_schema(hint)
            if getattr(rf, "_is_discriminator", False):
                discriminator = wire
                schema = {"type": "string"}
            if not _optional(hint):
                schema["required"] = True
            if rf._visibility == ["read"]:
                schema["readOnly"] = True
                schema.pop("required", None)
            root["properties"][wire] = schema
        mapping = cls.__dict__.get("__mapping__")
        if mapping is not None and discriminator:
            root["discriminator"] = discriminator
            root["variants"] = {value: self.ref_variant(sub) for value, sub in mapping.items()}
            root["properties"][discriminator]["required"] = True
        return root

    def hint_schema(self, hint: Any) -> dict:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Union:
            rest = [a for a in args if a is not type(None)]
            enums = [a for a in rest if hasattr(a, "__members__")]
            if enums:
                return {"type": "string", "enum": sorted({str(m.value) for e in enums for m in e})}
            return self.hint_schema(rest[0]) if len(rest) == 1 else {"type": "any"}
        if origin is typing.Literal:
            return {"type": "string"}
        if origin in (list, typing.List):
            return {"type": "array", "items": self.hint_schema(args[0])}
        if origin in (dict, typing.Dict) or origin is typing.Mapping:
            return {"type": "map", "values": self.hint_schema(args[1])}
        if hint is str:
            return {"type": "string"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if inspect.isclass(hint) and hint.__module__.startswith("datetime"):
            return {"type": "string"}
        if inspect.isclass(hint) and hasattr(hint, "__members__"):
            return {"type": "string", "enum": sorted({str(m.value) for m in hint})}
        if inspect.isclass(hint) and any(base.__name__ == "Model" for base in hint.__mro__[1:]):
            return self.ref(hint)
        return {"type": "any"}


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)


def extract(module_name: str, put: str, patch: str) -> dict:
    module = importlib.import_module(module_name)
    reader = _Reader(module)
    bodies = {"PUT": reader.ref(getattr(module, put))}
    if patch:
        bodies["PATCH"] = reader.ref(getattr(module, patch))
    return {"bodies": bodies, "definitions": dict(sorted(reader.definitions.items()))}


# ---- the parent: download, unpack, one child per package version, write the files -----------------------------------
def _unpack(requirement: str, wheels: Path, into: Path) -> Path:
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [w for w in wheels.glob("*.whl") if w.name.startswith(stem)]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels),
                        requirement], check=True)
        found = [w for w in wheels.glob("*.whl") if w.name.startswith(stem)]
    target = into / f"{name}-{version}"
    if not target.exists():
        with zipfile.ZipFile(found[0]) as archive:
            archive.extractall(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, help="folder of downloaded wheels (downloaded into it when missing)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", nargs=3, metavar=("MODULE", "PUT", "PATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        json.dump(extract(*args.child), sys.stdout)
        return 0
    with tempfile.TemporaryDirectory(prefix="arm-definitions-") as tmp:
        wheels = args.wheels or Path(tmp) / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        rows = []
        for (resource_type, api_version), (requirement, module, put, patch) in sorted(TABLE.items()):
            folder = _unpack(requirement, wheels, Path(tmp))
            env = {**os.environ, "PYTHONPATH": str(folder)}
            done = subprocess.run([sys.executable, __file__, "--child", module, put, patch], env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"reading {module} of {requirement} failed:\n{done.stderr}")
            package, version = requirement.split("==")
            document = {"resourceType": resource_type, "apiVersion": api_version,
                        "source": {"package": package, "version": version, "module": module,
                                   "models": {"PUT": put, **({"PATCH": patch} if patch else {})}},
                        **json.loads(done.stdout)}
            path = args.out / resource_type / f"{api_version}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
            rows.append((resource_type, api_version, package, version, module, put, patch))
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                  f"{len(document['definitions'])} models", file=sys.stderr)
    _write_readme(args.out, rows)
    return 0


def _write_readme(out: Path, rows: list[tuple[str, ...]]) -> None:
    lines = [
        "# ARM request-body definitions (test data)",
        "",
        "One file per resource type and api-version, `<provider>/<type>/<api-version>.json`, read by the body judge",
        "(`tests/arm_judge`). Each is written by `tools/arm_definitions.py` from Microsoft's generated `azure-mgmt-*`",
        "models, which AutoRest/TypeSpec generate from the official REST API specs in",
        "[Azure/azure-rest-api-specs](https://github.com/Azure/azure-rest-api-specs). Do not edit them by hand: run",
        "`python3 tools/arm_definitions.py` (with azure-core and isodate importable) to write them anew.",
        "",
        "A file holds `bodies` (the model of a PUT body and, where the package has one, of a PATCH body, as `$ref`s) and",
        "`definitions` (model name -> object). An object lists its `properties` by wire name; each property is a type",
        "(`string`, `integer`, `number`, `boolean`, `any`, `array` with `items`, `map` with `values`, or a `$ref`), with",
        "`required`/`readOnly` when the model's validation says so and `enum` (the known values; ARM enums are",
        "extensible, so the judge does not enforce them). Flattened `properties.x` keys of msrest models are nested",
        "objects again, as on the wire. A polymorphic family has `discriminator` (the wire name, e.g. `type`, `kind`)",
        "and `variants` (value -> model). msrest flattening hides the trigger's `TriggerProperties` family under",
        "`properties`; the generator puts it back where a flattened container's keys are exactly that model's.",
        "",
        "| resource type | api-version | package | version | models module | PUT model | PATCH model |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| `{t}` | {v} | {p} | {r} | `{m}` | `{put}` | {f'`{patch}`' if patch else '-'} |"
              for t, v, p, r, m, put, patch in rows]
    (out / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
