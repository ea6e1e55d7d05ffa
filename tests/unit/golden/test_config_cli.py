"""`stack config` and its flags, through the real CLI (Typer's runner and a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "compose"
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}


def run(case: str, *args: str, tmp: Path | None = None) -> tuple[int, str, str]:
    old = Path.cwd()
    os.chdir(CORPUS / case)
    try:
        env = {**ENV, "XDG_CACHE_HOME": str(tmp)} if tmp else ENV
        result = CliRunner().invoke(app, ["config", *args], env=env, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith(("COMPOSE_", "STACK_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))


def test_lists() -> None:
    assert run("networks", "--services")[1] == "api\nhost-agent\nmetrics\nplain\nproxy\nsidecar\n"
    assert run("networks", "--networks")[1] == "backend\ndefault\nfrontend\nmonitoring\n"
    assert run("database", "--volumes")[1] == "backups\npgdata\n"
    assert run("webapp", "--images")[1] == "redis:7-alpine\nexample/web:dev\nwebapp-worker\n"
    assert run("profiles", "--profiles")[1] == "all\ndebug\ndocs\nseed\n"


def test_quiet_prints_nothing() -> None:
    assert run("webapp", "-q")[:2] == (0, "")


def test_hash_lines() -> None:
    code, out, _ = run("profiles", "--hash", "*")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["app", "db", "debugger", "seeder"]
    assert all(len(line.split()[1]) == 64 for line in out.splitlines())
    assert run("profiles", "--hash", "db")[1] == out.splitlines()[1] + "\n"


def test_hash_of_unknown_service() -> None:
    with pytest.raises(Exception, match='no such service: "nope"'):
        run("profiles", "--hash", "nope")


def test_yaml_and_json_agree(tmp_path: Path) -> None:
    import yaml

    code, out, _ = run("deploy", "--format", "json")
    assert code == 0
    target = tmp_path / "out.yaml"
    assert run("deploy", "-o", str(target)) == (0, "", "")
    assert yaml.safe_load(target.read_text()) == json.loads(out)


def test_dollars_are_escaped_for_reading_back() -> None:
    printed = json.loads(run("interpolation", "--format", "json")[1])
    assert printed["services"]["app"]["command"] == ["echo", "$$HOME", "hello", "", "tagged"]


@pytest.mark.parametrize("case", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()))
def test_output_reads_back_to_the_same_stack(case: str, tmp_path: Path) -> None:
    code, out, _ = run(case)
    assert code == 0
    (tmp_path / "compose.yaml").write_text(out)
    if (CORPUS / case / ".env").exists():  # it may enable profiles (COMPOSE_PROFILES)
        (tmp_path / ".env").write_text((CORPUS / case / ".env").read_text())
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        again = CliRunner().invoke(app, ["config"], env=ENV, catch_exceptions=False)
    finally:
        os.chdir(old)
    assert again.stdout == out


def test_no_interpolate_keeps_variables() -> None:
    code, out, _ = run("interpolation", "--no-interpolate", "--format", "json")
    assert code == 0
    app_ = json.loads(out)["services"]["app"]
    assert app_["image"] == "${REGISTRY:-docker.io}/example/app:${TAG}"
    assert app_["ports"] == ["${HOST_PORT:-8080}:80"]


def test_version_warning_goes_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("version: '3.8'\nservices:\n  web: {image: x}\n")
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "config", "--services"],
                          cwd=tmp_path, env={**ENV, "XDG_CACHE_HOME": str(tmp_path)},
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (0, "web\n")
    assert proc.stderr.startswith("warning: ")
    assert "`version` is obsolete" in proc.stderr


@pytest.mark.parametrize("case", ["webapp", "networks"])
def test_subprocess_json_matches_in_process(case: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "config", "--format", "json"],
                          cwd=CORPUS / case, env={**ENV, "XDG_CACHE_HOME": str(tmp_path)},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(run(case, "--format", "json")[1])


def test_invalid_file_exit_code_and_message(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    enviroment: {}\n")
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "config", "-q"],
                          cwd=tmp_path, env={**ENV, "XDG_CACHE_HOME": str(tmp_path)},
                          capture_output=True, text=True)
    assert proc.returncode == 3
    assert proc.stderr == (f"error: {tmp_path}/compose.yaml:4:5: services.web: unknown key "
                           '"enviroment" (did you mean "environment"?)\n')
