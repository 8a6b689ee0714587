"""Where `scripts/bootstrap.sh` puts the local run's tools: `.local/` of the repository, or `AIB_TOOLS_DIR`.

`bin/` holds the Pulumi CLI it builds and the SDK's Python shims beside it; `node_modules/.bin/` holds Azurite.
Tests that copy the project elsewhere point `AIB_TOOLS_DIR` back here instead of building again.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("AIB_TOOLS_DIR") or REPO / ".local")
BIN = ROOT / "bin"
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
