"""A local Azure Resource Manager emulator for Azure VM Image Builder (see README.md).

Exports `Emulator` (the server), `Faults` (fault injection settings), `EmulatorCredential` (a
TokenCredential for the emulator's token) and `insecure_auth_policy` (for `tls=False` clients).
"""

from components.emulator.credential import EmulatorCredential, insecure_auth_policy
from components.emulator.faults import Faults
from components.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorCredential", "Faults", "insecure_auth_policy"]
