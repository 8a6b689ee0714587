"""Local runs of the real Pulumi CLI on the ARM emulator (see `engine` for `scripts/pulumi.sh`, `run.run_local`)."""

from .run import run_local

__all__ = ["run_local"]
