"""ARM-shaped errors and the service's published message texts.

This module owns every error the emulator can return: the `ArmError` exception that handlers raise
(turned into `{"error": {"code", "message"}}` bodies by the server) and the exact message texts of the
Azure VM Image Builder service that clients may match on (reference §3). Keeping the texts in one place
means a test or a client that greps for them checks the same strings the handlers produce.
"""

from __future__ import annotations

TMPL_REF = "http://aka.ms/azvmimagebuildertmplref"
TS_LINK = "https://aka.ms/azvmimagebuilderts"


class ArmError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def bad_value(path: str, field: str, value: object, why: str = "") -> ArmError:
    reason = f" ({why})" if why else ""
    return ArmError(
        400,
        "ValidationFailed",
        f"Validation failed: '{path}': Field '{field}' has a bad value: '{value}'{reason}. "
        f"Please review  {TMPL_REF}  for details on fields requirements in the Image Builder Template.",
    )


def missing_field(path: str, field: str) -> ArmError:
    return ArmError(
        400,
        "ValidationFailed",
        f"Validation failed: '{path}': Missing field {field}. Please review {TMPL_REF} for details on "
        "fields required in the Image Builder Template.",
    )


def validation(message: str) -> ArmError:
    return ArmError(400, "ValidationFailed", f"Validation failed: {message}")


def unmarshalling(chain: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"Unmarshalling entity encountered error: {chain}. There is an issue with the syntax with the JSON "
        "template you are submitting. Please check the JSON template for syntax and grammar. For more "
        f"information on the syntax and grammar of the JSON template, visit {TMPL_REF}.",
    )


def update_not_supported() -> ArmError:
    return ArmError(
        409,
        "Conflict",
        "Update/Upgrade of image templates is currently not supported. Please change the name of the template "
        "you are submitting. If you have previously tried to submit a template and it failed to provision, you "
        f"must delete it first and then resubmit. For more information, go to {TS_LINK}.",
    )


def distribute_target_removed(run_output_name: str) -> ArmError:
    return validation(
        f"Distribute target with Runoutput name {run_output_name} not found in the update request. "
        "Deleting a distribution target is not allowed."
    )


def not_allowed(action: str, run_state: str) -> ArmError:
    return ArmError(
        409,
        "OperationNotAllowed",
        f"Operation Microsoft.VirtualMachineImages/imageTemplates/{action} is not allowed in provisioning "
        f"state: provisioned or run state: {run_state.lower()}.",
    )


def not_allowed_provisioning(method: str, provisioning_state: str) -> ArmError:
    return ArmError(
        409,
        "OperationNotAllowed",
        f"Operation '{method}' is not allowed in provisioningState: '{provisioning_state.lower()}'",
    )


def not_authorized_text(resource_id: str) -> str:
    return (
        f"Not authorized to access the resource: {resource_id}. Please check the user assigned identity has "
        f"the correct permissions. For more details, go to {TS_LINK}."
    )


def packer_failure_text(log_url: str, operation_id: str) -> str:
    return (
        "Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error "
        "when executing packerizer: Packer build command has failed: exit status 1. During the image build, a "
        "failure has occurred, please review the build log to identify which build/customization step failed. "
        f"For more troubleshooting steps go to {TS_LINK}. Image Build log location: {log_url}. "
        f"OperationId: {operation_id}. Use this operationId to search packer logs."
    )


def not_found(type_name: str, name: str, rg: str | None) -> ArmError:
    where = f" under resource group '{rg}'" if rg else ""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{type_name}/{name}'{where} was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )


def rg_not_found(rg: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
