"""Pre-flight of a stack against its subscription (read-only): providers, VM sizes and quota, VNet requirements,
the deployer's permission to assign roles, the resources the stack names, and Azure Policy denies.
`python -m components preflight --stack S [--local]`."""

from components.ops.preflight.checks import CHECKS, Context, Row
from components.ops.preflight.run import run_preflight

__all__ = ["CHECKS", "Context", "Row", "run_preflight"]
