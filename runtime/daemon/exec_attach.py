"""Attached sessions: stdin, output and terminal size relayed both ways while a process runs.

Two kinds, one session type (``AttachSession``) and one wire format:

- ``ExecAttachApi.container_exec_attach`` starts ``runc exec`` (``-t`` under a pty
  the daemon makes, or plain pipes): ``exec -it``;
- ``ContainerAttachApi.container_attach`` joins a container's main process
  (``runtime.daemon.attach``): ``run -it``, ``start -a``, ``attach``.

The caller sends stdin and resizes, and reads output chunks until the ``exit``
chunk. stackd serves both as WebSockets (``GET /containers/{ref}/exec/attach``,
``GET /containers/{ref}/attach``): binary frames are stdin one way and
``<stream byte><data>`` the other; text frames are JSON control messages
(``{"resize": [rows, cols]}``, ``{"eof": true}``; ``{"exit": code}``).

Stdlib only: the CLI imports this module for the types.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import struct
import subprocess
import termios
from collections.abc import Mapping, Sequence
from typing import Protocol

from runtime.daemon.exec_stream import CHUNK, STDERR_KEEP, ExecChunk, _exit_code
from runtime.errors import Failed

# The first byte of a binary frame from the server: which stream the data is.
STREAM_BYTES = {"stdout": 1, "stderr": 2}
IDLE_TICK = 0.5


class AttachSession(Protocol):
    def send(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def read(self) -> ExecChunk | None:
        """The next chunk (the ``exit`` chunk last); None when nothing came for a while."""
        ...

    def close(self) -> None: ...


class ExecAttachApi(Protocol):
    def container_exec_attach(self, ref: str, cmd: Sequence[str], *,
                              env: Mapping[str, str] | None = None, user: str | None = None,
                              workdir: str | None = None, tty: bool = False,
                              rows: int = 0, cols: int = 0) -> AttachSession: ...


class ContainerAttachApi(Protocol):
    def container_attach(self, ref: str, *, stdin: bool = False, rows: int = 0,
                         cols: int = 0) -> AttachSession:
        """Join the main process of ``ref`` (running, or created / stopped and about to be
        started: attach first, then start, and no output is missed). Output from this
        moment on; ``stdin`` only reaches a container created with stdin open."""
        ...


def set_size(fd: int, rows: int, cols: int) -> None:
    if rows > 0 and cols > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ProcessExec:
    """``argv`` running under a pty (tty) or pipes; an ``AttachSession`` on the daemon's side."""

    def __init__(self, argv: Sequence[str], *, tty: bool, rows: int = 0, cols: int = 0) -> None:
        self._tail = b""
        self._exit: ExecChunk | None = None
        self._selector = selectors.DefaultSelector()
        try:
            if tty:
                master, slave = os.openpty()
                set_size(master, rows, cols)
                try:
                    self.proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave,
                                                 stderr=slave, start_new_session=True)
                finally:
                    os.close(slave)
                self._stdin: int | None = master
                self._master: int | None = master
                self._selector.register(master, selectors.EVENT_READ, "stdout")
            else:
                self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                assert self.proc.stdin and self.proc.stdout and self.proc.stderr
                self._stdin = self.proc.stdin.fileno()
                self._master = None
                self._selector.register(self.proc.stdout.fileno(), selectors.EVENT_READ, "stdout")
                self._selector.register(self.proc.stderr.fileno(), selectors.EVENT_READ, "stderr")
        except OSError as exc:
            raise Failed(f"exec failed: {exc}") from exc

    def send(self, data: bytes) -> None:
        if self._stdin is None:
            return
        with contextlib.suppress(OSError):  # the command may be gone: its exit comes next
            view = memoryview(data)
            while view:
                view = view[os.write(self._stdin, view):]

    def close_stdin(self) -> None:
        if self._master is not None:
            self.send(b"\x04")  # end of input on a terminal is ^D, not a closed fd
            return
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._stdin = None

    def resize(self, rows: int, cols: int) -> None:
        if self._master is None:
            return
        with contextlib.suppress(OSError):
            set_size(self._master, rows, cols)
            # runc (in the foreground with -t) copies its terminal's size on SIGWINCH.
            os.kill(self.proc.pid, signal.SIGWINCH)

    def read(self) -> ExecChunk | None:
        if self._exit is not None:
            return self._exit
        if not self._selector.get_map():
            self._exit = ExecChunk(stream="exit",
                                   exit_code=_exit_code(self.proc.wait(), self._tail))
            return self._exit
        for key, _ in self._selector.select(IDLE_TICK):
            try:
                data = os.read(key.fd, CHUNK)
            except OSError:  # EIO: every holder of the pty's other side is gone
                data = b""
            if not data:
                self._selector.unregister(key.fd)
                continue
            if key.data == "stderr":
                self._tail = (self._tail + data)[-STDERR_KEEP:]
            return ExecChunk(stream=key.data, data=data)
        return None

    def close(self) -> None:
        """Idempotent; kills the command if it still runs."""
        self._selector.close()
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
