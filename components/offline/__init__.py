"""Running the stack program without an engine: under the Pulumi SDK's mocks (`program`), and `synth`, which reports
what a stack would declare. `arm_shapes` holds azure-native's own request-body rules, which the mocks and the local
stand-in (`components.local.azure_native`) both follow.
"""
