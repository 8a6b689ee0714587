"""Old module names of moved modules, resolved to where each lives now.

Pulumi's dynamic providers are pickled by reference: a stack's state names the provider's module and class (e.g.
`components.role_settle.RoleSettleProvider` for every checkpoint written before the layered layout), and the provider
process imports that module to load it. `install()` (run by `components/__init__.py`, so before any of these names is
imported) puts a finder first on `sys.meta_path` that answers each old name with the module it moved to: the same
module object, so its classes are the ones the new name has and nothing runs twice. Other code imported by an old
name (a fork's program, a pinned example) keeps working too. An entry stays as long as a supported release may have
written it into a state (`tests/unit/test_moved_modules.py` unpickles providers recorded from a real checkpoint).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Optional, Sequence

MOVED: dict[str, str] = {
    "components.admin_roles": "components.ops.admin_roles",
    "components.arm_client": "components.providers.arm_client",
    "components.build_run": "components.providers.build_run",
    "components.build_run.errors": "components.providers.build_run.errors",
    "components.build_run.inputs": "components.providers.build_run.inputs",
    "components.build_run.progress": "components.providers.build_run.progress",
    "components.build_run.provider": "components.providers.build_run.provider",
    "components.build_run.resources": "components.providers.build_run.resources",
    "components.build_run.session": "components.providers.build_run.session",
    "components.bump": "components.ops.bump",
    "components.cli": "components.ops.cli",
    "components.credentials": "components.providers.credentials",
    "components.diagnose": "components.ops.diagnose",
    "components.diagnose.analysis": "components.providers.build_run.analysis",
    "components.diagnose.catalog": "components.providers.build_run.catalog",
    "components.diagnose.run": "components.ops.diagnose.run",
    "components.diagnose.target": "components.ops.diagnose.target",
    "components.documents": "components.arm.documents",
    "components.dynamic_provider": "components.providers.dynamic_provider",
    "components.lifecycle": "components.providers.lifecycle",
    "components.lifecycle.gallery": "components.providers.lifecycle.gallery",
    "components.lifecycle.plan": "components.plan.lifecycle",
    "components.lifecycle.provider": "components.providers.lifecycle.provider",
    "components.lifecycle.resource": "components.providers.lifecycle.resource",
    "components.local.arm_shapes": "components.offline.arm_shapes",
    "components.naming": "components.plan.naming",
    "components.parent_watch": "components.providers.parent_watch",
    "components.pipeline": "components.declare.pipeline",
    "components.preflight": "components.ops.preflight",
    "components.preflight.checks": "components.ops.preflight.checks",
    "components.preflight.reader": "components.ops.preflight.reader",
    "components.preflight.run": "components.ops.preflight.run",
    "components.program": "components.offline.program",
    "components.provider_errors": "components.providers.errors",
    "components.pulumi_fixes": "components.providers.pulumi_fixes",
    "components.redact": "components.model.redact",
    "components.role_settle": "components.providers.role_settle",
    "components.roles": "components.plan.roles",
    "components.schema": "components.ops.schema",
    "components.script_blob": "components.providers.script_blob",
    "components.scripts": "components.declare.scripts",
    "components.spec": "components.model",
    "components.spec.base": "components.model.base",
    "components.spec.customizers": "components.model.customizers",
    "components.spec.distributors": "components.model.distributors",
    "components.spec.errors": "components.model.errors",
    "components.spec.formats": "components.model.formats",
    "components.spec.ids": "components.model.ids",
    "components.spec.lifecycle": "components.model.lifecycle",
    "components.spec.lints": "components.model.lints",
    "components.spec.local_files": "components.model.local_files",
    "components.spec.models": "components.model.models",
    "components.spec.platform": "components.model.platform",
    "components.spec.rules": "components.model.rules",
    "components.spec.secure": "components.model.secure",
    "components.spec.sources": "components.model.sources",
    "components.spec.stack": "components.model.stack",
    "components.synth": "components.offline.synth",
    "components.template_args": "components.declare.template_args",
    "components.template_patch": "components.providers.template_tags",
    "components.versioned_template": "components.providers.versioned_template",
}
"""Old module name -> the module it is now (the layered layout of issue 21). `components.plan` is not here: it is
now the plan package itself (the planner moved to `components.plan.stack`), and no state names it."""


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self._target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the target ran when it was imported under its own name


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
