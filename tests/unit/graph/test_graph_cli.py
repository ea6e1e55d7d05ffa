"""`stack graph` through the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app

STACK = "services:\n  web: {image: x, depends_on: {db: {condition: service_healthy}}}\n  db: {image: y}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "compose.yaml").write_text(STACK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in list(os.environ):
        if var.startswith(("COMPOSE_", "STACK_")):
            monkeypatch.delenv(var)
    return tmp_path


@pytest.mark.parametrize(("args", "expected"), [
    ([], "web\n└── db (service_healthy)\n"),
    (["--format", "mermaid"],
     'graph TD\n  s_db["db"]\n  s_web["web"]\n  s_web -->|"service_healthy"| s_db\n'),
])
def test_formats(project: Path, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, ["graph", *args], catch_exceptions=False)
    assert (result.exit_code, result.stdout) == (0, expected)


def test_dot_is_named_after_the_project(project: Path) -> None:
    result = CliRunner().invoke(app, ["-p", "shop", "graph", "--format", "dot"], catch_exceptions=False)
    assert result.stdout.startswith('digraph "shop" {\n')
    assert '  "web" -> "db" [label="service_healthy"];\n' in result.stdout
