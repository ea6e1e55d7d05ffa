"""Drive a command on a pseudo-terminal of its own, as a user at a terminal would."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_on_terminal(argv: Sequence[str], *, env: Mapping[str, str], prompt: bytes,
                    answer: bytes, cwd: Path | None = None,
                    timeout: float = 60) -> tuple[bytes, int]:
    """Run ``argv`` on a new pty; type ``answer`` once ``prompt`` shows; return everything
    it wrote and its exit code. Past ``timeout`` the command is killed."""
    pid, fd = os.forkpty()
    if pid == 0:  # the child: the command on a terminal of its own
        try:
            if cwd is not None:
                os.chdir(cwd)
            os.execve(argv[0], list(argv), dict(env))
        finally:
            os._exit(127)
    output = b""
    try:
        deadline = time.monotonic() + timeout
        sent = False
        while time.monotonic() < deadline:
            if not sent and prompt in output:
                os.write(fd, answer)
                sent = True
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not data:
                break
            output += data
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return output, os.waitstatus_to_exitcode(status)
