"""Fault injection: what can go wrong, how often, and on which requests.

`Faults` is a plain mutable dataclass owned by one `Emulator` (replace or edit `emu.faults` while the
server runs). Transport faults (throttling, 5xx, dropped connections) are decided per eligible request
by a `random.Random(seed)` that lives on the instance, so a given seed and request sequence always yields
the same faults. Service faults (failing customizers/validators/distribution, the RBAC propagation
window, a slow Canceling) are read by the build logic when a run is scheduled or a check is made.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from components.emulator.reads import SubscriptionFacts

#: By default only Image Builder endpoints (templates, their runs, triggers, run outputs, operation status) are
#: faulted, so resource groups, identities and roles that a test sets up are not.
DEFAULT_FAULT_PATHS = (r"/providers/microsoft\.virtualmachineimages/",)


@dataclass
class Faults:
    """Deterministic fault injection settings. Every rate is a probability in [0, 1]."""

    seed: int = 0
    #: Probability of answering 429 TooManyRequests with a `Retry-After: <throttle_retry_after>` header.
    throttle_rate: float = 0.0
    throttle_retry_after: int = 1
    #: Probability of answering 500 InternalServerError or 503 ServiceUnavailable (chosen by the same RNG).
    server_error_rate: float = 0.0
    #: Probability of closing the connection without any response.
    drop_rate: float = 0.0
    #: Stop injecting transport faults after this many (None: no limit). `rate=1, max_transport_faults=2`
    #: faults exactly the first two eligible requests.
    max_transport_faults: int | None = None
    #: Regexes (case-insensitive, `re.search` on the path) selecting the requests transport faults apply to.
    paths: tuple[str, ...] = DEFAULT_FAULT_PATHS
    #: HTTP methods transport faults apply to.
    methods: frozenset[str] = frozenset({"GET", "PUT", "POST", "PATCH", "DELETE"})
    #: A role assignment grants nothing until it is this many seconds old (RBAC propagation delay).
    auth_propagation_seconds: float = 0.0
    #: Canceling lasts this many reads (template GETs or operation-status GETs). None: one phase.
    cancel_polls: int | None = None
    #: Customizer `name`s (or `type`s) whose step fails the build in the Customizing phase.
    failing_customizers: set[str] = field(default_factory=set)
    #: In-VM validator `name`s (or `type`s) that fail in the Validating phase.
    failing_validators: set[str] = field(default_factory=set)
    #: True fails every distribute target; a set fails the targets with those runOutputNames.
    fail_distribute: bool | set[str] = False

    #: A failure text (one or more lines) the build writes to customization.log where `failure_at` says: a customizer
    #: `name` (or `type`) fails its Customizing step with it; "Building", "Validating" or "Distributing" fail that
    #: phase; "Queued" fails the run before it starts, with the text as the run's message. Empty: no injection.
    failure_text: str = ""
    failure_at: str = ""
    #: What the subscription answers to the read APIs `preflight` asks (providers, SKUs, usages, the deployer's
    #: permissions, policy states); see `reads.py`.
    subscription: SubscriptionFacts = field(default_factory=SubscriptionFacts)

    injected: int = field(default=0, init=False)
    _rng: random.Random = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name == "seed":  # changing the seed restarts the deterministic sequence
            super().__setattr__("_rng", random.Random(value))  # type: ignore[arg-type]

    def applies_to(self, method: str, path: str) -> bool:
        return method.upper() in self.methods and any(re.search(p, path, re.I) for p in self.paths)

    def draw(self, method: str, path: str) -> str | None:
        """The transport fault for this request: "drop", "throttle", "500", "503" or None."""
        if not self.applies_to(method, path):
            return None
        if self.max_transport_faults is not None and self.injected >= self.max_transport_faults:
            return None
        r = self._rng.random()
        fault: str | None = None
        if r < self.drop_rate:
            fault = "drop"
        elif r < self.drop_rate + self.throttle_rate:
            fault = "throttle"
        elif r < self.drop_rate + self.throttle_rate + self.server_error_rate:
            fault = self._rng.choice(["500", "503"])
        if fault:
            self.injected += 1
        return fault

    def customizer_fails(self, customizer: dict) -> bool:
        return bool({customizer.get("name"), customizer.get("type")} & set(self.failing_customizers))

    def validator_fails(self, validator: dict) -> bool:
        return bool({validator.get("name"), validator.get("type")} & set(self.failing_validators))

    def injected_failure(self, phase: str, customizer: dict | None = None) -> str:
        """The injected failure text for this phase (or this customizer's step), else ""."""
        if not self.failure_text or not self.failure_at:
            return ""
        if customizer is not None:
            return self.failure_text if self.failure_at in (customizer.get("name"), customizer.get("type")) else ""
        return self.failure_text if self.failure_at == phase else ""

    def distribute_fails(self, run_output_name: str) -> bool:
        if isinstance(self.fail_distribute, bool):
            return self.fail_distribute
        return run_output_name in self.fail_distribute
