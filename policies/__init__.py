"""TraderX prod gate: a Pulumi policy pack (run it with `pulumi preview --policy-pack policies`).

Each module holds one rule family; `pack.build_policies()` lists them and `__main__.py` serves
them to the Pulumi engine. See README.md for the rules, the levels and how "prod" is decided.
"""
