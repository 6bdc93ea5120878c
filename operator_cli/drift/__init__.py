"""Drift between the cluster and ConfigHub: detection (live objects vs the unit's head data),
attribution (server-side-apply managedFields), classification (rules.yaml), correction."""
