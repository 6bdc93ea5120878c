"""Pure modules: what the code says, with no Pulumi and no API calls (unit-tested alone).

Flow, one way: `settings` (validated stack config) and `catalog` (the TraderX facts) →
`manifests` (Kubernetes YAML per unit) → `declared` (the few fields a stack owns in each of its
units) ; `layout` (spaces, labels, filters, sets, links) names where it all goes in ConfigHub.
"""
