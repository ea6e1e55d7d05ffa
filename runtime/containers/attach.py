"""conmon's attach socket: a container's live stdio for a client (``run -it``, ``attach``).

stackd uses it for stdin only (``runtime.daemon.attach``): output comes from the log,
which holds it from the first byte, even what was written before anyone connected.

The socket is ``<bundle>/attach`` (SOCK_SEQPACKET). Each message from conmon is
one byte naming the stream (2 stdout, 3 stderr) followed by the data; whatever the
client sends goes to the container's stdin (when it was created with stdin open).
conmon closes the connection when the container exits. Window size changes go
through the bundle's ``ctl`` fifo (runtime.containers.conmon.send_resize).
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Literal

from runtime.errors import FailedPrecondition

_STREAMS: dict[int, Literal["stdout", "stderr"]] = {2: "stdout", 3: "stderr"}
BUFFER = 8193  # conmon's buffer (8192) plus the stream byte


class Attachment:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def connect(cls, path: Path) -> Attachment:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(str(path))
        except OSError as exc:
            sock.close()
            raise FailedPrecondition(f"cannot attach to {path}: {exc.strerror}: is the "
                                     "container running on this host?") from exc
        return cls(sock)

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> tuple[Literal["stdout", "stderr"], bytes] | None:
        """The next chunk of output; None when conmon closed the connection (exit)."""
        while True:
            try:
                data = self.sock.recv(BUFFER)
            except ConnectionResetError:  # conmon went away with the container
                return None
            if not data:
                return None
            stream = _STREAMS.get(data[0])
            if stream is not None:
                return stream, data[1:]

    def send(self, data: bytes) -> bool:
        """False when the container no longer takes input."""
        try:
            self.sock.sendall(data)
        except OSError:  # EPIPE, ECONNRESET; EBADF once closed by another thread
            return False
        return True

    def close_stdin(self) -> None:
        """Our input ended: conmon then closes the container's stdin."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def discard_output(self) -> None:
        """Read and drop output until conmon closes the connection (or ``close``). conmon
        writes every output chunk to each attached client with a blocking write: a client
        that only sends would, once its socket buffer is full, stall the container."""
        with contextlib.suppress(OSError):  # closed under us: we are done anyway
            while self.receive() is not None:
                pass

    def close(self) -> None:
        """Also wakes a ``discard_output`` blocked in another thread."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
