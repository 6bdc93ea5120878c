"""A Pulumi program with one space and N units (stack config `chtest:prefix`, `chtest:count`).

Used by the crash test as a real project directory (the CLI runs it, so SIGKILL hits the whole
engine: CLI, language host and dynamic provider process).
"""

import pulumi

from components.confighub import Space, Unit

cfg = pulumi.Config()
prefix = cfg.require("prefix")
count = cfg.require_int("count")
space = Space("space", slug=prefix)
for i in range(count):
    Unit(
        f"unit-{i}",
        space_id=space.space_id,
        slug=f"svc-{i:02d}",
        data=(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: svc-{i:02d}}}\n"
            f"data: {{i: '{i}'}}\n"
        ),
        labels={"index": str(i)},
    )
pulumi.export("space_id", space.space_id)
