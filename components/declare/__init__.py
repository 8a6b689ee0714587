"""Declaring a plan's resources with Pulumi: `pipeline.ImagePipeline` and the resources images share.

The stack program (`__main__.py`) validates the config (`components.model`), plans it (`components.plan`) and hands
each image's plan to `ImagePipeline`, which declares azure-native resources and the project's dynamic resources
(`components.providers`). Nothing here decides a name or a grant; it declares what the plan says.
"""
