"""Fixtures shared by the unit tests: `load` runs the loader back-end (validate, normalize,
bind, checks) on YAML text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from orchestrator import model
from orchestrator.loader import bind, checks, normalize, validate
from orchestrator.loader.yamlread import read_yaml

LoadFn = Callable[..., model.Stack]


@pytest.fixture
def load(tmp_path: Path) -> LoadFn:
    """``load(text, env={})``: the typed Stack for ``text`` with project directory ``tmp_path``."""

    def run(text: str, *, env: Mapping[str, str] | None = None, name: str = "proj") -> model.Stack:
        doc = read_yaml(text, file="stack.yaml")
        validate.validate(doc.data, doc.sources, use_cache=False)
        data = normalize.normalize(doc.data, doc.sources, project_name=name,
                                   project_directory=tmp_path, environment=env or {})
        stack = bind.bind(data, doc.sources, project_name=name, project_directory=tmp_path,
                          files=(tmp_path / "stack.yaml",))
        checks.check(stack, doc.sources)
        return stack

    return run
