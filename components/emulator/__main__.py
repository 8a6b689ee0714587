"""Entry point: `python -m components.emulator` calls `cli.main`."""

import sys

from .cli import main

sys.exit(main())
