"""Issue 22: the dynamic-provider process, started by every `pulumi preview`/`up` of the stack, imports the modules
its pickled providers name, and nothing of the spec models: `components.model`'s `__init__` builds every pydantic model
(about 0.25 s of the process's start on the project's machine), which no provider needs on its way to an answer."""

from __future__ import annotations

import json
import subprocess
import sys

PROVIDER_MODULES = ("components.providers.build_run.provider", "components.providers.role_settle",
                    "components.providers.script_blob", "components.providers.template_tags",
                    "components.providers.versioned_template", "components.providers.lifecycle.provider")


def test_the_provider_modules_import_no_spec_model():
    code = (f"import sys, {', '.join(PROVIDER_MODULES)}; import json; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('components.model', 'pydantic')))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                       text=True).stdout)
    assert loaded == []


def test_build_errors_are_still_redacted():
    from components.providers.build_run.errors import BuildError, redact_log

    url = "https://acct.blob.core.windows.net/scripts/setup.sh?sv=2024-01-01&sig=c2VjcmV0"
    assert "c2VjcmV0" not in str(BuildError(f"download of {url} failed"))
    assert all("c2VjcmV0" not in line for line in redact_log([f"PACKER ERR curl {url}"]))
