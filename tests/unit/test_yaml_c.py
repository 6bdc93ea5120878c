"""libyaml's C loader and emitter (used for speed in components/model/manifests.py and
components/confighub/fields.py) give exactly what the pure-Python ones give for every unit the
program renders: the same text (ConfigHub stores it) and the same documents."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from benchmarks.bench_support import ENVS, stack_settings
from components.confighub import fields
from components.model.catalog import START_ORDER
from components.model.declared import environment_fields
from components.model.manifests import (
    RenderContext,
    base_context,
    context_for,
    render_component,
    to_yaml,
)

pytestmark = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml"
)


class PureNoAlias(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def contexts() -> list[tuple[str, RenderContext]]:
    found = [("base", base_context())]
    for env in ENVS:
        settings = stack_settings(env, "yaml-c", f"yaml-c-{env}", "http://127.0.0.1:1", "t")
        found.append((env, context_for(settings)))
    return found


@pytest.mark.parametrize(("env", "ctx"), contexts(), ids=lambda v: v if isinstance(v, str) else "")
def test_c_yaml_writes_and_reads_what_pure_python_does(env: str, ctx: RenderContext) -> None:
    for component in START_ORDER:
        docs = render_component(ctx, component)
        pure = yaml.dump_all(docs, Dumper=PureNoAlias, sort_keys=True, default_flow_style=False)
        assert to_yaml(docs) == pure, (env, component)
        assert fields.load(pure) == [d for d in yaml.safe_load_all(pure) if d is not None]
        declared = environment_fields(ctx, component, image=True)
        values = fields.decode(declared)
        expected = yaml.safe_dump_all(
            fields.load(pure) if not values else _applied(pure, values),
            sort_keys=True,
            default_flow_style=False,
        )
        assert fields.apply(pure, values) == expected, (env, component)


def _applied(text: str, values: dict[str, Any]) -> list[Any]:
    return list(yaml.safe_load_all(fields.apply(text, values)))
