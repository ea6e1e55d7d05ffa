"""What `stack -f FILE config` prints for the usual mistakes, through the real CLI.

Each tests/fixtures/errors/<case>/ holds a compose.yaml with one mistake and
expected.txt: the whole of stderr, with the case folder written as ${CASE_DIR}.
Every message says where (file:line:column and the dotted path), what is wrong
in plain words and, where there is one, what to do; the exit code is 3 (an
invalid stack file) and no traceback is shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.cli.main import run

ERRORS = Path(__file__).resolve().parents[2] / "fixtures" / "errors"
CASES = sorted(p.name for p in ERRORS.iterdir() if (p / "expected.txt").exists())
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var not in ENV:
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", ENV["HOME"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))


def stack_config(folder: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The console-script entry point, in process: exit code and stderr."""
    monkeypatch.setattr("sys.argv", ["stack", "-f", str(folder / "compose.yaml"), "config"])
    with pytest.raises(SystemExit) as info:
        run()
    code = info.value.code
    return code if isinstance(code, int) else 1, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES)
def test_message(case: str, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = ERRORS / case
    code, err = stack_config(folder, monkeypatch, capsys)
    expected = (folder / "expected.txt").read_text().replace("${CASE_DIR}", str(folder))
    assert "Traceback" not in err
    assert (code, err) == (3, expected)


def test_corpus_is_there() -> None:
    assert len(CASES) >= 15
