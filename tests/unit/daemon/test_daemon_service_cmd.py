"""`stack system service install`: prints the unit, or says why it cannot install."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.cli import system
from orchestrator.cli.main import app


def test_print_shows_the_unit() -> None:
    result = CliRunner().invoke(app, ["system", "service", "install", "--print"])
    assert result.exit_code == 0, result.output
    assert "[Service]" in result.output and "KillMode=process" in result.output
    assert "ExecStart=" in result.output


def test_without_systemd_it_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr(system, "systemd_running", lambda: False)
    result = CliRunner().invoke(app, ["system", "service", "install", "--unit-dir",
                                      str(tmp_path)])
    assert result.exit_code != 0
    assert "systemd is not running on this host" in str(result.exception)
