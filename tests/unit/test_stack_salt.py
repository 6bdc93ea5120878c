"""The stack-file editing behind `init_stack` (operator_cli/stacks.py): where a shared passphrase
salt goes and which sibling's salt is taken. Pure file work; the engine side is in
tests/ops/test_stacks_init.py."""

from __future__ import annotations

from pathlib import Path

import yaml

from operator_cli.stacks import _shared_salt, _wants_salt, stack_file, stack_of, with_salt

SALT = "v1:PddYh5FkCN0=:v1:Vkxt2P+Q6mCnRhd0:teE6yzNiVybFrdX05otapgLhXi+Dxg=="
OTHER = "v1:wB5P5jQej+4=:v1:lJO0VIeiKtJoEaaA:EnosFGPY2yx8pyscQSZMwd2dlT7Ouw=="

STAGING = """\
# staging: units downstream of dev's.
#   pulumi config set --path 'traderx:promote.trade-service' 3 -s staging
config:
  confighub:url: http://127.0.0.1:8765
  # per service
  traderx:services:
    trade-service:
      replicas: 2
"""


def test_salt_line_goes_before_the_first_key_keeping_comments_and_settings() -> None:
    out = with_salt(STAGING, SALT)
    lines = out.splitlines()
    assert lines[:2] == STAGING.splitlines()[:2]  # the leading comments stay first
    assert lines[2] == f"encryptionsalt: {SALT}"
    assert out.replace(f"encryptionsalt: {SALT}\n", "") == STAGING  # nothing else moved
    assert yaml.safe_load(out) == {"encryptionsalt": SALT, **yaml.safe_load(STAGING)}


def test_empty_and_comment_only_files_get_just_the_salt() -> None:
    assert yaml.safe_load(with_salt("", SALT)) == {"encryptionsalt": SALT}
    only = with_salt("# nothing yet", SALT)
    assert only.startswith("# nothing yet\n")
    assert yaml.safe_load(only) == {"encryptionsalt": SALT}


def test_a_layout_that_would_not_parse_back_is_redumped_with_the_same_settings() -> None:
    flow = "{config: {a:b: c}}\n"  # flow style: a line before it would break the mapping
    out = with_salt(flow, SALT)
    assert yaml.safe_load(out) == {"encryptionsalt": SALT, "config": {"a:b": "c"}}
    documents = "---\nconfig:\n  a:b: c\n"
    assert yaml.safe_load(with_salt(documents, SALT)) == {
        "encryptionsalt": SALT,
        "config": {"a:b": "c"},
    }


def test_only_a_file_without_salt_or_other_provider_takes_one(tmp_path: Path) -> None:
    cases = {
        "missing": None,
        "plain": STAGING,
        "passphrase": "secretsprovider: passphrase\n",
        "salted": f"encryptionsalt: {OTHER}\n",
        "cloud": "secretsprovider: awskms://alias/x\nencryptedkey: abc\n",
        "broken": "config: [unclosed\n",  # not YAML: left for `pulumi stack init` to report
    }
    wants = {}
    for name, text in cases.items():
        path = tmp_path / f"Pulumi.{name}.yaml"
        if text is not None:
            path.write_text(text)
        wants[name] = _wants_salt(path)
    assert wants == {
        "missing": True,
        "plain": True,
        "passphrase": True,
        "salted": False,
        "cloud": False,
        "broken": False,
    }


def test_the_most_shared_passphrase_salt_of_the_first_folder_that_has_one(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "p", tmp_path / "q"
    project.mkdir()
    elsewhere.mkdir()
    own = project / "Pulumi.new.yaml"
    own.write_text(f"encryptionsalt: {OTHER}\n")  # its own file never counts
    (project / "Pulumi.a.yaml").write_text(f"encryptionsalt: {OTHER}\n")
    (project / "Pulumi.b.yaml").write_text(f"encryptionsalt: {SALT}\nconfig: {{}}\n")
    (project / "Pulumi.c.yaml").write_text(f"encryptionsalt: {SALT}\n")
    (project / "Pulumi.kms.yaml").write_text(
        f"secretsprovider: awskms://k\nencryptionsalt: {SALT}\n"
    )
    assert _shared_salt(own, [project]) == (project / "Pulumi.b.yaml", SALT)
    empty = tmp_path / "empty"
    empty.mkdir()
    (elsewhere / "Pulumi.up.yaml").write_text(f"encryptionsalt: {OTHER}\n")
    assert _shared_salt(empty / "Pulumi.x.yaml", [empty, elsewhere]) == (
        elsewhere / "Pulumi.up.yaml",
        OTHER,
    )
    assert _shared_salt(empty / "Pulumi.x.yaml", [empty]) is None


def test_stack_file_follows_stack_config_dir_and_qualified_names(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    assert stack_file(tmp_path, "org/x/dev") == tmp_path / "Pulumi.dev.yaml"
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\nstackConfigDir: cfg\n")
    assert stack_file(tmp_path, "dev") == tmp_path / "cfg" / "Pulumi.dev.yaml"
    assert stack_of(tmp_path / "cfg" / "Pulumi.prod-eu.yaml") == "prod-eu"
