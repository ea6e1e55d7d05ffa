"""Fixtures for the planner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.plan.stacks import LoadFn, load_text


@pytest.fixture
def load(tmp_path: Path) -> LoadFn:
    return lambda text: load_text(text, tmp_path)
