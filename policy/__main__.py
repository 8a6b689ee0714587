"""The policy pack: `pulumi preview --policy-pack policy --policy-pack-config policy/config.json` (or `pulumi policy
publish` from this folder).

The rules live in `golden_image_rules.py` so tests import them without starting the analyzer server that
`PolicyPack` runs. `config.json` is the organisation's settings in Pulumi's policy-pack config format: per policy an
enforcement level (`"advisory"`, `"mandatory"`, `"disabled"`) or an object with `enforcementLevel` and the policy's
settings (`maxMinutes`, `allowedIdentities`).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from golden_image_rules import PACK_NAME, POLICIES  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
