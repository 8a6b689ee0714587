"""`properties.customize[]` and `properties.validate.inVMValidations[]`: one class per step type.

Shell/PowerShell/File appear both as customizers and as validators with the same fields; the shared
bases hold those fields and their local rules (exactly one of script/scriptUri/inline, exactly one of
sourceFile/sourceUri, runAsSystem needs runElevated), so each rule lives in one place.

`script` and `sourceFile` are project extensions: a file in the repository, relative to the project folder. The
pipeline uploads it to a private blob container and renders `scriptUri`/`sourceUri` and `sha256Checksum` itself
(`spec/local_files.py` checks and hashes the files, `arm/render.py` fills the URIs).

`checksumOptOut` is a project extension too: the stated reason a step downloads (or fetches and runs) remote content
without `sha256Checksum`. It is never sent as such: `arm/render.py` strips it from the step and carries it as the
template tag `aib-images.checksumOptOut.<step path>`, where the policy pack's `aib-pinned-downloads` reads it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from components.model.redact import redact_text
from components.model.base import SpecModel
from components.model.errors import rule_error
from components.model.formats import SHA256_PATTERN, is_go_duration

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="SHA-256 of the file, 64 hex characters.")]
# The reason becomes a tag value: "The tag value is limited to 256 characters"
# (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations).
OptOutReason = Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S",
                                    description="Why this step's remote content is not pinned (at most 256 characters).")]


def check_uri(value: Optional[str]) -> Optional[str]:
    """Script and file URIs are URLs the build VM downloads ("scriptUri - URL to location of the file": seed 003);
    plain http is only warned about (see rules)."""
    if value is None:
        return value
    if not re.match(r"^(https?)://[^\s/]+", value, re.IGNORECASE):
        raise ValueError(f"{redact_text(value)!r} is not an http(s) URL (hint: use https://<host>/<path>)")
    return value


class Step(SpecModel):
    """Base of every customizer and validator."""

    name: Optional[str] = None
    """Friendly name, shown in build logs. The service does not require it to be unique (a repeated name is a
    warning: the official Windows examples repeat one)."""


def check_local_path(value: Optional[str]) -> Optional[str]:
    """A repository file: a relative path with '/' separators (checked against the disk by `local_files`)."""
    if value is None:
        return value
    if not value.strip():
        raise ValueError("must not be empty (hint: a path relative to the project folder, like scripts/setup.sh)")
    if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
        raise ValueError(f"{value!r} is a URL, not a file in the repository (hint: use scriptUri/sourceUri for URLs)")
    return value


class ScriptStep(Step):
    """Fields of Shell and PowerShell steps: a repository script, a script URL or inline commands (exactly one)."""

    script: Optional[str] = None
    """Extension: a script in the repository, relative to the project folder (`scripts/setup.sh`). The pipeline
    uploads it to a private blob container and fills scriptUri and sha256Checksum; editing it rebuilds the image."""
    script_uri: Optional[str] = None
    """URL of the script (https; Azure Storage needs the identity to have read access)."""
    sha256_checksum: Optional[Sha256] = None
    """SHA-256 of the script at scriptUri (or of `script`, which it then pins); the build fails if the content differs."""
    inline: Optional[list[str]] = None
    """Commands run in order. Inline commands may hold secrets: they are stored as Pulumi secrets."""
    checksum_opt_out: Optional[OptOutReason] = None
    """Extension: why scriptUri has no sha256Checksum, or why inline commands fetch and run remote code unpinned. Not
    sent to the service; shown by synth and reported by the policy pack (template tag
    `aib-images.checksumOptOut.<step>`). Default: none (validate warns about unpinned remote content)."""

    _check_uri = field_validator("script_uri")(check_uri)
    _check_path = field_validator("script")(check_local_path)

    @property
    def local_file(self) -> Optional[str]:
        """The repository file this step runs, if any."""
        return self.script

    @property
    def remote_uri(self) -> Optional[str]:
        """The URL the build VM downloads this step's content from, if any."""
        return self.script_uri

    @model_validator(mode="after")
    def _exactly_one_source(self):
        # "Exactly one of scriptUri or inline": the REST spec's description text of both fields.
        given = [k for k, v in (("script", self.script), ("scriptUri", self.script_uri), ("inline", self.inline))
                 if v is not None]
        if len(given) != 1:
            raise rule_error(
                "exactly one of 'scriptUri' or 'inline' is required (or 'script', a file in the repository)"
                if not given else f"{' and '.join(repr(g) for g in given)} are mutually exclusive",
                field=given[-1] if given else "inline",
                hint="keep either scriptUri (with sha256Checksum), inline, or script (a file in the repository)")
        return self


