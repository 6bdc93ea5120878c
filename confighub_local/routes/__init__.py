"""HTTP routes, one module per entity family."""
