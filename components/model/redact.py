"""Secrets out of what the project prints: SAS tokens in URLs and inline commands.

Pure functions over text and JSON-like values, used wherever a value the user configured can reach a terminal, a log
or a report: build errors and their log tail (`build_run`), `synth` output, spec warnings. A shared access signature
is a URL query (`?sv=...&sig=...`); every SAS parameter's value is replaced, not only `sig`, because the others say
what the token grants and until when. Inline commands are replaced as a whole: they may hold anything.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
SECRET = "[secret]"

#: Query parameters of account, service and user-delegation SAS tokens
#: (https://learn.microsoft.com/rest/api/storageservices/create-service-sas,
#: .../create-account-sas, .../create-user-delegation-sas).
SAS_PARAMETERS = ("sig", "sv", "ss", "srt", "sp", "se", "st", "spr", "sip", "sr", "sdd", "si", "skoid", "sktid",
                  "skt", "ske", "sks", "skv", "saoid", "suoid", "scid", "ses", "rscc", "rscd", "rsce", "rscl", "rsct",
                  "api-version-sig")
_SAS_VALUE = re.compile(r"([?&](?:%s)=)[^&#\s'\"<>)]*" % "|".join(re.escape(p) for p in SAS_PARAMETERS),
                        re.IGNORECASE)
#: Keys whose values are inline commands (AIB steps) or commands of the project's deprovision override.
INLINE_KEYS = ("inline", "commands")


def redact_text(text: str) -> str:
    """`text` with the value of every SAS query parameter replaced by `[redacted]`."""
    return _SAS_VALUE.sub(lambda m: m.group(1) + REDACTED, text)


def redact_lines(lines: list[str]) -> list[str]:
    return [redact_text(line) for line in lines]


def redact_value(value: Any, *, inline: bool = True) -> Any:
    """A copy of a JSON-like value with SAS values redacted in every string and, with `inline`, every list of inline
    commands replaced by `[secret]` (keys `inline`, `commands`)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: SECRET if inline and k in INLINE_KEYS and isinstance(v, list)
                else redact_value(v, inline=inline) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, inline=inline) for v in value]
    return value
