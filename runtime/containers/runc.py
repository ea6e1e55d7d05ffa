"""runc, called as a program (``runc --root <run_dir>/runc <command> ...``).

Every call is a short subprocess; failures become ``Failed`` (or ``NotFound`` when
runc says the container does not exist) with runc's own message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runtime.errors import Failed, NotFound, Unavailable

log = logging.getLogger(__name__)


def find_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Unavailable(f'program "{name}" not found in PATH: install it (scripts/install-deps)')
    return path


class Runc:
    def __init__(self, *, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root

    @property
    def path(self) -> str:
        return find_program(self.binary)

    def argv(self, *args: str) -> list[str]:
        return [self.path, "--root", str(self.root), *args]

    def _run(self, cid: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(self.argv(*args), capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise Failed(f'container "{cid[:12]}": runc {args[0]} timed out') from exc
        if proc.returncode != 0:
            message = proc.stderr.strip() or proc.stdout.strip()
            if "does not exist" in message or "not exist" in message:
                raise NotFound(f'container "{cid[:12]}": runc does not know it: {message}')
            raise Failed(f'container "{cid[:12]}": runc {args[0]} failed: {message}')
        return proc

    def state(self, cid: str) -> dict[str, Any] | None:
        """runc's view (status: created|running|paused|stopped), None if runc has no record."""
        try:
            proc = self._run(cid, "state", cid)
        except NotFound:
            return None
        state: dict[str, Any] = json.loads(proc.stdout)
        return state

    def start(self, cid: str) -> None:
        self._run(cid, "start", cid)

    def kill(self, cid: str, signal: str, *, all_processes: bool = False) -> None:
        self._run(cid, "kill", *(["--all"] if all_processes else []), cid, signal)

    def pause(self, cid: str) -> None:
        self._run(cid, "pause", cid)

    def resume(self, cid: str) -> None:
        self._run(cid, "resume", cid)

    def delete(self, cid: str, *, force: bool = False) -> None:
        """Idempotent: a container runc does not know is already deleted."""
        with contextlib.suppress(NotFound):
            self._run(cid, "delete", *(["--force"] if force else []), cid)

    def list_ids(self) -> list[str]:
        proc = self._run("-", "list", "--format", "json")
        items = json.loads(proc.stdout or "null") or []
        return [str(i["id"]) for i in items]

    def exec_argv(self, cid: str, process_json: Path, *, tty: bool, detach: bool = False,
                  extra: Sequence[str] = ()) -> list[str]:
        args = ["exec", "--process", str(process_json)]
        if tty:
            args.append("--tty")
        if detach:
            args.append("--detach")
        return self.argv(*args, *extra, cid)
