"""Run a command in a running container with ``runc exec``.

runc takes the container's own process spec (config.json) as the template, so an
exec gets the container's capabilities, seccomp profile, rlimits and env; we only
override args, env additions, user, working directory and the tty.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from runtime.api import ExecResult
from runtime.containers.runc import Runc
from runtime.containers.users import resolve_user
from runtime.errors import Failed, InvalidArgument


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
    try:
        proc = subprocess.run(list(argv), input=stdin if stdin is not None else b"",
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise Failed(f"exec {argv[-1]!r} timed out") from exc
    except OSError as exc:
        raise Failed(f"exec failed: {exc}") from exc
    stderr = proc.stderr
    # runc's own failure (the command could not start) comes as a log line on stderr
    # with status 255; like Docker, report 127 (not found) or 126 (cannot execute)
    # with runc's reason, so that healthchecks and scripts see an ordinary failure.
    if proc.returncode == 255 and b"exec failed" in stderr:
        text = stderr.decode(errors="replace").strip()
        if 'msg="' in text:
            text = text.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
        code = 127 if "not found" in text or "no such file" in text else 126
        return ExecResult(exit_code=code, stdout=proc.stdout, stderr=text.encode() + b"\n")
    return ExecResult(exit_code=proc.returncode, stdout=proc.stdout, stderr=stderr)
