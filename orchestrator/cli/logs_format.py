"""How log lines look: ``web-1  | text``, a colour per service, optional timestamps."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime import api

# Compose's rotation of ANSI colours, one per service in order of appearance.
_COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")


class Prefixer:
    """Writes lines for the main thread; not thread-safe (only the main thread writes)."""

    def __init__(self, *, colour: bool, prefix: bool, timestamps: bool,
                 hidden: frozenset[str] = frozenset()) -> None:
        self.colour = colour
        self.prefix = prefix
        self.timestamps = timestamps
        self.hidden = hidden  # services whose lines are not shown (`up --no-attach`)
        self.width = 0
        self.colours: dict[str, str] = {}

    def _prefix(self, container: str, service: str) -> str:
        if not self.prefix:
            return ""
        self.width = max(self.width, len(container))
        text = f"{container.ljust(self.width)}  | "
        if not self.colour:
            return text
        code = self.colours.setdefault(service, _COLOURS[len(self.colours) % len(_COLOURS)])
        return f"\x1b[{code}m{text}\x1b[0m"

    def write(self, container: str, service: str, entry: api.LogEntry) -> None:
        if service in self.hidden:
            return
        stamp = ""
        if self.timestamps:
            stamp = datetime.fromtimestamp(entry.time, UTC).isoformat().replace("+00:00", "Z")
            stamp += " "
        text = entry.data.decode("utf-8", "replace")
        sys.stdout.write(f"{self._prefix(container, service)}{stamp}{text}"
                         + ("" if entry.partial else "\n"))
        sys.stdout.flush()

    def exited(self, container: str, service: str, exit_code: int | None) -> None:
        if service in self.hidden:
            return
        code = "unknown" if exit_code is None else str(exit_code)
        sys.stdout.write(f"{self._prefix(container, service)}exited with code {code}\n")
        sys.stdout.flush()


def parse_since(text: str) -> float:
    """A UNIX time, an RFC 3339 time, or a duration back from now (``10m``)."""
    from orchestrator.units import parse_duration

    value = text.strip()
    if _DURATION.match(value):
        return time.time() - parse_duration(value)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        import typer

        raise typer.BadParameter(f'--since "{text}": use a duration (10m), a UNIX time or '
                                 "an RFC 3339 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
