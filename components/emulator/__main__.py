"""Entry point: `python -m components.emulator` calls `cli.main`."""

import sys

from components.emulator.cli import main

sys.exit(main())
