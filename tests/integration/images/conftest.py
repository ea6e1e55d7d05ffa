"""Fixtures of the image integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.config import EngineConfig
from runtime.engine import LocalEngine


@pytest.fixture
def engine(engine_config: EngineConfig) -> Iterator[LocalEngine]:
    eng = LocalEngine(engine_config)
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture(autouse=True)
def private_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Credentials files in a temp dir: tests never read or write the user's own."""
    monkeypatch.setenv("STACK_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    return tmp_path
