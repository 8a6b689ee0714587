"""The request and reply values passed between the HTTP layer and the resource handlers.

Handlers never see Starlette objects: `server.py` turns each HTTP request into a `Req` (method, path,
query, parsed JSON body, the base URL to build LRO links with, and the arrival time) and turns the
`Reply` a handler returns into a response. That keeps the handlers testable and the framework swappable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    base: str
    now: float

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # plain-text body (log files)
