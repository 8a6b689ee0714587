"""Entry point of `python -m components`."""

import sys

from .cli import main

sys.exit(main())
