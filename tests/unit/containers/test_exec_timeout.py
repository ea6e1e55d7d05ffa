"""An exec past its timeout: what it started is killed (real processes of our own, no root).

A stand-in for ``runc exec``: a parent that starts the command as its child in a
session of its own (as runc does) and waits for it. The command leaves a
background child, and an orphan that only the session still ties to it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from runtime.containers.exec import ExecTimeout, run_exec
from runtime.daemon.health import go_duration

RUNC_LIKE = """
import subprocess, sys
command = ["/bin/sh", "-c", "sleep 31 & (sleep 32 &) ; echo $$ > " + sys.argv[1] + "; sleep 30"]
sys.exit(subprocess.Popen(command, start_new_session=True).wait())
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] != b"Z"


def _sleeps_in_session(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if entry.name.isdigit() and int(fields[3]) == sid and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_past_its_timeout_the_command_and_its_session_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(ExecTimeout) as caught:
        run_exec([sys.executable, "-c", RUNC_LIKE, str(pid_file)], stdin=None, timeout=0.5)
    assert time.monotonic() - start < 5
    assert caught.value.timeout == 0.5
    assert caught.value.message == (f"exec {str(pid_file)!r} exceeded its timeout (0.5 s) "
                                    "and was killed")
    session = int(pid_file.read_text())
    deadline = time.monotonic() + 2  # orphans are reaped by whoever adopted them
    while _sleeps_in_session(session) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _sleeps_in_session(session) == []


def test_within_its_timeout_the_result_is_returned() -> None:
    result = run_exec(["/bin/sh", "-c", "cat; echo err >&2; exit 3"], stdin=b"in\n", timeout=5)
    assert (result.exit_code, result.stdout, result.stderr) == (3, b"in\n", b"err\n")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "500ms"), (0.25, "250ms"), (1, "1s"), (1.5, "1.5s"), (30, "30s"), (60, "1m0s"),
    (90, "1m30s"),
])
def test_timeouts_read_as_docker_prints_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
