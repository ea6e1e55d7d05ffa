"""This terminal relayed to a command that runs elsewhere (``exec -it`` through stackd).

Raw mode while it runs (the remote pty does the line editing and echo), stdin
pumped in a thread, output written as it comes, SIGWINCH sent on as a resize;
the terminal is restored whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.daemon.exec_attach import AttachedExec


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of ``fd``'s terminal; (0, 0) when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 0, 0
    return size.lines, size.columns


def relay(session: AttachedExec, *, tty: bool, interactive: bool) -> int:
    """Relay until the command exits; its exit code."""
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
