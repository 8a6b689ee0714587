"""The policy pack: `pulumi preview --policy-pack policy` (or `pulumi policy publish` from this folder).

The rules live in `golden_image_rules.py` so tests import them without starting the analyzer server that
`PolicyPack` runs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from golden_image_rules import PACK_NAME, POLICIES  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
