"""Three-way YAML merge used by upgrade (pure)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from confighub_local.merge import MergeConflict, three_way_merge

BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, labels: {x: '1'}}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - {name: app, image: 'img:1', env: [{name: A, value: '1'}]}
      - {name: side, image: 'side:1'}
---
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{name: http, port: 80}]}
"""


def merged(theirs: str, mine: str, base: str = BASE) -> list[Any]:
    return list(yaml.safe_load_all(three_way_merge(base.encode(), theirs.encode(), mine.encode())))


def test_disjoint_changes_merge_by_name_and_document() -> None:
    theirs = BASE.replace("img:1", "img:2").replace("port: 80", "port: 8080")
    mine = (
        BASE.replace("replicas: 1", "replicas: 3")
        .replace("side:1", "side:9")
        .replace("{name: A, value: '1'}", "{name: A, value: '1'}, {name: B, value: '2'}")
    )
    dep, svc = merged(theirs, mine)
    ctrs = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    assert dep["spec"]["replicas"] == 3
    assert ctrs["app"]["image"] == "img:2" and ctrs["side"]["image"] == "side:9"
    assert [e["name"] for e in ctrs["app"]["env"]] == ["A", "B"]
    assert svc["spec"]["ports"][0]["port"] == 8080


def test_deletions_and_new_documents_from_upstream() -> None:
    theirs = BASE.replace("labels: {x: '1'}", "labels: {}") + (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n"
    )
    mine = BASE.replace("replicas: 1", "replicas: 2")
    docs = merged(theirs, mine)
    assert docs[0]["metadata"]["labels"] == {} and docs[0]["spec"]["replicas"] == 2
    assert docs[-1]["kind"] == "ConfigMap"


def test_unchanged_side_returns_other_verbatim() -> None:
    theirs = BASE.replace("img:1", "img:2")
    assert three_way_merge(BASE.encode(), theirs.encode(), BASE.encode()) == theirs.encode()
    mine = BASE + "# local comment\n"
    assert three_way_merge(BASE.encode(), BASE.encode(), mine.encode()) == mine.encode()


def test_conflict_names_the_path() -> None:
    with pytest.raises(MergeConflict) as err:
        merged(
            BASE.replace("replicas: 1", "replicas: 2"), BASE.replace("replicas: 1", "replicas: 5")
        )
    assert "spec/replicas" in str(err.value)


def in_namespace(text: str, namespace: str) -> str:
    return text.replace("metadata: {name: a", f"metadata: {{namespace: {namespace}, name: a")


def test_downstream_in_its_own_namespace_merges_field_by_field() -> None:
    """The promotion case: staging moved dev's objects to its namespace and scaled them."""
    base = in_namespace(BASE, "dev")
    theirs = base.replace("img:1", "img:2")
    mine = in_namespace(BASE, "staging").replace("replicas: 1", "replicas: 3")
    dep, svc = merged(theirs, mine, base=base)
    assert dep["metadata"]["namespace"] == "staging" and svc["metadata"]["namespace"] == "staging"
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"


def test_same_name_in_two_namespaces_still_matches_by_namespace() -> None:
    two = in_namespace(BASE, "one") + "---\n" + in_namespace(BASE, "two")
    theirs = two.replace("img:1", "img:2", 1)  # only namespace one's Deployment
    mine = two.replace("replicas: 1", "replicas: 4").replace("replicas: 4", "replicas: 1", 1)
    docs = merged(theirs, mine, base=two)
    deps = {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "Deployment"}
    assert deps["one"]["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"
    assert deps["one"]["spec"]["replicas"] == 1
    assert deps["two"]["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    assert deps["two"]["spec"]["replicas"] == 4
