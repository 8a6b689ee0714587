"""The `aib-images` package: ImagePipeline, its build providers, the CLI and the local ARM emulator.

`__version__` is the installed distribution's version (pyproject.toml is the one source), read only when asked
for, so importing the package (as every dynamic-provider process does) does not scan the installed distributions.
"""

from __future__ import annotations

from components import moved

moved.install()

_DISTRIBUTION = "aib-images"


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(_DISTRIBUTION)
        except PackageNotFoundError:  # a source tree that was never installed (`pip install -e .` fixes it)
            return "0.0.0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
