"""Run a command in a running container with ``runc exec``.

runc takes the container's own process spec (config.json) as the template, so an
exec gets the container's capabilities, seccomp profile, rlimits and env; we only
override args, env additions, user, working directory and the tty.

A command that outlives its timeout is killed inside the container, not only its
``runc exec`` on the host: killed by SIGKILL, runc cannot pass the signal on, and
the command would live on (a healthcheck probe stuck every interval would pile up
processes). runc starts the command as its child, in a session of its own
(setsid), so the command is the runc process's child and whatever it spawned
stays in that session (or below it) even when orphaned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.api import ExecResult
from runtime.containers.runc import Runc
from runtime.containers.users import resolve_user
from runtime.errors import Failed, InvalidArgument

KILL_ROUNDS = 5  # look again after a kill: a process may have forked meanwhile
RUNC_GRACE = 5.0  # runc exec returns once its command is gone; then it is killed too


class ExecTimeout(Failed):
    """The command outlived its timeout and was killed, with what it started."""

    def __init__(self, message: str, *, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


def exec_argv(runc: Runc, cid: str, cmd: Sequence[str], *, rootfs: Path, tty: bool,
              env: Mapping[str, str] | None, user: str | None,
              workdir: str | None) -> list[str]:
    if not cmd:
        raise InvalidArgument(f'container "{cid[:12]}": exec needs a command')
    args = ["exec"]
    if tty:
        args.append("--tty")
    if user:
        resolved = resolve_user(user, rootfs)
        args += ["--user", f"{resolved.uid}:{resolved.gid}"]
        for gid in resolved.additional_gids:
            args += ["--additional-gids", str(gid)]
        args += ["--env", f"HOME={resolved.home}"]
    if workdir:
        if not workdir.startswith("/"):
            raise InvalidArgument(f'container "{cid[:12]}": exec working dir "{workdir}" '
                                  "must be absolute")
        args += ["--cwd", workdir]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    return runc.argv(*args, cid, *cmd)


def run_exec(argv: Sequence[str], *, stdin: bytes | None, timeout: float | None = None
             ) -> ExecResult:
    """Run a ``runc exec`` command line to its end; ``timeout`` (seconds): past it the
    command and its session in the container are killed and ``ExecTimeout`` is raised."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise Failed(f"exec failed: {exc}") from exc
    try:
        stdout, stderr = proc.communicate(stdin if stdin is not None else b"", timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        assert timeout is not None
        _kill_exec(proc)
        raise ExecTimeout(f"exec {argv[-1]!r} exceeded its timeout ({timeout:g} s) and was "
                          "killed", timeout=timeout) from exc
    except BaseException:
        _kill_exec(proc)
        raise
    # runc's own failure (the command could not start) comes as a log line on stderr
    # with status 255; like Docker, report 127 (not found) or 126 (cannot execute)
    # with runc's reason, so that healthchecks and scripts see an ordinary failure.
    if proc.returncode == 255 and b"exec failed" in stderr:
        text = stderr.decode(errors="replace").strip()
        if 'msg="' in text:
            text = text.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
        code = 127 if "not found" in text or "no such file" in text else 126
        return ExecResult(exit_code=code, stdout=stdout, stderr=text.encode() + b"\n")
    return ExecResult(exit_code=proc.returncode, stdout=stdout, stderr=stderr)


def _kill_exec(proc: subprocess.Popen[bytes]) -> None:
    """Kill what ``runc exec`` (``proc``) runs in the container, then reap runc. The
    pipes are closed, not drained: a process that escaped the kill may hold them."""
    for _ in range(KILL_ROUNDS):
        targets = exec_processes(proc.pid)
        if not targets:
            break
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    try:
        proc.wait(timeout=RUNC_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Proc:
    pid: int
    ppid: int
    sid: int
    pidns: str


def exec_processes(runc_pid: int) -> set[int]:
    """Host PIDs of what a ``runc exec`` process runs: its children (the command), their
    sessions and their descendants, limited to the command's PID namespace (so nothing
    of the host is touched should a PID have been reused)."""
    procs = _processes()
    commands = {p.pid: p for p in procs.values() if p.ppid == runc_pid}
    found: set[int] = set()
    for command in commands.values():
        found.add(command.pid)
        found.update(p.pid for p in procs.values()
                     if p.sid == command.pid and p.pidns == command.pidns)
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    stack = list(found)
    while stack:  # descendants that left the session (setsid) are still below it
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    namespaces = {c.pidns for c in commands.values()}
    return {pid for pid in found if procs[pid].pidns in namespaces}


def _processes() -> dict[int, _Proc]:
    """Every process of the host with its parent, session and PID namespace; those that
    end while we look are left out."""
    found: dict[int, _Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            pidns = os.readlink(f"/proc/{entry.name}/ns/pid")
        except OSError:
            continue
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses
        fields = stat[stat.rindex(b")") + 2:].split()
        found[int(entry.name)] = _Proc(pid=int(entry.name), ppid=int(fields[1]),
                                       sid=int(fields[3]), pidns=pidns)
    return found
