"""This terminal relayed to a process that runs elsewhere (``exec -it``, ``run -it``, ``attach``).

Raw mode while it runs (the remote pty does the line editing and echo), stdin
pumped in a thread, output written as it comes, SIGWINCH sent on as a resize;
the terminal is restored whatever happens. ``attached`` is the one way the CLI
runs a container's main process in the foreground: through the engine's
``container_attach`` (stackd, local or ``-H tcp://``), so it works wherever the
engine is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.api import Engine
    from runtime.daemon.exec_attach import AttachSession


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of ``fd``'s terminal; (0, 0) when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 0, 0
    return size.lines, size.columns


def relay(session: AttachSession, *, tty: bool, interactive: bool) -> int:
    """Relay until the process exits; its exit code."""
    import termios
    import tty as tty_module

    stdin_fd = sys.stdin.fileno()
    saved = None
    if tty and os.isatty(stdin_fd):
        saved = termios.tcgetattr(stdin_fd)
        tty_module.setraw(stdin_fd)

    def resize(*_: object) -> None:
        rows, cols = terminal_size(stdin_fd)
        if rows:
            with contextlib.suppress(Exception):  # a resize is never worth failing for
                session.resize(rows, cols)

    def pump_stdin() -> None:
        with contextlib.suppress(Exception):  # the session ended: nothing to send to
            while True:
                data = os.read(stdin_fd, 4096)
                if not data:
                    session.close_stdin()
                    return
                session.send(data)

    previous = signal.signal(signal.SIGWINCH, resize) if tty else None
    try:
        if interactive:
            threading.Thread(target=pump_stdin, daemon=True, name="stack-stdin").start()
        elif not tty:
            session.close_stdin()
        while True:
            chunk = session.read()
            if chunk is None:
                continue
            if chunk.stream == "exit":
                return chunk.exit_code if chunk.exit_code is not None else -1
            out = sys.stderr.buffer if chunk.stream == "stderr" else sys.stdout.buffer
            out.write(chunk.data)
            out.flush()
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
        session.close()


def attached(engine: Engine, ref: str, *, tty: bool, interactive: bool, start: bool) -> int:
    """Attach to ``ref``'s main process, start it (with ``start``: after attaching, so
    nothing it writes at once is missed), relay until it exits; its exit code."""
    rows, cols = terminal_size(sys.stdin.fileno()) if tty else (0, 0)
    session = _attach(engine, ref, stdin=interactive, rows=rows, cols=cols)
    try:
        if start:
            engine.container_start(ref)
    except BaseException:
        session.close()
        raise
    return relay(session, tty=tty, interactive=interactive)


def _attach(engine: Engine, ref: str, *, stdin: bool, rows: int, cols: int) -> AttachSession:
    attach = getattr(engine, "container_attach", None)
    if attach is not None:  # stackd's client
        session: AttachSession = attach(ref, stdin=stdin, rows=rows, cols=cols)
        return session
    # In process (STACK_ENGINE=local): the session stackd would make, made here.
    from runtime.daemon.attach import MainProcessAttach
    from runtime.errors import FailedPrecondition

    containers = getattr(engine, "containers", None)
    if containers is None:
        raise FailedPrecondition("this engine cannot attach to a container")
    return MainProcessAttach(containers, ref, stdin=stdin, rows=rows, cols=cols)
