"""Pulumi components: the stack's resources, built from the pure `components.model` output.

`program` reads settings and wires `environment` (ConfigHub spaces, units, links, worker,
target via `hub`) and `platform` (pulumi-kubernetes guard rails) together.
"""
