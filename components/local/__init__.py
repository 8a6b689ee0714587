"""The local run: the stack program deployed to the local ARM emulator (see `run.run_local`)."""

from .run import run_local

__all__ = ["run_local"]