class PowerShellFields(ScriptStep):
    run_elevated: bool = False
    """Run with elevated privileges."""
    run_as_system: bool = False
    """Run as the Local System user; requires runElevated."""
    valid_exit_codes: Optional[list[int]] = None
    """Exit codes that count as success. Default: [0]."""

    @model_validator(mode="after")
    def _system_needs_elevation(self):
        # runAsSystem "can only be true when the runElevated field above is set to true" (imagebuilder.json).
        if self.run_as_system and not self.run_elevated:
            raise rule_error("'runAsSystem' requires 'runElevated: true'", field="runAsSystem",
                             hint="set runElevated: true, or drop runAsSystem")
        return self


class FileFields(Step):
    source_file: Optional[str] = None
    """Extension: a file in the repository, relative to the project folder (`files/motd`), at most 20 MB. The pipeline
    uploads it to a private blob container and fills sourceUri and sha256Checksum."""
    source_uri: Optional[str] = None
    """URL of the one file to download (https). Exactly one of sourceFile and sourceUri is required."""
    destination: str = Field(min_length=1)
    """Full path of the file on the build VM; on Linux only /tmp is writable."""
    sha256_checksum: Optional[Sha256] = None
    checksum_opt_out: Optional[OptOutReason] = None
    """Extension: why sourceUri has no sha256Checksum. Not sent to the service; shown by synth and reported by the
    policy pack (template tag `aib-images.checksumOptOut.<step>`). Default: none (validate warns)."""

    _check_uri = field_validator("source_uri")(check_uri)
    _check_path = field_validator("source_file")(check_local_path)

    @property
    def local_file(self) -> Optional[str]:
        """The repository file this step downloads, if any."""
        return self.source_file

    @property
    def remote_uri(self) -> Optional[str]:
        """The URL the build VM downloads the file from, if any."""
        return self.source_uri

    @model_validator(mode="after")
    def _exactly_one_source(self):
        # A File step downloads "one file" from sourceUri (seed 003, line 484); without one it has nothing to do.
        if (self.source_file is None) == (self.source_uri is None):
            raise rule_error(
                "exactly one of 'sourceFile' or 'sourceUri' is required" if self.source_uri is None else
                "'sourceFile' and 'sourceUri' are mutually exclusive",
                field="sourceUri" if self.source_uri is not None else "sourceFile",
                hint="keep one: sourceFile (a file in the repository) or sourceUri (a URL)")
        return self


class ShellCustomizer(ScriptStep):
    """Runs a shell script or inline commands on a Linux build VM."""

    type: Literal["Shell"] = "Shell"


class PowerShellCustomizer(PowerShellFields):
    """Runs a PowerShell script or inline commands on a Windows build VM."""

    type: Literal["PowerShell"] = "PowerShell"


class FileCustomizer(FileFields):
    """Downloads one file (under 20 MB) to the build VM."""

    type: Literal["File"] = "File"


class WindowsRestartCustomizer(Step):
    """Restarts a Windows build VM and waits for it to come back."""

    type: Literal["WindowsRestart"] = "WindowsRestart"
    restart_command: Optional[str] = None
    """Default: shutdown /r /f /t 0 /c "packer restart"."""
    restart_check_command: Optional[str] = None
    restart_timeout: Optional[str] = None
    """A Go duration (magnitude and unit): 5m (the default), 2h, 1h30m, 300ms."""

    @field_validator("restart_timeout")
    @classmethod
    def _go_duration(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not is_go_duration(value):
            raise ValueError(f"{value!r} is not a duration (hint: a number and a unit, for example 5m, 1h30m or 300ms)")
        return value


class WindowsUpdateCustomizer(Step):
    """Installs Windows updates."""

    type: Literal["WindowsUpdate"] = "WindowsUpdate"
    search_criteria: Optional[str] = None
    filters: Optional[list[str]] = None
    update_limit: Optional[int] = Field(default=None, ge=0)
    """How many updates to install at a time. Default 0, which means 1000."""


class ShellValidator(ScriptStep):
    """Runs a shell script; a non-zero exit fails validation."""

    type: Literal["Shell"] = "Shell"


class PowerShellValidator(PowerShellFields):
    """Runs a PowerShell script; an exit code outside validExitCodes fails validation."""

    type: Literal["PowerShell"] = "PowerShell"


class FileValidator(FileFields):
    """Downloads one file to the validation VM (API 2022-07-01 and later)."""

    type: Literal["File"] = "File"


Customizer = Annotated[
    Union[ShellCustomizer, PowerShellCustomizer, FileCustomizer, WindowsRestartCustomizer, WindowsUpdateCustomizer],
    Field(discriminator="type"),
]
InVMValidator = Annotated[Union[ShellValidator, PowerShellValidator, FileValidator], Field(discriminator="type")]

WINDOWS_ONLY = (PowerShellCustomizer, WindowsRestartCustomizer, WindowsUpdateCustomizer, PowerShellValidator)
LINUX_ONLY = (ShellCustomizer, ShellValidator)
