"""Loading the azure-native modules a stack declares from while the program waits on the engine's first answer.

The generated SDK loads each of its modules on first use, in the program's one thread: compute takes 0.13 s, and with
storage, virtualmachineimages, managedidentity and resources 0.25 s on this project's 2-core machine. The program's
first call, `getClientConfig`, blocks it until the azure-native plugin has started (0.2 s for the local stand-in; the
real plugin takes longer), and nothing else runs meanwhile. `loading(...)` loads the modules on a thread during such a
wait and joins it when the wait is over (measured, 1-image no-op preview: 2.8 -> 2.6 s).

The thread loads only modules the program does not touch before the join: Python 3.11's LazyLoader, which the SDK
loads its modules with, is not safe when two threads touch one module being loaded (cpython gh-114763, fixed in 3.12).
The modules import nothing of each other (each imports only the package's `_utilities`).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import Iterator

DECLARED_FROM = {"compute": "Gallery", "storage": "StorageAccount", "virtualmachineimages":
                 "VirtualMachineImageTemplate", "managedidentity": "UserAssignedIdentity", "resources": "ResourceGroup"}
"""The azure-native modules an image pipeline declares from (besides authorization, the first call's), each with a
class whose first use loads the module."""


@contextlib.contextmanager
def loading(modules: dict[str, str] = DECLARED_FROM) -> Iterator[None]:
    """Load `modules` (azure-native module: one of its names) on a thread while the block runs; joined at its end. The
    block must not touch them."""
    thread = threading.Thread(target=_load, args=(dict(modules),), name="aib-preload", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _load(modules: dict[str, str]) -> None:
    package = importlib.import_module("pulumi_azure_native")
    for module, name in modules.items():
        try:
            getattr(getattr(package, module), name)
        except Exception:  # noqa: BLE001 - the program's own first use of the module raises it, where it belongs
            return
