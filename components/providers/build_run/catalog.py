"""The catalog of known Azure VM Image Builder build failures: what the log or run message says, why, and the fix.

Data only. Each `Entry` names the patterns (case-insensitive regexes, searched in `lastRunStatus.message` and in each
`customization.log` line) that identify it, the cause and the fix in a line each, the public source it comes from,
and `sample`: a text the service writes for it, which the emulator injects (`Faults.failure_text`) so every entry has
a test that produces it. `phase` is where that text appears (a Customizing step, or the Building, Distributing or
Queued phase). Order matters: the first entry that matches is the primary cause, so specific entries come before
generic ones (a replication timeout before a build timeout, everything before a plain non-zero exit).
"""

from __future__ import annotations

from dataclasses import dataclass

TS = "https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-troubleshoot"
NETWORKING = "https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-networking"
TEMPLATE_REF = "https://learn.microsoft.com/azure/virtual-machines/linux/image-builder-json"


@dataclass(frozen=True)
class Entry:
    id: str
    patterns: tuple[str, ...]
    cause: str
    fix: str
    source: str
    sample: str
    phase: str = "Customizing"


CATALOG: tuple[Entry, ...] = (
    Entry("windows-update-pending-restart",
          (r"0x80240016", r"WU_E_INSTALL_NOT_ALLOWED"),
          "Windows Update started while a restart or an installation from an earlier step was still pending.",
          "Add a WindowsRestart step (and let installers finish, e.g. Start-Sleep) right before the WindowsUpdate step.",
          "https://github.com/danielsollondon/azvmimagebuilder/issues/66",
          "azure-arm: ERROR EXCEPTION: System.Runtime.InteropServices.COMException (0x80240016): "
          "Exception from HRESULT: 0x80240016"),
    Entry("windows-restart-1190",
          (r"shutdown has already been scheduled\.?\s*\(1190\)", r"Timeout waiting for machine to restart"),
          "A WindowsRestart step timed out: a shutdown was already scheduled (often Windows Update declared too early "
          "on Windows Server 2016).",
          "Raise the WindowsRestart step's restartTimeout (e.g. 30m) and restart before Windows Update.",
          f"{TS}#windows-restart-continually-fails-with-error-code-1190",
          "==> azure-arm: A system shutdown has already been scheduled.(1190)\n"
          "--> azure-arm: Timeout waiting for machine to restart."),
    Entry("windows-low-resources",
          (r"system shutdown is in progress\.?\s*\(1115\)", r"Machine not yet available \(exit status 1115\)"),
          "The build VM ran out of resources during Windows Update (common with the default Standard_D1_v2).",
          "Set vmProfile.vmSize to a larger size (e.g. Standard_D4ds_v5).",
          f"{TS}#information-events-show-low-windows-resources",
          "==> azure-arm: A system shutdown is in progress.(1115)\n"
          "packer-provisioner-windows-update: Retryable error: Machine not yet available (exit status 1115)"),
    Entry("sysprep-timing",
          (r"IMAGE_STATE_UNDEPLOYABLE", r"Cannot find any service with service name 'WindowsAzureGuestAgent'"),
          "Sysprep ran before the Azure guest agent was fully installed (very short customizations on a small VM).",
          "Use a larger build VM or add a PowerShell step `Start-Sleep -Seconds 60` before the end of the build.",
          f"{TS}#theres-a-sysprep-timing-problem",
          "==> azure-arm: Get-Service : Cannot find any service with service name 'WindowsAzureGuestAgent'.\n"
          "azure-arm: IMAGE_STATE_UNDEPLOYABLE"),
    Entry("deprovision-script-missing",
          (r"Deprovisioning script \[[^\]]*\] could not be found",),
          "A customizer deleted the service's deprovisioning script (c:\\DeprovisioningScript.ps1 or "
          "/tmp/DeprovisioningScript.sh).",
          "Do not delete or move the deprovisioning script in a customizer (use `deprovision.commands` to change it).",
          f"{TS}#stages-of-the-customization-log",
          "Deprovisioning script [c:\\DeprovisioningScript.ps1] could not be found. Image build may fail or the VM "
          "created from the Image may not boot."),
    Entry("sysprep-in-customizer",
          (r"Sysprep.*(fatal error|failed|is not able to validate)", r"waagent.*-deprovision.*(error|failed)"),
          "A customizer ran sysprep or `waagent -deprovision` itself; the service generalizes the VM after the last "
          "step and fails when it is already generalized.",
          "Remove sysprep/waagent from the customizers (the service deprovisions; override with deprovision.commands).",
          f"{TS}#stages-of-the-customization-log",
          "azure-arm: Sysprep.exe: A fatal error occurred while trying to sysprep the machine."),
    Entry("identity-not-authorized",
          (r"Not authorized to access the resource",),
          "The template identity lacks a role on the resource named (or a new role assignment has not propagated yet).",
          "Grant the identity the role on that resource (manageRoles does it; wait for propagation: "
          "rolePropagationSeconds), then run again.",
          f"{TS}#assigned-managed-identity-isnt-authorized-to-access-a-resource",
          "Not authorized to access the resource: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
          "rg/providers/Microsoft.Compute/galleries/gal. Please check the user assigned identity has the correct "
          "permissions. For more details, go to https://aka.ms/azvmimagebuilderts.",
          phase="Queued"),
    Entry("identity-unusable",
          (r"assigned managed identity cannot be used",),
          "The template's identity no longer exists or was replaced (e.g. deleted before the template).",
          "Recreate the identity and PATCH the template identity (or let `pulumi up` replace the template).",
          f"{TS}#assigned-managed-identity-on-an-image-template-cant-be-used",
          "The assigned managed identity cannot be used. Please remove the existing one and re-assign a new identity. "
          "For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts.",
          phase="Queued"),
    Entry("authorization-failed",
          (r"AuthorizationFailed", r"does not have authorization to perform action"),
          "The identity (or the AIB service principal) may not perform an action on a source, target or network "
          "resource.",
          "Grant the action named in the log on that scope (see the permissions docs); for an existing VNet with a "
          "Windows source, Contributor on the resource group to 'Azure Virtual Machine Image Builder'.",
          f"{TS}#error-occurs-with-getting-a-managed-image",
          "Status=403 Code=\"AuthorizationFailed\" Message=\"The client '1111' with object id '1111' does not have "
          "authorization to perform action 'Microsoft.Compute/images/read' over scope '/subscriptions/x'\"",
          phase="Building"),
    Entry("storage-public-access",
          (r"PublicAccessNotPermitted", r"Public access is not permitted on this storage account"),
          "A script or file URI points at a storage account whose firewall or public-access setting blocks the build.",
          "Use both vnetConfig subnets and allow the ACI subnet in the storage firewall, or host the file where the "
          "build can reach it (the identity needs Storage Blob Data Reader).",
          "https://github.com/Azure/azvmimagebuilder/issues/32",
          "==> azure-arm: Error downloading 'https://acct.blob.core.windows.net/scripts/setup.ps1': 409 "
          "<Code>PublicAccessNotPermitted</Code> Public access is not permitted on this storage account."),
    Entry("blob-permission-mismatch",
          (r"AuthorizationPermissionMismatch",),
          "The template identity may not read the script/file blob (no data role on its container).",
          "Grant the identity 'Storage Blob Data Reader' on the container (scriptsStorageAccountId does it).",
          "https://github.com/Azure/azvmimagebuilder/issues/60",
          "==> azure-arm: Error downloading 'https://acct.blob.core.windows.net/scripts/setup.sh': 403 This request "
          "is not authorized to perform this operation using this permission. (AuthorizationPermissionMismatch)"),
    Entry("checksum-mismatch",
          (r"Checksums did not match", r"checksum (mismatch|does not match)"),
          "The file downloaded for a step does not have the sha256Checksum the template pins (the script changed).",
          "Update sha256Checksum to the file's current SHA-256 (or pin an immutable URL); `script:` files are hashed "
          "for you.",
          f"{TEMPLATE_REF}#properties-customize",
          "==> azure-arm: Error downloading 'https://acct.blob.core.windows.net/scripts/setup.sh': Checksums did not "
          "match. Expected: 00ff Got: 11ee"),
    Entry("blob-not-found",
          (r"BlobNotFound", r"specified blob does not exist"),
          "A script or file URI names a blob that does not exist.",
          "Fix the URI (container and path) or upload the file before the build.",
          f"{TS}#error-occurs-with-downloading-an-external-file-to-a-local-file",
          "==> azure-arm: Error downloading 'https://acct.blob.core.windows.net/scripts/x.sh': 404 The specified "
          "blob does not exist. (BlobNotFound)"),
    Entry("download-failed",
          (r"Downloading external file .* failed", r"Error downloading '[^']+'"),
          "A script or file URI could not be downloaded (wrong URL, unreachable host, or an unsupported TLS cipher).",
          "Check the URL; store scripts in Azure Storage for reachability and supported ciphers.",
          f"{TS}#error-occurs-with-downloading-an-external-file-to-a-local-file",
          "Downloading external file (https://example.org/x.sh) to local file (x.0.customizer.fp) [attempt 1 of 10] "
          "failed: Error downloading 'https://example.org/x.sh' to 'x.0.customizer.fp'.."),
    Entry("no-outbound-access",
          (r"dial tcp [^ ]+: i/o timeout", r"Temporary failure (in )?name resolution", r"Could not resolve host",
           r"remote name could not be resolved", r"Unable to connect to the remote server"),
          "The build VM has no outbound internet path: subnets created since March 2026 have no default outbound "
          "access.",
          "Attach a NAT gateway to the build subnet (or route 0.0.0.0/0 through a firewall); `preflight` checks it.",
          "https://learn.microsoft.com/azure/virtual-machines/image-builder-api-update-release-notes",
          "azure-arm: curl: (6) Could not resolve host: packages.microsoft.com"),
    Entry("winrm-timeout",
          (r"Timeout waiting for WinRM",),
          "The service could not reach the Windows build VM over WinRM (5986): an NSG or firewall blocks it (VNet "
          "builds: 60000 from AzureLoadBalancer to the proxy), or the VM is too small to start WinRM in time.",
          "Allow AzureLoadBalancer on 60000-60001 and 5986 inside the VNet, disable privateLinkServiceNetworkPolicies "
          "on the subnet, or use a larger vmSize.",
          "https://github.com/danielsollondon/azvmimagebuilder/issues/14",
          "PACKER OUT Build 'azure-arm' errored: Timeout waiting for WinRM.", phase="Building"),
    Entry("ssh-timeout",
          (r"Timeout waiting for SSH", r"ssh: handshake failed", r"Waiting for SSH.*timeout"),
          "The service could not reach the Linux build VM over SSH (22; VNet builds: 60001 to the proxy VM).",
          "Allow AzureLoadBalancer on 60000-60001 and port 22 inside the VNet, and disable "
          "privateLinkServiceNetworkPolicies on the build subnet.",
          f"{NETWORKING}#checklist-for-using-your-virtual-network",
          "PACKER OUT Build 'azure-arm' errored: Timeout waiting for SSH.", phase="Building"),
    Entry("connection-lost",
          (r"Cancelling builder after context cancellation", r"Remote command exited without exit status"),
          "The service lost its connection to the build VM during a step (a script enabled a firewall or changed "
          "WinRM/SSH).",
          "Keep ports 22 (Linux) / 5986 (Windows) open and WinRM/SSH unchanged in your scripts.",
          f"{TS}#build-is-canceled-after-context-cancellation",
          "Cancelling builder after context cancellation context canceled\n"
          "packer-builder-azure-arm plugin: [ERROR] Remote command exited without exit status or exit signal."),
    Entry("replication-timeout",
          (r"Error publishing MDI to Azure Compute Gallery.*(context deadline exceeded|context has been cancelled)",),
          "The image was built, but AIB timed out waiting for Azure Compute Gallery replication.",
          "Raise buildTimeoutInMinutes (it covers replication), or reduce replicas/regions; replication continues "
          "in the gallery.",
          f"{TS}#error-occurs-with-waiting-for-azure-compute-gallery",
          "Error publishing MDI to Azure Compute Gallery:/subscriptions/x/resourceGroups/rg/providers/Microsoft."
          "Compute/galleries/gal/images/img, Location:westeurope. Error: Future#WaitForCompletion: context has been "
          "cancelled: StatusCode=200 -- Original Error: context deadline exceeded", phase="Distributing"),
    Entry("build-timeout",
          (r"Timeout waiting for microservice to complete", r"Failed in building/customizing image.*deadline"),
          "The build ran longer than buildTimeoutInMinutes (a step waited for input, a large download, or too "
          "little time for Windows Update).",
          "Make steps non-interactive (e.g. apt-get -y), use a larger vmSize, or raise buildTimeoutInMinutes.",
          f"{TS}#deployment-fails-due-to-timeout",
          "Deployment failed. Correlation ID: 1. Failed in building/customizing image: Failed while waiting for "
          "packerizer: Timeout waiting for microservice to complete: 'context deadline exceeded'", phase="Queued"),
    Entry("jwt-timeout",
          (r"client_jwt will expire within 5 minutes",),
          "buildTimeoutInMinutes is between 1 and 5.",
          "Set buildTimeoutInMinutes to 0 (240 minutes) or at least 6.",
          f"{TS}#jwt-errors-appear-in-the-log-early-in-the-build",
          "* client_jwt will expire within 5 minutes, please use a JWT that is valid for at least 5 minutes",
          phase="Building"),
    Entry("sku-not-available",
          (r"SkuNotAvailable", r"requested VM size .* is currently not available"),
          "The build or proxy VM size is not available in the template's region for this subscription.",
          "Choose another vmProfile.vmSize / proxyVmSize offered in the region (`az vm list-skus -l <region>`); "
          "`preflight` checks it.",
          "https://aka.ms/azureskunotavailable",
          "Code=\"SkuNotAvailable\" Message=\"The requested VM size for resource 'Following SKUs have failed for "
          "Capacity Restrictions: Standard_D4ds_v5' is currently not available in location 'westeurope'.\"",
          phase="Building"),
    Entry("vcpu-quota",
          (r"QuotaExceeded", r"exceeding quota limit of \S+ Cores"),
          "The subscription's vCPU quota for the build VM's family (or the regional total) is used up.",
          "Request more quota for that family in the region, pick another vmSize family, or build fewer images at "
          "once.",
          "https://github.com/danielsollondon/azvmimagebuilder/issues/9",
          "{\"code\":\"QuotaExceeded\",\"message\":\"The operation couldn't be completed as it results in exceeding "
          "quota limit of standardDDSv4Family Cores. Maximum allowed: 10, Current in use: 10, Additional "
          "requested: 2.\"}", phase="Building"),
    Entry("aci-not-registered",
          (r"Container Instances provider not registered",),
          "Microsoft.ContainerInstance is not registered in the subscription (isolated builds need it).",
          "az provider register -n Microsoft.ContainerInstance",
          f"{TS}#azure-container-instances-provider-is-unregistered",
          "Azure Container Instances provider not registered for your subscription.", phase="Queued"),
    Entry("aci-quota",
          (r"Container Instances quota exceeded", r"Too many Azure Container Instances deployed"),
          "The subscription's Azure Container Instances quota (4 cores per build) is used up.",
          "Run fewer builds at once, remove unused container groups, or request more ACI quota.",
          f"{TS}#subscription-exceeded-the-azure-container-instances-quota",
          "Azure Container Instances quota exceeded", phase="Queued"),
    Entry("policy-denied",
          (r"RequestDisallowedByPolicy", r"disallowed by policy"),
          "An Azure Policy assignment denies a resource the build creates in the staging resource group "
          "(public IP, storage account, key vault, ACI, ...).",
          "Exempt the staging resource group from that assignment, or change the build so it does not need the "
          "resource (e.g. a VNet build); `preflight` lists deny assignments.",
          f"{TS}#template-deployment-failed-because-of-a-policy-violation",
          "{\"code\":\"RequestDisallowedByPolicy\",\"message\":\"Resource 'pkrkv1' was disallowed by policy.\"}",
          phase="Building"),
    Entry("security-type-source",
          (r"(TrustedLaunch|ConfidentialVM)\b.*not supported", r"security type .*not supported as (a )?source"),
          "The source image is a Trusted Launch or Confidential VM image; only *Supported security types can be "
          "sources.",
          "Use a TrustedLaunchSupported (or ConfidentialVmSupported) source and image definition.",
          "https://learn.microsoft.com/azure/virtual-machines/image-builder-overview",
          "Source image security type 'TrustedLaunch' is not supported as a source. Use TrustedLaunchSupported.",
          phase="Queued"),
    Entry("platform-image-not-found",
          (r"Platform Image was not found", r"Artifact: VMImage was not found"),
          "The marketplace source (publisher/offer/sku/version) does not exist in the template's region.",
          "Check it with `az vm image list -l <region> -p <publisher> -f <offer> -s <sku> --all`.",
          "https://github.com/Azure/azvmimagebuilder/issues/34",
          "Platform Image was not found. location: westeurope, publisherName: MicrosoftWindowsDesktop, offer: "
          "Windows-10, sku: 19h1-evd, version: latest.", phase="Queued"),
    Entry("source-version-not-found",
          (r"Build \((Shared Image Version|Managed Image)\) step failed.*(404|not found)",),
          "The gallery or managed source image does not exist (or not in the template's region).",
          "Fix the source id, or replicate the source version to the template's region.",
          f"{TS}#build-step-failed-for-the-image-version",
          "Build (Shared Image Version) step failed for Image Version '/subscriptions/x/versions/1.0.0': "
          "StatusCode=404 Code=\"ResourceNotFound\" The Resource was not found.", phase="Building"),
    Entry("script-failed",
          (r"non-zero exit status", r"exited with code: [1-9]", r"Script exited with"),
          "A script or inline command of the step exited non-zero.",
          "Run the step's commands on a test VM; make them non-interactive and exit 0 (Write-Host/echo help find "
          "the failing line in customization.log).",
          f"{TS}#troubleshoot-script-or-inline-customization",
          "==> azure-arm: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]"),
)
