"""Attach to a container's main process: ``ContainerAttachApi.container_attach`` on the engine's side.

The process runs under conmon, not under us, so a ``MainProcessAttach`` puts together
what conmon offers:

- output from the container's log (``runtime.containers.logs.read_logs``), from the
  moment of attaching: attach, then start, and what the process writes at once is
  not lost (conmon's attach socket only carries output written while connected);
- stdin through conmon's attach socket (``runtime.containers.attach.Attachment``),
  only for a container created with stdin open;
- window size changes through the bundle's ``ctl`` fifo;
- then one ``exit`` chunk with the code ``container_wait`` reports.

It is an ``AttachSession`` like an exec's, so stackd serves it on the same WebSocket
relay and the CLI relays it with the same code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.api import ContainerState, LogEntry
from runtime.containers.attach import Attachment
from runtime.containers.conmon import send_resize
from runtime.containers.logs import read_logs
from runtime.daemon.exec_attach import IDLE_TICK
from runtime.daemon.exec_stream import ExecChunk
from runtime.errors import EngineError, FailedPrecondition, NotFound, Unavailable

if TYPE_CHECKING:
    from runtime.containers.service import ContainerService

log = logging.getLogger(__name__)

START_POLL = 0.05  # how often an attach made before the start looks for the start
# While conmon has written no exit file the process runs; a full look at the record
# (which may say "restarting") is taken this often, or at once when the file is there.
STATE_LOOK = 1.0
EXITED_LOOK = 0.1
QUEUE = 64  # chunks between the log reader and the client: a slow client slows the reader
RUNNING = (ContainerState.RUNNING, ContainerState.PAUSED, ContainerState.RESTARTING)


class MainProcessAttach:
    """An ``AttachSession`` on a container's main process; ``close`` is idempotent and
    never touches the container (it runs on without us)."""

    def __init__(self, containers: ContainerService, ref: str, *, stdin: bool,
                 rows: int = 0, cols: int = 0) -> None:
        info = containers.container_inspect(ref)  # a bad ref fails here, before any upgrade
        if info.state == ContainerState.DEAD:
            raise FailedPrecondition(f'container "{info.name}" is dead: nothing to attach to')
        self._containers = containers
        self._id = info.id
        self._name = info.name
        self._bundle = containers.bundle_dir(info.id)
        self._tty = info.config.tty
        self._stdin = stdin and info.config.stdin_open
        # Log entries stamped from now on are this session's: a run started after this
        # line writes nothing older, an earlier run nothing newer.
        self._since = time.time()
        self._running_at_attach = info.state in RUNNING
        self._started_before = info.started_at
        self._lock = threading.Lock()
        self._size = (rows, cols)
        self._early: list[bytes] = []  # stdin sent before the process was there
        self._eof = False
        self._attachment: Attachment | None = None
        self._live = False  # the process has started: resizes and stdin go straight on
        self._closed = threading.Event()
        self._chunks: queue.Queue[ExecChunk] = queue.Queue(maxsize=QUEUE)
        self._exit: ExecChunk | None = None
        self._last_look = 0.0
        threading.Thread(target=self._follow, daemon=True,
                         name=f"stackd-attach-{info.id[:12]}").start()

    # --- the AttachSession side --------------------------------------------------------

    def send(self, data: bytes) -> None:
        with self._lock:
            if not self._stdin or self._eof:
                return
            if not self._live:
                self._early.append(data)
                return
            attachment = self._attachment
        if attachment is not None:
            attachment.send(data)  # False: the process is gone, its exit comes next

    def close_stdin(self) -> None:
        with self._lock:
            if not self._stdin or self._eof:
                return
            if not self._live:
                self._eof = True  # applied once the process is there
                return
            self._eof = True
            attachment = self._attachment
        if attachment is not None:
            self._end_input(attachment)

    def resize(self, rows: int, cols: int) -> None:
        with self._lock:
            self._size = (rows, cols)
            live = self._live
        if live and self._tty and rows > 0 and cols > 0:
            send_resize(self._bundle, rows=rows, cols=cols)

    def read(self) -> ExecChunk | None:
        if self._exit is not None:
            return self._exit
        try:
            chunk = self._chunks.get(timeout=IDLE_TICK)
        except queue.Empty:
            return None
        if chunk.stream == "exit":
            self._exit = chunk
        return chunk

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            attachment, self._attachment = self._attachment, None
        if attachment is not None:
            attachment.close()

    # --- the reader thread -------------------------------------------------------------

    def _follow(self) -> None:
        code = -1
        try:
            if not self._wait_for_start():
                return
            self._went_live()
            with _held(self._containers.log_path(self._id)) as log_path:
                entries = read_logs(log_path, follow=True, since=self._since, tail=None,
                                    still_running=self._still_running)
                for entry in entries:
                    if not self._put(ExecChunk(stream=entry.stream, data=_bytes(entry))):
                        return
            code = self._wait_exit()
        except NotFound:  # removed under us: its exit (auto_remove), run --rm, rm -f
            log.debug("attach %s: the container is gone", self._name)
            code = self._died_with()
        except EngineError as exc:
            log.warning("attach %s: %s", self._name, exc.message)
        except Exception:
            log.exception("attach %s failed", self._name)
        if not self._closed.is_set():
            self._put(ExecChunk(stream="exit", exit_code=code))

    def _wait_for_start(self) -> bool:
        """Until the process of this session runs (or ran): already at attach, or a start
        after it (a new ``started_at``). False when the client left first."""
        if self._running_at_attach:
            return True
        while not self._closed.wait(START_POLL):
            info = self._containers.container_inspect(self._id)
            if info.state in RUNNING or info.started_at != self._started_before:
                return True
        return False

    def _went_live(self) -> None:
        """Connect stdin (conmon made the socket before runc started the process), send
        what came early, and the terminal's size."""
        attachment = None
        if self._stdin:
            try:
                attachment = Attachment.connect(self._bundle / "attach")
            except FailedPrecondition:  # exited already: conmon removed the socket
                log.debug("attach %s: no attach socket, the process has ended", self._name)
            else:
                threading.Thread(target=attachment.discard_output, daemon=True,
                                 name=f"stackd-attach-drain-{self._id[:12]}").start()
        with self._lock:
            if self._closed.is_set():
                if attachment is not None:
                    attachment.close()
                return
            self._attachment = attachment
            self._live = True
            early, self._early = self._early, []
            eof = self._eof
            rows, cols = self._size
        if attachment is not None:
            for data in early:
                attachment.send(data)
            if eof:
                self._end_input(attachment)
        if self._tty and rows > 0 and cols > 0:
            send_resize(self._bundle, rows=rows, cols=cols)

    def _end_input(self, attachment: Attachment) -> None:
        if self._tty:
            attachment.send(b"\x04")  # on a terminal the end of input is ^D, as typed
        else:
            attachment.close_stdin()  # conmon then closes the process's stdin

    def _still_running(self) -> bool:
        if self._closed.is_set():
            return False  # the client left: the log reader stops
        now = time.monotonic()
        exited = self._containers.monitor(self._id).exit_code() is not None
        if now - self._last_look < (EXITED_LOOK if exited else STATE_LOOK):
            return True
        self._last_look = now
        return self._containers.container_inspect(self._id).state in RUNNING

    def _wait_exit(self) -> int:
        while not self._closed.is_set():
            with contextlib.suppress(Unavailable):  # still running: look again (or leave)
                return self._containers.container_wait(self._id, timeout=STATE_LOOK)
        return -1

    def _died_with(self) -> int:
        """The exit code of a run of this session that ended in the container's removal
        (an auto_remove container is removed as its exit is recorded): from the "die"
        event, recorded before the removal; -1 when there is none."""
        code = -1
        for event in self._containers.events.stream(
                since=self._since, filters={"container": self._id, "event": "die"}):
            with contextlib.suppress(KeyError, ValueError):
                code = int(event.attributes["exitCode"])
        return code

    def _put(self, chunk: ExecChunk) -> bool:
        """False once the client left."""
        while not self._closed.is_set():
            try:
                self._chunks.put(chunk, timeout=IDLE_TICK)
                return True
            except queue.Full:
                continue
        return False


@contextlib.contextmanager
def _held(path: Path) -> Iterator[Path]:
    """``path`` kept open while the block runs, as a path that reaches the open file: the
    removal of an auto_remove container at its exit deletes the log before the last
    lines are read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # not there (yet): read it by its name
        yield path
        return
    try:
        yield Path(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _bytes(entry: LogEntry) -> bytes:
    """The bytes the process wrote: conmon splits the log at newlines (``partial`` when a
    chunk ended mid-line); a terminal's ``\\r\\n`` keeps its ``\\r`` in the data."""
    return entry.data if entry.partial else entry.data + b"\n"
