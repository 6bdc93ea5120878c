"""The operator CLI (`traderx`): day-2 work that is not a config change.

Layers, each a subpackage or module with one job:

- `output`: how results, progress and failures reach the user (Rich for people, `--json` for
  machines) and the meaning of every exit code;
- `hub`: the ConfigHub connection, through the project's one typed client
  (`components.confighub.client`), and the project's spaces;
- `backup`: backup format (manifest, checksums), snapshot from ConfigHub, verification, restore;
- `cost`: the pure cost model and its price configuration;
- `stacks`: the Pulumi Automation API for actions that change stack config and run `up`;
- `app`: the Typer commands that tie them together.
"""
