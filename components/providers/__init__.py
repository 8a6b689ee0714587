"""The dynamic resources and the providers that serve them in Pulumi's dynamic-provider process.

Each module pairs a `pulumi.dynamic.Resource` the stack declares with the `ResourceProvider` that runs its create,
diff, update and delete in the provider process: `build_run` (start a template's Run, wait for it, surface
`runOutputs`), `lifecycle` (gallery image-version retention and promotion), `role_settle`, `script_blob`,
`template_tags` and `versioned_template`; `arm_client` and `credentials` give them Azure clients. Providers are pickled
by reference, so a module here is named in every stack's state: a module that moves gets an entry in
`components.moved`. Imports only `components.model`, `components.arm` and `components.plan`.
"""
