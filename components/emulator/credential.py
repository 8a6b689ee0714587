"""Client-side auth helpers: the credential that yields the emulator's bearer token.

`EmulatorCredential` is an `azure.core.credentials.TokenCredential` (and `SupportsTokenInfo`) that
returns the one token an emulator instance accepts, for any scope. `insecure_auth_policy` builds the
ARM bearer policy with azure-core's HTTPS enforcement switched off, which is what a client needs when
the emulator runs with `tls=False` (azure-core refuses to send bearer tokens over plain http otherwise).
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy


class EmulatorCredential:
    """A TokenCredential for the emulator: `EmulatorCredential(emu.token)` or `emu.credential()`."""

    def __init__(self, token: str, lifetime_seconds: int = 3600):
        self._token = token
        self._lifetime = lifetime_seconds

    def __repr__(self) -> str:  # never print the token
        return "EmulatorCredential(<redacted>)"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        pass

    def __enter__(self) -> "EmulatorCredential":
        return self

    def __exit__(self, *args: Any) -> None:
        pass


class _PlainHttpARMAuthPolicy(ARMChallengeAuthenticationPolicy):
    def on_request(self, request):  # type: ignore[override]
        request.context["enforce_https"] = False
        return super().on_request(request)


def insecure_auth_policy(credential: Any, *scopes: str) -> ARMChallengeAuthenticationPolicy:
    """The bearer-token policy for a `tls=False` emulator: pass it as `authentication_policy=` to the client.

    Example: `ImageBuilderClient(cred, sub, base_url=url, authentication_policy=insecure_auth_policy(cred,
    url + "/.default"))`. Without it azure-core raises "Bearer token authentication is not permitted for
    non-TLS protected (non-https) URLs."
    """
    return _PlainHttpARMAuthPolicy(credential, *scopes)
