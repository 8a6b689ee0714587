"""A platform stack that owns its golden image: network, one ImagePipeline, and a scale set running the built image.

The image builds inside the stack's own build subnet (the pipeline grants its identity join rights on exactly that
subnet and waits for it), and the scale set takes `ImagePipeline.image_version_id`, the gallery image version the
build produced, so a new image version reaches the scale set's model in the same `pulumi up`. The image is configured
in Python here; `parse_stack_config` still runs every pre-flight rule, exactly as for the YAML stacks.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, compute, network, resources

# The component package is a dependency of this stack (requirements.txt), installed into its virtualenv.
from components.providers.build_run import BuildBarrier
from components.providers.dynamic_provider import dynamic_provider
from components.declare.adoption import adopted, import_option
from components.declare.pipeline import ImagePipeline, ImagePipelineArgs
from components.model.stack import parse_stack_config

LOCATION = "westeurope"
RG = f"rg-platform-{pulumi.get_stack()}"
VNET = "vnet-platform"
BUILD_SUBNET = "snet-image-builds"

config = pulumi.Config()
subscription_id = authorization.get_client_config().subscription_id
gallery_image_id = (f"/subscriptions/{subscription_id}/resourceGroups/{RG}/providers/Microsoft.Compute/galleries/"
                    f"gal_platform/images/web-ubuntu")
build_subnet_id = (f"/subscriptions/{subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/"
                   f"virtualNetworks/{VNET}/subnets/{BUILD_SUBNET}")

stack = parse_stack_config({
    "location": LOCATION,
    "resourceGroupName": RG,
    "images": {
        "web-ubuntu": {
            "gallery": {"imageDefinition": {"publisher": "contoso", "offer": "web-ubuntu", "sku": "platform"}},
            "template": {
                "tags": {"workload": "web"},
                "properties": {
                    "source": {"type": "PlatformImage", "publisher": "Canonical",
                               "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"},
                    "vmProfile": {"vmSize": "Standard_D2ds_v4", "vnetConfig": {"subnetId": build_subnet_id}},
                    "customize": [{"type": "Shell", "name": "nginx",
                                   "inline": ["sudo apt-get update", "sudo apt-get install -y nginx"]}],
                    "distribute": [{"type": "SharedImage", "runOutputName": "web-ubuntu",
                                    "galleryImageId": gallery_image_id,
                                    "targetRegions": [{"name": LOCATION}]}],
                },
            },
        },
    },
}, source="examples/platform")

# Kept on destroy (it holds the kept gallery), so a later `up` adopts the group it finds.
found_rg = adopted(f"resource group {RG}", lambda: resources.get_resource_group(resource_group_name=RG))
rg = resources.ResourceGroup("platform", resource_group_name=RG, location=LOCATION,
                             opts=pulumi.ResourceOptions(retain_on_delete=True, import_=import_option(found_rg)))
vnet = network.VirtualNetwork(
    "platform-vnet", resource_group_name=rg.name, virtual_network_name=VNET, location=LOCATION,
    address_space=network.AddressSpaceArgs(address_prefixes=["10.40.0.0/16"]))
build_subnet = network.Subnet(
    "image-build-subnet", resource_group_name=rg.name, virtual_network_name=vnet.name, subnet_name=BUILD_SUBNET,
    address_prefix="10.40.1.0/24",
    # AIB puts a private-link proxy in front of the build VM; the subnet must allow its service.
    private_link_service_network_policies="Disabled")
app_subnet = network.Subnet(
    "app-subnet", resource_group_name=rg.name, virtual_network_name=vnet.name, subnet_name="snet-app",
    address_prefix="10.40.2.0/24", opts=pulumi.ResourceOptions(depends_on=[build_subnet]))

# The provider of the pipeline's dynamic resources: explicit, so the stack's config is not recorded as its inputs.
dynamic = dynamic_provider()
with BuildBarrier(provider=dynamic) as barrier:
    web_image = ImagePipeline("web-ubuntu", ImagePipelineArgs(
        image=stack.images["web-ubuntu"], image_name="web-ubuntu", resource_group_name=RG,
        subscription_id=subscription_id, wait_for=[rg, build_subnet], build_barrier=barrier),
        pulumi.ResourceOptions(providers=[dynamic]))

scale_set = compute.VirtualMachineScaleSet(
    "web",
    resource_group_name=rg.name,
    vm_scale_set_name="vmss-web",
    location=LOCATION,
    sku=compute.SkuArgs(name="Standard_D2s_v5", tier="Standard", capacity=2),
    upgrade_policy=compute.UpgradePolicyArgs(mode=compute.UpgradeMode.ROLLING),
    virtual_machine_profile=compute.VirtualMachineScaleSetVMProfileArgs(
        os_profile=compute.VirtualMachineScaleSetOSProfileArgs(
            computer_name_prefix="web",
            admin_username="platform",
            linux_configuration=compute.LinuxConfigurationArgs(
                disable_password_authentication=True,
                ssh=compute.SshConfigurationArgs(public_keys=[compute.SshPublicKeyArgs(
                    path="/home/platform/.ssh/authorized_keys", key_data=config.require("sshPublicKey"))]),
            ),
        ),
        storage_profile=compute.VirtualMachineScaleSetStorageProfileArgs(
            # The version this stack's build just produced (not "latest"), so rollouts are explicit.
            image_reference=compute.ImageReferenceArgs(id=web_image.image_version_id),
            os_disk=compute.VirtualMachineScaleSetOSDiskArgs(
                create_option=compute.DiskCreateOptionTypes.FROM_IMAGE,
                managed_disk=compute.VirtualMachineScaleSetManagedDiskParametersArgs(
                    storage_account_type=compute.StorageAccountTypes.PREMIUM_LRS)),
        ),
        security_profile=compute.SecurityProfileArgs(
            security_type=compute.SecurityTypes.TRUSTED_LAUNCH,
            uefi_settings=compute.UefiSettingsArgs(secure_boot_enabled=True, v_tpm_enabled=True)),
        network_profile=compute.VirtualMachineScaleSetNetworkProfileArgs(
            network_interface_configurations=[compute.VirtualMachineScaleSetNetworkConfigurationArgs(
                name="web-nic", primary=True,
                ip_configurations=[compute.VirtualMachineScaleSetIPConfigurationArgs(
                    name="web-ip", subnet=compute.ApiEntityReferenceArgs(id=app_subnet.id))])]),
    ),
)

pulumi.export("imageVersionId", web_image.image_version_id)
pulumi.export("templateName", web_image.template_name)
pulumi.export("scaleSetId", scale_set.id)
