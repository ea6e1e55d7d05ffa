"""Start a container's monitor: conmon, which runs ``runc create`` and then stays.

This is how podman drives conmon. We start conmon in its own session; conmon
forks once more and its first process exits at once (conmon's double fork), so
the monitor is re-parented to init and outlives the engine or CLI that started
it. conmon keeps the container's stdio, writes the CRI ("k8s-file") log, and
writes the exit code to ``<exit_dir>/<id>`` when the container's PID 1 ends.

Handshake: conmon reports ``runc create``'s outcome on the sync pipe we pass it
(``_OCI_SYNCPIPE``) as one JSON line, ``{"data": <pid>}`` or ``{"data": -1,
"message": "..."}``. After that the engine calls ``runc start`` itself.

Files of one container, all under ``<run_dir>/conmon/<id>/`` (tmpfs, gone at reboot):
``conmon.pid``, ``pid`` (the container's PID 1 on the host), ``<id>`` (exit code).
The attach socket and the ``ctl`` fifo are in the bundle (``--full-attach``).
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.containers.runc import find_program
from runtime.errors import Failed

log = logging.getLogger(__name__)

CREATE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorPaths:
    """Where one container's monitor keeps its files."""

    dir: Path  # <run_dir>/conmon/<id>
    cid: str

    @property
    def exit_file(self) -> Path:
        return self.dir / self.cid

    @property
    def conmon_pidfile(self) -> Path:
        return self.dir / "conmon.pid"

    @property
    def container_pidfile(self) -> Path:
        return self.dir / "pid"

    def exit_code(self) -> int | None:
        """The exit code conmon recorded, None while the container has not exited."""
        try:
            text = self.exit_file.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return int(text)
        except ValueError:  # written but not complete yet (conmon writes atomically, but be safe)
            return None

    def conmon_pid(self) -> int | None:
        try:
            return int(self.conmon_pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None


def launch(
    *,
    conmon: str,
    runtime: str,
    runc_root: Path,
    cid: str,
    name: str,
    bundle: Path,
    log_path: Path,
    paths: MonitorPaths,
    terminal: bool,
    stdin: bool,
    log_level: str = "error",
) -> int:
    """Run ``runc create`` under a new conmon; return the container's host PID.

    The container is in runc's "created" state afterwards; ``Runc.start`` runs it.
    """
    paths.dir.mkdir(parents=True, exist_ok=True)
    for stale in (paths.exit_file, paths.container_pidfile, paths.conmon_pidfile):
        stale.unlink(missing_ok=True)
    argv = [
        find_program(conmon),
        "--api-version", "1",
        "-c", cid, "-u", cid, "-n", name,
        "-r", find_program(runtime),
        "-b", str(bundle),
        "-p", str(paths.container_pidfile),
        "--conmon-pidfile", str(paths.conmon_pidfile),
        "--exit-dir", str(paths.dir),
        "--full-attach", "--socket-dir-path", str(paths.dir),
        "-l", f"k8s-file:{log_path}",
        "--log-level", log_level,
        "--runtime-arg", f"--root={runc_root}",
    ]
    if terminal:
        argv.append("-t")
    if stdin:
        argv.append("-i")
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "_OCI_SYNCPIPE": str(write_fd)}
    errors = bundle / "conmon.err"
    try:
        with open(errors, "wb") as err_out:
            # start_new_session: a Ctrl-C aimed at the CLI's process group never
            # reaches the monitor. conmon's first process exits right after forking.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err_out, env=env, pass_fds=(write_fd,),
                                    start_new_session=True, close_fds=True)
        os.close(write_fd)
        write_fd = -1
        proc.wait()
        message = _read_sync(read_fd, timeout=CREATE_TIMEOUT)
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
    if message is None:
        detail = errors.read_text(errors="replace").strip() if errors.exists() else ""
        raise Failed(f'container "{name}": conmon exited without reporting '
                     f"(exit status {proc.returncode}): {detail or 'no message'}")
    pid = int(str(message.get("data", -1)))
    if pid <= 0:
        raise Failed(f'container "{name}": runc create failed: '
                     f"{_clean(str(message.get('message', 'no message')))}")
    return pid


def _read_sync(fd: int, *, timeout: float) -> dict[str, object] | None:
    """First JSON line from conmon's sync pipe; None on EOF without one."""
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failed(f"conmon did not report within {timeout:.0f} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    line = buf.split(b"\n", 1)[0].strip()
    if not line:
        return None
    try:
        data: dict[str, object] = json.loads(line)
    except ValueError as exc:
        raise Failed(f"conmon sent an unreadable message: {line!r}") from exc
    return data


def _clean(message: str) -> str:
    """runc's errors arrive as JSON log lines or with a 'time=... level=error msg=' prefix."""
    lines = []
    for raw in message.strip().splitlines():
        text = raw
        try:
            obj = json.loads(raw)
            if isinstance(obj, dict) and "msg" in obj:
                text = str(obj["msg"])
        except ValueError:
            if 'msg="' in raw:
                text = raw.split('msg="', 1)[1].rstrip('"')
        lines.append(text)
    return "; ".join(lines) or "no message"


def send_resize(bundle: Path, *, rows: int, cols: int) -> None:
    """Tell conmon the terminal's size (its ``ctl`` fifo: "1 <rows> <cols>")."""
    ctl = bundle / "ctl"
    try:
        fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        log.debug("no ctl fifo at %s: %s", ctl, exc)
        return
    try:
        os.write(fd, f"1 {rows} {cols}\n".encode())
    except BlockingIOError:  # conmon is behind on its fifo: the next resize will tell
        log.debug("ctl fifo at %s is full: resize to %dx%d dropped", ctl, rows, cols)
    finally:
        os.close(fd)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for us (its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # ESRCH when it exits while we read
        return False
