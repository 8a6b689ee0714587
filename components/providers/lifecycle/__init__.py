"""Gallery image version lifecycle: retention (keep the newest N, exclude and end-of-life the older ones, delete
the oldest) and promotion (clear ``excludeFromLatest`` after validation, or on a later stack's say-so).

An ``ImagePipeline`` whose config has a ``lifecycle`` section declares one ``ImageVersionLifecycle`` after its build
wait. Its provider (``components.providers.lifecycle.provider``, pickled by reference: keep the module path) lists the image
definition's versions with ``azure-mgmt-compute``, plans with the pure ``plan_retention`` and applies the plan with
``begin_update`` / ``begin_delete`` unless ``dry_run``. Public API: ``LifecycleArgs``, ``ImageVersionLifecycle``,
``ImageVersionLifecycleProvider``, ``plan_retention``, ``promotion_target``, ``Plan``, ``Retention``, ``Version``.
"""

from components.plan.lifecycle import Plan, Retention, Version, plan_retention, promotion_target
from components.providers.lifecycle.provider import ImageVersionLifecycleProvider, LifecycleError
from components.providers.lifecycle.resource import ImageVersionLifecycle, LifecycleArgs

__all__ = [
    "ImageVersionLifecycle",
    "ImageVersionLifecycleProvider",
    "LifecycleArgs",
    "LifecycleError",
    "Plan",
    "Retention",
    "Version",
    "plan_retention",
    "promotion_target",
]
