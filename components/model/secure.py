"""Pulumi secrets in a stack file, read without decrypting them.

`pulumi config set --secret --path 'aib-images:images.<img>.template.properties.customize[0].scriptUri' URL` (the
README's advice for SAS URLs) stores the leaf as `scriptUri: {secure: v1:...}` in `stacks/Pulumi.<stack>.yaml`, and
`pulumi config set --secret nameKey ...` stores the top-level key the same way. The engine decrypts these before the
program runs; the offline verbs (`validate`, `render`, `synth`, `preflight`, `diagnose`, `admin-roles`) read the file
and never hold the passphrase. They replace each `{secure: ...}` by an opaque placeholder of the type the field
expects (a URL for `...Uri`/`...Url` keys, a string otherwise), so the stack validates as it will when decrypted and
the ciphertext never reaches a template, a name or a log. What they print shows the placeholder as `[secret]`
(`unmask`). Checks that need the value itself (a secret URL's storage account, its checksum) cannot run offline.
"""

from __future__ import annotations

from typing import Any, Mapping

SECRET = "[secret]"
"""How the offline verbs print a secret config value, as Pulumi prints a secret."""
SECRET_URI = "https://secret.invalid/[secret]"
"""The placeholder of a secret URL: an https URL (the field's type), on a host that cannot exist (RFC 2606)."""
_PLACEHOLDERS = (SECRET, SECRET_URI)


def is_secure(value: Any) -> bool:
    """A value as `pulumi config set --secret` writes it into a stack file: `{secure: <ciphertext>}`."""
    return isinstance(value, Mapping) and set(value) == {"secure"} and isinstance(value["secure"], str)


def has_secure(value: Any) -> bool:
    """Whether `value` is or contains a `{secure: ...}` value (the engine then marks its top-level key secret)."""
    if is_secure(value):
        return True
    if isinstance(value, Mapping):
        return any(has_secure(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_secure(v) for v in value)
    return False


def placeholder(key: str) -> str:
    """The opaque stand-in for a secret under `key`: a URL where the field is one, a string otherwise."""
    return SECRET_URI if key.lower().endswith(("uri", "url")) else SECRET


def opaque(value: Any, key: str = "") -> Any:
    """A copy of config `value` with every `{secure: ...}` replaced by its placeholder; the ciphertext is dropped."""
    if is_secure(value):
        return placeholder(key)
    if isinstance(value, Mapping):
        return {k: opaque(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [opaque(v, key) for v in value]
    return value


def unmask(value: Any) -> Any:
    """A copy of a JSON-like value (a rendered template, synth output) with every placeholder shown as `[secret]`."""
    if isinstance(value, str):
        return SECRET if value in _PLACEHOLDERS else value
    if isinstance(value, dict):
        return {k: unmask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unmask(v) for v in value]
    return value
