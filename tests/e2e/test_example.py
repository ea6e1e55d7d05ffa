"""stack.example.yaml end to end: up --wait, the published port, ps, logs, exec, down -v."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import StackCli, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "stack.example.yaml"


@pytest.mark.root
def test_example_stack(stack_cli: StackCli) -> None:
    port = free_port()
    env = {"WEB_PORT": str(port)}
    project = ("-f", str(EXAMPLE))
    stack_cli.projects.append(project)
    up = stack_cli.run(*project, "up", "-d", "--wait", env=env)
    assert " ✔ Container notes-store-1  Started" in up.stderr
    assert 'Project "notes": 4 created.' in up.stdout

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cgi-bin/notes", timeout=5) as resp:
        assert b"Hello from the notes api" in resp.read()

    rows = {r["Service"]: r for r in stack_cli.ps(project)}
    assert sorted(rows) == ["api", "store", "web", "worker"]
    assert {s: r["State"] for s, r in rows.items()} == dict.fromkeys(rows, "running")
    assert rows["api"]["Health"] == rows["store"]["Health"] == "healthy"
    assert rows["web"]["Publishers"] == [{"URL": "127.0.0.1", "TargetPort": 80,
                                          "PublishedPort": port, "Protocol": "tcp"}]
    # Compose's string fields, for scripts written against `docker compose ps --format json`
    assert rows["web"]["Ports"] == f"127.0.0.1:{port}->80/tcp"
    assert "io.stack.project=notes" in rows["web"]["Labels"].split(",")
    assert sorted(rows["api"]["Networks"].split(",")) == ["notes_back", "notes_front"]
    assert "notes_notes" in rows["store"]["Mounts"].split(",")
    table = stack_cli.run(*project, "ps", env=env).stdout
    assert "Up " in table and "(healthy)" in table and f"127.0.0.1:{port}->80/tcp" in table

    logs = stack_cli.run(*project, "logs", env=env).stdout
    assert re.search(r"^store-1 +\| ", logs, re.M) and re.search(r"^web-1 +\| ", logs, re.M)

    out = stack_cli.run(*project, "exec", "-T", "api", "sh", "-c", "echo $STORE_URL", env=env)
    assert out.stdout == "http://store:8080\n"
    failed = stack_cli.run(*project, "exec", "-T", "api", "sh", "-c", "exit 7", env=env,
                           check=False)
    assert failed.returncode == 7

    again = stack_cli.run(*project, "up", "-d", env=env)
    assert again.stdout == 'Project "notes" is up to date: nothing to do.\n'

    stack_cli.run(*project, "down", "-v", env=env)
    assert stack_cli.ps(project) == []
