"""The plan: every decision about a stack, made before anything is declared, without Pulumi.

From a validated `StackConfig` (`components.model`) the planner (`stack.plan_stack`) decides each resource's logical
and Azure name, each role and grant (`roles`), the rendered AIB document, and what images share; `naming` derives the
deterministic names and ids, `lifecycle` the image-version retention and promotion rules the lifecycle provider
applies. Pure functions over data: imports only `components.model` and `components.arm`.
"""
