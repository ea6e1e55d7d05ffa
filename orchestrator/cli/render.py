"""All user-facing output: errors, JSON, tables. Commands call these; nothing else prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.api import BuildProgress, PullProgress


def error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def raw(data: bytes, *, stderr: bool = False) -> None:
    """Bytes as they come (a container's output), flushed at once."""
    stream = sys.stderr if stderr else sys.stdout
    stream.flush()
    stream.buffer.write(data)
    stream.buffer.flush()


def json_out(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain, aligned table (like `docker ps`): stable for scripts and terminals alike."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for r in cells:
        sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")


@contextmanager
def transfer_progress(*, quiet: bool = False) -> Iterator[Callable[[PullProgress], None]]:
    """A callback for pull/push progress reports, on stderr: rich bars on a terminal,
    one plain line per layer status change otherwise; nothing with ``quiet``."""
    if quiet:
        yield lambda report: None
        return
    if not sys.stderr.isatty():
        seen: dict[str, str] = {}

        def plain(report: PullProgress) -> None:
            if report.layer and seen.get(report.layer) != report.status:
                seen[report.layer] = report.status
                sys.stderr.write(f"{report.layer[7:19]}: {report.status}\n")

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  console=Console(stderr=True), transient=False) as bar:

        def rich_cb(report: PullProgress) -> None:
            if not report.layer:
                return
            if report.layer not in tasks:
                tasks[report.layer] = bar.add_task("", total=report.total or None)
            bar.update(tasks[report.layer], completed=report.current,
                       total=report.total or None,
                       description=f"{report.layer[7:19]} {report.status:<11}")

        yield rich_cb


def build_progress(*, quiet: bool = False) -> Callable[[BuildProgress], None]:
    """A callback for build reports, plain lines on stderr like BuildKit's plain mode:
    ``#3 [build 2/4] RUN make``, ``#3 CACHED``, ``#3 <output line>``, ``#3 DONE 1.2s``."""
    from runtime.api import BuildProgress as _Report

    def plain(report: _Report) -> None:
        if quiet:  # a failure still ends in the error message the CLI prints
            return
        prefix = f"#{report.step} " if report.step else ""
        if report.status in ("start", "cached"):
            sys.stderr.write(f"{prefix}{report.text}\n")
            if report.status == "cached":
                sys.stderr.write(f"{prefix}CACHED\n")
        elif report.status == "output":
            sys.stderr.write(f"{prefix}{report.text}\n")
        elif report.status == "done":
            if report.text:
                sys.stderr.write(f"{prefix}{report.text}\n")
            if report.duration >= 0.05:
                sys.stderr.write(f"{prefix}DONE {report.duration:.1f}s\n")
        elif report.status == "error":
            sys.stderr.write(f"{prefix}ERROR {report.text}\n")
        else:
            sys.stderr.write(f"{report.text}\n")
        sys.stderr.flush()

    return plain


# --- stack up / down progress (orchestrator.progress events) -----------------------------

_MARKS = {"done": "✔", "error": "✘", "warning": "!", "working": "⠿"}


@contextmanager
def stack_progress(*, quiet: bool = False) -> Iterator[Callable[[Any], None]]:
    """A thread-safe reporter for ``orchestrator.progress.ProgressEvent`` on stderr: a
    live table (one row per object, spinner until done) on a terminal; plain lines
    otherwise (`` ✔ Container notes-store-1  Started``), one per finished step."""
    import threading

    lock = threading.Lock()
    if quiet:
        yield lambda event: None
        return
    if not sys.stderr.isatty():
        def plain(event: Any) -> None:
            if event.phase == "working" and event.status not in ("Waiting", "Pulling",
                                                                  "Building", "Recreate"):
                return
            detail = f" ({event.detail})" if event.detail and event.phase != "done" else ""
            with lock:
                sys.stderr.write(f" {_MARKS[str(event.phase)]} {event.kind} {event.name}  "
                                 f"{event.status}{detail}\n")
                sys.stderr.flush()

        yield plain
        return
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.table import Table
    from rich.text import Text

    rows: dict[tuple[str, str], Any] = {}
    colours = {"done": "green", "error": "red", "warning": "yellow", "working": "cyan"}

    def view() -> Table:
        grid = Table.grid(padding=(0, 1))
        for (kind, name), event in rows.items():
            phase = str(event.phase)
            mark: Any = (Spinner("dots", style="cyan") if phase == "working"
                         else Text(_MARKS[phase], style=colours[phase]))
            detail = f" {event.detail}" if event.detail and phase != "done" else ""
            grid.add_row(mark, Text(f"{kind} {name}"),
                         Text(f"{event.status}{detail}", style=colours[phase]))
        return grid

    with Live(view(), console=Console(stderr=True), refresh_per_second=12,
              transient=False) as live:
        def rich_cb(event: Any) -> None:
            with lock:
                rows[(event.kind, event.name)] = event
                live.update(view())

        yield rich_cb
