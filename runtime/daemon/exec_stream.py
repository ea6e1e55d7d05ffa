"""Exec with its output streamed as it happens (stackd's extension of the Engine API).

``Engine.container_exec`` returns everything at the end; over the network a
long command then says nothing until it is done. ``container_exec_stream`` runs
the same ``runc exec`` (built by the container part's ``exec_command``) and
yields output chunks as they come, then one ``exit`` chunk. Stdin is sent
whole at the start (HTTP/1.1 carries one request body); input while the command
runs, and a terminal, is ``runtime.daemon.exec_attach`` (a WebSocket).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from runtime.errors import Failed

CHUNK = 64 * 1024
IDLE_TICK = 0.5  # an idle command yields HEARTBEAT this often, so a gone client is noticed
STDERR_KEEP = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecChunk:
    stream: Literal["stdout", "stderr", "exit"]
    data: bytes = b""
    exit_code: int | None = None  # set on the "exit" chunk only


class ExecStreamApi(Protocol):
    def container_exec_stream(self, ref: str, cmd: Sequence[str], *,
                              env: Mapping[str, str] | None = None, user: str | None = None,
                              workdir: str | None = None,
                              stdin: bytes | None = None) -> Iterator[ExecChunk]: ...


def stream_exec(argv: Sequence[str], *, stdin: bytes | None, heartbeat: Any = None
                ) -> Iterator[ExecChunk]:
    """Run ``argv``; yield its output chunks, then its exit. Closing the iterator early
    kills the command's runc process."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise Failed(f"exec failed: {exc}") from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feeder = threading.Thread(target=_feed, args=(proc.stdin, stdin or b""), daemon=True)
    feeder.start()
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
    selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
    tail = b""
    finished = False
    try:
        open_streams = 2
        while open_streams:
            ready = selector.select(IDLE_TICK)
            if not ready and heartbeat is not None:
                yield heartbeat
            for key, _ in ready:
                data = os.read(key.fd, CHUNK)
                if not data:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.data == "stderr":
                    tail = (tail + data)[-STDERR_KEEP:]
                yield ExecChunk(stream=key.data, data=data)
        code = proc.wait()
        finished = True
        yield ExecChunk(stream="exit", exit_code=_exit_code(code, tail))
    finally:
        selector.close()
        if not finished and proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()


def _feed(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the command may exit without reading it all
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _exit_code(code: int, stderr_tail: bytes) -> int:
    """runc's own failure to start the command (255 + "exec failed") is 127 or 126, as
    ``container_exec`` reports it (Docker's codes)."""
    if code == 255 and b"exec failed" in stderr_tail:
        text = stderr_tail.decode(errors="replace")
        return 127 if "not found" in text or "no such file" in text else 126
    return code
