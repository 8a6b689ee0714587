"""JSON with comments, as ARM reads templates and parameters files: `//` line comments and `/* */` block comments
outside strings. Each comment becomes spaces (its newlines kept), so `json` then reports errors at the line and
column the user sees, and everything else stays strict JSON.

Why not a library: `json5` and `commentjson` accept far more than ARM does (single quotes, unquoted keys, trailing
commas, hex numbers), so a file they read could still be refused by a deployment; a stripper that respects strings
is twenty lines and adds no dependency to the two hash-locked requirement files.
"""

from __future__ import annotations

import json
from typing import Any


def strip_comments(text: str) -> str:
    """`text` with every comment outside a JSON string replaced by spaces (newlines kept)."""
    out: list[str] = []
    i, n, in_string = 0, len(text), False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise json.JSONDecodeError("unterminated /* comment", text, i)
            out.append("".join(ch if ch in "\r\n" else " " for ch in text[i:end + 2]))
            i = end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse JSON that may hold `//` and `/* */` comments."""
    return json.loads(strip_comments(text))
