"""Entry point of `python -m components`."""

import sys

from components.ops.cli import main

sys.exit(main())
