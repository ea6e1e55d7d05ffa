"""Secrets and configs to mounts, for each source kind: a ``file`` is bound, an
``environment`` variable's value or inline ``content`` travels as a "file" mount."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import convert
from orchestrator.convert import desired_services
from orchestrator.errors import StackError
from tests.unit.plan.stacks import LoadFn

TEXT = """
services:
  app:
    image: busybox:latest
    secrets:
      - token
      - {source: token, target: renamed, uid: "1000", gid: "1001", mode: 0400}
      - {source: token, target: /abs/token}
      - pw
    configs:
      - inline
      - {source: inline, target: etc/app.conf, mode: 0440}
      - {source: fromenv, target: /etc/env.conf}
      - onfile
secrets:
  token: {environment: TOKEN}
  pw: {file: ./pw.txt}
configs:
  inline: {content: "key=value\\n"}
  fromenv: {environment: CONF}
  onfile: {file: ./c.conf}
"""

ENV = {"TOKEN": "t0ken", "CONF": ""}


def _mounts(load: LoadFn, environ: dict[str, str]) -> list[tuple[object, ...]]:
    stack = load(TEXT)
    return [(x.type, x.source, x.target, x.read_only, x.content, x.file_mode, x.file_uid,
             x.file_gid) for x in convert.mounts(stack, stack.services["app"], environ=environ)]


def test_each_source_kind_at_compose_targets(load: LoadFn, tmp_path: Path) -> None:
    pw, conf = str(tmp_path / "pw.txt"), str(tmp_path / "c.conf")
    assert _mounts(load, ENV) == [
        # secrets: relative targets under /run/secrets/; mode None is the engine's 0444
        ("file", "", "/run/secrets/token", True, b"t0ken", None, None, None),
        ("file", "", "/run/secrets/renamed", True, b"t0ken", 0o400, 1000, 1001),
        ("file", "", "/abs/token", True, b"t0ken", None, None, None),
        ("bind", pw, "/run/secrets/pw", True, b"", None, None, None),
        # configs: relative targets under /; an empty variable is an empty file
        ("file", "", "/inline", True, b"key=value\n", None, None, None),
        ("file", "", "/etc/app.conf", True, b"key=value\n", 0o440, None, None),
        ("file", "", "/etc/env.conf", True, b"", None, None, None),
        ("bind", conf, "/onfile", True, b"", None, None, None),
    ]


def test_container_config_carries_the_bytes(load: LoadFn) -> None:
    stack = load(TEXT)
    want = desired_services(stack, environ=ENV)["app"]
    identity = convert.ServiceIdentity(project="proj", config_hash=want.config_hash,
                                       field_hashes=want.field_hashes)
    cfg = convert.container_config(stack, stack.services["app"], number=1, identity=identity,
                                   environ=ENV)
    files = {x.target: x.content for x in cfg.mounts if x.type == "file"}
    assert files["/run/secrets/token"] == b"t0ken"
    assert "t0ken" not in repr(cfg.mounts)  # a secret stays out of logs and reprs


def test_unset_variable_names_service_and_secret(load: LoadFn) -> None:
    with pytest.raises(StackError) as err:
        _mounts(load, {"CONF": "x"})
    assert str(err.value) == (
        'services.app.secrets[0]: secret "token": environment variable "TOKEN" is not set\n'
        "  hint: set TOKEN in the environment or an env file")


def test_non_numeric_uid_is_an_error(load: LoadFn) -> None:
    stack = load(TEXT.replace('uid: "1000"', 'uid: "www"'))
    with pytest.raises(StackError) as err:
        convert.mounts(stack, stack.services["app"], environ=ENV)
    assert str(err.value) == 'services.app.secrets[1]: secret "token": uid "www" must be a number'


def test_config_hash_follows_the_content(load: LoadFn) -> None:
    stack = load(TEXT)
    before = desired_services(stack, environ=ENV)["app"].config_hash
    assert desired_services(stack, environ=dict(ENV))["app"].config_hash == before
    assert desired_services(stack, environ={**ENV, "TOKEN": "new"})["app"].config_hash != before
    edited = load(TEXT.replace("key=value", "key=other"))
    assert desired_services(edited, environ=ENV)["app"].config_hash != before
