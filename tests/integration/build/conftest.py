"""Fixtures of the build integration tests: an engine on the test state root."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from tests.teardown import take_down

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "build"


@pytest.fixture
def engine(engine_config: EngineConfig) -> Iterator[LocalEngine]:
    eng = LocalEngine(engine_config)
    try:
        yield eng
    finally:
        try:
            assert not take_down(eng)  # whatever a failed test left behind
        finally:
            eng.close()


@pytest.fixture
def fixture_context(short_tmp: Path) -> Iterator[Callable[[str], Path]]:
    """Copies a fixture directory into the test's temp dir (tests may change it)."""

    def copy(name: str) -> Path:
        dest = short_tmp / "ctx" / name
        shutil.copytree(FIXTURES / name, dest)
        return dest

    yield copy


@pytest.fixture(autouse=True)
def private_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Credentials files in a temp dir: tests never read or write the user's own."""
    monkeypatch.setenv("STACK_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path
