"""Local runs of the real Pulumi CLI on the ARM emulator (see `engine` for `scripts/pulumi.sh`, `run.run_local`).

`run_local` is imported on first use, so `python -m components.local.<module>` runs a module that no import of this
package has loaded yet.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.local.run import run_local

__all__ = ["run_local"]


def __getattr__(name: str) -> Any:
    if name == "run_local":
        from components.local.run import run_local

        return run_local
    raise AttributeError(name)
