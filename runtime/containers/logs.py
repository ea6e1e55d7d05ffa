"""Read a container's CRI log ("k8s-file", written by conmon).

One line per chunk: ``<RFC 3339 time with ns> <stdout|stderr> <F|P> <data>``; ``P``
marks a partial line (the data goes on in the next entry). Each conmon opens the
file for appending, so one file holds every run of the container and following it
across restarts is just reading on from the same offset.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from runtime.api import LogEntry

log = logging.getLogger(__name__)

FOLLOW_POLL = 0.02  # also the echo delay of an attached terminal (run -it)


def parse_time(text: bytes) -> float:
    """``2026-11-28T13:15:41.319113469+00:00`` (or ``Z``) -> UNIX seconds."""
    s = text.decode("ascii")
    date, _, rest = s.partition("T")
    offset = 0
    if rest.endswith("Z"):
        rest = rest[:-1]
    else:
        for sign in ("+", "-"):
            idx = rest.rfind(sign)
            if idx > 0:
                hh, _, mm = rest[idx + 1:].partition(":")
                offset = (int(hh) * 3600 + int(mm or 0) * 60) * (1 if sign == "+" else -1)
                rest = rest[:idx]
                break
    clock, _, frac = rest.partition(".")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi, sec = (int(x) for x in clock.split(":"))
    whole = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0)) - offset
    return whole + (float("0." + frac) if frac else 0.0)


def parse_line(line: bytes) -> LogEntry | None:
    """One log line (without its newline); None when it is not in the CRI format."""
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
        return None
    try:
        when = parse_time(parts[0])
    except ValueError:
        return None
    data = parts[3] if len(parts) == 4 else b""
    return LogEntry(stream="stdout" if parts[1] == b"stdout" else "stderr", time=when,
                    data=data, partial=parts[2] == b"P")


def read_logs(path: Path, *, follow: bool, since: float | None, tail: int | None,
              still_running: Callable[[], bool]) -> Iterator[LogEntry]:
    """Entries of the log at ``path``; with ``follow``, keep reading new ones until
    ``still_running()`` is False and the file is drained."""
    offset = 0
    pending = b""
    try:
        with open(path, "rb") as f:
            content = f.read()
            offset = f.tell()
    except FileNotFoundError:
        content = b""
    lines = content.split(b"\n")
    pending = lines.pop()  # the text after the last newline (conmon may be mid-write)
    entries = (parse_line(x) for x in lines)
    selected: Iterator[LogEntry] | deque[LogEntry] = (
        e for e in entries if e is not None and (since is None or e.time >= since))
    if tail is not None:
        selected = deque(selected, maxlen=max(tail, 0))
    yield from selected
    if not follow:
        return
    while True:
        running = still_running()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
                offset = f.tell()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            for raw in lines:
                entry = parse_line(raw)
                if entry is not None and (since is None or entry.time >= since):
                    yield entry
            continue
        if not running:
            return
        time.sleep(FOLLOW_POLL)
